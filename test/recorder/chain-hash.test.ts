/**
 * The chain hash the tunnel computes for every recorded event and the hub recomputes to verify it
 * (hub/api/recording-chain.ts): canonical JSON written by recursion for what events nest, with an
 * explicit stack past RECURSION_DEPTH, and a one-shot sha256. Both must give the bytes and the hash
 * the specification names, whichever way a value is written.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, chainHash, GENESIS_HASH } from '../../hub/api/recording-chain.ts';

/** The specification, written the obvious way (recursive, through toJSON, omitting what JSON omits). */
function reference(value: unknown): string {
  const seen = (v: unknown): unknown =>
    v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function'
      ? (v as { toJSON(): unknown }).toJSON()
      : v;
  const gone = (v: unknown): boolean => v === undefined || typeof v === 'function' || typeof v === 'symbol';
  const write = (raw: unknown): string => {
    const v = seen(raw);
    if (gone(v)) return 'null';
    if (Array.isArray(v)) return `[${v.map(write).join(',')}]`;
    if (v === null || typeof v !== 'object') {
      return typeof v === 'number' && !Number.isFinite(v) ? 'null' : JSON.stringify(v);
    }
    const record = v as Record<string, unknown>;
    const members = Object.keys(record)
      .sort()
      .filter((key) => !gone(seen(record[key])))
      .map((key) => `${JSON.stringify(key)}:${write(record[key])}`);
    return `{${members.join(',')}}`;
  };
  return write(value);
}

function nested(depth: number): unknown {
  let value: unknown = { z: 'bottom', a: [1, undefined, new Date(0)] };
  for (let i = 0; i < depth; i++) value = i % 2 ? [value, { '10': i, '9': null }] : { y: value, b: i };
  return value;
}

describe('the recording chain hash', () => {
  it('is sha256 of the predecessor, a newline and the canonical JSON of seq, at, type and payload', () => {
    const event = {
      seq: 7,
      at: '2026-12-06T08:00:00.000Z',
      type: 'statement',
      payload: { sql: 'SELECT 1', protocol: 'simple', decision: 'allow', classes: ['read'], rule: 'r' },
    };
    const content =
      '{"at":"2026-12-06T08:00:00.000Z","payload":{"classes":["read"],"decision":"allow","protocol":"simple",' +
      '"rule":"r","sql":"SELECT 1"},"seq":7,"type":"statement"}';
    expect(canonicalJson(event)).toBe(content);
    expect(chainHash(GENESIS_HASH, event)).toBe(
      createHash('sha256')
        .update(GENESIS_HASH + '\n' + content)
        .digest('hex'),
    );
  });

  it('writes the same canonical JSON on both sides of the depth where it stops recursing', () => {
    for (let depth = 55; depth <= 75; depth++) {
      expect(canonicalJson(nested(depth)), `depth ${depth}`).toBe(reference(nested(depth)));
    }
  });

  it('writes what the specification says for any JSON value, objects with integer-like keys included', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (value) => {
        expect(canonicalJson(value)).toBe(reference(value));
      }),
      { numRuns: 1000 },
    );
    const tricky = { '10': 'ten', '9': 'nine', b: undefined, a: () => 1, c: [Symbol('s'), Number.NaN] };
    expect(canonicalJson(tricky)).toBe('{"10":"ten","9":"nine","c":[null,null]}');
    expect(canonicalJson(tricky)).toBe(reference(tricky));
  });
});
