/**
 * Composite and array values through a real tunnel on real PostgreSQL: whole-row references, ROW(…),
 * composite-typed columns, record-returning functions, arrays of masked columns and of records, nested
 * records — in text (node-postgres, postgres.js) and binary (raw Bind with binary result formats). The
 * seeded PII never reaches the client in any form, each rule's strategy shows inside the value, the
 * other fields arrive intact, and clients (and the server's own input functions) still parse them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import postgres from 'postgres';
import { serialize } from 'pg-protocol';
import { loadClassifier } from '../../tunnel/policy/classifier.ts';
import { PolicyEngine } from '../../tunnel/policy/engine.ts';
import { parsePolicy } from '../../tunnel/policy/policy-file.ts';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { sharedSideConnection } from '../../tunnel/postgres/side-connection.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import { forbiddenForms } from '../support/pii-samples.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { errorMessage, RawClient } from '../support/raw-client.ts';

const people = [
  {
    id: 1,
    name: 'Quentin Zabriskie',
    email: 'quentin.zabriskie@mailhost.test',
    card: '4539 1488 0343 6467',
    ssn: '536-90-4399',
    phone: '+1 415 555 0199',
  },
  {
    id: 2,
    name: 'Ophelia Vandermeer',
    email: 'ophelia.v@corpmail.test',
    card: '6011111111111117',
    ssn: '219-09-9999',
    phone: '+44 20 7946 0958',
  },
];
const contacts = [
  { email: 'backup.person@othermail.test', phone: '+49 30 901820 77', label: 'home, "main"' },
  { email: 'second.backup@othermail.test', phone: '+33 6 12 34 56 78', label: 'work' },
];

const rules = `mask:
  - {column: customers.email, strategy: email}
  - {column: customers.card_number, strategy: partial, keep: 4}
  - {column: "*.ssn", strategy: redact}
  - {column: customers.phone, strategy: hash}
  - {column: contact.email, strategy: email}
  - {column: contact.phone, strategy: "null"}
detect: [card, email, ssn, iban, phone, secret]
`;

const forbidden = [
  ...people.flatMap((p) => [p.email, p.card, p.ssn, p.phone]),
  ...contacts.flatMap((c) => [c.email, c.phone]),
].flatMap(forbiddenForms);

let server: TestPostgres;
let direct: pg.Client;
let side: ReturnType<typeof sharedSideConnection>;
const tunnels: PostgresTunnel[] = [];
let guarded: TunnelEndpoint;
let observed: TunnelEndpoint;

async function openTunnel(preset: string): Promise<TunnelEndpoint> {
  const upstream = parseUpstreamUrl(server.url({ sslmode: 'disable' }));
  const policy = parsePolicy(`extends: ${preset}\n${rules}`, 'mask.yaml', { maskKey: Buffer.alloc(32, 7) });
  const tunnel = new PostgresTunnel({
    upstream,
    decisions: new PolicyEngine(policy, { sideConnection: side.get }),
  });
  tunnels.push(tunnel);
  return tunnel.listen();
}

beforeAll(async () => {
  await loadClassifier();
  server = await startPostgres();
  direct = await server.connect();
  await direct.query(`CREATE TABLE customers (id int PRIMARY KEY, name text, email text, card_number text, ssn text, phone text, note text);
    CREATE TYPE contact AS (email text, phone text, label text);
    CREATE TYPE triple AS (a text, b text, c text);
    CREATE TABLE accounts (id int PRIMARY KEY, owner contact, backups contact[], ssn text);
    CREATE FUNCTION customer_by_id(int) RETURNS customers LANGUAGE sql AS 'SELECT * FROM customers WHERE id = $1';`);
  for (const p of people) {
    await direct.query('INSERT INTO customers VALUES ($1, $2, $3, $4, $5, $6, $7)', [
      p.id,
      p.name,
      p.email,
      p.card,
      p.ssn,
      p.phone,
      `paid with ${p.card.replace(/ /g, '')},123 or call ${p.phone}`,
    ]);
  }
  await direct.query(
    `INSERT INTO accounts VALUES (1, ROW($1, $2, $3)::contact, ARRAY[ROW($4, $5, $6)::contact, NULL], '536-90-4399')`,
    [
      contacts[0]!.email,
      contacts[0]!.phone,
      contacts[0]!.label,
      contacts[1]!.email,
      contacts[1]!.phone,
      contacts[1]!.label,
    ],
  );
  side = sharedSideConnection(parseUpstreamUrl(server.url({ sslmode: 'disable' })));
  guarded = await openTunnel('guarded');
  observed = await openTunnel('observe');
});

afterAll(async () => {
  for (const tunnel of tunnels) await tunnel.close();
  side?.close();
  await direct?.end();
  await server?.stop();
});

/** Every byte the client receives for one simple query; the query must succeed and return rows. */
async function received(endpoint: TunnelEndpoint, sql: string): Promise<Buffer> {
  const raw = await RawClient.login(endpoint.port, endpoint.user, endpoint.password);
  raw.write(serialize.query(sql));
  const messages = await raw.until('Z');
  raw.end();
  const error = messages.find((m) => m.type === 'E');
  expect(error && errorMessage(error.bytes), sql).toBeUndefined();
  expect(
    messages.some((m) => m.type === 'D'),
    `${sql} returned rows`,
  ).toBe(true);
  return Buffer.concat(messages.map((m) => m.bytes));
}

function leaks(bytes: Buffer | string): string[] {
  const text = typeof bytes === 'string' ? bytes : bytes.toString('latin1');
  return forbidden.filter((f) => text.includes(f));
}

/** The fields of a record literal, read by the server's own record_in as a value of `type`. */
async function fieldsOf(literal: string, type: string): Promise<Record<string, unknown>> {
  const { rows } = await direct.query(`SELECT ($1::text::${type}).*`, [literal]);
  return rows[0] as Record<string, unknown>;
}

async function one<T = Record<string, unknown>>(endpoint: TunnelEndpoint, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: endpoint.url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

function expectCustomer(fields: Record<string, unknown>, person: (typeof people)[number]): void {
  expect(fields).toMatchObject({
    id: person.id,
    name: person.name,
    email: `***@${person.email.split('@')[1]}`,
    ssn: '[redacted]',
  });
  expect(fields.card_number).toMatch(new RegExp(`^[* ]+${person.card.slice(-4)}$`));
  expect(fields.phone).toMatch(/^h:[0-9a-f]{32}$/);
  expect(fields.note).toBe(`paid with [card],123 or call [phone]`);
}

const shapes: [what: string, sql: string][] = [
  ['whole-row reference', 'SELECT t FROM customers t'],
  ['whole-row reference by table name', 'SELECT customers FROM customers'],
  ['ROW(c.*)', 'SELECT ROW(c.*) FROM customers c'],
  ['ROW of traced columns', 'SELECT ROW(email, name, card_number) FROM customers'],
  ['nested records', 'SELECT ROW(ROW(email, phone), id, ROW(ssn)) FROM customers'],
  ['array_agg of a masked column', 'SELECT array_agg(email ORDER BY id) FROM customers'],
  ['ARRAY(SELECT …)', 'SELECT ARRAY(SELECT card_number FROM customers ORDER BY id)'],
  ['ARRAY[…] of differently masked columns', 'SELECT ARRAY[email, ssn, name] FROM customers'],
  ['array of records', 'SELECT array_agg(c ORDER BY id) FROM customers c'],
  ['array of ROW(…)', 'SELECT ARRAY[ROW(email, ssn)] FROM customers'],
  ['composite-typed columns', 'SELECT owner, backups FROM accounts'],
  ['row of a table with composite columns', 'SELECT a FROM accounts a'],
  ['record through a subquery', 'SELECT s.r FROM (SELECT c AS r FROM customers c) s'],
  ['CTE of records', 'WITH x AS (SELECT ROW(email, card_number) AS r FROM customers) SELECT r FROM x'],
  ['row_to_json of a row', 'SELECT row_to_json(c) FROM customers c'],
  ['to_jsonb of a row', 'SELECT to_jsonb(c.*) FROM customers AS c'],
  ['json_agg of rows', 'SELECT json_agg(c) FROM customers c'],
  ['a record cast to text', 'SELECT c::text FROM customers c'],
];

describe('composite and array values over the simple protocol', () => {
  it.each(shapes)('%s: no seeded value in any form', async (_what, sql) => {
    expect(leaks(await received(guarded, sql))).toEqual([]);
  });

  it('applies each rule’s strategy inside a whole-row reference, leaving the other fields intact', async () => {
    for (const sql of [
      'SELECT t FROM customers t ORDER BY id',
      'SELECT ROW(c.*) AS t FROM customers c ORDER BY id',
    ]) {
      const rows = await one<{ t: string }>(guarded, sql);
      for (const [i, person] of people.entries())
        expectCustomer(await fieldsOf(rows[i]!.t, 'customers'), person);
    }
  });

  it('masks a ROW of traced columns by each column’s rule', async () => {
    const rows = await one<{ row: string }>(
      guarded,
      'SELECT ROW(email, name, card_number) FROM customers ORDER BY id',
    );
    expect(await fieldsOf(rows[0]!.row, 'triple')).toEqual({
      a: '***@mailhost.test',
      b: 'Quentin Zabriskie',
      c: '**** **** **** 6467',
    });
  });

  it('masks arrays element-wise, so node-postgres parses them into arrays of masked values', async () => {
    const [agg] = await one<{ array_agg: string[] }>(
      guarded,
      'SELECT array_agg(email ORDER BY id) FROM customers',
    );
    expect(agg!.array_agg).toEqual(['***@mailhost.test', '***@corpmail.test']);
    const [sub] = await one<{ array: string[] }>(
      guarded,
      'SELECT ARRAY(SELECT card_number FROM customers ORDER BY id)',
    );
    expect(sub!.array).toEqual(['**** **** **** 6467', '************1117']);
    // Written out, each element keeps its own column's rule; the plain column passes.
    const [mixed] = await one<{ array: string[] }>(
      guarded,
      'SELECT ARRAY[email, ssn, name] FROM customers WHERE id = 1',
    );
    expect(mixed!.array).toEqual(['***@mailhost.test', '[redacted]', 'Quentin Zabriskie']);
    const [nested] = await one<{ array: (string | null)[] }>(
      guarded,
      "SELECT ARRAY[lower(email), card_number, 'x' || id, NULL, (SELECT name FROM customers WHERE id = 2)] FROM customers WHERE id = 1",
    );
    expect(nested!.array).toEqual(['[redacted]', '**** **** **** 6467', 'x1', null, 'Ophelia Vandermeer']);
  });

  it('masks every element of an array whose elements are not the items written (fail closed)', async () => {
    // Items that are arrays make a two-dimensional array: one mask for all, the strongest.
    const [deep] = await one<{ array: string[][] }>(
      guarded,
      'SELECT ARRAY[ARRAY[email], ARRAY[name]] FROM customers WHERE id = 1',
    );
    expect(deep!.array).toEqual([['[redacted]'], ['[redacted]']]);
    // Branches that put different columns at a position: that position gets what masks both.
    const rows = await one<{ array: string[] }>(
      guarded,
      'SELECT ARRAY[name, email] FROM customers WHERE id = 1 UNION ALL SELECT ARRAY[ssn, name] FROM customers WHERE id = 1',
    );
    expect(rows.map((r) => r.array)).toEqual([
      ['[redacted]', '***@mailhost.test'],
      ['[redacted]', '[redacted]'],
    ]);
    // A function of the written array is no longer that array.
    const [appended] = await one<{ array: string[] }>(
      guarded,
      "SELECT array_append(ARRAY[name, email], 'x') AS array FROM customers WHERE id = 1",
    );
    expect(appended!.array).toEqual(['[redacted]', '[redacted]', '[redacted]']);
  });

  it('masks arrays of records field by field, readable by the server as customers[]', async () => {
    const [row] = await one<{ array_agg: string }>(
      guarded,
      'SELECT array_agg(c ORDER BY id) FROM customers c',
    );
    const { rows } = await direct.query('SELECT (unnest($1::text::customers[])).*', [row!.array_agg]);
    for (const [i, person] of people.entries()) expectCustomer(rows[i], person);
  });

  it('masks composite-typed columns by the composite type’s own rules', async () => {
    const [row] = await one<{ owner: string; backups: string }>(
      guarded,
      'SELECT owner, backups FROM accounts',
    );
    expect(await fieldsOf(row!.owner, 'contact')).toEqual({
      email: '***@othermail.test',
      phone: null,
      label: 'home, "main"',
    });
    const { rows } = await direct.query('SELECT (unnest($1::text::contact[])).*', [row!.backups]);
    expect(rows).toEqual([
      { email: '***@othermail.test', phone: null, label: 'work' },
      { email: null, phone: null, label: null },
    ]);
    const [whole] = await one<{ a: string }>(guarded, 'SELECT a FROM accounts a');
    const fields = await fieldsOf(whole!.a, 'accounts');
    expect(fields.ssn).toBe('[redacted]');
    expect(fields.id).toBe(1);
  });

  it("masks the value of a record-returning function by its type's rules, and every other field", async () => {
    const rows = await one<{ c: string }>(
      observed,
      'SELECT customer_by_id(id) AS c FROM customers ORDER BY id',
    );
    for (const [i, person] of people.entries()) {
      // The function may have put anything in any field: fields without a rule are untraceable.
      const fields = await fieldsOf(rows[i]!.c, 'customers');
      expect(fields).toMatchObject({
        id: null,
        name: '[redacted]',
        email: `***@${person.email.split('@')[1]}`,
        ssn: '[redacted]',
        note: '[redacted]',
      });
      expect(fields.card_number).toMatch(new RegExp(`^[* ]+${person.card.slice(-4)}$`));
    }
    expect(leaks(await received(observed, 'SELECT * FROM customer_by_id(2)'))).toEqual([]);
  });

  it('masks JSON documents of rows member by member, by each column’s rule', async () => {
    const expected = {
      id: 1,
      name: 'Quentin Zabriskie',
      email: '***@mailhost.test',
      card_number: '**** **** **** 6467',
      ssn: '[redacted]',
      note: 'paid with [card],123 or call [phone]',
    };
    for (const fn of ['row_to_json', 'to_json', 'to_jsonb']) {
      const [row] = await one<{ doc: Record<string, unknown> }>(
        guarded,
        `SELECT ${fn}(c) AS doc FROM customers c WHERE id = 1`,
      );
      expect(row!.doc, fn).toMatchObject(expected);
      expect(row!.doc.phone, fn).toMatch(/^h:[0-9a-f]{32}$/);
    }
    for (const fn of ['json_agg', 'jsonb_agg']) {
      const [row] = await one<{ docs: Record<string, unknown>[] }>(
        guarded,
        `SELECT ${fn}(c ORDER BY id) AS docs FROM customers c`,
      );
      expect(
        row!.docs.map((d) => d.email),
        fn,
      ).toEqual(['***@mailhost.test', '***@corpmail.test']);
      expect(
        row!.docs.map((d) => d.name),
        fn,
      ).toEqual(['Quentin Zabriskie', 'Ophelia Vandermeer']);
    }
    const [built] = await one<{ doc: unknown }>(
      guarded,
      "SELECT jsonb_build_object('who', name, 'mail', email, 'nested', json_build_object('ssn', ssn, 'n', id)) AS doc FROM customers WHERE id = 2",
    );
    expect(built!.doc).toEqual({
      who: 'Ophelia Vandermeer',
      mail: '***@corpmail.test',
      nested: { ssn: '[redacted]', n: 2 },
    });
  });

  it('masks whole the JSON documents it cannot match to columns (fail closed)', async () => {
    const whole = [
      'SELECT row_to_json(ROW(email, name)) AS doc FROM customers WHERE id = 1',
      'SELECT to_json(array_agg(email)) AS doc FROM customers',
      "SELECT json_build_object(CASE WHEN id = 1 THEN 'a' ELSE 'b' END, email) AS doc FROM customers WHERE id = 1",
      'SELECT json_agg(c ORDER BY email) AS doc FROM customers c',
      'SELECT row_to_json(c)::text AS doc FROM customers c WHERE id = 1',
    ];
    for (const sql of whole) {
      const [row] = await one<{ doc: unknown }>(guarded, sql);
      expect(row!.doc, sql).toBe('[redacted]');
    }
  });

  it('gives postgres.js arrays and records it parses, masked', async () => {
    const sql = postgres(guarded.url, { max: 1, onnotice: () => {} });
    try {
      const [agg] = await sql.unsafe('SELECT array_agg(email ORDER BY id) AS emails FROM customers');
      expect(agg!.emails).toEqual(['***@mailhost.test', '***@corpmail.test']);
      const [record] = await sql.unsafe('SELECT t FROM customers t WHERE id = 1');
      expectCustomer(await fieldsOf(record!.t as string, 'customers'), people[0]!);
      const all = await sql.unsafe(
        shapes
          .map(([, q]) => q)
          .slice(0, 12)
          .join(';\n'),
      );
      expect(leaks(JSON.stringify(all))).toEqual([]);
    } finally {
      await sql.end();
    }
  });
});

// ---- binary -------------------------------------------------------------------------------------

/** Decodes a binary record or array (by its shape; leaves stay bytes) for the assertions. */
function decodeRecord(buf: Buffer): { oid: number; value: Buffer | null }[] {
  const count = buf.readInt32BE(0);
  const fields: { oid: number; value: Buffer | null }[] = [];
  let p = 4;
  for (let i = 0; i < count; i++) {
    const oid = buf.readUInt32BE(p);
    const len = buf.readInt32BE(p + 4);
    fields.push({ oid, value: len === -1 ? null : buf.subarray(p + 8, p + 8 + len) });
    p += 8 + Math.max(len, 0);
  }
  expect(p).toBe(buf.length);
  return fields;
}

function decodeArray(buf: Buffer): { hasNulls: boolean; elements: (Buffer | null)[] } {
  const ndim = buf.readInt32BE(0);
  let count = ndim === 0 ? 0 : 1;
  for (let d = 0; d < ndim; d++) count *= buf.readInt32BE(12 + 8 * d);
  const elements: (Buffer | null)[] = [];
  let p = 12 + 8 * ndim;
  for (let i = 0; i < count; i++) {
    const len = buf.readInt32BE(p);
    elements.push(len === -1 ? null : buf.subarray(p + 4, p + 4 + len));
    p += 4 + Math.max(len, 0);
  }
  expect(p).toBe(buf.length);
  return { hasNulls: buf.readInt32BE(4) === 1, elements };
}

/** The first column of every row of `sql`, fetched in binary format through Parse/Bind/Execute. */
async function binaryCells(sql: string): Promise<{ cells: (Buffer | null)[]; bytes: Buffer }> {
  const raw = await RawClient.login(guarded.port, guarded.user, guarded.password);
  raw.write(
    Buffer.concat([
      serialize.parse({ name: '', text: sql }),
      serialize.bind({ binary: true }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    ]),
  );
  const messages = await raw.until('Z');
  raw.end();
  const error = messages.find((m) => m.type === 'E');
  expect(error && errorMessage(error.bytes), sql).toBeUndefined();
  const cells = messages
    .filter((m) => m.type === 'D')
    .map((m) => {
      const len = m.bytes.readInt32BE(7);
      return len === -1 ? null : m.bytes.subarray(11, 11 + len);
    });
  return { cells, bytes: Buffer.concat(messages.map((m) => m.bytes)) };
}

const text = (b: Buffer | null | undefined): string | null | undefined => (b ? b.toString('utf8') : b);

describe('composite and array values in binary format', () => {
  it.each(shapes.filter(([, sql]) => !/json|::text/.test(sql)))(
    '%s: no seeded value in any form',
    async (_what, sql) => {
      const { bytes, cells } = await binaryCells(sql);
      expect(cells.length).toBeGreaterThan(0);
      expect(leaks(bytes)).toEqual([]);
    },
  );

  it('applies the strategies to each field of a binary record, NULL where the type cannot take them', async () => {
    const { cells } = await binaryCells('SELECT t FROM customers t ORDER BY id');
    const fields = decodeRecord(cells[0]!);
    expect(fields.map((f) => f.oid)).toEqual([23, 25, 25, 25, 25, 25, 25]);
    expect(fields[0]!.value!.readInt32BE(0)).toBe(1);
    expect(text(fields[1]!.value)).toBe('Quentin Zabriskie');
    expect(text(fields[2]!.value)).toBe('***@mailhost.test');
    expect(text(fields[3]!.value)).toBe('**** **** **** 6467');
    expect(text(fields[4]!.value)).toBe('[redacted]');
    expect(text(fields[5]!.value)).toMatch(/^h:[0-9a-f]{32}$/);
    expect(text(fields[6]!.value)).toBe('paid with [card],123 or call [phone]');
  });

  it('masks binary arrays element-wise and flags the NULLs it makes', async () => {
    const emails = decodeArray(
      (await binaryCells('SELECT array_agg(email ORDER BY id) FROM customers')).cells[0]!,
    );
    expect(emails.elements.map(text)).toEqual(['***@mailhost.test', '***@corpmail.test']);
    const records = decodeArray((await binaryCells('SELECT array_agg(a.owner) FROM accounts a')).cells[0]!);
    const owner = decodeRecord(records.elements[0]!);
    expect(owner.map((f) => text(f.value))).toEqual(['***@othermail.test', null, 'home, "main"']);
    const ids = decodeArray(
      (await binaryCells('SELECT ARRAY[id, length(ssn)] FROM customers WHERE id = 1')).cells[0]!,
    );
    expect(ids.hasNulls).toBe(true);
    expect(ids.elements[0]!.readInt32BE(0)).toBe(1);
    expect(ids.elements[1]).toBeNull();
    const mixed = decodeArray(
      (await binaryCells('SELECT ARRAY[email, ssn, name, card_number] FROM customers WHERE id = 2'))
        .cells[0]!,
    );
    expect(mixed.elements.map(text)).toEqual([
      '***@corpmail.test',
      '[redacted]',
      'Ophelia Vandermeer',
      '************1117',
    ]);
  });
});
