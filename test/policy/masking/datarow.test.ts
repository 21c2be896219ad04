import { describe, expect, it } from 'vitest';
import { createDetector, DETECTOR_NAMES } from '../../../tunnel/policy/masking/detectors.ts';
import { TypeOid } from '../../../tunnel/policy/masking/cell-values.ts';
import { maskCopyRow } from '../../../tunnel/policy/masking/copy-rows.ts';
import { MalformedRowError, maskDataRow, type RowMaskPlan } from '../../../tunnel/policy/masking/datarow.ts';
import { buildDataRow } from '../../../tunnel/postgres/wire/results.ts';
import type { MaskStrategy } from '../../../tunnel/policy/masking/strategies.ts';

const detector = createDetector(DETECTOR_NAMES);
const KEY = Buffer.alloc(32, 7);

/** Decodes a DataRow frame back into cells (null = SQL NULL). */
function cells(frame: Buffer): (Buffer | null)[] {
  expect(frame[0]).toBe(0x44);
  expect(frame.readInt32BE(1)).toBe(frame.length - 1);
  const count = frame.readUInt16BE(5);
  const out: (Buffer | null)[] = [];
  let pos = 7;
  for (let i = 0; i < count; i++) {
    const len = frame.readInt32BE(pos);
    pos += 4;
    if (len === -1) out.push(null);
    else {
      out.push(frame.subarray(pos, pos + len));
      pos += len;
    }
  }
  expect(pos).toBe(frame.length);
  return out;
}

const texts = (frame: Buffer): (string | null)[] =>
  cells(frame).map((c) => (c === null ? null : c.toString('utf8')));

function int4(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function int8(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
}

const jsonb = (text: string): Buffer => Buffer.concat([Buffer.from([1]), Buffer.from(text, 'utf8')]);

function plan(
  columns: (MaskStrategy | undefined)[],
  typeOids: number[],
  extra: Partial<RowMaskPlan> = {},
): RowMaskPlan {
  return { columns, typeOids, formats: [], ...extra };
}

describe('maskDataRow: copy-through', () => {
  it('returns the same Buffer object when no column is masked and detectors are off', () => {
    const frame = buildDataRow(['1', 'Jane', 'jane@example.com', null]);
    const result = maskDataRow(frame, plan([undefined, undefined, undefined, undefined], [23, 25, 25, 25]));
    expect(result.frame).toBe(frame);
    expect(result.maskedCells).toBe(0);
  });

  it('returns the same Buffer object when detectors find nothing', () => {
    const frame = buildDataRow(['1', 'Jane Doe', 'order 12345 shipped 2024-01-15', '{"a":[1,2,3]}']);
    const result = maskDataRow(
      frame,
      plan([undefined, undefined, undefined, undefined], [23, 25, 25, 3802], { detector }),
    );
    expect(result.frame).toBe(frame);
    expect(result.maskedCells).toBe(0);
  });

  it('returns the same Buffer object when masking leaves the bytes as they were', () => {
    const frame = buildDataRow(['[redacted]', null]);
    const result = maskDataRow(frame, plan([{ kind: 'redact' }, { kind: 'null' }], [25, 25]));
    expect(result.frame).toBe(frame);
    expect(result.maskedCells).toBe(1);
  });

  it('handles empty rows and empty strings', () => {
    const empty = buildDataRow([]);
    expect(maskDataRow(empty, plan([], [])).frame).toBe(empty);
    const frame = buildDataRow(['', '']);
    const result = maskDataRow(frame, plan([{ kind: 'redact' }, { kind: 'partial', keep: 4 }], [25, 25]));
    expect(texts(result.frame)).toEqual(['[redacted]', '']);
  });
});

describe('maskDataRow: text format', () => {
  it('masks the planned columns and leaves the others, NULLs included, alone', () => {
    const frame = buildDataRow([
      '42',
      'Jane Doe',
      'jane.doe@example.com',
      '4111 1111 1111 1234',
      null,
      'x',
      'keep me',
    ]);
    const result = maskDataRow(
      frame,
      plan(
        [
          undefined,
          { kind: 'redact' },
          { kind: 'email' },
          { kind: 'partial', keep: 4 },
          { kind: 'redact' },
          { kind: 'null' },
          undefined,
        ],
        [23, 25, 1043, 25, 25, 25, 25],
      ),
    );
    expect(result.frame).not.toBe(frame);
    expect(texts(result.frame)).toEqual([
      '42',
      '[redacted]',
      '***@example.com',
      '**** **** **** 1234',
      null,
      null,
      'keep me',
    ]);
    expect(result.maskedCells).toBe(4);
    expect(texts(frame)[1]).toBe('Jane Doe'); // the input is never modified
  });

  it('hashes deterministically, so masked values still join', () => {
    const strategy: MaskStrategy = { kind: 'hash', key: KEY };
    const a = maskDataRow(buildDataRow(['jane@example.com']), plan([strategy], [25]));
    const b = maskDataRow(buildDataRow(['jane@example.com']), plan([strategy], [1043]));
    expect(texts(a.frame)[0]).toMatch(/^h:[0-9a-f]{32}$/);
    expect(texts(a.frame)).toEqual(texts(b.frame));
  });

  it('hashes a JSON string value like the same text in a text column', () => {
    const strategy: MaskStrategy = { kind: 'hash', key: KEY };
    const result = maskDataRow(
      buildDataRow(['jane@example.com', '"jane@example.com"', '"jane@example.com"']),
      plan([strategy, strategy, strategy], [TypeOid.text, TypeOid.json, TypeOid.jsonb]),
    );
    const [text, json, jsonbText] = texts(result.frame);
    expect(JSON.parse(json!)).toBe(text);
    expect(JSON.parse(jsonbText!)).toBe(text);
  });

  it('masks non-text builtin types to NULL so clients can still parse the row', () => {
    const frame = buildDataRow(['42', '2024-01-15 10:30:00', '123.45', '{a,b}', 'true', '4111111111111111']);
    const result = maskDataRow(
      frame,
      plan(
        Array.from({ length: 6 }, (): MaskStrategy => ({ kind: 'redact' })),
        [TypeOid.int4, TypeOid.timestamp, TypeOid.numeric, TypeOid.textArray, TypeOid.bool, TypeOid.int8],
      ),
    );
    expect(texts(result.frame)).toEqual([null, null, null, null, null, null]);
    expect(result.maskedCells).toBe(6);
  });

  it('masks user-defined and unknown types (enums, citext) as text', () => {
    const frame = buildDataRow(['gold', 'Jane@Example.com']);
    const result = maskDataRow(frame, plan([{ kind: 'redact' }, { kind: 'email' }], [16_500, 0]));
    expect(texts(result.frame)).toEqual(['[redacted]', '***@example.com']);
  });

  it('gives json and jsonb columns a valid JSON string', () => {
    const frame = buildDataRow([
      '{"card": "4111 1111 1111 1234"}',
      '"4111 1111 1111 1234"',
      '"jane@example.com"',
      '[1, 2]',
      '"x"',
    ]);
    const result = maskDataRow(
      frame,
      plan(
        [
          { kind: 'redact' },
          { kind: 'partial', keep: 4 },
          { kind: 'email' },
          { kind: 'partial', keep: 1 },
          { kind: 'null' },
        ],
        [TypeOid.json, TypeOid.jsonb, TypeOid.jsonb, TypeOid.json, TypeOid.jsonb],
      ),
    );
    const out = texts(result.frame);
    expect(out.slice(0, 4).map((t) => JSON.parse(t!) as unknown)).toEqual([
      '[redacted]',
      '**** **** **** 1234',
      '***@example.com',
      '[redacted]',
    ]);
    expect(out[4]).toBeNull();
  });

  it('replaces detected spans in text cells of unmasked columns', () => {
    const frame = buildDataRow(['7', 'call me at +1 415 555 0100 or jane@example.com', 'Jane', null]);
    const result = maskDataRow(
      frame,
      plan([undefined, undefined, undefined, undefined], [23, 25, 25, 25], { detector }),
    );
    expect(texts(result.frame)).toEqual(['7', 'call me at [phone] or [email]', 'Jane', null]);
    expect(result.maskedCells).toBe(1);
  });

  it('keeps JSON valid when detectors rewrite json and jsonb text', () => {
    const doc = {
      name: 'Jane',
      email: 'jane.doe@example.com',
      card: 4111111111111111,
      negative: -4111111111111111,
      note: 'line one\nbob@example.org\tcalls +44 20 7946 0958',
      quoted: '"ssn: 123-45-6789"',
      nested: { 'jane@example.com': ['\u00e9ric@example.fr'] },
    };
    const text = JSON.stringify(doc);
    const frame = buildDataRow([text, JSON.stringify(doc, null, 1)]);
    const result = maskDataRow(
      frame,
      plan([undefined, undefined], [TypeOid.json, TypeOid.jsonb], { detector }),
    );
    for (const masked of texts(result.frame)) {
      expect(JSON.parse(masked!)).toEqual({
        name: 'Jane',
        email: '[email]',
        card: '[card]',
        negative: '[card]',
        note: 'line one\n[email]\tcalls [phone]',
        quoted: '"ssn: [ssn]"',
        nested: { '[email]': ['[email]'] },
      });
    }
    expect(result.maskedCells).toBe(2);
  });

  it('handles JSON escapes next to detected values', () => {
    const text =
      '["\\u00e9jane@example.com", "\\njane@example.com", "x\\"4111111111111111\\"", 4111111111111111]';
    const result = maskDataRow(buildDataRow([text]), plan([undefined], [TypeOid.jsonb], { detector }));
    expect(JSON.parse(texts(result.frame)[0]!)).toEqual(['é[email]', '\n[email]', 'x"[card]"', '[card]']);
  });

  it('scans each JSON cell with escapes on its own, whatever the cell before it held', () => {
    const long = JSON.stringify({ note: 'a\tb\n'.repeat(200) + 'reach me at jane@example.com' });
    const short = JSON.stringify({ note: 'x\ny jane@' });
    const result = maskDataRow(
      buildDataRow([long, short, short]),
      plan([undefined, undefined, undefined], [TypeOid.jsonb, TypeOid.json, TypeOid.jsonb], { detector }),
    );
    const [first, second, third] = texts(result.frame);
    expect(JSON.parse(first!)).toEqual({ note: 'a\tb\n'.repeat(200) + 'reach me at [email]' });
    expect(second).toBe(short);
    expect(third).toBe(short);
    expect(result.maskedCells).toBe(1);
  });

  it('sets scanned non-text builtins to NULL when something is detected, and skips inert types', () => {
    const frame = buildDataRow([
      '4111111111111111',
      '4111111111111111',
      '{jane@example.com,"call 415-555-0100"}',
      '2024-01-15',
    ]);
    const result = maskDataRow(
      frame,
      plan(
        [undefined, undefined, undefined, undefined],
        [TypeOid.int8, TypeOid.numeric, TypeOid.textArray, TypeOid.date],
        {
          detector,
        },
      ),
    );
    expect(texts(result.frame)).toEqual([null, null, '{[email],"call [phone]"}', '2024-01-15']);
    expect(result.maskedCells).toBe(3);
  });
});

describe('maskDataRow: rewritten frames', () => {
  const redactFirst = plan([{ kind: 'redact' }, undefined], [25, 25]);

  it('puts the rewritten frames of consecutive rows back to back, so they can leave in one write', () => {
    const frames = ['a', 'bb', 'ccc'].map((v) => maskDataRow(buildDataRow(['secret', v]), redactFirst).frame);
    const adjacent = (a: Buffer, b: Buffer): boolean =>
      a.buffer === b.buffer && b.byteOffset === a.byteOffset + a.length;
    // Consecutive frames share a buffer unless one starts a new one (at most once among three).
    expect(adjacent(frames[0]!, frames[1]!) || adjacent(frames[1]!, frames[2]!)).toBe(true);
  });

  it('never touches a frame it returned while later rows are rewritten', () => {
    const first = maskDataRow(buildDataRow(['secret', 'kept']), redactFirst).frame;
    const copy = Buffer.from(first);
    for (let i = 0; i < 5000; i++)
      maskDataRow(buildDataRow([`secret ${i}`, 'x'.repeat(i % 50)]), redactFirst);
    expect(first).toEqual(copy);
    expect(texts(first)).toEqual(['[redacted]', 'kept']);
  });

  it('rewrites large rows too', () => {
    const big = 'x'.repeat(100_000);
    const result = maskDataRow(buildDataRow(['secret', big]), redactFirst);
    expect(texts(result.frame)).toEqual(['[redacted]', big]);
  });
});

describe('maskDataRow: binary format', () => {
  it('sets binary int4, numeric, uuid and bytea cells to NULL', () => {
    const frame = buildDataRow([
      int4(42),
      Buffer.from([0, 1, 0, 0, 0, 0, 0, 0, 0, 42]),
      Buffer.alloc(16, 1),
      Buffer.from('raw'),
    ]);
    const result = maskDataRow(
      frame,
      plan(
        [{ kind: 'redact' }, { kind: 'partial', keep: 2 }, { kind: 'hash', key: KEY }, { kind: 'email' }],
        [TypeOid.int4, TypeOid.numeric, TypeOid.uuid, TypeOid.bytea],
        { formats: [1] },
      ),
    );
    expect(cells(result.frame)).toEqual([null, null, null, null]);
  });

  it('masks binary text-like cells in place and leaves unmasked binary cells byte-identical', () => {
    const frame = buildDataRow([int4(7), 'Jane Doe', 'jane@example.com', int4(9)]);
    const result = maskDataRow(
      frame,
      plan([undefined, { kind: 'partial', keep: 3 }, { kind: 'email' }, undefined], [23, 25, 1043, 23], {
        formats: [1, 1, 1, 1],
      }),
    );
    const out = cells(result.frame);
    expect(out[0]).toEqual(int4(7));
    expect(out[1]!.toString()).toBe('**** Doe');
    expect(out[2]!.toString()).toBe('***@example.com');
    expect(out[3]).toEqual(int4(9));
  });

  it('keeps binary jsonb valid: version byte 1, then a JSON string', () => {
    const frame = buildDataRow([
      jsonb('{"ssn": "123-45-6789"}'),
      jsonb('"4111111111111111"'),
      Buffer.from([2, 0x22, 0x22]),
    ]);
    const result = maskDataRow(
      frame,
      plan([{ kind: 'redact' }, { kind: 'partial', keep: 4 }, { kind: 'redact' }], [3802, 3802, 3802], {
        formats: [1],
      }),
    );
    const out = cells(result.frame);
    expect(out[0]![0]).toBe(1);
    expect(JSON.parse(out[0]!.subarray(1).toString())).toBe('[redacted]');
    expect(JSON.parse(out[1]!.subarray(1).toString())).toBe('************1111');
    expect(out[2]).toBeNull(); // an unknown jsonb version cannot be rewritten safely
  });

  it('runs detectors on binary text, json, jsonb and int8 cells', () => {
    const frame = buildDataRow([
      'mail jane@example.com',
      '{"a": "jane@example.com"}',
      jsonb('{"a": "4111 1111 1111 1111"}'),
      int8(4111111111111111n),
      int8(42n),
      int4(412345678),
    ]);
    const result = maskDataRow(
      frame,
      plan(
        Array.from({ length: 6 }, () => undefined),
        [25, 114, 3802, 20, 20, 23],
        { formats: [1], detector },
      ),
    );
    const out = cells(result.frame);
    expect(out[0]!.toString()).toBe('mail [email]');
    expect(JSON.parse(out[1]!.toString())).toEqual({ a: '[email]' });
    expect(out[2]![0]).toBe(1);
    expect(JSON.parse(out[2]!.subarray(1).toString())).toEqual({ a: '[card]' });
    expect(out[3]).toBeNull();
    expect(out[4]).toEqual(int8(42n));
    expect(out[5]).toEqual(int4(412345678));
    expect(result.maskedCells).toBe(4);
  });

  it('sets binary cells of user-defined types to NULL (unknown layout)', () => {
    const frame = buildDataRow(['gold']);
    const result = maskDataRow(frame, plan([{ kind: 'redact' }], [16_500], { formats: [1] }));
    expect(cells(result.frame)).toEqual([null]);
  });

  it('follows per-column formats', () => {
    const frame = buildDataRow(['Jane', int4(5), 'Doe']);
    const result = maskDataRow(
      frame,
      plan([{ kind: 'redact' }, { kind: 'redact' }, { kind: 'redact' }], [25, 23, 16_500], {
        formats: [0, 1, 0],
      }),
    );
    expect(cells(result.frame).map((c) => c?.toString() ?? null)).toEqual(['[redacted]', null, '[redacted]']);
  });
});

describe('maskDataRow: malformed frames', () => {
  const good = buildDataRow(['a', 'b']);
  const twoColumns = plan([undefined, { kind: 'redact' }], [25, 25]);

  function corrupt(edit: (b: Buffer) => Buffer): Buffer {
    return edit(Buffer.from(good));
  }

  it.each([
    ['a non-DataRow type byte', corrupt((b) => (b.writeUInt8(0x54, 0), b))],
    ['a length word that does not match', corrupt((b) => (b.writeInt32BE(b.length, 1), b))],
    ['a truncated header', Buffer.from([0x44, 0, 0, 0, 5, 0])],
    ['a cell count above the cells present', corrupt((b) => (b.writeUInt16BE(3, 5), b))],
    ['a cell count below the cells present', corrupt((b) => (b.writeUInt16BE(1, 5), b))],
    ['a cell length past the end', corrupt((b) => (b.writeInt32BE(100, 7), b))],
    ['a negative cell length other than -1', corrupt((b) => (b.writeInt32BE(-2, 7), b))],
    [
      'trailing bytes',
      (() => {
        const b = Buffer.concat([good, Buffer.from([0])]);
        b.writeInt32BE(b.length - 1, 1);
        return b;
      })(),
    ],
  ])('throws on %s', (_name, frame) => {
    // A plan as wide as the row claims to be, so the cell walk itself must catch the problem.
    const count = frame.length >= 7 ? frame.readUInt16BE(5) : 2;
    const columns = Array.from({ length: count }, (): MaskStrategy => ({ kind: 'redact' }));
    expect(() => maskDataRow(frame, plan(columns, []))).toThrow(MalformedRowError);
    expect(() => maskDataRow(frame, twoColumns)).toThrow(MalformedRowError);
  });

  it('throws when the plan does not match the row', () => {
    expect(() => maskDataRow(good, plan([undefined], [25]))).toThrow(/2 columns, the mask plan 1/);
    expect(() => maskDataRow(good, plan([undefined, undefined], [], { formats: [0, 0, 0] }))).toThrow(
      MalformedRowError,
    );
  });

  it('validates an unmasked frame too', () => {
    const frame = corrupt((b) => (b.writeInt32BE(100, 7), b));
    expect(() => maskDataRow(frame, plan([undefined, undefined], []))).toThrow(MalformedRowError);
  });
});

describe('maskCopyRow: text format', () => {
  const copyPlan = (
    columns: (MaskStrategy | undefined)[],
    extra: Partial<RowMaskPlan> = {},
  ): RowMaskPlan => ({
    columns,
    formats: [],
    typeOids: [],
    ...extra,
  });

  it('masks unescaped values and re-escapes them', () => {
    const line = Buffer.from('1\tJane\\tDoe\tline one\\nline two\t\\N\tjane@example.com\n');
    const result = maskCopyRow(
      line,
      copyPlan([
        undefined,
        { kind: 'redact', text: 'a\\b\tc' },
        { kind: 'partial', keep: 3 },
        { kind: 'redact' },
        { kind: 'email' },
      ]),
    );
    expect(result.line.toString()).toBe('1\ta\\\\b\\tc\t**** ***\\n**** two\t\\N\t***@example.com\n');
    expect(result.maskedCells).toBe(3);
  });

  it('writes \\N for the null strategy and keeps existing NULLs', () => {
    const line = Buffer.from('Jane\t\\N\n');
    expect(maskCopyRow(line, copyPlan([{ kind: 'null' }, { kind: 'null' }])).line.toString()).toBe(
      '\\N\t\\N\n',
    );
  });

  it('returns the same Buffer object when nothing changes', () => {
    const line = Buffer.from('1\tJane\t2024-01-15\n');
    expect(maskCopyRow(line, copyPlan([undefined, undefined, undefined], { detector })).line).toBe(line);
  });

  it('runs detectors on unescaped values', () => {
    const line = Buffer.from('1\tnote:\\njane@example.com\\tcard 4111 1111 1111 1111\n');
    const result = maskCopyRow(line, copyPlan([undefined, undefined], { detector }));
    expect(result.line.toString()).toBe('1\tnote:\\n[email]\\tcard [card]\n');
    expect(result.maskedCells).toBe(1);
  });

  it('decodes octal and hex escapes before masking', () => {
    const line = Buffer.from('jane\\100example.com\tj\\x61ne@example.com\n');
    const result = maskCopyRow(line, copyPlan([{ kind: 'email' }, undefined], { detector }));
    expect(result.line.toString()).toBe('***@example.com\t[email]\n');
  });

  it('honours a custom delimiter and null string, and type OIDs', () => {
    const line = Buffer.from('42|Jane|NULL\n');
    const result = maskCopyRow(
      line,
      copyPlan([{ kind: 'redact', text: 'a|b' }, { kind: 'redact' }, { kind: 'redact' }], {
        typeOids: [23, 25, 25],
      }),
      { delimiter: '|', null: 'NULL' },
    );
    expect(result.line.toString()).toBe('NULL|[redacted]|NULL\n');
    const escaped = maskCopyRow(
      Buffer.from('x|y\n'),
      copyPlan([{ kind: 'redact', text: 'a|b' }, undefined]),
      {
        delimiter: '|',
      },
    );
    expect(escaped.line.toString()).toBe('a\\|b|y\n');
  });

  it('throws on a field count mismatch', () => {
    expect(() => maskCopyRow(Buffer.from('a\tb\n'), copyPlan([undefined]))).toThrow(MalformedRowError);
  });
});

describe('maskCopyRow: CSV format', () => {
  const csvPlan = (columns: (MaskStrategy | undefined)[], extra: Partial<RowMaskPlan> = {}): RowMaskPlan => ({
    columns,
    formats: [],
    typeOids: [],
    ...extra,
  });

  it('parses quoted fields and always quotes masked values', () => {
    const line = Buffer.from('1,"Doe, Jane","say ""hi"" to jane@example.com",,"",plain\n');
    const result = maskCopyRow(
      line,
      csvPlan(
        [
          undefined,
          { kind: 'partial', keep: 4 },
          undefined,
          { kind: 'redact' },
          { kind: 'redact', text: 'x"y' },
          undefined,
        ],
        {
          detector,
        },
      ),
      { format: 'csv' },
    );
    expect(result.line.toString()).toBe('1,"***, *ane","say ""hi"" to [email]",,"x""y",plain\n');
    expect(result.maskedCells).toBe(3);
  });

  it('handles embedded newlines and a custom escape character', () => {
    const line = Buffer.from('"multi\nline \\"jane@example.com\\"",x\n');
    const result = maskCopyRow(line, csvPlan([undefined, { kind: 'redact', text: 'q"\\' }], { detector }), {
      format: 'csv',
      escape: '\\',
    });
    expect(result.line.toString()).toBe('"multi\nline \\"[email]\\"","q\\"\\\\"\n');
  });

  it('writes NULL as the unquoted null string and leaves unchanged rows alone', () => {
    const line = Buffer.from('a,b\n');
    expect(maskCopyRow(line, csvPlan([{ kind: 'null' }, undefined]), { format: 'csv' }).line.toString()).toBe(
      ',b\n',
    );
    expect(maskCopyRow(line, csvPlan([undefined, undefined], { detector }), { format: 'csv' }).line).toBe(
      line,
    );
  });

  it('throws on an unterminated quote', () => {
    expect(() => maskCopyRow(Buffer.from('"abc\n'), csvPlan([undefined]), { format: 'csv' })).toThrow(
      MalformedRowError,
    );
  });
});
