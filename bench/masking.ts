/**
 * Masking cost per DataRow: 1,000 realistic rows through maskDataRow with (a) no masking work (the
 * copy-through baseline: frame validation only), (b) two masked columns, (c) two masked columns plus
 * every value detector on the other columns. Then 1,000 rows of composite values (a customer record,
 * a text[] of notes, an array of contact records) with (d) no masking work and (e) each record's masked
 * fields plus every detector on the rest, walked field by field. Reports ms per 1,000 rows, MB/s of
 * DataRow bytes, the time added over the suite's baseline and the ratio to it.
 */
import { createDetector, DETECTOR_NAMES } from '../tunnel/policy/masking/detectors.ts';
import { TypeOid } from '../tunnel/policy/masking/cell-values.ts';
import type { ColumnMask } from '../tunnel/policy/masking/composite-values.ts';
import { maskDataRow, type RowMaskPlan } from '../tunnel/policy/masking/datarow.ts';
import { buildDataRow } from '../tunnel/postgres/wire/results.ts';
import type { MaskStrategy } from '../tunnel/policy/masking/strategies.ts';
import { arrayLiteral, recordLiteral } from '../test/support/value-syntax.ts';
import { luhnCheckDigit, mulberry32 } from '../hub/demo/fake-shop.ts';
import { median, table } from './tools.ts';

const ROWS = 1_000;
const BATCHES = 21;
const MIN_BATCH_MS = 40;

const withCheckDigit = (body: string): string => body + luhnCheckDigit(body);

const FIRST = ['Jane', 'John', 'María', 'Søren', 'Zoë', 'Wei', 'Amara', 'Lukas', 'Priya', 'Olivia'];
const LAST = ['Doe', 'García', 'Kierkegaard', "O'Connor", 'Wang', 'Okafor', 'Schmidt', 'Patel', 'Smith'];
const PLAIN_NOTES = [
  'Customer asked about the delivery window for order 48213.',
  'Follow-up scheduled after the 2024-03-14 meeting; no action needed.',
  'Upgraded to the annual plan, invoice INV-000123 sent.',
  'Prefers contact by email in the morning (CET).',
  'Returned item #5521, refund approved for $129.99.',
];

interface Person {
  id: number;
  name: string;
  email: string;
  card: string;
  ssn: string;
  note: string;
  createdAt: string;
  amount: string;
}

function buildRows(): Buffer[] {
  return buildPeople().map((p) =>
    buildDataRow([String(p.id), p.name, p.email, p.card, p.ssn, p.note, p.createdAt, p.amount]),
  );
}

/** The same people as composite values: (id, customer record, text[] of notes, contact records[]). */
function buildCompositeRows(): Buffer[] {
  return buildPeople().map((p) =>
    buildDataRow([
      String(p.id),
      recordLiteral([String(p.id), p.name, p.email, p.card, p.ssn, p.note, p.createdAt, p.amount]),
      arrayLiteral([p.note, `order ${p.id}`, p.createdAt]),
      arrayLiteral([recordLiteral([p.email, p.name, 'home']), recordLiteral([null, p.note, 'work'])]),
    ]),
  );
}

function buildPeople(): Person[] {
  const rnd = mulberry32(42);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;
  const digits = (n: number): string => Array.from({ length: n }, () => String(int(0, 9))).join('');
  const people: Person[] = [];
  for (let id = 1; id <= ROWS; id++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    const email = `${first.toLowerCase()}.${last.toLowerCase().replace(/\W/g, '')}${id}@example.com`;
    const card = withCheckDigit(`4${digits(14)}`)
      .match(/.{4}/g)!
      .join(' ');
    const ssn = `${String(int(1, 899)).padStart(3, '0')}-${String(int(1, 99)).padStart(2, '0')}-${digits(4)}`;
    const note =
      rnd() < 0.3
        ? pick([
            `Call me at +1 ${int(200, 999)} ${int(200, 999)} ${digits(4)} after 5pm.`,
            `Alternate address ${first.toLowerCase()}@example.org, please update.`,
            `Paid with card ${withCheckDigit(`5${int(1, 5)}${digits(13)}`)} over the phone.`,
            `IBAN for refunds: DE89 3704 0044 0532 0130 00, thanks.`,
            `Verified identity, SSN ${ssn}.`,
          ])
        : pick(PLAIN_NOTES);
    const createdAt = new Date(Date.UTC(2024, 0, 1) + int(0, 365 * 86_400) * 1000)
      .toISOString()
      .replace('T', ' ');
    const amount = `${int(1, 99_999)}.${digits(2)}`;
    people.push({ id, name: `${first} ${last}`, email, card, ssn, note, createdAt, amount });
  }
  return people;
}

const typeOids = [
  TypeOid.int4,
  TypeOid.text,
  TypeOid.text,
  TypeOid.text,
  TypeOid.text,
  TypeOid.text,
  TypeOid.timestamptz,
  TypeOid.numeric,
];

const plans: { name: string; plan: RowMaskPlan }[] = [
  {
    name: '(a) copy-through',
    plan: { columns: Array.from({ length: 8 }, () => undefined), formats: [], typeOids },
  },
  {
    name: '(b) 2 masked columns',
    plan: {
      columns: [
        undefined,
        undefined,
        { kind: 'email' },
        { kind: 'partial', keep: 4 },
        undefined,
        undefined,
        undefined,
        undefined,
      ],
      formats: [],
      typeOids,
    },
  },
  {
    name: '(c) 2 masked + detectors',
    plan: {
      columns: [
        undefined,
        undefined,
        { kind: 'email' },
        { kind: 'partial', keep: 4 },
        undefined,
        undefined,
        undefined,
        undefined,
      ],
      formats: [],
      typeOids,
      detector: createDetector(DETECTOR_NAMES),
    },
  },
];

const email: MaskStrategy = { kind: 'email' };
const partial: MaskStrategy = { kind: 'partial', keep: 4 };
const T = TypeOid;
const customerTypes = [T.int4, T.text, T.text, T.text, T.text, T.text, T.timestamptz, T.numeric];
const compositeTypeOids = [T.int4, 16386, T.textArray, 16390];

function compositePlan(masks: boolean, detect: boolean): RowMaskPlan {
  const none = (n: number): ColumnMask[] => Array.from({ length: n }, () => undefined);
  const customerFields: ColumnMask[] = masks
    ? [undefined, undefined, email, partial, { kind: 'redact' }, undefined, undefined, undefined]
    : none(8);
  const contactFields: ColumnMask[] = masks ? [email, undefined, undefined] : none(3);
  const walk = masks || detect;
  return {
    columns: [
      undefined,
      walk ? { kind: 'record', fields: customerFields, types: customerTypes } : undefined,
      walk ? { kind: 'array', element: undefined, elementType: T.text, delimiter: 0x2c } : undefined,
      walk
        ? {
            kind: 'array',
            element: { kind: 'record', fields: contactFields, types: [T.text, T.text, T.text] },
            elementType: 16389,
            delimiter: 0x2c,
          }
        : undefined,
    ],
    formats: [],
    typeOids: compositeTypeOids,
    detector: detect ? createDetector(DETECTOR_NAMES) : undefined,
  };
}

const compositePlans: { name: string; plan: RowMaskPlan }[] = [
  { name: '(d) composite copy-through', plan: compositePlan(false, false) },
  { name: '(e) composite masked + detectors', plan: compositePlan(true, true) },
];

let sink = 0;

/** One pass of all rows through maskDataRow; returns the masked cell count. */
function pass(rows: Buffer[], plan: RowMaskPlan): number {
  let maskedCells = 0;
  for (const row of rows) {
    const result = maskDataRow(row, plan);
    maskedCells += result.maskedCells;
    sink += result.frame.length;
  }
  return maskedCells;
}

/**
 * ms per pass of all rows, per plan: the median of timed batches, the plans interleaved batch by batch
 * so that load from other processes on a shared machine hits every scenario alike.
 */
function measure(rows: Buffer[], plans: readonly RowMaskPlan[]): { ms: number; maskedCells: number }[] {
  const maskedCells = plans.map((plan) => {
    for (let i = 0; i < 20; i++) pass(rows, plan); // warm-up: let the JIT settle
    return pass(rows, plan);
  });
  const samples: number[][] = plans.map(() => []);
  for (let b = 0; b < BATCHES; b++) {
    plans.forEach((plan, p) => {
      let passes = 0;
      const t0 = performance.now();
      let elapsed: number;
      do {
        pass(rows, plan);
        passes++;
        elapsed = performance.now() - t0;
      } while (elapsed < MIN_BATCH_MS);
      samples[p]!.push(elapsed / passes);
    });
  }
  return plans.map((_, p) => ({ ms: median(samples[p]!), maskedCells: maskedCells[p]! }));
}

export async function benchMasking(): Promise<void> {
  const rows = buildRows();
  console.log(`\nmasking: ${ROWS} DataRows of 8 columns, ${kib(rows)} KiB, ~30% notes with embedded PII`);
  report(rows, plans);
  const composites = buildCompositeRows();
  console.log(
    `\nmasking composite values: ${ROWS} DataRows of a record, a text[] and a record[], ${kib(composites)} KiB`,
  );
  report(composites, compositePlans);
  if (sink === -1) console.log(sink);
  await Promise.resolve();
}

const kib = (rows: Buffer[]): string => (rows.reduce((sum, r) => sum + r.length, 0) / 1024).toFixed(0);

function report(rows: Buffer[], scenarios: { name: string; plan: RowMaskPlan }[]): void {
  const bytes = rows.reduce((sum, r) => sum + r.length, 0);
  const measured = measure(
    rows,
    scenarios.map((p) => p.plan),
  );
  const results = scenarios.map(({ name }, i) => ({ name, ...measured[i]! }));
  const base = results[0]!.ms;
  console.log(
    table(
      ['scenario', 'ms / 1k rows', 'added ms / 1k rows', 'MB/s', 'ratio vs (a)', 'masked cells'],
      results.map((r) => [
        r.name,
        r.ms.toFixed(3),
        (r.ms - base).toFixed(3),
        (bytes / 1e6 / (r.ms / 1000)).toFixed(0),
        `${(r.ms / base).toFixed(2)}x`,
        r.maskedCells,
      ]),
    ),
  );
}
