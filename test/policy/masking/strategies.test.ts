import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_REDACTION,
  maskText,
  maskTextRange,
  validateStrategy,
  type MaskStrategy,
} from '../../../tunnel/policy/masking/strategies.ts';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef', 'utf8');

function mask(strategy: MaskStrategy, value: string): string | null {
  const out = maskText(strategy, Buffer.from(value, 'utf8'));
  return out === null ? null : out.toString('utf8');
}

describe('redact', () => {
  it('replaces the value with the default text', () => {
    expect(mask({ kind: 'redact' }, 'Jane Doe')).toBe(DEFAULT_REDACTION);
    expect(mask({ kind: 'redact' }, '')).toBe('[redacted]');
  });

  it('uses a custom text, unicode included', () => {
    expect(mask({ kind: 'redact', text: '•••' }, 'secret')).toBe('•••');
    expect(mask({ kind: 'redact', text: '' }, 'secret')).toBe('');
  });
});

describe('partial', () => {
  it('keeps the last N digits and the separators of a card number', () => {
    expect(mask({ kind: 'partial', keep: 4 }, '4111 1111 1111 1234')).toBe('**** **** **** 1234');
    expect(mask({ kind: 'partial', keep: 4 }, '4111-1111-1111-1234')).toBe('****-****-****-1234');
    expect(mask({ kind: 'partial', keep: 4 }, '4111111111111234')).toBe('************1234');
  });

  it('counts only letters and digits towards keep', () => {
    expect(mask({ kind: 'partial', keep: 6 }, '4111 1111 1111 1234')).toBe('**** **** **11 1234');
    expect(mask({ kind: 'partial', keep: 4 }, '123-45-6789')).toBe('***-**-6789');
  });

  it('never reveals more than half of the maskable characters', () => {
    expect(mask({ kind: 'partial', keep: 4 }, '1234')).toBe('**34');
    expect(mask({ kind: 'partial', keep: 100 }, 'Jane Doe')).toBe('**** Doe');
    expect(mask({ kind: 'partial', keep: 4 }, 'abc')).toBe('**c');
    expect(mask({ kind: 'partial', keep: 4 }, 'a')).toBe('*');
    expect(mask({ kind: 'partial', keep: 0 }, 'Jane')).toBe('****');
  });

  it('treats odd keep values as whole non-negative counts', () => {
    expect(mask({ kind: 'partial', keep: 2.9 }, '123456')).toBe('****56');
    expect(mask({ kind: 'partial', keep: -3 }, '123456')).toBe('******');
  });

  it('counts code points, not bytes, and masks each by one star', () => {
    expect(mask({ kind: 'partial', keep: 2 }, 'José Núñez')).toBe('**** ***ez');
    expect(mask({ kind: 'partial', keep: 2 }, '東京都港区')).toBe('***港区');
    expect(mask({ kind: 'partial', keep: 1 }, '😀😀😀')).toBe('**😀');
  });

  it('keeps the empty string empty and masks values without letters or digits', () => {
    expect(mask({ kind: 'partial', keep: 4 }, '')).toBe('');
    expect(mask({ kind: 'partial', keep: 4 }, '--- ---')).toBe('*** ***');
    expect(mask({ kind: 'partial', keep: 4 }, '   ')).toBe('   ');
    expect(mask({ kind: 'partial', keep: 4 }, '–—')).toBe('**');
  });

  it('masks invalid UTF-8 bytes instead of copying them', () => {
    const out = maskText({ kind: 'partial', keep: 0 }, Buffer.from([0x61, 0xff, 0xfe, 0x62]))!;
    expect(out.toString('utf8')).toBe('****');
  });
});

describe('email', () => {
  it('keeps only the domain', () => {
    expect(mask({ kind: 'email' }, 'jane.doe@example.com')).toBe('***@example.com');
    expect(mask({ kind: 'email' }, 'J.Doe+news@Mail.Example.CO.UK')).toBe('***@mail.example.co.uk');
    expect(mask({ kind: 'email' }, '  jane@example.com \n')).toBe('***@example.com');
    expect(mask({ kind: 'email' }, 'josé@example.es')).toBe('***@example.es');
    expect(mask({ kind: 'email' }, 'a@b.co')).toBe('***@b.co');
  });

  it('redacts values that are not emails', () => {
    for (const value of [
      '',
      'jane',
      'jane@',
      '@example.com',
      'jane@localhost',
      'a b@example.com',
      'x@y@z.com',
    ]) {
      expect(mask({ kind: 'email' }, value)).toBe(DEFAULT_REDACTION);
    }
  });
});

describe('hash', () => {
  it('is a keyed, deterministic, 128-bit pseudonym', () => {
    const a = mask({ kind: 'hash', key: KEY }, 'jane@example.com');
    expect(a).toMatch(/^h:[0-9a-f]{32}$/);
    expect(mask({ kind: 'hash', key: KEY }, 'jane@example.com')).toBe(a);
    expect(mask({ kind: 'hash', key: KEY }, 'jane@example.org')).not.toBe(a);
    const expected = createHmac('sha256', KEY).update('jane@example.com').digest('hex').slice(0, 32);
    expect(a).toBe(`h:${expected}`);
  });

  it('depends on the key and is not the unkeyed digest', () => {
    const other = Buffer.from('another key of sixteen bytes or more', 'utf8');
    const a = mask({ kind: 'hash', key: KEY }, '123-45-6789')!;
    expect(mask({ kind: 'hash', key: other }, '123-45-6789')).not.toBe(a);
    const plain = createHash('sha256').update('123-45-6789').digest('hex');
    expect(plain).not.toContain(a.slice(2));
    expect(a.slice(2)).not.toBe(plain.slice(0, 32));
  });

  it('hashes the empty string and unicode', () => {
    expect(mask({ kind: 'hash', key: KEY }, '')).toMatch(/^h:[0-9a-f]{32}$/);
    expect(mask({ kind: 'hash', key: KEY }, '東京')).not.toBe(mask({ kind: 'hash', key: KEY }, '京東'));
  });

  it('refuses short keys', () => {
    expect(() => maskText({ kind: 'hash', key: Buffer.alloc(0) }, Buffer.from('x'))).toThrow(/16 bytes/);
    expect(() => validateStrategy({ kind: 'hash', key: Buffer.alloc(15) })).toThrow(/16 bytes/);
    expect(() => validateStrategy({ kind: 'hash', key: KEY })).not.toThrow();
  });
});

describe('maskTextRange', () => {
  it('masks a range of a larger buffer like maskText masks the slice', () => {
    const frame = Buffer.from('....jane.doe@example.com|4111 1111 1111 1234....');
    const strategies: MaskStrategy[] = [
      { kind: 'email' },
      { kind: 'partial', keep: 4 },
      { kind: 'hash', key: KEY },
      { kind: 'redact' },
    ];
    for (const strategy of strategies) {
      expect(maskTextRange(strategy, frame, 4, 24)).toEqual(maskText(strategy, frame.subarray(4, 24)));
      expect(maskTextRange(strategy, frame, 25, 44)).toEqual(maskText(strategy, frame.subarray(25, 44)));
    }
    expect(maskTextRange({ kind: 'email' }, frame, 4, 24)!.toString()).toBe('***@example.com');
  });
});

describe('null and validation', () => {
  it('returns SQL NULL', () => {
    expect(maskText({ kind: 'null' }, Buffer.from('anything'))).toBeNull();
  });

  it('validates strategies from a policy', () => {
    expect(() => validateStrategy({ kind: 'partial', keep: Number.NaN })).toThrow(/keep/);
    expect(() => validateStrategy({ kind: 'partial', keep: -1 })).toThrow(/keep/);
    expect(() => validateStrategy({ kind: 'bogus' } as unknown as MaskStrategy)).toThrow(/unknown/);
    expect(() => maskText({ kind: 'bogus' } as unknown as MaskStrategy, Buffer.from('x'))).toThrow(/unknown/);
    expect(() => validateStrategy({ kind: 'redact', text: 'x' })).not.toThrow();
  });

  it('never returns the input buffer', () => {
    const value = Buffer.from('[redacted]');
    expect(maskText({ kind: 'redact' }, value)).not.toBe(value);
  });
});
