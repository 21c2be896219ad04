/**
 * Runs the benign corpus (corpus/benign.ts) through a real tunnel under the `read-only` preset and
 * straight to the server, and requires the same answer from both: column names, rows (as arrays, so
 * repeated column names count) and command tags. A statement the tunnel denies is a false positive of
 * the policy and fails with the denial message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import postgres from 'postgres';
import { loadClassifier } from '../../tunnel/policy/classifier.ts';
import { PolicyEngine } from '../../tunnel/policy/engine.ts';
import { presetPolicy } from '../../tunnel/policy/policy.ts';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { sharedSideConnection } from '../../tunnel/postgres/side-connection.ts';
import { PostgresTunnel } from '../../tunnel/postgres/tunnel.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { BENIGN_CORPUS, BENIGN_SETUP, type Benign, type BenignStatement } from './corpus/benign.ts';

/** One result as a client sees it. */
interface Answer {
  command: string | null;
  fields: string[];
  rows: unknown[][];
}

interface Side {
  name: 'tunnel' | 'direct';
  pg: pg.Client;
  js: postgres.Sql;
}

let server: TestPostgres;
let tunnel: PostgresTunnel;
let closeSide: () => void;
let through: Side;
let direct: Side;
const oids = new Map<string, string>();

function newClient(config: pg.ClientConfig): pg.Client {
  const client = new pg.Client({ ...config, query_timeout: 20_000 });
  client.on('error', () => {});
  return client;
}

beforeAll(async () => {
  await loadClassifier();
  server = await startPostgres();
  const setup = await server.connect();
  await setup.query(BENIGN_SETUP);
  // Settle the statistics now, so that autovacuum has no reason to change them between the two runs.
  await setup.query('VACUUM (ANALYZE)');
  const { rows } = await setup.query(`
    SELECT 'class:' || relname AS key, oid::text FROM pg_class WHERE relnamespace = 'public'::regnamespace
    UNION ALL SELECT 'proc:' || proname, oid::text FROM pg_proc WHERE pronamespace = 'public'::regnamespace`);
  for (const row of rows) oids.set(row.key, row.oid);
  await setup.end();

  const upstream = parseUpstreamUrl(server.url({ sslmode: 'disable' }));
  const side = sharedSideConnection(upstream);
  closeSide = () => side.close();
  tunnel = new PostgresTunnel({
    upstream,
    decisions: new PolicyEngine(presetPolicy('read-only'), { sideConnection: side.get }),
  });
  const endpoint = await tunnel.listen();
  const jsOptions = { max: 1, onnotice: () => {}, connect_timeout: 10 };
  through = {
    name: 'tunnel',
    pg: newClient({ connectionString: endpoint.url }),
    js: postgres(endpoint.url, jsOptions),
  };
  direct = {
    name: 'direct',
    pg: newClient({
      host: server.host,
      port: server.port,
      user: server.user,
      password: server.password,
      database: 'postgres',
    }),
    js: postgres(server.url({ sslmode: 'disable' }), jsOptions),
  };
  await through.pg.connect();
  await direct.pg.connect();
});

afterAll(async () => {
  for (const side of [through, direct]) {
    await side?.pg.end().catch(() => {});
    await side?.js.end({ timeout: 1 }).catch(() => {});
  }
  await tunnel?.close();
  closeSide?.();
  await server?.stop();
});

/** Fills in `{class:name}` / `{proc:name}` with OIDs. */
function resolve<T>(value: T): T {
  if (typeof value !== 'string') return value;
  return value.replace(/\{((?:class|proc):[a-z_]+)\}/g, (_, key: string) => {
    const oid = oids.get(key);
    if (!oid) throw new Error(`no OID for ${key}`);
    return oid;
  }) as T;
}

async function viaPg(
  client: pg.Client,
  sql: string,
  values?: unknown[],
  extended = false,
): Promise<Answer[]> {
  const config = {
    text: resolve(sql),
    rowMode: 'array',
    ...(values ? { values: values.map(resolve) } : extended ? { queryMode: 'extended' } : {}),
  } as pg.QueryArrayConfig;
  const result = (await client.query(config)) as pg.QueryArrayResult | pg.QueryArrayResult[];
  return (Array.isArray(result) ? result : [result]).map((r) => ({
    command: r.command ?? null,
    fields: r.fields.map((f) => f.name),
    rows: r.rows,
  }));
}

async function viaPostgresJs(sql: postgres.Sql, text: string, values?: unknown[]): Promise<Answer[]> {
  const parameters = (values ?? []).map(resolve) as postgres.ParameterOrJSON<never>[];
  const result = await sql.unsafe(resolve(text), parameters).values();
  return [
    { command: result.command, fields: result.columns.map((c) => c.name), rows: [...result] as unknown[][] },
  ];
}

async function viaCopy(sql: postgres.Sql, text: string): Promise<Answer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of await sql.unsafe(resolve(text)).readable())
    chunks.push(Buffer.from(chunk as Buffer));
  return [{ command: 'COPY', fields: [], rows: [[Buffer.concat(chunks).toString('utf8')]] }];
}

async function runStatement(side: Side, statement: BenignStatement): Promise<Answer[]> {
  if (statement.via === 'postgres.js') return viaPostgresJs(side.js, statement.sql, statement.values);
  if (statement.via === 'copy') return viaCopy(side.js, statement.sql);
  return viaPg(side.pg, statement.sql, statement.values, statement.via === 'extended');
}

async function run(side: Side, entry: Benign): Promise<Answer[][]> {
  if (!('steps' in entry)) return [await runStatement(side, entry)];
  const answers: Answer[][] = [];
  try {
    for (const step of entry.steps) answers.push(await viaPg(side.pg, step.sql, step.values));
  } catch (error) {
    await side.pg.query('ROLLBACK').catch(() => {});
    throw error;
  }
  return answers;
}

function describeFailure(side: Side, entry: Benign, error: unknown): Error {
  const e = error as { code?: string; message?: string };
  const denied = /^Portcullis denied/.test(e.message ?? '');
  const what = denied ? 'the tunnel DENIED a benign statement (a false positive)' : `${side.name} run failed`;
  return new Error(`${what}: ${e.code ?? ''} ${e.message ?? String(error)}`);
}

async function answersOf(side: Side, entry: Benign): Promise<Answer[][]> {
  try {
    return await run(side, entry);
  } catch (error) {
    throw describeFailure(side, entry, error);
  }
}

describe('the benign corpus', () => {
  it('holds at least 300 statements, with distinct names, over all three ways of sending them', () => {
    expect(BENIGN_CORPUS.length).toBeGreaterThanOrEqual(300);
    expect(new Set(BENIGN_CORPUS.map((b) => b.name)).size).toBe(BENIGN_CORPUS.length);
    const via = (kind: string) => BENIGN_CORPUS.filter((b) => 'via' in b && b.via === kind).length;
    expect(via('simple')).toBeGreaterThanOrEqual(200);
    expect(via('extended')).toBeGreaterThanOrEqual(30);
    expect(via('postgres.js')).toBeGreaterThanOrEqual(10);
    expect(via('copy')).toBeGreaterThanOrEqual(3);
    expect(BENIGN_CORPUS.filter((b) => 'steps' in b).length).toBeGreaterThanOrEqual(20);
  });

  it('starts from sessions that look the same through the tunnel and directly', async () => {
    const show = 'SHOW ALL';
    expect(await viaPg(through.pg, show)).toEqual(await viaPg(direct.pg, show));
  });
});

describe('under the read-only preset, through the tunnel and directly, the answers are identical', () => {
  for (const entry of BENIGN_CORPUS) {
    it(`${entry.category}: ${entry.name}`, async () => {
      const tunnelled = await answersOf(through, entry);
      const straight = await answersOf(direct, entry);
      expect(tunnelled).toEqual(straight);
    });
  }
});
