import { describe, expect, it } from 'vitest';
import { RecentClientInput } from '../../../tunnel/policy/masking/client-input.ts';
import { createDetector } from '../../../tunnel/policy/masking/detectors.ts';
import {
  keepClientWords,
  redactQuotedValues,
  ServerMessageMask,
} from '../../../tunnel/policy/masking/server-messages.ts';
import { readNoticeFields } from '../../../tunnel/postgres/wire/notices.ts';

function notice(type: 'E' | 'N', fields: Record<string, string>): Buffer {
  const body = Buffer.concat([
    ...Object.entries(fields).map(([code, value]) => Buffer.from(`${code}${value}\0`)),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(5);
  head.write(type, 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function notification(pid: number, channel: string, payload: string): Buffer {
  const body = Buffer.concat([Buffer.alloc(4), Buffer.from(`${channel}\0${payload}\0`)]);
  body.writeInt32BE(pid, 0);
  const head = Buffer.alloc(5);
  head.write('A', 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

const sent = (...texts: string[]) => {
  const input = new RecentClientInput();
  texts.forEach((t) => input.remember(t));
  return input;
};
const never = () => false;

describe('redactQuotedValues', () => {
  it('redacts every quoted value, a value holding quotes, and a quote that never closes', () => {
    expect(redactQuotedValues('invalid input syntax for type integer: "a"b" c"', never)).toBe(
      'invalid input syntax for type integer: "[redacted]"',
    );
    expect(redactQuotedValues('invalid value "x y" for "YYYY"', (v) => v === 'YYYY')).toBe(
      'invalid value "[redacted]" for "YYYY"',
    );
    expect(redactQuotedValues('invalid input syntax for type integer: "{"a": "b", "c": "d"}"', never)).toBe(
      'invalid input syntax for type integer: "[redacted]"',
    );
    expect(redactQuotedValues('malformed array literal: "{1, 2', never)).toBe(
      'malformed array literal: "[redacted]"',
    );
  });

  it('redacts key tuples, both of an exclusion conflict, failing rows and JSON data lines', () => {
    expect(redactQuotedValues('Key (email)=(a) b) already exists.', never)).toBe(
      'Key (email)=([redacted]) already exists.',
    );
    expect(redactQuotedValues('Key (r)=([1,2)) conflicts with existing key (r)=([1,3)).', never)).toBe(
      'Key (r)=([redacted]).',
    );
    expect(redactQuotedValues('Key (id)=(7) is not present in table "t".', (v) => v === 't')).toBe(
      'Key (id)=([redacted]) is not present in table "t".',
    );
    expect(redactQuotedValues('Failing row contains (1, x), y).', never)).toBe(
      'Failing row contains ([redacted]).',
    );
    expect(redactQuotedValues('JSON data, line 1: alice@x\nSQL function "f"', (v) => v === 'f')).toBe(
      'JSON data, line 1: [redacted]\nSQL function "f"',
    );
  });
});

describe('keepClientWords', () => {
  it("keeps the words the client sent, one placeholder for each run of others, and the text's lines", () => {
    const input = sent("DO $$ BEGIN RAISE NOTICE 'customer % has %', r.name, r.email; END $$");
    expect(keepClientWords('customer Ann Lee has ann@x.test', input)).toBe(
      'customer [redacted] has [redacted]',
    );
    expect(keepClientWords('Ann\nhas', input)).toBe('[redacted]\nhas');
    expect(keepClientWords('', input)).toBe('');
  });

  it('finds a word only as a whole word: "5" is not in "LIMIT 50"', () => {
    const input = sent('SELECT * FROM t LIMIT 50');
    expect(input.sent('5')).toBe(false);
    expect(input.sent('50')).toBe(true);
    expect(input.sent('LIMIT 50')).toBe(true);
    expect(input.sent('IMIT')).toBe(false);
  });

  it('remembers bind parameters given as Buffers and forgets the oldest past its bound', () => {
    const input = new RecentClientInput();
    input.remember(Buffer.from('first-value'));
    expect(input.sent('first-value')).toBe(true);
    for (let i = 0; i < 64; i++) input.remember(`SELECT ${i}`);
    expect(input.sent('first-value')).toBe(false);
  });
});

describe('ServerMessageMask', () => {
  const masking = new ServerMessageMask({ provenance: true, detector: createDetector(['email', 'card']) });

  it('keeps SQLSTATE, position, names and routine, and masks text fields', () => {
    const frame = notice('E', {
      S: 'ERROR',
      V: 'ERROR',
      C: '23505',
      M: 'duplicate key value violates unique constraint "customers_email_key"',
      D: 'Key (email)=(ann@x.test) already exists.',
      s: 'public',
      t: 'customers',
      n: 'customers_email_key',
      F: 'nbtinsert.c',
      L: '666',
      R: '_bt_check_unique',
    });
    const fields = readNoticeFields(masking.notice(frame, sent('INSERT INTO customers SELECT …')));
    expect(Object.fromEntries(fields)).toEqual({
      S: 'ERROR',
      V: 'ERROR',
      C: '23505',
      M: 'duplicate key value violates unique constraint "customers_email_key"',
      D: 'Key (email)=([redacted]) already exists.',
      s: 'public',
      t: 'customers',
      n: 'customers_email_key',
      F: 'nbtinsert.c',
      L: '666',
      R: '_bt_check_unique',
    });
  });

  it('returns the very frame when nothing needed masking', () => {
    const frame = notice('E', { S: 'ERROR', C: '42P01', M: 'relation "nosuch" does not exist', P: '15' });
    expect(masking.notice(frame, sent('SELECT * FROM nosuch'))).toBe(frame);
  });

  it("filters a RAISE's text word by word, and its context by quotes", () => {
    const frame = notice('N', {
      S: 'NOTICE',
      C: '00000',
      M: 'serving Ann <ann@x.test>',
      W: 'PL/pgSQL function shout(integer) line 3 at RAISE\nSQL statement "SELECT 4111111111111111"',
      R: 'exec_stmt_raise',
    });
    const fields = readNoticeFields(masking.notice(frame, sent('SELECT shout(1)')));
    expect(fields.get('M')).toBe('[redacted]');
    expect(fields.get('W')).toBe(
      'PL/pgSQL function shout(integer) line 3 at RAISE\nSQL statement "[redacted]"',
    );
  });

  it('without mask rules runs only the detectors, on messages and payloads', () => {
    const detecting = new ServerMessageMask({ provenance: false, detector: createDetector(['email']) });
    const frame = notice('E', {
      S: 'ERROR',
      C: '22P02',
      M: 'invalid input syntax for type integer: "ann@x.test" and "Ann"',
    });
    expect(readNoticeFields(detecting.notice(frame, sent(''))).get('M')).toBe(
      'invalid input syntax for type integer: "[email]" and "Ann"',
    );
    const payload = notification(42, 'ch', 'mail ann@x.test now');
    const masked = detecting.notification(payload, sent(''));
    expect(masked.readInt32BE(5)).toBe(42);
    expect(masked.subarray(9).toString()).toBe('ch\0mail [email] now\0');
  });

  it('masks a payload nobody sent, keeps one the client sent, keeps the channel and pid', () => {
    const payload = notification(7, 'orders', 'order 42 for Ann');
    expect(masking.notification(payload, sent("NOTIFY orders, 'order 42 for Ann'"))).toBe(payload);
    const masked = masking.notification(payload, sent('LISTEN orders'));
    expect(masked.readInt32BE(1)).toBe(masked.length - 1);
    expect(masked.subarray(5).toString('latin1')).toBe('\0\0\0\x07orders\0[redacted]\0');
  });
});
