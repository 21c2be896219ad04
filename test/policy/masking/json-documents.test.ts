import { describe, expect, it } from 'vitest';
import { createDetector } from '../../../tunnel/policy/masking/detectors.ts';
import {
  maskJsonDocument,
  type JsonMask,
  type JsonMemberMask,
} from '../../../tunnel/policy/masking/json-documents.ts';

const email = { kind: 'email' } as const;
const redact = { kind: 'redact' } as const;
const row: JsonMask = {
  kind: 'json',
  members: new Map<string, JsonMemberMask>([
    ['id', undefined],
    ['email', email],
    ['ssn', redact],
    ['note', undefined],
  ]),
  each: false,
  jsonb: true,
};

function masked(mask: JsonMask, text: string, format = 0): string | undefined {
  const buf = format === 1 ? Buffer.concat([Buffer.from([1]), Buffer.from(text)]) : Buffer.from(text);
  const out = maskJsonDocument(mask, buf, 0, buf.length, format, createDetector(['card']));
  if (out === undefined) return undefined;
  return (format === 1 ? out.subarray(1) : out).toString();
}

describe('maskJsonDocument', () => {
  it('masks each member by its key and keeps numbers and formatting as written', () => {
    expect(masked(row, '{"id": 12345678901234567890, "email": "ann@x.test", "ssn": "536-90-4399"}')).toBe(
      '{"id": 12345678901234567890, "email": "***@x.test", "ssn": "[redacted]"}',
    );
    expect(masked(row, '{"id":1,"note":"card 4111111111111111","ssn":null}')).toBe(
      '{"id":1,"note":"card [card]","ssn":null}',
    );
    expect(masked(row, '{"id":1}')).toBeUndefined();
  });

  it('masks a member whose key it does not know, and reads escaped keys', () => {
    expect(masked(row, '{"id":1,"other":"x","em\\u0061il":"ann@x.test"}')).toBe(
      '{"id":1,"other":"[redacted]","em\\u0061il":"***@x.test"}',
    );
  });

  it('walks arrays of rows and nested documents, skipping nested values whole', () => {
    const each: JsonMask = { ...row, each: true, jsonb: false };
    expect(
      masked(each, '[{"id":1,"email":"ann@x.test"}, null, {"email":{"x":["}"]},"id":[1,{"y":2}]}]'),
    ).toBe('[{"id":1,"email":"***@x.test"}, null, {"email":"[redacted]","id":[1,{"y":2}]}]');
    const outer: JsonMask = { kind: 'json', members: new Map([['c', row]]), each: false, jsonb: false };
    expect(masked(outer, '{"c":{"ssn":"1","id":2}}')).toBe('{"c":{"ssn":"[redacted]","id":2}}');
  });

  it('masks whole what is not the shape it expects, keeping jsonb’s version byte', () => {
    expect(masked(row, '[1,2]')).toBe('"[redacted]"');
    expect(masked(row, '{"email":"ann@x.test"')).toBe('"[redacted]"');
    expect(masked(row, '"ann@x.test"')).toBe('"[redacted]"');
    expect(masked(row, '{"email": "ann@x.test"}', 1)).toBe('{"email": "***@x.test"}');
    expect(masked(row, '{"id": 1} x', 1)).toBe('"[redacted]"');
  });
});
