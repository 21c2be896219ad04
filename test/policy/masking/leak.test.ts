/**
 * Leak property: for seeded PII values, no masked output contains the value or any of its obvious
 * transformations (lower/upper case, reversed, hex, base64, digits only), whatever the strategy, type
 * and format, and whatever the detectors rewrite inside free text.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { luhnCheckDigit, mulberry32 } from '../../../hub/demo/fake-shop.ts';
import { createDetector, DETECTOR_NAMES } from '../../../tunnel/policy/masking/detectors.ts';
import { TypeOid } from '../../../tunnel/policy/masking/cell-values.ts';
import { maskDataRow } from '../../../tunnel/policy/masking/datarow.ts';
import { buildDataRow } from '../../../tunnel/postgres/wire/results.ts';
import type { MaskStrategy } from '../../../tunnel/policy/masking/strategies.ts';

const rng = mulberry32(20_241_122);
const int = (lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;
const digits = (n: number): string => Array.from({ length: n }, () => String(int(0, 9))).join('');

function card(): string {
  const [prefix, length] = pick([
    ['4', 16],
    ['51', 16],
    ['55', 16],
    ['2221', 16],
    ['37', 15],
    ['6011', 16],
  ] as const);
  const body = prefix + digits(length - prefix.length - 1);
  const number = body + luhnCheckDigit(body);
  const style = int(0, 2);
  if (style === 0) return number;
  const sep = style === 1 ? ' ' : '-';
  return length === 15
    ? [number.slice(0, 4), number.slice(4, 10), number.slice(10)].join(sep)
    : number.match(/.{4}/g)!.join(sep);
}

function ssn(): string {
  let area = int(1, 899);
  if (area === 666) area = 667;
  return `${String(area).padStart(3, '0')}-${String(int(1, 99)).padStart(2, '0')}-${String(int(1, 9999)).padStart(4, '0')}`;
}

function iban(): string {
  const bban = digits(18);
  const numeric = `${bban}131400`; // "DE00" moved to the end, letters as numbers (D=13, E=14)
  let rem = 0;
  for (const ch of numeric) rem = (rem * 10 + Number(ch)) % 97;
  const value = `DE${String(98 - rem).padStart(2, '0')}${bban}`;
  return int(0, 1) === 0 ? value : value.match(/.{1,4}/g)!.join(' ');
}

function phone(): string {
  const area = `${int(2, 9)}${digits(2)}`;
  const exchange = `${int(2, 9)}${digits(2)}`;
  const line = digits(4);
  return pick([
    `+1 ${area} ${exchange} ${line}`,
    `(${area}) ${exchange}-${line}`,
    `${area}-${exchange}-${line}`,
    `+1${area}${exchange}${line}`,
    `+44 20 ${digits(4)} ${digits(4)}`,
    `020 ${digits(4)} ${digits(4)}`,
  ]);
}

const FIRST = ['jane', 'john', 'maria', 'soren', 'zoe', 'jean-luc', 'anne.marie', 'li'];
const LAST = ['doe', 'garcia', 'kierkegaard', 'oconnor', 'picard', 'dupont', 'wang'];
const DOMAINS = ['example.com', 'mail.example.org', 'corp.example.co.uk', 'example.de'];

function email(): string {
  return `${pick(FIRST)}.${pick(LAST)}${int(0, 1) ? int(1, 99) : ''}@${pick(DOMAINS)}`;
}

const NAMES = [
  'Jane Doe',
  'María José García',
  'Søren Kierkegaard',
  "Zoë O'Connor",
  'Jean-Luc Picard',
  'Anne-Marie Dupont',
  '李小龙',
  'Александр Пушкин',
];

const seeded = {
  email: Array.from({ length: 40 }, email),
  card: Array.from({ length: 40 }, card),
  ssn: Array.from({ length: 40 }, ssn),
  iban: Array.from({ length: 40 }, iban),
  phone: Array.from({ length: 40 }, phone),
  name: NAMES,
};

/** The value and its obvious transformations, as byte strings; forms under 5 bytes are ignored. */
function forms(value: string): Buffer[] {
  const raw = Buffer.from(value, 'utf8');
  const candidates = [
    value,
    value.toLowerCase(),
    value.toUpperCase(),
    Array.from(value).reverse().join(''),
    raw.toString('hex'),
    raw.toString('hex').toUpperCase(),
    raw.toString('base64'),
    raw.toString('base64url'),
    value.replace(/\D/g, ''),
  ];
  return [...new Set(candidates)].filter((f) => Buffer.byteLength(f) >= 5).map((f) => Buffer.from(f, 'utf8'));
}

function expectNoLeak(output: Buffer, value: string, context: string): void {
  for (const form of forms(value)) {
    if (output.includes(form)) {
      expect.fail(
        `${context}: masked output ${JSON.stringify(output.toString('latin1'))} contains ${form.toString()}`,
      );
    }
  }
}

const KEY = Buffer.from('leak-test-key-0123456789abcdef', 'utf8');
const strategies: MaskStrategy[] = [
  { kind: 'redact' },
  { kind: 'partial', keep: 4 },
  { kind: 'partial', keep: 100 },
  { kind: 'email' },
  { kind: 'hash', key: KEY },
  { kind: 'null' },
];

/** Column types and formats a masked value may arrive in; `encode` turns the value into the cell. */
const shapes: { name: string; oid: number; format: number; encode: (v: string) => Buffer }[] = [
  { name: 'text', oid: TypeOid.text, format: 0, encode: (v) => Buffer.from(v) },
  { name: 'varchar binary', oid: TypeOid.varchar, format: 1, encode: (v) => Buffer.from(v) },
  { name: 'user-defined text', oid: 16_400, format: 0, encode: (v) => Buffer.from(v) },
  { name: 'json', oid: TypeOid.json, format: 0, encode: (v) => Buffer.from(JSON.stringify(v)) },
  {
    name: 'jsonb binary',
    oid: TypeOid.jsonb,
    format: 1,
    encode: (v) => Buffer.concat([Buffer.from([1]), Buffer.from(JSON.stringify({ value: v }))]),
  },
];

describe('masked columns never leak the value', () => {
  for (const [kind, values] of Object.entries(seeded)) {
    it(`${kind}: ${values.length} values × ${strategies.length} strategies × ${shapes.length} shapes`, () => {
      for (const value of values) {
        for (const strategy of strategies) {
          for (const shape of shapes) {
            const frame = buildDataRow(['42', shape.encode(value), null]);
            const { frame: out } = maskDataRow(frame, {
              columns: [undefined, strategy, strategy],
              formats: [0, shape.format, 0],
              typeOids: [TypeOid.int4, shape.oid, TypeOid.text],
            });
            expect(out).not.toBe(frame);
            expectNoLeak(out, value, `${strategy.kind} on ${shape.name}`);
          }
        }
      }
    });
  }

  it('hash output is neither the unkeyed digest nor stable across keys', () => {
    for (const value of [...seeded.email, ...seeded.ssn]) {
      const masked = (key: Buffer): string =>
        maskDataRow(buildDataRow([value]), { columns: [{ kind: 'hash', key }], formats: [], typeOids: [25] })
          .frame.subarray(11)
          .toString();
      const a = masked(KEY);
      expect(a).toMatch(/^h:[0-9a-f]{32}$/);
      expect(createHash('sha256').update(value).digest('hex')).not.toContain(a.slice(2));
      expect(masked(Buffer.alloc(32, 1))).not.toBe(a);
    }
  });
});

describe('detectors never leak the values they find', () => {
  const detector = createDetector(DETECTOR_NAMES);

  it('in free-text notes and JSON documents', () => {
    for (let i = 0; i < 40; i++) {
      const pii = {
        email: seeded.email[i]!,
        card: seeded.card[i]!,
        ssn: seeded.ssn[i]!,
        iban: seeded.iban[i]!,
        phone: seeded.phone[i]!,
      };
      const note =
        `Customer ${pick(NAMES)} (id ${i}) asked us to call ${pii.phone} or write to ${pii.email}. ` +
        `Card on file: ${pii.card}; SSN ${pii.ssn}; refund to ${pii.iban}.`;
      const doc = JSON.stringify({
        id: i,
        note,
        contact: { email: pii.email, phone: pii.phone },
        iban: pii.iban,
      });
      const frame = buildDataRow([String(i), note, doc, Buffer.concat([Buffer.from([1]), Buffer.from(doc)])]);
      const { frame: out, maskedCells } = maskDataRow(frame, {
        columns: [undefined, undefined, undefined, undefined],
        formats: [0, 0, 0, 1],
        typeOids: [TypeOid.int4, TypeOid.text, TypeOid.json, TypeOid.jsonb],
        detector,
      });
      expect(maskedCells).toBe(3);
      for (const [kind, value] of Object.entries(pii)) expectNoLeak(out, value, `${kind} in note ${i}`);
    }
  });
});

describe('detector output stays well-formed', () => {
  const detector = createDetector(DETECTOR_NAMES);
  const FRAGMENTS = [
    ...NAMES,
    'é',
    '東京',
    '😀',
    '\n',
    '\t',
    '"',
    '\\',
    '\u2028',
    ' ',
    ', ',
    '-',
    '+',
    '(',
    ')',
    '@',
    '0',
    '12',
    '2024-01-15',
    '192.168.0.1',
  ];
  const piece = (): string =>
    int(0, 2) === 0
      ? pick([seeded.email, seeded.card, seeded.ssn, seeded.iban, seeded.phone].flat())
      : pick(FRAGMENTS);
  const text = (): string => Array.from({ length: int(1, 12) }, piece).join(pick(['', ' ', '\n', ':']));

  it('keeps UTF-8 text well-formed: spans never cut a multi-byte character', () => {
    for (let i = 0; i < 500; i++) {
      const input = Buffer.from(text(), 'utf8');
      const { bytes } = detector.redact(input);
      expect(Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes)).toBe(true);
      for (const d of detector.scan(input)) {
        expect(d.start).toBeGreaterThanOrEqual(0);
        expect(d.end).toBeLessThanOrEqual(input.length);
        expect(d.start).toBeLessThan(d.end);
      }
    }
  });

  it('keeps json and jsonb documents valid JSON', () => {
    const value = (depth: number): unknown => {
      switch (int(0, depth > 2 ? 2 : 4)) {
        case 0:
          return text();
        case 1:
          return pick([4111111111111111, -5555555555554444, 42, 3.5, 1e21, true, null]);
        case 2:
          return Number(pick(seeded.card).replace(/\D/g, '')); // cards as JSON numbers
        case 3:
          return Array.from({ length: int(0, 4) }, () => value(depth + 1));
        default:
          return Object.fromEntries(Array.from({ length: int(0, 4) }, () => [text(), value(depth + 1)]));
      }
    };
    for (let i = 0; i < 300; i++) {
      const doc = JSON.stringify(value(0), null, int(0, 1) ? 1 : undefined);
      const frame = buildDataRow([doc, Buffer.concat([Buffer.from([1]), Buffer.from(doc)])]);
      const { frame: out } = maskDataRow(frame, {
        columns: [undefined, undefined],
        formats: [0, 1],
        typeOids: [TypeOid.json, TypeOid.jsonb],
        detector,
      });
      const first = out.readInt32BE(7);
      const json = out.subarray(11, 11 + first).toString('utf8');
      const jsonb = out.subarray(11 + first + 4);
      expect(() => JSON.parse(json) as unknown, json).not.toThrow();
      expect(jsonb[0]).toBe(1);
      expect(() => JSON.parse(jsonb.subarray(1).toString('utf8')) as unknown).not.toThrow();
    }
  });
});
