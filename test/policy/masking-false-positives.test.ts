/**
 * The false-positive side of masking: results with no table origin, and the catalog queries tools send
 * on their own, come back through a masking tunnel with no cell masked (as the session's recording
 * counts them) — over the simple and the extended protocol, text and binary. With every detector on
 * as well, the cells detectors change in those results are counted and printed: the false-positive
 * rate of detectors on metadata.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { loadClassifier } from '../../tunnel/policy/classifier.ts';
import { PolicyEngine } from '../../tunnel/policy/engine.ts';
import { DETECTOR_NAMES } from '../../tunnel/policy/masking/detectors.ts';
import { parsePolicy } from '../../tunnel/policy/policy-file.ts';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { sharedSideConnection } from '../../tunnel/postgres/side-connection.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import { MemoryRecorder } from '../support/memory-recorder.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import * as tools from './tool-queries.ts';

const MASKS = `mask:
  - {column: accounts.email, strategy: email}
  - {column: accounts.owner, strategy: hash}
  - {column: orders.note, strategy: redact}
`;

/** Results computed from no table at all, or only from columns no rule names. */
const NO_TABLE_ORIGIN = [
  'SELECT g, md5(g::text), g * 2 AS twice FROM generate_series(1, 5) g',
  "SELECT now() IS NOT NULL AS t, current_user = session_user AS same, version() LIKE 'PostgreSQL%' AS v",
  "SELECT 'const' AS c, 42 AS n, 4.5::numeric AS x, NULL::text AS nothing, '2024-01-01'::date AS d",
  "SELECT * FROM (VALUES (1, 'one'), (2, 'two')) v(n, word) ORDER BY n",
  'SELECT key, value FROM jsonb_each_text(\'{"a": "1", "b": "x"}\') ORDER BY key',
  'SELECT u, ordinality FROM unnest(ARRAY[10, 20, 30]) WITH ORDINALITY AS t(u, ordinality)',
  "SELECT string_agg(w, ',' ORDER BY w) AS words FROM regexp_split_to_table('b a c', ' ') w",
  'SELECT array_agg(g ORDER BY g) AS a, ROW(1, 2) AS r FROM generate_series(1, 3) g',
  'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 4) SELECT n FROM r',
  'SELECT id, amount, created_at FROM orders ORDER BY id',
  'SELECT o.id, a.id AS account, o.amount * 2 AS doubled FROM orders o JOIN accounts a ON a.id = o.account_id ORDER BY 1',
  'SELECT count(*) AS n, sum(amount) AS total, max(created_at) AS latest FROM orders',
  'SELECT lower(status) AS s, length(status) AS l FROM orders ORDER BY id',
  'SHOW search_path',
  'EXPLAIN SELECT email FROM accounts',
  "SELECT relname, relkind FROM pg_class WHERE relname IN ('accounts', 'orders') ORDER BY 1",
  'SELECT datname, usename, state FROM pg_stat_activity WHERE pid = pg_backend_pid()',
  "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_name = 'accounts' ORDER BY ordinal_position",
];

function psqlQueries(): string[] {
  const text = readFileSync(new URL('./fixtures/psql-describe.sql', import.meta.url), 'utf8');
  return text
    .split(/^-- psql \d+ .*$/m)
    .slice(1)
    .map((sql) => sql.trim());
}

/** What tools send on their own to learn the schema — not the data browsing they also do. */
const TOOL_QUERIES = [
  ...tools.pgjdbc,
  ...tools.dbeaver,
  ...tools.dataGrip,
  ...tools.pgAdmin,
  ...tools.pgDump,
  ...tools.drivers,
  ...psqlQueries(),
].filter((sql) => !/\b(FROM|COPY)\s+(public\.)?accounts\b/i.test(sql));

let server: TestPostgres;
let side: ReturnType<typeof sharedSideConnection>;
const tunnels: PostgresTunnel[] = [];
interface Masking {
  endpoint: TunnelEndpoint;
  recorder: MemoryRecorder;
}
let rulesOnly: Masking;
let rulesAndDetectors: Masking;

async function openTunnel(policyText: string): Promise<Masking> {
  const upstream = parseUpstreamUrl(server.url({ sslmode: 'disable' }));
  const policy = parsePolicy(policyText, 'policy.yaml', { maskKey: Buffer.alloc(32, 7) });
  const recorder = new MemoryRecorder();
  const tunnel = new PostgresTunnel({
    upstream,
    decisions: new PolicyEngine(policy, { sideConnection: side.get }),
    recorder,
  });
  tunnels.push(tunnel);
  return { endpoint: await tunnel.listen(), recorder };
}

/** Cells masked in the results recorded since `from`. */
function maskedSince(recorder: MemoryRecorder, from: number): number {
  return recorder.events.slice(from).reduce((sum, e) => sum + (e.type === 'result' ? e.maskedCells : 0), 0);
}

beforeAll(async () => {
  await loadClassifier();
  server = await startPostgres();
  const direct = await server.connect();
  await direct.query(`CREATE TABLE accounts (id int PRIMARY KEY, email text, owner text);
    CREATE TABLE orders (id int PRIMARY KEY, account_id int REFERENCES accounts, amount numeric(10, 2),
      status text, note text, created_at timestamptz DEFAULT '2026-01-02 03:04:05+00');
    CREATE INDEX orders_account ON orders (account_id);
    CREATE VIEW order_totals AS SELECT account_id, sum(amount) AS total FROM orders GROUP BY 1;
    COMMENT ON TABLE accounts IS 'customer accounts';
    INSERT INTO accounts VALUES (1, 'ann@example.test', 'Ann Archer'), (2, 'bo@example.test', 'Bo Brandt');
    INSERT INTO orders (id, account_id, amount, status, note) VALUES
      (1, 1, 12.50, 'PAID', 'leave at door'), (2, 2, 99.99, 'OPEN', 'call 555-0100');`);
  await direct.end();
  side = sharedSideConnection(parseUpstreamUrl(server.url({ sslmode: 'disable' })));
  rulesOnly = await openTunnel(`extends: observe\n${MASKS}`);
  rulesAndDetectors = await openTunnel(`extends: observe\n${MASKS}detect: [${DETECTOR_NAMES.join(', ')}]\n`);
});

afterAll(async () => {
  for (const tunnel of tunnels) await tunnel.close();
  side?.close();
  await server?.stop();
});

type Mode = 'simple' | 'extended' | 'binary';

/** Runs each query (errors are fine: tools probe what may not exist); returns how many cells came back. */
async function run(
  url: string,
  queries: readonly string[],
  mode: Mode,
  recorder?: MemoryRecorder,
  offenders: string[] = [],
): Promise<number> {
  const client = new pg.Client({ connectionString: url, binary: mode === 'binary' } as pg.ClientConfig);
  await client.connect();
  let cells = 0;
  try {
    for (const sql of queries) {
      const from = recorder?.events.length ?? 0;
      try {
        const result =
          mode === 'simple' ? await client.query(sql) : await client.query({ text: sql, values: [] });
        for (const r of (Array.isArray(result) ? result : [result]) as pg.QueryResult[])
          cells += r.rows.length * r.fields.length;
      } catch {
        await client.query('ROLLBACK').catch(() => {});
      }
      if (recorder && maskedSince(recorder, from) > 0) offenders.push(sql);
    }
  } finally {
    await client.end();
  }
  return cells;
}

/** The extended protocol takes one statement per Parse. */
function runnable(queries: readonly string[], mode: Mode): string[] {
  return mode === 'simple' ? [...queries] : queries.filter((q) => !/;\s*\S/.test(q.replace(/;\s*$/, '')));
}

describe('results with no table origin and tools’ catalog queries', () => {
  for (const mode of ['simple', 'extended', 'binary'] as const) {
    it(`come back with no cell masked under mask rules, ${mode}`, async () => {
      const offenders: string[] = [];
      const queries = runnable([...NO_TABLE_ORIGIN, ...TOOL_QUERIES], mode);
      const cells = await run(rulesOnly.endpoint.url, queries, mode, rulesOnly.recorder, offenders);
      expect(cells).toBeGreaterThan(500);
      expect(offenders).toEqual([]);
    });
  }

  it('still masks the ruled columns in the same session', async () => {
    const from = rulesOnly.recorder.events.length;
    await run(
      rulesOnly.endpoint.url,
      ['SELECT id, email, owner FROM accounts', 'SELECT note FROM orders'],
      'simple',
    );
    expect(maskedSince(rulesOnly.recorder, from)).toBe(6);
  });

  it('with every detector on too, masks few cells of metadata (counted)', async () => {
    const from = rulesAndDetectors.recorder.events.length;
    const queries = runnable([...NO_TABLE_ORIGIN, ...TOOL_QUERIES], 'simple');
    const cells = await run(rulesAndDetectors.endpoint.url, queries, 'simple');
    const masked = maskedSince(rulesAndDetectors.recorder, from);
    console.log(
      `detectors on ${queries.length} catalog and no-origin queries: ${masked} of ${cells} cells masked`,
    );
    expect(masked / cells).toBeLessThan(0.01);
  });
});
