/**
 * What the server's own messages repeat of masked data: errors of casts and conversions that quote
 * the value, constraint violations whose DETAIL shows key values and failing rows, RAISE / ASSERT
 * from DO blocks and functions, dynamic SQL in CONTEXT and the internal query, and NOTIFY payloads.
 * Every leaking statement is first shown to leak when sent directly, then run through a tunnel with
 * mask rules by node-postgres, postgres.js, raw protocol (simple, extended, pipelined, binary
 * results), psycopg and pgjdbc. What tools need — SQLSTATE, position, object names, the client's
 * own values, the server's wording — stays.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
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
import { run } from '../support/commands.ts';
import { MemoryRecorder } from '../support/memory-recorder.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { errorField, RawClient, type RawMessage } from '../support/raw-client.ts';

/** Seeded PII; names are caught by nothing but the mask rules. */
const people = [
  {
    id: 1,
    name: 'Quentin Zabriskie',
    email: 'quentin.zabriskie@mailhost.test',
    card: '4539 1488 0343 6467',
    ssn: '536-90-4399',
  },
  {
    id: 2,
    name: 'Ophelia Vandermeer',
    email: 'ophelia.v@corpmail.test',
    card: '5425 2334 3010 9903',
    ssn: '219-09-9999',
  },
  {
    id: 3,
    name: 'Bartholomew Krzyzewski',
    email: 'bart.krzy@example.test',
    card: '3714 496353 98431',
    ssn: '078-05-1120',
  },
];

function forms(value: string): string[] {
  const out = new Set([value, value.toLowerCase(), value.toUpperCase()]);
  const digits = value.replace(/\D/g, '');
  if (digits.length >= 9) out.add(digits);
  for (const part of value.split(/[ @]/)) if (part.length >= 6) out.add(part);
  return [...out];
}

const forbidden = people.flatMap((p) => [p.name, p.email, p.card, p.ssn]).flatMap(forms);

function leaks(received: string): string[] {
  return forbidden.filter((f) => received.includes(f));
}

const POLICY = `extends: observe
mask:
  - {column: customers.name, strategy: hash}
  - {column: customers.email, strategy: email}
  - {column: customers.card_number, strategy: partial, keep: 4}
  - {column: customers.ssn, strategy: redact}
detect: [card, email, ssn]
`;

/** Statements whose errors, notices or notifications carry the data when sent directly. */
const LEAKING = [
  'SELECT email::int FROM customers',
  'SELECT name::numeric FROM customers ORDER BY id',
  'SELECT ssn::date FROM customers',
  'SELECT card_number::uuid FROM customers',
  'SELECT name::inet FROM customers',
  'SELECT name::json FROM customers',
  "SELECT ('{' || email || '}')::int[] FROM customers",
  `SELECT ('"' || name || '"')::regclass FROM customers`,
  'SELECT email::boolean FROM customers',
  'SELECT name::mood FROM customers',
  "SELECT replace(card_number, ' ', '')::int FROM customers",
  "SELECT to_date(card_number, 'YYYY-MM-DD') FROM customers",
  "INSERT INTO customers (id, name, email) SELECT 100, 'x', email FROM customers WHERE id = 1",
  'UPDATE customers SET email = (SELECT email FROM customers WHERE id = 2) WHERE id = 1',
  'INSERT INTO contacts (id, email, name) SELECT id, upper(email), name FROM customers',
  'INSERT INTO contacts (id, email, name) SELECT id, email, NULL FROM customers',
  'UPDATE customers SET note = repeat(name, 5) WHERE id = 3',
  `DO $$ DECLARE r record; BEGIN FOR r IN SELECT * FROM customers ORDER BY id LOOP
     RAISE NOTICE 'customer % has %', r.name, r.email; END LOOP; END $$`,
  `DO $$ DECLARE r record; BEGIN SELECT * INTO r FROM customers WHERE id = 2;
     RAISE WARNING 'card %', r.card_number;
     RAISE EXCEPTION 'rejected %', r.name USING DETAIL = r.ssn, HINT = 'write to ' || r.email; END $$`,
  'SELECT shout_customer(id) FROM customers',
  'SELECT complain(2)',
  "DO $$ BEGIN EXECUTE 'SELECT ' || (SELECT name FROM customers WHERE id = 3); END $$",
  `DO $$ DECLARE e text; BEGIN SELECT email INTO e FROM customers WHERE id = 1;
     ASSERT e IS NULL, 'email was ' || e; END $$`,
  "SELECT pg_notify('ch', email) FROM customers",
  "SELECT pg_notify('ch', 'plain ' || name) FROM customers WHERE id = 1",
];

/** The position in LEAKING of the statement that starts so. */
function probe(start: string): number {
  const index = LEAKING.findIndex((sql) => sql.startsWith(start));
  if (index < 0) throw new Error(`no probe starts with ${start}`);
  return index;
}

let server: TestPostgres;
let side: ReturnType<typeof sharedSideConnection>;
let tunnel: PostgresTunnel;
let endpoint: TunnelEndpoint;
const recorder = new MemoryRecorder();

beforeAll(async () => {
  await loadClassifier();
  server = await startPostgres();
  const direct = await server.connect();
  await direct.query(`
    CREATE TYPE mood AS ENUM ('happy', 'sad');
    CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text UNIQUE, card_number text,
      ssn text, note text CHECK (length(note) < 40));
    CREATE TABLE contacts (id int PRIMARY KEY, email text REFERENCES customers (email), name text NOT NULL);
    CREATE FUNCTION shout_customer(int) RETURNS int LANGUAGE plpgsql AS $$
      DECLARE r record; BEGIN SELECT * INTO r FROM customers WHERE id = $1;
      RAISE NOTICE 'now serving % <%>', r.name, r.email; RETURN $1; END $$;
    CREATE FUNCTION complain(int) RETURNS int LANGUAGE plpgsql AS $$
      DECLARE r record; BEGIN SELECT * INTO r FROM customers WHERE id = $1;
      RAISE EXCEPTION USING MESSAGE = 'bad card ' || r.card_number, ERRCODE = '22023'; END $$;`);
  for (const p of people) {
    await direct.query('INSERT INTO customers VALUES ($1, $2, $3, $4, $5)', [
      p.id,
      p.name,
      p.email,
      p.card,
      p.ssn,
    ]);
  }
  await direct.end();
  const upstream = parseUpstreamUrl(server.url({ sslmode: 'disable' }));
  side = sharedSideConnection(upstream);
  tunnel = new PostgresTunnel({
    upstream,
    recorder,
    decisions: new PolicyEngine(parsePolicy(POLICY, 'policy.yaml', { maskKey: Buffer.alloc(32, 7) }), {
      sideConnection: side.get,
    }),
  });
  endpoint = await tunnel.listen();
});

afterAll(async () => {
  await tunnel?.close();
  side?.close();
  await server?.stop();
});

function pgClient(port: number, user: string, password: string, database: string): pg.Client {
  return new pg.Client({ host: '127.0.0.1', port, user, password, database });
}

/** Everything node-postgres reports for each statement: error fields, notices, notifications. */
async function throughPg(client: pg.Client, statements: readonly string[]): Promise<unknown[][]> {
  let heard: unknown[] = [];
  client.on('notice', (notice) => heard.push({ notice: { ...notice, message: notice.message } }));
  client.on('notification', (n) => heard.push({ notification: n.payload }));
  await client.query('LISTEN ch');
  const out: unknown[][] = [];
  for (const sql of statements) {
    heard = [];
    try {
      await client.query(sql);
    } catch (error) {
      heard.push({ error: { ...(error as object), message: (error as Error).message } });
    }
    await client.query('SELECT 1');
    out.push(heard);
  }
  return out;
}

describe('what server messages repeat of masked data', () => {
  it('leaks when sent directly: every probe reports some of the data', async () => {
    const direct = await server.connect();
    const heard = await throughPg(direct, LEAKING);
    await direct.end();
    LEAKING.forEach((sql, i) => expect(leaks(JSON.stringify(heard[i])), sql).not.toEqual([]));
  });

  it('node-postgres: errors, notices and notifications arrive masked, every one still there', async () => {
    const client = pgClient(endpoint.port, endpoint.user, endpoint.password, endpoint.database);
    await client.connect();
    const heard = await throughPg(client, LEAKING);
    await client.end();
    LEAKING.forEach((sql, i) => {
      expect(heard[i]!.length, sql).toBeGreaterThan(0);
      expect(leaks(JSON.stringify(heard[i])), sql).toEqual([]);
    });
    const first = (heard[0]![0] as { error: Record<string, string> }).error;
    expect(first).toMatchObject({
      code: '22P02',
      message: 'invalid input syntax for type integer: "[redacted]"',
    });
    const unique = (heard[probe('INSERT INTO customers')]![0] as { error: Record<string, string> }).error;
    expect(unique).toMatchObject({
      code: '23505',
      message: 'duplicate key value violates unique constraint "customers_email_key"',
      detail: 'Key (email)=([redacted]) already exists.',
      constraint: 'customers_email_key',
      table: 'customers',
    });
    const notNull = (
      heard[probe('INSERT INTO contacts (id, email, name) SELECT id, email, NULL')]![0] as {
        error: Record<string, string>;
      }
    ).error;
    expect(notNull.message).toBe(
      'null value in column "name" of relation "contacts" violates not-null constraint',
    );
    expect(notNull.detail).toBe('Failing row contains ([redacted]).');
    const raised = heard[probe('DO $$ DECLARE r record; BEGIN FOR r')]!.map(
      (h) => (h as { notice: { message: string } }).notice.message,
    );
    expect(raised).toEqual(Array(3).fill('customer [redacted] has [redacted]'));
    const payloads = heard[probe("SELECT pg_notify('ch', email)")]!.map(
      (h) => (h as { notification?: string }).notification,
    );
    expect(payloads).toEqual(['[redacted]', '[redacted]', '[redacted]']);
  });

  it('keeps what the client sent itself and the server names: values, identifiers, hints, positions', async () => {
    const client = pgClient(endpoint.port, endpoint.user, endpoint.password, endpoint.database);
    await client.connect();
    const heard = await throughPg(client, [
      "SELECT 'abc'::int",
      'SELECT emial FROM customers',
      "INSERT INTO customers (id, name) VALUES (1, 'dup')",
      "DO $$ BEGIN RAISE NOTICE 'progress: all done'; END $$",
      "NOTIFY ch, 'hello from the client'",
      'SELECT * FROM nosuch',
    ]);
    const bound = await client.query('SELECT $1::int', ['xyz']).catch((error: Error) => error);
    await client.end();
    expect(heard[0]).toMatchObject([
      { error: { message: 'invalid input syntax for type integer: "abc"', position: '8' } },
    ]);
    expect(heard[1]).toMatchObject([
      {
        error: {
          code: '42703',
          message: 'column "emial" does not exist',
          hint: 'Perhaps you meant to reference the column "customers.email".',
        },
      },
    ]);
    expect(heard[2]).toMatchObject([{ error: { detail: 'Key (id)=(1) already exists.' } }]);
    expect(heard[3]).toMatchObject([{ notice: { message: 'progress: all done' } }]);
    expect(heard[4]).toEqual([{ notification: 'hello from the client' }]);
    expect(heard[5]).toMatchObject([{ error: { message: 'relation "nosuch" does not exist' } }]);
    expect((bound as Error).message).toBe('invalid input syntax for type integer: "xyz"');
  });

  it("masks another session's notification payload, which nothing traces", async () => {
    const client = pgClient(endpoint.port, endpoint.user, endpoint.password, endpoint.database);
    await client.connect();
    await client.query('LISTEN other');
    const payload = new Promise<string | undefined>((resolve) =>
      client.on('notification', (n) => resolve(n.payload)),
    );
    const direct = await server.connect();
    await direct.query(`SELECT pg_notify('other', 'customer ${people[0]!.email} changed')`);
    await direct.end();
    expect(await payload).toBe('[redacted]');
    await client.end();
  });

  it('postgres.js: errors, notices and LISTEN payloads arrive masked', async () => {
    const notices: unknown[] = [];
    const sql = postgres({
      host: '127.0.0.1',
      port: endpoint.port,
      user: endpoint.user,
      password: endpoint.password,
      database: endpoint.database,
      onnotice: (notice) => notices.push(notice),
    });
    const payloads: string[] = [];
    try {
      await sql.listen('ch', (payload) => payloads.push(payload));
      const errors: unknown[] = [];
      for (const statement of LEAKING) {
        await sql
          .unsafe(statement)
          .catch((error: Error) => errors.push({ ...error, message: error.message }));
        await sql.unsafe(statement, [], { prepare: true }).catch((error: Error) => errors.push({ ...error }));
      }
      await sql`SELECT 1`;
      expect(errors.length).toBeGreaterThanOrEqual(40);
      expect(notices.length).toBeGreaterThanOrEqual(6);
      // postgres.js listens on a connection of its own: its notifications may come after SELECT 1 answers.
      await expect.poll(() => payloads.length).toBe(8);
      expect(leaks(JSON.stringify([errors, notices, payloads]))).toEqual([]);
      expect(errors[0]).toMatchObject({
        code: '22P02',
        message: 'invalid input syntax for type integer: "[redacted]"',
      });
    } finally {
      await sql.end();
    }
  });

  it('raw protocol: simple, extended with binary results, and a pipeline before one Sync', async () => {
    const client = await RawClient.login(endpoint.port, endpoint.user, endpoint.password);
    const received: RawMessage[] = [];
    client.write(serialize.query('SELECT email::int FROM customers'));
    received.push(...(await client.until('Z')));
    client.write(
      Buffer.concat([
        serialize.parse({ text: 'SELECT 1 AS fine' }),
        serialize.bind({ binary: true }),
        serialize.describe({ type: 'P' }),
        serialize.execute({}),
        serialize.parse({ text: 'SELECT ssn::int, id FROM customers WHERE id = $1' }),
        serialize.bind({ values: ['2'], binary: true }),
        serialize.execute({}),
        serialize.parse({ text: 'SELECT 2' }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.sync(),
      ]),
    );
    const pipelined = await client.until('Z');
    received.push(...pipelined);
    client.end();
    expect(leaks(Buffer.concat(received.map((m) => m.bytes)).toString('latin1'))).toEqual([]);
    const errors = received.filter((m) => m.type === 'E');
    expect(errors.map((e) => errorField(e.bytes, 'C'))).toEqual(['22P02', '22P02']);
    expect(errors.map((e) => errorField(e.bytes, 'M'))).toEqual([
      'invalid input syntax for type integer: "[redacted]"',
      'invalid input syntax for type integer: "[redacted]"',
    ]);
    expect(pipelined.map((m) => m.type).join('')).toBe('12TDC12EZ');
  });

  it('records the masked error, never the data', () => {
    const errors = recorder.ofType('error');
    expect(errors.length).toBeGreaterThan(10);
    expect(leaks(JSON.stringify(errors))).toEqual([]);
  });

  const python = '/usr/bin/python3';
  const hasPsycopg = existsSync(python) && spawnSync(python, ['-c', 'import psycopg']).status === 0;
  it.skipIf(!hasPsycopg)('psycopg 3: every diagnostic field, text and binary', async () => {
    const script = path.join(import.meta.dirname, 'fixtures', 'server_messages_probe.py');
    const url = `postgresql://${encodeURIComponent(endpoint.user)}:${encodeURIComponent(endpoint.password)}@127.0.0.1:${endpoint.port}/${endpoint.database}?sslmode=disable`;
    for (const binary of ['0', '1']) {
      const result = await run(python, [script, url, binary], {
        input: JSON.stringify(['LISTEN ch', ...LEAKING]),
        timeoutMs: 120_000,
      });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(leaks(result.stdout)).toEqual([]);
      const entries = JSON.parse(result.stdout) as { error?: Record<string, string>; notices: unknown[] }[];
      entries.slice(1).forEach((entry, i) => {
        const heard =
          entry.error !== undefined || entry.notices.length > 0 || LEAKING[i]!.includes('pg_notify');
        expect(heard, LEAKING[i]).toBe(true);
      });
      expect(entries[1 + probe('INSERT INTO customers')]!.error).toMatchObject({
        sqlstate: '23505',
        constraint_name: 'customers_email_key',
      });
    }
  });
  if (!hasPsycopg)
    console.log('skipping the psycopg probe: /usr/bin/python3 with psycopg 3 is not installed');

  const jar = '/usr/share/java/postgresql.jar';
  const hasJdbc = existsSync('/usr/bin/java') && existsSync(jar);
  it.skipIf(!hasJdbc)('pgjdbc: SQLException, SQLWarning and PGNotification texts', async () => {
    const program = path.join(import.meta.dirname, 'fixtures', 'ServerMessagesProbe.java');
    const url = `jdbc:postgresql://127.0.0.1:${endpoint.port}/${endpoint.database}?user=${encodeURIComponent(endpoint.user)}&password=${encodeURIComponent(endpoint.password)}&sslmode=disable`;
    const result = await run('/usr/bin/java', ['-cp', jar, program, url, 'LISTEN ch', ...LEAKING], {
      timeoutMs: 180_000,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(leaks(result.stdout)).toEqual([]);
    const lines = result.stdout.trim().split('\n');
    const indexes = new Set(lines.map((line) => Number(line.split('\t')[0])));
    LEAKING.forEach((sql, i) => expect(indexes.has(i + 2), sql).toBe(true));
    expect(lines.find((l) => l.startsWith('2\t'))).toContain(
      '22P02\tERROR: invalid input syntax for type integer: "[redacted]"',
    );
  });
  if (!hasJdbc)
    console.log('skipping the pgjdbc probe: /usr/bin/java or /usr/share/java/postgresql.jar is missing');
});
