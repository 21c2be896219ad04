/**
 * Every result is masked by the plan of what produced it, whatever protocol and driver: pipelines of
 * unnamed statements, cursors declared and fetched over either protocol, refcursors, and results no
 * one can attribute (masked whole). Results with no table origin are not masked at all.
 *
 * The masking policy here has no detectors, so only attribution can mask the seeded values: `secret`
 * holds codes no detector would recognise.
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
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { errorMessage, RawClient, type RawMessage } from '../support/raw-client.ts';

const people = [
  {
    id: 1,
    email: 'quentin.zabriskie@mailhost.test',
    card: '4539 1488 0343 6467',
    secret: 'ZEBRA-SAFFRON-7781',
  },
  { id: 2, email: 'ophelia.v@corpmail.test', card: '5425 2334 3010 9903', secret: 'OBOE-MARZIPAN-3310' },
  { id: 3, email: 'bart.krzy@example.test', card: '3714 496353 98431', secret: 'KESTREL-UMBER-0442' },
];

/** A seeded value and the forms it could leak in: cases, reversed, hex, base64, its digits. */
function forms(value: string): string[] {
  const variants = [value, value.toLowerCase(), value.toUpperCase(), [...value].reverse().join('')];
  const out = new Set<string>();
  for (const v of variants) {
    out.add(v);
    out.add(Buffer.from(v).toString('hex'));
    out.add(Buffer.from(v).toString('base64').replace(/=+$/, ''));
  }
  const digits = value.replace(/\D/g, '');
  if (digits.length >= 9) out.add(digits);
  return [...out];
}

const forbidden = people.flatMap((p) => [p.email, p.card, p.secret]).flatMap(forms);

function leaks(received: Buffer | string): string[] {
  const text = typeof received === 'string' ? received : received.toString('latin1');
  return forbidden.filter((f) => text.includes(f));
}

const MASKS = `mask:
  - {column: customers.email, strategy: email}
  - {column: customers.card_number, strategy: partial, keep: 4}
  - {column: customers.secret, strategy: redact}
`;

let server: TestPostgres;
let side: ReturnType<typeof sharedSideConnection>;
const tunnels: PostgresTunnel[] = [];
/** Masks by rule only (observe, so that users' functions run and their results can be probed). */
let masked: TunnelEndpoint;
/** Detectors only. */
let detecting: TunnelEndpoint;
/** No masking at all. */
let plain: TunnelEndpoint;

async function openTunnel(policyText: string): Promise<TunnelEndpoint> {
  const upstream = parseUpstreamUrl(server.url({ sslmode: 'disable' }));
  const tunnel = new PostgresTunnel({
    upstream,
    decisions: new PolicyEngine(parsePolicy(policyText, 'policy.yaml', { maskKey: Buffer.alloc(32, 7) }), {
      sideConnection: side.get,
    }),
  });
  tunnels.push(tunnel);
  return tunnel.listen();
}

beforeAll(async () => {
  await loadClassifier();
  server = await startPostgres();
  const direct = await server.connect();
  await direct.query(`CREATE TABLE customers (id int PRIMARY KEY, email text, card_number text, secret text);
    CREATE FUNCTION open_customers(r refcursor) RETURNS refcursor LANGUAGE plpgsql AS $$
      BEGIN OPEN r FOR SELECT id, email, card_number, secret FROM customers ORDER BY id; RETURN r; END $$;
    CREATE FUNCTION reopen_as_customers(r refcursor) RETURNS void LANGUAGE plpgsql AS $$
      BEGIN CLOSE r; OPEN r FOR SELECT id, email, card_number, secret FROM customers ORDER BY id; END $$;
    CREATE FUNCTION secret_of(int) RETURNS text LANGUAGE sql AS $$ SELECT secret FROM customers WHERE id = $1 $$;
    CREATE FUNCTION all_secrets() RETURNS SETOF text LANGUAGE sql AS $$ SELECT secret FROM customers ORDER BY id $$;
    CREATE FUNCTION pick_secret(int, int) RETURNS text LANGUAGE sql AS $$ SELECT secret FROM customers WHERE id = $1 $$;
    CREATE OPERATOR ### (LEFTARG = int, RIGHTARG = int, FUNCTION = pick_secret);`);
  for (const p of people) {
    await direct.query('INSERT INTO customers VALUES ($1, $2, $3, $4)', [p.id, p.email, p.card, p.secret]);
  }
  await direct.end();
  side = sharedSideConnection(parseUpstreamUrl(server.url({ sslmode: 'disable' })));
  masked = await openTunnel(`extends: observe\n${MASKS}`);
  detecting = await openTunnel('extends: observe\ndetect: [card, email]\n');
  plain = await openTunnel('extends: observe\n');
});

afterAll(async () => {
  for (const tunnel of tunnels) await tunnel.close();
  side?.close();
  await server?.stop();
});

// ---- raw protocol helpers ------------------------------------------------------------------------

const login = (endpoint: TunnelEndpoint = masked): Promise<RawClient> =>
  RawClient.login(endpoint.port, endpoint.user, endpoint.password);

/** Cells of a DataRow: text or raw bytes, null for NULL. */
function cells(row: RawMessage): (Buffer | null)[] {
  const out: (Buffer | null)[] = [];
  let offset = 7;
  for (let i = row.bytes.readInt16BE(5); i > 0; i--) {
    const length = row.bytes.readInt32BE(offset);
    offset += 4;
    out.push(length < 0 ? null : row.bytes.subarray(offset, offset + length));
    offset += Math.max(length, 0);
  }
  return out;
}

/** The rows of each result in a reply, split at each completion. */
function results(messages: RawMessage[]): (Buffer | null)[][][] {
  const out: (Buffer | null)[][][] = [[]];
  for (const m of messages) {
    if (m.type === 'D') out.at(-1)!.push(cells(m));
    else if (m.type === 'C' || m.type === 's' || m.type === 'E') out.push([]);
  }
  return out.filter((r) => r.length > 0);
}

const textOf = (cell: Buffer | null): string | null => (cell === null ? null : cell.toString('utf8'));
const int4Of = (cell: Buffer | null): number | null => (cell === null ? null : cell.readInt32BE(0));

async function exchange(client: RawClient, ...parts: Buffer[]): Promise<RawMessage[]> {
  client.write(Buffer.concat(parts));
  const messages = await client.until('Z');
  expect(leaks(Buffer.concat(messages.map((m) => m.bytes)))).toEqual([]);
  return messages;
}

async function simple(client: RawClient, sql: string): Promise<RawMessage[]> {
  const messages = await exchange(client, serialize.query(sql));
  const error = messages.find((m) => m.type === 'E');
  expect(error && errorMessage(error.bytes), sql).toBeUndefined();
  return messages;
}

const parse = (text: string, name = '', types: number[] = []) => serialize.parse({ name, text, types });
const bind = (options: { portal?: string; statement?: string; values?: string[]; binary?: boolean } = {}) =>
  serialize.bind({
    portal: options.portal ?? '',
    statement: options.statement ?? '',
    values: options.values ?? [],
    binary: options.binary ?? false,
  });
const describePortal = (name = '') => serialize.describe({ type: 'P', name });
const execute = (portal = '', rows = 0) => serialize.execute({ portal, rows });
const sync = () => serialize.sync();

const WIDE = 'SELECT id, email, card_number, secret FROM customers ORDER BY id';
const IDS = 'SELECT id FROM customers ORDER BY id';
const SERIES = 'SELECT g, md5(g::text) FROM generate_series(1, 2) g';

describe('pipelined statements over the raw extended protocol', () => {
  it('masks each of many unnamed statements before one Sync by its own plan, text and binary', async () => {
    const client = await login();
    const statements: [string, boolean][] = [
      [WIDE, false],
      [IDS, false],
      [SERIES, false],
      [WIDE, true],
      [IDS, true],
      ['SELECT secret, id FROM customers WHERE id = 2', false],
    ];
    const messages = await exchange(
      client,
      ...statements.flatMap(([sql, binary]) => [parse(sql), bind({ binary }), describePortal(), execute()]),
      sync(),
    );
    expect(messages.filter((m) => m.type === 'E')).toEqual([]);
    const [wide, ids, series, wideBinary, idsBinary, last] = results(messages);
    expect(wide!.map((r) => textOf(r[0]!))).toEqual(['1', '2', '3']);
    expect(wide!.map((r) => textOf(r[3]!))).toEqual(['[redacted]', '[redacted]', '[redacted]']);
    expect(ids!.map((r) => textOf(r[0]!))).toEqual(['1', '2', '3']);
    expect(series!.map((r) => r.map(textOf))).toEqual([
      ['1', 'c4ca4238a0b923820dcc509a6f75849b'],
      ['2', 'c81e728d9d4c2f636f067f89cc14862c'],
    ]);
    expect(wideBinary!.map((r) => int4Of(r[0]!))).toEqual([1, 2, 3]);
    expect(wideBinary!.map((r) => textOf(r[1]!))).toEqual([
      '***@mailhost.test',
      '***@corpmail.test',
      '***@example.test',
    ]);
    expect(idsBinary!.map((r) => int4Of(r[0]!))).toEqual([1, 2, 3]);
    expect(last!.map((r) => r.map(textOf))).toEqual([['[redacted]', '2']]);
    client.end();
  });

  it('masks statements executed without Describe (skip-describe), and the client sees no extra message', async () => {
    const client = await login();
    // postgres.js and pgjdbc describe a named statement once, then only Bind and Execute it.
    await exchange(
      client,
      parse(WIDE, 'wide'),
      serialize.describe({ type: 'S', name: 'wide' }),
      parse(IDS, 'ids'),
      serialize.describe({ type: 'S', name: 'ids' }),
      sync(),
    );
    const messages = await exchange(
      client,
      bind({ statement: 'ids' }),
      execute(),
      bind({ statement: 'wide', binary: true }),
      execute(),
      bind({ statement: 'ids', binary: true }),
      execute(),
      bind({ statement: 'wide' }),
      execute(),
      sync(),
    );
    expect(messages.map((m) => m.type).filter((t) => t !== 'D')).toEqual([
      '2',
      'C',
      '2',
      'C',
      '2',
      'C',
      '2',
      'C',
      'Z',
    ]);
    const [ids, wideBinary, idsBinary, wide] = results(messages);
    expect(ids!.map((r) => textOf(r[0]!))).toEqual(['1', '2', '3']);
    expect(wideBinary!.map((r) => textOf(r[3]!))).toEqual(['[redacted]', '[redacted]', '[redacted]']);
    expect(idsBinary!.map((r) => int4Of(r[0]!))).toEqual([1, 2, 3]);
    expect(wide!.map((r) => textOf(r[2]!))).toEqual([
      '**** **** **** 6467',
      '**** **** **** 9903',
      '**** ****** *8431',
    ]);
    client.end();
  });

  it('drops the plans of messages skipped after an error and masks what follows by its own', async () => {
    const client = await login();
    const messages = await exchange(
      client,
      parse(IDS),
      bind(),
      describePortal(),
      execute(),
      parse('SELECT no_such_column FROM customers'),
      bind(),
      describePortal(),
      execute(),
      parse(WIDE),
      bind(),
      describePortal(),
      execute(),
      sync(),
      parse(WIDE),
      bind({ binary: true }),
      execute(),
      parse(SERIES),
      bind(),
      describePortal(),
      execute(),
      sync(),
    );
    expect(messages.filter((m) => m.type === 'E')).toHaveLength(1);
    const more = await client.until('Z');
    expect(leaks(Buffer.concat(more.map((m) => m.bytes)))).toEqual([]);
    const [ids] = results(messages);
    const [wide, series] = results(more);
    expect(ids!.map((r) => textOf(r[0]!))).toEqual(['1', '2', '3']);
    expect(wide!.map((r) => int4Of(r[0]!))).toEqual([1, 2, 3]);
    expect(series!.map((r) => textOf(r[0]!))).toEqual(['1', '2']);
    client.end();
  });

  it('masks the answers of a batch flushed without Sync', async () => {
    const client = await login();
    client.write(Buffer.concat([parse(WIDE), bind({ binary: true }), execute(), serialize.flush()]));
    const messages = await client.until('C');
    expect(leaks(Buffer.concat(messages.map((m) => m.bytes)))).toEqual([]);
    expect(results(messages)[0]!.map((r) => int4Of(r[0]!))).toEqual([1, 2, 3]);
    await exchange(client, sync());
    client.end();
  });
});

describe('cursors', () => {
  it('masks FETCH over the extended protocol by the plan of the DECLAREd query, every direction, text and binary', async () => {
    const client = await login();
    await simple(client, 'BEGIN');
    await simple(client, `DECLARE c SCROLL CURSOR FOR ${WIDE}`);
    const fetches = [
      'FETCH ALL FROM c',
      'FETCH ABSOLUTE 1 FROM c',
      'FETCH RELATIVE 1 FROM c',
      'FETCH BACKWARD 1 FROM c',
      'FETCH LAST FROM c',
      'FETCH PRIOR FROM c',
      'FETCH FIRST FROM c',
      'FETCH FORWARD 2 FROM c',
      'FETCH 1 IN c',
    ];
    for (const binary of [false, true]) {
      await simple(client, 'MOVE ABSOLUTE 0 IN c');
      for (const fetch of fetches) {
        const messages = await exchange(client, parse(fetch), bind({ binary }), execute(), sync());
        for (const row of results(messages).flat()) {
          expect(binary ? int4Of(row[0]!) : Number(textOf(row[0]!))).toBeGreaterThan(0);
          expect(textOf(row[3]!)).toBe('[redacted]');
        }
      }
    }
    // pgjdbc's `fetch n from c`: Parse and Describe of the statement first, then Bind and Execute.
    await exchange(
      client,
      parse('fetch 2 from c', 'f'),
      serialize.describe({ type: 'S', name: 'f' }),
      sync(),
    );
    await simple(client, 'MOVE ABSOLUTE 0 IN c');
    const messages = await exchange(client, bind({ statement: 'f', binary: true }), execute(), sync());
    expect(results(messages)[0]!.map((r) => int4Of(r[0]!))).toEqual([1, 2]);
    await simple(client, 'COMMIT');
    client.end();
  });

  it('masks a cursor declared through the extended protocol with a parameter and described as a portal', async () => {
    const client = await login();
    // psycopg's named cursors: DECLARE with parameters, then Describe of the cursor's own portal.
    await exchange(client, serialize.query('BEGIN'));
    const declared = await exchange(
      client,
      parse(
        'DECLARE "nc" CURSOR WITHOUT HOLD FOR SELECT id, email, secret FROM customers WHERE id >= $1',
        '',
        [23],
      ),
      bind({ values: ['1'] }),
      describePortal(),
      execute(),
      sync(),
      describePortal('nc'),
      sync(),
    );
    expect(declared.filter((m) => m.type === 'E')).toEqual([]);
    await client.until('Z');
    const messages = await exchange(
      client,
      parse('FETCH FORWARD 5 FROM "nc"'),
      bind({ binary: true }),
      describePortal(),
      execute(),
      sync(),
    );
    const rows = results(messages)[0]!;
    expect(rows.map((r) => int4Of(r[0]!))).toEqual([1, 2, 3]);
    expect(rows.map((r) => textOf(r[2]!))).toEqual(['[redacted]', '[redacted]', '[redacted]']);
    await simple(client, 'COMMIT');
    client.end();
  });

  it('keeps a WITH HOLD cursor on its plan after COMMIT', async () => {
    const client = await login();
    await simple(client, `BEGIN; DECLARE h CURSOR WITH HOLD FOR ${WIDE}; COMMIT`);
    const messages = await exchange(client, parse('FETCH ALL FROM h'), bind(), execute(), sync());
    expect(results(messages)[0]!.map((r) => r.map(textOf))[0]).toEqual([
      '1',
      '***@mailhost.test',
      '**** **** **** 6467',
      '[redacted]',
    ]);
    await simple(client, 'CLOSE h');
    client.end();
  });

  it('masks whole a refcursor opened by a function, over either protocol', async () => {
    const client = await login();
    await simple(client, 'BEGIN');
    await simple(client, "SELECT open_customers('rc1'), open_customers('rc2')");
    const simpleFetch = await simple(client, 'FETCH ALL FROM rc1');
    expect(results(simpleFetch)[0]!.map((r) => r.map(textOf))).toEqual(
      people.map(() => [null, '[redacted]', '[redacted]', '[redacted]']),
    );
    const extended = await exchange(
      client,
      parse('FETCH ALL FROM rc2'),
      bind({ binary: true }),
      execute(),
      sync(),
    );
    // Binary cells of types the tunnel cannot rewrite type-validly are NULL; text ones read [redacted].
    expect(results(extended)[0]!.map((r) => r.map(textOf))).toEqual(
      people.map(() => [null, '[redacted]', '[redacted]', '[redacted]']),
    );
    await simple(client, 'COMMIT');
    client.end();
  });

  it('masks whole a name reused after CLOSE, a cursor reopened by a function, and one from before a failed transaction', async () => {
    const client = await login();
    await simple(client, 'BEGIN');
    await simple(client, 'DECLARE c CURSOR FOR SELECT 1 AS id');
    await simple(client, 'CLOSE c');
    await simple(client, "SELECT open_customers('c')");
    let messages = await exchange(client, parse('FETCH ALL FROM c'), bind(), execute(), sync());
    expect(results(messages)[0]).toHaveLength(3);

    await simple(
      client,
      "DECLARE d CURSOR FOR SELECT 1 AS id, 'x' AS email, 'y' AS card_number, 'z' AS secret",
    );
    await simple(client, "SELECT reopen_as_customers('d')");
    messages = await exchange(client, parse('FETCH ALL FROM d'), bind(), execute(), sync());
    expect(results(messages)[0]).toHaveLength(3);
    await simple(client, 'COMMIT');

    await simple(client, 'BEGIN');
    await simple(
      client,
      "DECLARE e CURSOR FOR SELECT 1 AS id, 'x' AS email, 'y' AS card_number, 'z' AS secret",
    );
    expect((await exchange(client, serialize.query('SELECT 1/0'))).map((m) => m.type)).toEqual(['E', 'Z']);
    await simple(client, 'ROLLBACK');
    await simple(client, 'BEGIN');
    await simple(client, "SELECT open_customers('e')");
    messages = await exchange(client, parse('FETCH ALL FROM e'), bind(), execute(), sync());
    expect(results(messages)[0]).toHaveLength(3);
    await simple(client, 'COMMIT');
    client.end();
  });
});

describe('cursors and batches of other shapes', () => {
  it('follows DECLARE, FETCH, PREPARE and EXECUTE inside one multi-statement query', async () => {
    const client = await login();
    const messages = await simple(
      client,
      `BEGIN; DECLARE "Quoted Cur" NO SCROLL CURSOR FOR ${WIDE}; FETCH 2 FROM "Quoted Cur";
       PREPARE wide_p AS ${WIDE}; EXECUTE wide_p; FETCH NEXT FROM "Quoted Cur";
       DECLARE v CURSOR FOR SELECT * FROM (VALUES (7, 'plain')) t(n, word); FETCH ALL FROM v; COMMIT`,
    );
    const [first, executed, next, values] = results(messages);
    expect(first!.map((r) => r.map(textOf))).toEqual([
      ['1', '***@mailhost.test', '**** **** **** 6467', '[redacted]'],
      ['2', '***@corpmail.test', '**** **** **** 9903', '[redacted]'],
    ]);
    expect(executed!.map((r) => textOf(r[3]!))).toEqual(['[redacted]', '[redacted]', '[redacted]']);
    expect(next!.map((r) => textOf(r[0]!))).toEqual(['3']);
    expect(values!.map((r) => r.map(textOf))).toEqual([['7', 'plain']]);
    await simple(client, 'DEALLOCATE wide_p');
    client.end();
  });

  it('masks a cursor over a view, a CTE and a join fetched in binary through a named statement', async () => {
    const client = await login();
    await simple(client, 'BEGIN');
    await simple(
      client,
      `DECLARE j CURSOR FOR WITH c AS (SELECT id, email FROM customers)
         SELECT c.id, c.email, g FROM c JOIN generate_series(1, 3) g ON g = c.id ORDER BY c.id`,
    );
    await exchange(client, parse('FETCH 1 FROM j', 'fetch_one'), sync());
    for (const binary of [false, true, false]) {
      const messages = await exchange(client, bind({ statement: 'fetch_one', binary }), execute(), sync());
      const [row] = results(messages)[0]!;
      expect(textOf(row![1]!)).toMatch(/^\*\*\*@/);
      expect(binary ? int4Of(row![2]!) : Number(textOf(row![2]!))).toBe(
        binary ? int4Of(row![0]!) : Number(textOf(row![0]!)),
      );
    }
    await simple(client, 'COMMIT');
    client.end();
  });

  it('masks whole a refcursor opened and fetched in the same pipeline, and passes the rest of it', async () => {
    const client = await login();
    const messages = await exchange(client, serialize.query('BEGIN'));
    expect(messages.filter((m) => m.type === 'E')).toEqual([]);
    const piped = await exchange(
      client,
      parse("SELECT open_customers('piped')"),
      bind(),
      execute(),
      parse('FETCH 2 FROM piped'),
      bind({ binary: true }),
      execute(),
      parse(SERIES),
      bind(),
      execute(),
      sync(),
    );
    const [, fetched, series] = results(piped);
    expect(fetched!.flat().every((cell) => cell === null || textOf(cell) === '[redacted]')).toBe(true);
    expect(series!.map((r) => r.map(textOf))).toEqual([
      ['1', 'c4ca4238a0b923820dcc509a6f75849b'],
      ['2', 'c81e728d9d4c2f636f067f89cc14862c'],
    ]);
    await simple(client, 'COMMIT');
    client.end();
  });

  it('keeps each result of a pipeline on its plan when Executes are limited and portals interleave', async () => {
    const client = await login();
    await simple(client, 'BEGIN');
    const messages = await exchange(
      client,
      parse(WIDE),
      bind({ portal: 'a' }),
      parse(IDS),
      bind({ portal: 'b', binary: true }),
      execute('a', 1),
      execute('b', 2),
      execute('a', 1),
      execute('b', 0),
      execute('a', 0),
      sync(),
    );
    const rows = results(messages);
    expect(rows.map((r) => r.length)).toEqual([1, 2, 1, 1, 1]);
    expect(textOf(rows[0]![0]![3]!)).toBe('[redacted]');
    expect(rows[1]!.map((r) => int4Of(r[0]!))).toEqual([1, 2]);
    expect(textOf(rows[2]![0]![1]!)).toBe('***@corpmail.test');
    expect(int4Of(rows[3]![0]![0]!)).toBe(3);
    expect(textOf(rows[4]![0]![2]!)).toBe('**** ****** *8431');
    await simple(client, 'COMMIT');
    client.end();
  });
});

describe('drivers', () => {
  it('node-postgres: cursors fetched through simple and prepared statements, text and binary', async () => {
    for (const binary of [false, true]) {
      // `binary` is a node-postgres option its typings leave out: results come in binary format.
      const client = new pg.Client({ connectionString: masked.url, binary } as pg.ClientConfig);
      await client.connect();
      await client.query('BEGIN');
      await client.query(`DECLARE c SCROLL CURSOR FOR ${WIDE}`);
      const viaSimple = await client.query('FETCH 2 FROM c');
      const viaPrepared = await client.query({ name: 'fetch-all', text: 'FETCH ALL FROM c' });
      await client.query('MOVE ABSOLUTE 0 IN c');
      const again = await client.query({ name: 'fetch-all', text: 'FETCH ALL FROM c' });
      const mixed = await Promise.all([
        client.query({ text: WIDE, values: [] }),
        client.query({ text: 'SELECT id FROM customers WHERE id > $1 ORDER BY id', values: [0] }),
        client.query({ text: SERIES, values: [] }),
      ]);
      await client.query('COMMIT');
      await client.end();
      const all = [viaSimple, viaPrepared, again, ...mixed].flatMap((r) => r.rows);
      expect(leaks(JSON.stringify(all))).toEqual([]);
      expect([...viaSimple.rows, ...viaPrepared.rows].map((r) => Number(r.id))).toEqual([1, 2, 3]);
      expect(again.rows.map((r) => Number(r.id))).toEqual([1, 2, 3]);
      expect(mixed[1]!.rows.map((r) => Number(r.id))).toEqual([1, 2, 3]);
      expect(mixed[2]!.rows.map((r) => Number(r.g))).toEqual([1, 2]);
    }
  });

  it('postgres.js: pipelined prepared statements of different shapes, cursor() and DECLARE/FETCH', async () => {
    const sql = postgres(masked.url, { max: 1, prepare: true });
    try {
      const pipelined = await Promise.all(
        Array.from({ length: 4 }, () => [
          sql`SELECT id, email, card_number, secret FROM customers ORDER BY id`,
          sql`SELECT id FROM customers WHERE id > ${0} ORDER BY id`,
          sql`SELECT g, md5(g::text) FROM generate_series(1, ${2}::int) g`,
        ]).flat(),
      );
      expect(leaks(JSON.stringify(pipelined))).toEqual([]);
      for (let i = 0; i < pipelined.length; i += 3) {
        expect(pipelined[i]!.map((r) => r.id)).toEqual([1, 2, 3]);
        expect(pipelined[i]!.map((r) => r.secret)).toEqual(['[redacted]', '[redacted]', '[redacted]']);
        expect(pipelined[i + 1]!.map((r) => r.id)).toEqual([1, 2, 3]);
        expect(pipelined[i + 2]!.map((r) => r.g)).toEqual([1, 2]);
      }
      const batches: unknown[] = [];
      await sql`SELECT id, email, secret FROM customers ORDER BY id`.cursor(1, (rows) => {
        batches.push(...rows);
      });
      expect(leaks(JSON.stringify(batches))).toEqual([]);
      expect(batches).toHaveLength(3);
      const fetched = await sql.begin(async (tx) => {
        await tx.unsafe(`DECLARE c CURSOR FOR ${WIDE}`);
        return [
          await tx.unsafe('FETCH 1 FROM c'),
          await tx.unsafe('FETCH ALL FROM c', [], { prepare: true }),
        ];
      });
      expect(leaks(JSON.stringify(fetched))).toEqual([]);
      expect(fetched.flat().map((r) => r.id)).toEqual([1, 2, 3]);
    } finally {
      await sql.end();
    }
  });

  const python = '/usr/bin/python3';
  const hasPsycopg = existsSync(python) && spawnSync(python, ['-c', 'import psycopg']).status === 0;
  it.skipIf(!hasPsycopg)('psycopg 3: named cursors, binary=True, pipeline() and refcursors', async () => {
    const probe = path.join(import.meta.dirname, 'fixtures', 'masking_probe.py');
    const result = await run(python, [probe, masked.url], { timeoutMs: 120_000 });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(leaks(result.stdout)).toEqual([]);
    const seen = JSON.parse(result.stdout) as Record<string, (string | null)[][]>;
    for (const [name, rows] of Object.entries(seen)) {
      if (name === 'refcursor_bin') {
        expect(
          rows.flat().every((v) => v === null || v === '[redacted]'),
          name,
        ).toBe(true);
      } else if (name === 'pipeline_2') {
        expect(rows.map((r) => r[0])).toEqual(['1', '2']);
      } else if (name !== 'pipeline_3' && !name.startsWith('manual_')) {
        expect([...new Set(rows.map((r) => r[0]))].sort(), name).toEqual(['1', '2', '3']);
      }
    }
  });
  if (!hasPsycopg)
    console.log('skipping the psycopg probe: /usr/bin/python3 with psycopg 3 is not installed');

  const jar = '/usr/share/java/postgresql.jar';
  const hasJdbc = existsSync('/usr/bin/java') && existsSync(jar);
  it.skipIf(!hasJdbc)(
    'pgjdbc: multi-statement execute, prepared re-executes, setFetchSize, fetch n from c, refcursors',
    async () => {
      const probe = path.join(import.meta.dirname, 'fixtures', 'MaskingProbe.java');
      const url = `jdbc:postgresql://${masked.host}:${masked.port}/${masked.database}?user=${encodeURIComponent(masked.user)}&password=${encodeURIComponent(masked.password)}&sslmode=disable&prepareThreshold=2`;
      const result = await run('/usr/bin/java', ['-cp', jar, probe, url], { timeoutMs: 180_000 });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(leaks(result.stdout)).toEqual([]);
      const rows = new Map<string, string[][]>();
      for (const line of result.stdout.trim().split('\n')) {
        const [name, ...values] = line.split('\t');
        rows.set(name!, [...(rows.get(name!) ?? []), values]);
      }
      expect(rows.get('multi_0')!.map((r) => r[0])).toEqual(['1', '2', '3']);
      expect(rows.get('multi_0')!.map((r) => r[3])).toEqual(['[redacted]', '[redacted]', '[redacted]']);
      expect(rows.get('multi_1')!.map((r) => r[0])).toEqual(['1', '2', '3']);
      expect(rows.get('multi_2')).toEqual([
        ['1', 'c4ca4238a0b923820dcc509a6f75849b'],
        ['2', 'c81e728d9d4c2f636f067f89cc14862c'],
      ]);
      expect(rows.get('multi_3')).toEqual([['[redacted]', '2']]);
      expect(rows.get('prepared_wide')!.map((r) => r[0])).toEqual(['1', '2', '3', '1', '2', '3', '1', '2']);
      expect(rows.get('prepared_narrow')!.map((r) => r[0])).toEqual(['1', '2', '3', '1', '2', '3', '1', '2']);
      expect(rows.get('fetch_size')!.map((r) => r[0])).toEqual(['1', '2', '3']);
      expect(rows.get('fetch_n')!.map((r) => r[0])).toEqual(['1', '2']);
      expect(rows.get('fetch_prepared')!.map((r) => r[0])).toEqual(Array(6).fill('1'));
      expect(rows.get('fetch_all')!.map((r) => r[0])).toEqual(['2', '3']);
      expect(
        rows
          .get('refcursor')!
          .flat()
          .every((v) => v === 'null' || v === '[redacted]'),
      ).toBe(true);
    },
  );
  if (!hasJdbc)
    console.log('skipping the pgjdbc probe: /usr/bin/java or /usr/share/java/postgresql.jar is missing');
});

describe('policies without mask rules', () => {
  it('with detectors only, still masks whole what it cannot attribute', async () => {
    const client = await login(detecting);
    await simple(client, 'BEGIN');
    await simple(client, "SELECT open_customers('rc')");
    const messages = await exchange(client, parse('FETCH ALL FROM rc'), bind(), execute(), sync());
    expect(results(messages)[0]!.map((r) => textOf(r[3]!))).toEqual([
      '[redacted]',
      '[redacted]',
      '[redacted]',
    ]);
    await simple(client, 'COMMIT');
    client.end();
  });

  it('with no masking at all, passes every result as it is', async () => {
    const client = await login(plain);
    await simple(client, 'BEGIN');
    await simple(client, "SELECT open_customers('rc')");
    client.write(Buffer.concat([parse('FETCH ALL FROM rc'), bind(), execute(), sync()]));
    const messages = await client.until('Z');
    expect(results(messages)[0]!.map((r) => textOf(r[3]!))).toEqual(people.map((p) => p.secret));
    await simple(client, 'COMMIT');
    client.end();
  });
});
