/**
 * What a function the server does not ship returns cannot be traced: its result is masked, whatever
 * it is called (a user's function may carry a built-in's name, in another schema or as an overload),
 * however it is reached (field selection, FROM, star expansion, a view), and whatever the policy lets
 * run (`observe`). Built-in functions of untraced values still pass.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { loadClassifier } from '../../tunnel/policy/classifier.ts';
import { PolicyEngine } from '../../tunnel/policy/engine.ts';
import { parsePolicy } from '../../tunnel/policy/policy-file.ts';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { sharedSideConnection } from '../../tunnel/postgres/side-connection.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { RawClient } from '../support/raw-client.ts';

const people = [
  { id: 1, email: 'quentin.zabriskie@mailhost.test', secret: 'ZEBRA-SAFFRON-7781' },
  { id: 2, email: 'ophelia.v@corpmail.test', secret: 'OBOE-MARZIPAN-3310' },
];

function leaks(text: string): string[] {
  return people.flatMap((p) => [p.email, p.secret]).filter((value) => text.includes(value));
}

let server: TestPostgres;
let side: ReturnType<typeof sharedSideConnection>;
let tunnel: PostgresTunnel;
let masked: TunnelEndpoint;

beforeAll(async () => {
  await loadClassifier();
  server = await startPostgres();
  const direct = await server.connect();
  await direct.query(`CREATE TABLE customers (id int PRIMARY KEY, email text, secret text);
    CREATE SCHEMA shadow;
    CREATE FUNCTION gete(int) RETURNS text LANGUAGE sql AS $$ SELECT email FROM customers WHERE id = $1 $$;
    CREATE FUNCTION customer_by_id(int) RETURNS customers LANGUAGE sql
      AS $$ SELECT * FROM customers WHERE id = $1 $$;
    CREATE FUNCTION customers_from(int) RETURNS SETOF customers LANGUAGE sql
      AS $$ SELECT * FROM customers WHERE id >= $1 ORDER BY id $$;
    CREATE FUNCTION plpgsql_email(i int) RETURNS text LANGUAGE plpgsql
      AS $$ DECLARE e text; BEGIN SELECT email INTO e FROM customers WHERE id = i; RETURN e; END $$;
    -- Built-in names: an overload the server prefers by type, and the same signature in a schema
    -- a session may put first in its search_path.
    CREATE FUNCTION public.md5(int) RETURNS text LANGUAGE sql
      AS $$ SELECT email FROM customers WHERE id = $1 $$;
    CREATE FUNCTION public.lower(int) RETURNS text LANGUAGE sql
      AS $$ SELECT secret FROM customers WHERE id = $1 $$;
    CREATE FUNCTION shadow.upper(text) RETURNS text LANGUAGE sql
      AS $$ SELECT email FROM customers WHERE id::text = $1 $$;
    CREATE FUNCTION shadow.pick(int, int) RETURNS text LANGUAGE sql
      AS $$ SELECT email FROM customers WHERE id = $1 $$;
    CREATE FUNCTION shadow.pick_text(int, text) RETURNS text LANGUAGE sql
      AS $$ SELECT email FROM customers WHERE id = $1 $$;
    CREATE OPERATOR public.|| (LEFTARG = int, RIGHTARG = int, FUNCTION = shadow.pick);
    CREATE OPERATOR public.+ (LEFTARG = int, RIGHTARG = text, FUNCTION = shadow.pick_text);
    CREATE VIEW via_function AS SELECT id, gete(id) AS e FROM customers;
    CREATE TYPE label AS (text text);
    CREATE FUNCTION label_of(int) RETURNS label LANGUAGE sql
      AS $$ SELECT ROW(email)::label FROM customers WHERE id = $1 $$;
    CREATE CAST (int AS label) WITH FUNCTION label_of(int);
    CREATE EXTENSION citext;
    CREATE EXTENSION hstore;`);
  for (const p of people)
    await direct.query('INSERT INTO customers VALUES ($1, $2, $3)', [p.id, p.email, p.secret]);
  await direct.end();
  const upstream = parseUpstreamUrl(server.url({ sslmode: 'disable' }));
  side = sharedSideConnection(upstream);
  const policy = parsePolicy(
    'extends: observe\nmask:\n  - {column: customers.email, strategy: email}\n  - {column: customers.secret, strategy: redact}\n',
    'policy.yaml',
    { maskKey: Buffer.alloc(32, 7) },
  );
  tunnel = new PostgresTunnel({
    upstream,
    decisions: new PolicyEngine(policy, { sideConnection: side.get }),
  });
  masked = await tunnel.listen();
});

afterAll(async () => {
  await tunnel?.close();
  side?.close();
  await server?.stop();
});

async function rowsOf(
  sql: string,
  options: { values?: unknown[]; binary?: boolean; setup?: string } = {},
): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: masked.url, binary: options.binary } as pg.ClientConfig);
  await client.connect();
  try {
    if (options.setup) await client.query(options.setup);
    return (await client.query({ text: sql, values: options.values ?? [] })).rows as unknown[];
  } finally {
    await client.end();
  }
}

describe("users' functions under observe", () => {
  const probes: { sql: string; setup?: string }[] = [
    { sql: 'SELECT gete(1)' },
    { sql: 'SELECT gete(1) AS e, 1 AS one' },
    { sql: 'SELECT public.gete(id) FROM generate_series(1, 2) id' },
    { sql: 'SELECT plpgsql_email(2)' },
    { sql: 'SELECT (customer_by_id(1)).email' },
    { sql: 'SELECT (customer_by_id(1)).*' },
    { sql: 'SELECT customer_by_id(1)' },
    { sql: 'SELECT (c).email FROM (SELECT customer_by_id(2) AS c) s' },
    { sql: 'SELECT * FROM customer_by_id(1)' },
    { sql: 'SELECT email FROM customer_by_id(1)' },
    { sql: 'SELECT x.email, x.secret FROM customers_from(1) x' },
    { sql: 'SELECT t FROM customers_from(1) t' },
    { sql: 'SELECT e FROM gete(1) e' },
    { sql: 'SELECT e FROM via_function' },
    { sql: 'SELECT upper(gete(1))' },
    { sql: "SELECT concat('<', gete(1), '>')" },
    { sql: 'SELECT ARRAY[gete(1), gete(2)]' },
    { sql: 'SELECT row(gete(1), 1)' },
    { sql: 'SELECT md5(1)' },
    { sql: 'SELECT pg_catalog.md5(1::text), md5(2)' },
    { sql: 'SELECT lower(2)' },
    { sql: "SELECT upper('1')", setup: 'SET search_path = shadow, pg_catalog, public' },
    { sql: 'SELECT 1 || 2' },
    { sql: "SELECT 1 + 'x'::text" },
    { sql: 'SELECT (1::label).text' },
    { sql: 'SELECT CAST(2 AS label) AS l' },
  ];
  for (const binary of [false, true]) {
    it(`masks what they return, ${binary ? 'binary' : 'text'}`, async () => {
      for (const probe of probes) {
        const rows = await rowsOf(probe.sql, { binary, ...(probe.setup ? { setup: probe.setup } : {}) });
        expect(rows.length, probe.sql).toBeGreaterThan(0);
        expect(leaks(JSON.stringify(rows)), probe.sql).toEqual([]);
      }
    });
  }

  it('still passes built-in functions of untraced values, and names the database redefines when qualified', async () => {
    expect(
      await rowsOf(
        "SELECT btrim(' a ') AS t, abs(-1) AS a, pg_catalog.md5('1') AS h, pg_catalog.lower('AB') AS l",
      ),
    ).toEqual([{ t: 'a', a: 1, h: 'c4ca4238a0b923820dcc509a6f75849b', l: 'ab' }]);
    // Unqualified, md5 may be the user's md5(int): the tunnel sees no types, so it masks.
    expect(await rowsOf("SELECT md5('1') AS h")).toEqual([{ h: '[redacted]' }]);
    expect(await rowsOf('SELECT id, id * 2 AS s FROM customers ORDER BY id')).toEqual([
      { id: 1, s: 2 },
      { id: 2, s: 4 },
    ]);
  });
  it('traces through the functions of extensions that only compute from their arguments', async () => {
    // citext defines max, min, strpos … and hstore defines ->, || …: theirs, not a user's.
    expect(
      await rowsOf(
        "SELECT max(id) AS m, strpos('abc', 'c') AS p, ('a=>1'::hstore -> 'a') AS v, akeys('a=>1'::hstore) AS k FROM customers",
      ),
    ).toEqual([{ m: 2, p: 3, v: '1', k: ['a'] }]);
    const rows = await rowsOf("SELECT email::citext AS e, hstore('e', email) -> 'e' AS h FROM customers");
    expect(leaks(JSON.stringify(rows))).toEqual([]);
  });

  it('masks a function a user creates mid-session under a built-in name, within a second', async () => {
    const client = new pg.Client({ connectionString: masked.url });
    await client.connect();
    try {
      // initcap(text) takes the varchar; once public.initcap(varchar) exists, the server picks it.
      const sql = "SELECT initcap(v) AS v FROM (SELECT '1'::varchar AS v) s";
      expect((await client.query(sql)).rows).toEqual([{ v: '1' }]);
      await client.query(`CREATE FUNCTION public.initcap(varchar) RETURNS text LANGUAGE sql
        AS $$ SELECT email FROM customers WHERE id = $1::int $$`);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect((await client.query(sql)).rows).toEqual([{ v: '[redacted]' }]);
    } finally {
      await client.query('DROP FUNCTION IF EXISTS public.initcap(varchar)').catch(() => {});
      await client.end();
    }
  });

  it('masks what a FunctionCall message returns, which no statement describes', async () => {
    const direct = await server.connect();
    const oid = Number((await direct.query("SELECT 'gete'::regproc::oid AS oid")).rows[0].oid);
    await direct.end();
    const client = await RawClient.login(masked.port, masked.user, masked.password);
    client.write(functionCall(oid, '1'));
    const messages = await client.until('Z');
    const response = messages.find((m) => m.type === 'V');
    expect(response, JSON.stringify(messages.map((m) => m.type))).toBeDefined();
    expect(leaks(Buffer.concat(messages.map((m) => m.bytes)).toString('latin1'))).toEqual([]);
    expect(response!.bytes.readInt32BE(5)).toBe(-1);
    client.end();
  });
});

/** A FunctionCall of `oid` with one text argument, asking for a text result. */
function functionCall(oid: number, argument: string): Buffer {
  const value = Buffer.from(argument);
  const body = Buffer.alloc(4 + 2 + 2 + 2 + 4 + value.length + 2);
  let at = body.writeInt32BE(oid, 0);
  at = body.writeInt16BE(1, at);
  at = body.writeInt16BE(0, at);
  at = body.writeInt16BE(1, at);
  at = body.writeInt32BE(value.length, at);
  at += value.copy(body, at);
  body.writeInt16BE(0, at);
  const head = Buffer.alloc(5);
  head[0] = 0x46;
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}
