/**
 * SQL the parser cannot read: under `observe` it goes to the server, which answers with its own 42601 and
 * position; under a blocking preset it is still never sent, but the client gets the same 42601, message
 * and position the server would have given, so editors underline the error where it is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import postgres from 'postgres';
import { serialize } from 'pg-protocol';
import { loadClassifier } from '../../tunnel/policy/classifier.ts';
import { PolicyEngine } from '../../tunnel/policy/engine.ts';
import { presetPolicy, type Preset } from '../../tunnel/policy/policy.ts';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { sharedSideConnection } from '../../tunnel/postgres/side-connection.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import { driverMissing, runScenario, type Driver } from '../support/drivers.ts';
import { MemoryRecorder } from '../support/memory-recorder.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { errorField, RawClient, type RawMessage } from '../support/raw-client.ts';

let server: TestPostgres;
const tunnels: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  await loadClassifier();
  server = await startPostgres();
});

afterAll(async () => {
  for (const tunnel of tunnels) await tunnel.close();
  await server?.stop();
});

async function guard(preset: Preset): Promise<{ endpoint: TunnelEndpoint; recorder: MemoryRecorder }> {
  const upstream = parseUpstreamUrl(server.url({ sslmode: 'disable' }));
  const side = sharedSideConnection(upstream);
  const recorder = new MemoryRecorder();
  const tunnel = new PostgresTunnel({
    upstream,
    recorder,
    decisions: new PolicyEngine(presetPolicy(preset), { sideConnection: side.get }),
  });
  const endpoint = await tunnel.listen();
  tunnels.push({
    async close() {
      await tunnel.close();
      side.close();
    },
  });
  return { endpoint, recorder };
}

const BROKEN = [
  'SELEC 1',
  'SELECT 1 +',
  "SELECT 'é', 'ü' FROM WHERE x",
  "SELECT '😀' AS smile FRM t",
  'SELECT 1; SELECT * FROM',
  "SELECT 'unterminated",
  'SELECT 1 AS a,\n       2 AS b\n  FROM t WHERE',
];

/** The fields a client shows for an error: SQLSTATE, message and position. */
function shown(error: RawMessage | undefined): Record<string, string> {
  if (!error) return {};
  return {
    C: errorField(error.bytes, 'C'),
    M: errorField(error.bytes, 'M'),
    P: errorField(error.bytes, 'P'),
  };
}

async function simpleError(port: number, user: string, password: string, sql: string) {
  const raw = await RawClient.login(port, user, password);
  raw.write(serialize.query(sql));
  const answer = await raw.until('Z');
  raw.end();
  return { types: answer.map((m) => m.type).join(''), error: shown(answer.find((m) => m.type === 'E')) };
}

async function extendedError(port: number, user: string, password: string, sql: string) {
  const raw = await RawClient.login(port, user, password);
  raw.write(
    Buffer.concat([
      serialize.parse({ text: sql }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.sync(),
      serialize.query('SELECT 42 AS after'),
    ]),
  );
  const first = await raw.until('Z');
  const second = await raw.until('Z');
  raw.end();
  return {
    types: first.map((m) => m.type).join(''),
    error: shown(first.find((m) => m.type === 'E')),
    after: second.find((m) => m.type === 'D')?.bytes.toString('utf8', 11),
  };
}

describe.each(['observe', 'guarded', 'read-only'] as Preset[])('under %s', (preset) => {
  let endpoint: TunnelEndpoint;
  let recorder: MemoryRecorder;

  beforeAll(async () => {
    ({ endpoint, recorder } = await guard(preset));
  });

  it.each(BROKEN)(
    'answers %j in the simple protocol as the server does: 42601, its message and position',
    async (sql) => {
      const directly = await simpleError(server.port, server.user, server.password, sql);
      expect(directly.error.C).toBe('42601');
      const through = await simpleError(endpoint.port, endpoint.user, endpoint.password, sql);
      expect(through).toEqual(directly);
    },
  );

  it.each(BROKEN.slice(0, 4))(
    'answers %j in the extended protocol as the server does, then carries on',
    async (sql) => {
      const directly = await extendedError(server.port, server.user, server.password, sql);
      const through = await extendedError(endpoint.port, endpoint.user, endpoint.password, sql);
      expect(through).toEqual(directly);
      expect(through.after).toBe('42');
    },
  );

  it('records what happened: sent to the server under observe, refused unsent otherwise', async () => {
    const statement = recorder.ofType('statement').find((s) => s.sql === 'SELEC 1')!;
    if (preset === 'observe') {
      expect(statement).toMatchObject({ decision: 'allow', rule: 'observe', wouldHave: 'deny' });
      expect(recorder.ofType('error')).toContainEqual(expect.objectContaining({ code: '42601' }));
    } else {
      expect(statement).toMatchObject({ decision: 'deny', rule: 'fail-closed' });
      expect(statement.reason).toMatch(/syntax error at or near "SELEC"/);
    }
  });
});

describe('drivers see the position of a syntax error through a blocking preset', () => {
  let endpoint: TunnelEndpoint;

  beforeAll(async () => {
    ({ endpoint } = await guard('guarded'));
  });

  it('node-postgres: code and position as from the server', async () => {
    const errorOf = async (config: pg.ClientConfig) => {
      const client = new pg.Client(config);
      await client.connect();
      const failures = [
        await client.query('SELECT 1 FROM WHERE').catch((e: unknown) => e),
        await client.query('SELECT $1::int FRM t', [1]).catch((e: unknown) => e),
      ] as pg.DatabaseError[];
      await client.end();
      return failures.map((e) => ({ code: e.code, position: e.position, message: e.message }));
    };
    const directly = await errorOf({ connectionString: server.url() });
    expect(await errorOf({ connectionString: endpoint.url })).toEqual(directly);
    expect(directly[0]).toMatchObject({ code: '42601', position: '15' });
  });

  it('postgres.js: "Throw syntax error" as its own test suite expects', async () => {
    const sql = postgres(endpoint.url, { max: 1 });
    const error = await sql`wat 1`.catch((e: postgres.PostgresError) => e);
    expect(error).toMatchObject({ code: '42601', position: '1', message: 'syntax error at or near "wat"' });
    await sql.end();
  });
});

describe.each(['psycopg', 'pgjdbc'] as Driver[])('%s', (driver) => {
  const reason = driverMissing(driver);
  if (reason) console.warn(`skipping ${driver} syntax-error tests: ${reason}`);

  it.skipIf(reason !== undefined).each(['guarded', 'observe'] as Preset[])(
    'sees 42601 at position 15 through %s, as from the server',
    async (preset) => {
      const { endpoint } = await guard(preset);
      const result = await runScenario(driver, { ...endpoint, dbname: endpoint.database }, 'syntax-error');
      expect(result, result.detail).toMatchObject({ ok: true });
    },
  );
});
