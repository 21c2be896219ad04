/**
 * Columns whose lineage reaches only the server's own functions, constants, parameters and VALUES are
 * not masked by provenance even where masking rules exist; what cannot be traced still is (users'
 * functions and operators, references to an outer query's columns).
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

const people = [
  { id: 1, secret: 'ZEBRA-SAFFRON-7781', email: 'quentin.zabriskie@mailhost.test' },
  { id: 2, secret: 'OBOE-MARZIPAN-3310', email: 'ophelia.v@corpmail.test' },
  { id: 3, secret: 'KESTREL-UMBER-0442', email: 'bart.krzy@example.test' },
];

function leaks(text: string): string[] {
  return people.flatMap((p) => [p.secret, p.email]).filter((value) => text.includes(value));
}

const SERIES = 'SELECT g, md5(g::text) FROM generate_series(1, 2) g';

let server: TestPostgres;
let side: ReturnType<typeof sharedSideConnection>;
let tunnel: PostgresTunnel;
let masked: TunnelEndpoint;

beforeAll(async () => {
  await loadClassifier();
  server = await startPostgres();
  const direct = await server.connect();
  await direct.query(`CREATE TABLE customers (id int PRIMARY KEY, email text, secret text);
    CREATE FUNCTION secret_of(int) RETURNS text LANGUAGE sql AS $$ SELECT secret FROM customers WHERE id = $1 $$;
    CREATE FUNCTION all_secrets() RETURNS SETOF text LANGUAGE sql AS $$ SELECT secret FROM customers ORDER BY id $$;
    CREATE FUNCTION pick_secret(int, int) RETURNS text LANGUAGE sql AS $$ SELECT secret FROM customers WHERE id = $1 $$;
    CREATE OPERATOR ### (LEFTARG = int, RIGHTARG = int, FUNCTION = pick_secret);
    CREATE TYPE pair AS (label text, note text);
    CREATE FUNCTION as_pair(text) RETURNS pair LANGUAGE sql AS $$ SELECT ('label', $1)::pair $$;`);
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

describe('results with no table origin', () => {
  async function rowsOf(sql: string, values: unknown[] = []): Promise<Record<string, unknown>[]> {
    const client = new pg.Client({ connectionString: masked.url });
    await client.connect();
    try {
      return (await client.query(sql, values)).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  }

  it('passes columns that only built-in functions, constants, parameters and VALUES produce', async () => {
    expect(await rowsOf(SERIES)).toEqual([
      { g: 1, md5: 'c4ca4238a0b923820dcc509a6f75849b' },
      { g: 2, md5: 'c81e728d9d4c2f636f067f89cc14862c' },
    ]);
    expect(await rowsOf('SELECT * FROM generate_series(1, 3)')).toEqual([
      { generate_series: 1 },
      { generate_series: 2 },
      { generate_series: 3 },
    ]);
    expect(await rowsOf('SELECT x * 2 AS y FROM generate_series(1, 2) AS t(x)')).toEqual([
      { y: 2 },
      { y: 4 },
    ]);
    expect(
      await rowsOf("SELECT n, 'const' AS c, now() IS NOT NULL AS t FROM (VALUES (1), (2)) v(n)"),
    ).toEqual([
      { n: 1, c: 'const', t: true },
      { n: 2, c: 'const', t: true },
    ]);
    expect(await rowsOf('SELECT $1::text || $2::text AS joined', ['a', 'b'])).toEqual([{ joined: 'ab' }]);
    expect(await rowsOf(`SELECT key, value FROM json_each_text('{"a": "1"}')`)).toEqual([
      { key: 'a', value: '1' },
    ]);
    expect(await rowsOf('SELECT u, count(*) OVER () AS n FROM unnest(ARRAY[1, 2]) u')).toEqual([
      { u: 1, n: '2' },
      { u: 2, n: '2' },
    ]);
    expect(await rowsOf('SELECT c.id, s.g FROM customers c, generate_series(1, 1) s(g) ORDER BY 1')).toEqual(
      people.map((p) => ({ id: p.id, g: 1 })),
    );
    expect(await rowsOf('SELECT count(*)::int AS n, max(id) AS m FROM customers')).toEqual([{ n: 3, m: 3 }]);
  });

  it("still masks what it cannot trace: users' functions and operators, outer references in subqueries", async () => {
    const probes = [
      'SELECT secret_of(1) AS s',
      'SELECT * FROM all_secrets()',
      'SELECT s FROM all_secrets() s',
      'SELECT 1 ### 2 AS s',
      'SELECT (SELECT s.x) AS s FROM (SELECT secret AS x FROM customers) s',
      'SELECT (SELECT lower(s.x) FROM generate_series(1, 1)) AS s FROM (SELECT secret AS x FROM customers) s',
      'SELECT u FROM customers c, unnest(ARRAY[c.secret]) u',
      'SELECT u FROM customers c CROSS JOIN LATERAL unnest(ARRAY[c.email, c.secret]) AS t(u)',
      'SELECT g || secret AS s FROM customers, generate_series(1, 1) g',
      // A user's function given a masked value may put it in any field of what it returns.
      'SELECT as_pair(secret) AS p FROM customers',
      'SELECT (as_pair(email)).note FROM customers',
    ];
    for (const probe of probes) {
      const rows = await rowsOf(probe);
      expect(rows.length, probe).toBeGreaterThan(0);
      expect(leaks(JSON.stringify(rows)), probe).toEqual([]);
    }
  });
});
