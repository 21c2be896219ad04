import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TypeOid } from '../../../tunnel/policy/masking/cell-values.ts';
import {
  arrayLeaves,
  decodeLeaf,
  LEAF_END,
  LEAF_NULL,
  LEAF_SIZE,
  LEAF_START,
  LEAF_VALUE_END,
  LEAF_VALUE_START,
  recordLeaves,
} from '../../../tunnel/policy/masking/composite-text.ts';
import {
  maskComposite,
  type ArrayMask,
  type ColumnMask,
  type RecordMask,
} from '../../../tunnel/policy/masking/composite-values.ts';
import { maskCopyRow } from '../../../tunnel/policy/masking/copy-rows.ts';
import { maskDataRow } from '../../../tunnel/policy/masking/datarow.ts';
import { buildDataRow } from '../../../tunnel/postgres/wire/results.ts';
import { createDetector, DETECTOR_NAMES } from '../../../tunnel/policy/masking/detectors.ts';
import type { MaskStrategy } from '../../../tunnel/policy/masking/strategies.ts';
import { anySample, forbiddenForms } from '../../support/pii-samples.ts';
import { arrayLiteral, recordLiteral } from '../../support/value-syntax.ts';

const detector = createDetector(DETECTOR_NAMES);
const email: MaskStrategy = { kind: 'email' };
const partial: MaskStrategy = { kind: 'partial', keep: 4 };
const redact: MaskStrategy = { kind: 'redact' };

/** The values of a literal's leaves, as the input functions would read them (null = SQL NULL). */
function values(literal: string, kind: 'record' | 'array', delimiter = 0x2c): (string | null)[] {
  const buf = Buffer.from(literal, 'utf8');
  const leaves =
    kind === 'record' ? recordLeaves(buf, 0, buf.length) : arrayLeaves(buf, 0, buf.length, delimiter);
  if (!leaves) throw new Error(`not a ${kind} literal: ${literal}`);
  const out: (string | null)[] = [];
  for (let k = 0; k < leaves.length; k += LEAF_SIZE) {
    if (leaves[k + LEAF_NULL] === 1) out.push(null);
    else if (leaves[k + LEAF_VALUE_START] !== -1)
      out.push(buf.toString('utf8', leaves[k + LEAF_VALUE_START], leaves[k + LEAF_VALUE_END]));
    else
      out.push(
        decodeLeaf(buf, leaves[k + LEAF_START]!, leaves[k + LEAF_END]!, kind === 'record').toString('utf8'),
      );
  }
  return out;
}

function maskText(mask: RecordMask | ArrayMask, literal: string, withDetector = false): string | null {
  const buf = Buffer.from(literal, 'utf8');
  const { value } = maskComposite(mask, buf, 0, buf.length, 0, withDetector ? detector : undefined);
  return value === undefined ? literal : value === null ? null : value.toString('utf8');
}

const record = (fields: ColumnMask[], types: number[] = []): RecordMask => ({
  kind: 'record',
  fields,
  types,
});
const array = (element: ColumnMask, elementType: number = TypeOid.text, delimiter = 0x2c): ArrayMask => ({
  kind: 'array',
  element,
  elementType,
  delimiter,
});

describe('text record and array syntax', () => {
  it('reads fields and elements as record_in and array_in do', () => {
    expect(values('(a,"b c",,"x""y","p\\\\q",""," ")', 'record')).toEqual([
      'a',
      'b c',
      null,
      'x"y',
      'p\\q',
      '',
      ' ',
    ]);
    expect(values('{a,"b c",NULL,"NULL","x\\"y",""}', 'array')).toEqual([
      'a',
      'b c',
      null,
      'NULL',
      'x"y',
      '',
    ]);
    expect(values('{{1,2},{3,NULL}}', 'array')).toEqual(['1', '2', '3', null]);
    expect(values('[0:1]={a,b}', 'array')).toEqual(['a', 'b']);
    expect(values('{}', 'array')).toEqual([]);
    expect(values('{(1\\,2);(3\\,4)}', 'array', 0x3b)).toEqual(['(1,2)', '(3,4)']);
    expect(values('()', 'record')).toEqual([null]);
  });

  it('writes a masked field back quoted as the input functions need, leaving the rest as it was', () => {
    const mask = record(
      [undefined, partial, email, undefined],
      [TypeOid.int4, TypeOid.text, TypeOid.text, TypeOid.text],
    );
    const out = maskText(mask, '(1,"4111 1111 1111 1111",jane@example.com,"x,y")');
    expect(out).toBe('(1,"**** **** **** 1111",***@example.com,"x,y")');
    expect(values(out!, 'record')).toEqual(['1', '**** **** **** 1111', '***@example.com', 'x,y']);
    const arr = maskText(array(redact), '{"a b",NULL,c}');
    expect(arr).toBe('{[redacted],NULL,[redacted]}');
  });

  it('masks fields of types that cannot hold a strategy’s text as NULL', () => {
    const mask = record([redact, redact, redact], [TypeOid.int4, TypeOid.date, TypeOid.text]);
    expect(maskText(mask, '(42,2024-03-14,x)')).toBe('(,,[redacted])');
    expect(maskText(array(redact, TypeOid.int4), '{1,2,3}')).toBe('{NULL,NULL,NULL}');
  });

  it('walks nested records and arrays of records', () => {
    const inner = record([email, undefined], [TypeOid.text, TypeOid.text]);
    const literal = `{${['(jane@example.com,"a b")', '(bob@example.org,)'].map((r) => `"${r.replace(/"/g, '\\"')}"`).join(',')}}`;
    const out = maskText(array(inner, 0), literal)!;
    expect(values(out, 'array').map((r) => values(r!, 'record'))).toEqual([
      ['***@example.com', 'a b'],
      ['***@example.org', null],
    ]);
    const nested = record([record([partial], [TypeOid.text]), undefined], []);
    expect(values(maskText(nested, '("(""4111 1111 1111 1111"")",7)')!, 'record')).toEqual([
      '("**** **** **** 1111")',
      '7',
    ]);
  });

  it('turns what does not parse as the plan says into NULL', () => {
    expect(maskText(record([email], [TypeOid.text]), 'not a record')).toBeNull();
    expect(maskText(record([email], [TypeOid.text]), '(a,b)')).toBeNull(); // two fields, the type has one
    expect(maskText(array(email), '{a,"b}')).toBeNull();
    expect(maskText(array(email), '{{a},b}')).toBeNull();
  });

  it('leaves a value alone, as the same bytes, when nothing in it is masked or detected', () => {
    const buf = Buffer.from('(1,"a b",,x)');
    expect(maskComposite(record([], []), buf, 0, buf.length, 0, detector)).toEqual({
      value: undefined,
      masked: false,
    });
  });
});

describe('binary records and arrays', () => {
  function binaryRecord(fields: [oid: number, value: Buffer | null][]): Buffer {
    const parts = [int32(fields.length)];
    for (const [oid, value] of fields)
      parts.push(int32(oid), int32(value === null ? -1 : value.length), value ?? Buffer.alloc(0));
    return Buffer.concat(parts);
  }
  function binaryArray(oid: number, elements: (Buffer | null)[], lower = 1): Buffer {
    const parts = [
      int32(1),
      int32(elements.includes(null) ? 1 : 0),
      int32(oid),
      int32(elements.length),
      int32(lower),
    ];
    for (const e of elements) parts.push(int32(e === null ? -1 : e.length), e ?? Buffer.alloc(0));
    return Buffer.concat(parts);
  }
  const int32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  const text = (s: string): Buffer => Buffer.from(s, 'utf8');

  it('masks each field by its own type OID, NULL for types a strategy cannot produce', () => {
    const value = binaryRecord([
      [TypeOid.int4, int32(7)],
      [TypeOid.text, text('4111 1111 1111 1111')],
      [TypeOid.varchar, text('jane@example.com')],
      [TypeOid.int8, Buffer.alloc(8)],
    ]);
    const { value: out } = maskComposite(
      record([undefined, partial, email, redact]),
      value,
      0,
      value.length,
      1,
      undefined,
    );
    expect(out).toEqual(
      binaryRecord([
        [TypeOid.int4, int32(7)],
        [TypeOid.text, text('**** **** **** 1111')],
        [TypeOid.varchar, text('***@example.com')],
        [TypeOid.int8, null],
      ]),
    );
  });

  it('masks array elements and sets the has-nulls flag when one becomes NULL', () => {
    const value = binaryArray(TypeOid.int4, [int32(1), int32(2)], 0);
    const { value: out } = maskComposite(array(redact, TypeOid.int4), value, 0, value.length, 1, undefined);
    expect(out).toEqual(binaryArray(TypeOid.int4, [null, null], 0));
    const texts = binaryArray(TypeOid.text, [text('call +1 415 555 0100'), null]);
    const detected = maskComposite(array(undefined), texts, 0, texts.length, 1, detector).value;
    expect(detected).toEqual(binaryArray(TypeOid.text, [text('call [phone]'), null]));
  });

  it('masks a written-out array by position, and by the strongest mask when its size differs', () => {
    const positional: ArrayMask = { ...array(redact), elements: [email, redact, undefined] };
    const value = binaryArray(TypeOid.text, [text('jane@example.com'), text('536-90-4399'), text('Jane')]);
    expect(maskComposite(positional, value, 0, value.length, 1, undefined).value).toEqual(
      binaryArray(TypeOid.text, [text('***@example.com'), text('[redacted]'), text('Jane')]),
    );
    const longer = binaryArray(TypeOid.text, [text('a'), text('b'), text('c'), text('d')]);
    expect(maskComposite(positional, longer, 0, longer.length, 1, undefined).value).toEqual(
      binaryArray(TypeOid.text, [
        text('[redacted]'),
        text('[redacted]'),
        text('[redacted]'),
        text('[redacted]'),
      ]),
    );
    expect(maskText(positional, '{jane@example.com,536-90-4399,Jane}')).toBe(
      '{***@example.com,[redacted],Jane}',
    );
    // One element per item written, however deep: ARRAY[a_text_array_column, …] of one-element arrays.
    expect(maskText(positional, '{{a},{b},{c}}')).toBe('{{[redacted]},{[redacted]},{c}}');
    expect(maskText(positional, '{a,b}')).toBe('{[redacted],[redacted]}');
  });

  it('walks records nested in anonymous records from their OIDs', () => {
    const inner = binaryRecord([[TypeOid.text, text('jane@example.com')]]);
    const value = binaryRecord([
      [2249, inner],
      [TypeOid.text, text('kept')],
    ]);
    const mask: RecordMask = { kind: 'record', fields: [redact], types: [], rest: undefined };
    const out = maskComposite(mask, value, 0, value.length, 1, undefined).value!;
    expect(out).toEqual(
      binaryRecord([
        [2249, binaryRecord([[TypeOid.text, text('[redacted]')]])],
        [TypeOid.text, text('kept')],
      ]),
    );
  });

  it('turns a truncated or inconsistent value into NULL', () => {
    const value = binaryRecord([[TypeOid.text, text('jane@example.com')]]);
    expect(maskComposite(record([email]), value, 0, value.length - 1, 1, undefined).value).toBeNull();
    expect(
      maskComposite(record([email], [TypeOid.text, TypeOid.text]), value, 0, value.length, 1, undefined)
        .value,
    ).toBeNull();
  });
});

describe('rows with composite columns', () => {
  it('rewrites DataRow cells and COPY fields field by field', () => {
    const mask = record([undefined, email], [TypeOid.int4, TypeOid.text]);
    const frame = buildDataRow(['7', '(1,jane@example.com)']);
    const { frame: out, maskedCells } = maskDataRow(frame, {
      columns: [undefined, mask],
      formats: [],
      typeOids: [23, 16386],
    });
    expect(out).toEqual(buildDataRow(['7', '(1,***@example.com)']));
    expect(maskedCells).toBe(1);
    const copy = maskCopyRow(Buffer.from('7\t(1,jane@example.com)\n'), {
      columns: [undefined, mask],
      formats: [],
      typeOids: [],
    });
    expect(copy.line.toString()).toBe('7\t(1,***@example.com)\n');
  });
});

describe('detectors inside records and arrays (property)', () => {
  it('finds every sample in a field or element, and the literal still parses with the same shape', () => {
    fc.assert(
      fc.property(
        anySample,
        fc.constantFrom('', '7,', ',7', ' x', '"', '(', ')', '{', '}', '\\'),
        (sample, around) => {
          const field =
            around.startsWith(',') || around.startsWith(' ') ? sample.text + around : around + sample.text;
          for (const [kind, literal] of [
            ['record', recordLiteral(['17', field, null, 'a,b'])],
            ['array', arrayLiteral(['17', field, null, 'a b'])],
          ] as const) {
            const mask = kind === 'record' ? record([], []) : array(undefined);
            const out = maskText(mask, literal, true)!;
            for (const form of forbiddenForms(sample.secret)) expect(out, literal).not.toContain(form);
            const parsed = values(out, kind);
            expect(parsed, out).toHaveLength(4);
            expect(parsed[0]).toBe('17');
            expect(parsed[2]).toBeNull();
          }
        },
      ),
      { numRuns: 1500, seed: 31 },
    );
  });
});
