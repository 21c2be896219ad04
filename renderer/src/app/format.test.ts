import { describe, expect, it } from 'vitest';
import { bytes, count, duration, estimate, relative } from './format.ts';
import { href, parseRoute } from './router.ts';

describe('formatting for people', () => {
  it('counts, sizes, durations and relative times', () => {
    expect(count(1203)).toBe('1,203');
    expect(bytes(920)).toBe('920 B');
    expect(bytes(5 * 1024 ** 2)).toBe('5.0 MiB');
    expect(duration(1800)).toBe('30 min');
    expect(duration(5400)).toBe('1 h 30 min');
    const now = Date.parse('2025-01-01T12:00:00Z');
    expect(relative('2025-01-01T11:57:00Z', now)).toBe('3 min ago');
    expect(relative('2025-01-01T15:00:00Z', now)).toBe('in 3 h');
    expect(relative(null, now)).toBe('—');
  });

  it('says what a held statement touches', () => {
    expect(estimate({ tables: ['payments'], writes: ['payments'], estimatedRows: 1203 })).toBe(
      '≈ 1,203 rows in payments',
    );
    expect(estimate({ tables: ['a', 'b'], writes: [], estimatedRows: 1 })).toBe('≈ 1 row in a, b');
    expect(estimate({ tables: ['a'], writes: [], estimatedRows: null })).toBeNull();
    expect(estimate(null)).toBeNull();
  });
});

describe('routes', () => {
  it('round-trips every screen through the URL fragment', () => {
    for (const route of [
      { screen: 'targets' },
      { screen: 'tunnel', targetId: 'shop-db' },
      { screen: 'tunnel' },
      { screen: 'approvals', kind: 'access', id: 'a b/c' },
      { screen: 'approvals', id: 'x' },
      { screen: 'sessions', sessionId: 's1' },
      { screen: 'settings' },
    ] as const) {
      expect(parseRoute(href(route))).toEqual(route);
    }
    expect(parseRoute('#/nonsense')).toEqual({ screen: 'targets' });
    expect(parseRoute('')).toEqual({ screen: 'targets' });
  });
});
