import { describe, expect, it } from 'vitest';
import { RecentlyUsed } from '../../tunnel/policy/recently-used.ts';

describe('RecentlyUsed', () => {
  it('keeps at most its capacity, evicting entries not used since the hand last passed', () => {
    const cache = new RecentlyUsed<string, number>(3);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.get('a')).toBe(1);
    cache.set('d', 4); // a was used: b goes
    expect(cache.size).toBe(3);
    expect(cache.get('b')).toBeUndefined();
    expect([cache.get('a'), cache.get('c'), cache.get('d')]).toEqual([1, 3, 4]);
  });

  it('evicts everything in turn when nothing is used, and replaces a value in place', () => {
    const cache = new RecentlyUsed<number, string>(2);
    for (let i = 0; i < 10; i++) cache.set(i, `v${i}`);
    expect(cache.size).toBe(2);
    expect([cache.get(8), cache.get(9)]).toEqual(['v8', 'v9']);
    cache.set(9, 'nine');
    expect(cache.get(9)).toBe('nine');
    expect(cache.size).toBe(2);
  });

  it('holds nothing at capacity 0', () => {
    const cache = new RecentlyUsed<string, number>(0);
    cache.set('a', 1);
    expect(cache.get('a')).toBeUndefined();
  });
});
