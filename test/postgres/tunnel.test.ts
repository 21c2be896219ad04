import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import postgres from 'postgres';
import { serialize } from 'pg-protocol';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import {
  statelessDecisions,
  type Decision,
  type StatementContext,
} from '../../tunnel/policy/decision-point.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { MemoryRecorder } from '../support/memory-recorder.ts';
import { errorField, errorMessage, RawClient } from '../support/raw-client.ts';
import { until } from '../support/waiting.ts';

let server: TestPostgres;
let direct: pg.Client;

beforeAll(async () => {
  server = await startPostgres();
  direct = await server.connect();
  await direct.query('CREATE TABLE items (id int PRIMARY KEY, name text)');
});

afterAll(async () => {
  await direct?.end();
  await server?.stop();
});

async function openTunnel(
  options: Partial<ConstructorParameters<typeof PostgresTunnel>[0]> = {},
): Promise<{ tunnel: PostgresTunnel; endpoint: TunnelEndpoint; recorder: MemoryRecorder }> {
  const recorder = new MemoryRecorder();
  const tunnel = new PostgresTunnel({
    upstream: parseUpstreamUrl(server.url({ sslmode: 'disable' })),
    recorder,
    ...options,
  });
  return { tunnel, endpoint: await tunnel.listen(), recorder };
}

function pgClient(endpoint: TunnelEndpoint, extra: pg.ClientConfig = {}): pg.Client {
  return new pg.Client({
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    password: endpoint.password,
    database: endpoint.database,
    ...extra,
  });
}

describe('a guarded Postgres tunnel, used by node-postgres', () => {
  let tunnel: PostgresTunnel;
  let endpoint: TunnelEndpoint;
  let recorder: MemoryRecorder;
  let client: pg.Client;

  beforeAll(async () => {
    ({ tunnel, endpoint, recorder } = await openTunnel());
    client = pgClient(endpoint, { application_name: 'tunnel-spec' });
    await client.connect();
  });

  afterAll(async () => {
    await client.end();
    await tunnel.close();
  });

  it('listens on loopback and gives a libpq URL that carries the secret and sslmode=disable', () => {
    expect(endpoint.host).toBe('127.0.0.1');
    expect(endpoint.url).toBe(
      `postgres://postgres:${encodeURIComponent(endpoint.password)}@127.0.0.1:${endpoint.port}/postgres?sslmode=disable`,
    );
    expect(endpoint.password).not.toBe(server.password);
  });

  it('runs simple queries, several statements in one string included', async () => {
    const results = (await client.query('SELECT 1 AS one; SELECT 2 AS two')) as unknown as pg.QueryResult[];
    expect(results.map((r) => r.rows[0])).toEqual([{ one: 1 }, { two: 2 }]);
  });

  it('runs extended-protocol queries with parameters, named and unnamed', async () => {
    const unnamed = await client.query('SELECT $1::int + $2::int AS sum', [40, 2]);
    expect(unnamed.rows).toEqual([{ sum: 42 }]);
    for (const n of [1, 2, 3]) {
      const named = await client.query({ name: 'double', text: 'SELECT $1::int * 2 AS d', values: [n] });
      expect(named.rows).toEqual([{ d: n * 2 }]);
    }
  });

  it('carries binary parameters and binary results byte for byte', async () => {
    // node-postgres sends Buffer parameters in binary format; `binary` asks for binary results.
    const bytes = Buffer.from([0, 1, 2, 127, 128, 254, 255, 0]);
    const config = { text: 'SELECT $1::bytea AS b, 42::int4 AS n', values: [bytes], binary: true };
    const through = await client.query(config as pg.QueryConfig);
    const straight = await direct.query(config as pg.QueryConfig);
    expect(through.rows).toEqual(straight.rows);

    const raw = await RawClient.login(endpoint.port, endpoint.user, endpoint.password);
    raw.write(
      Buffer.concat([
        serialize.parse({ text: 'SELECT $1::bytea AS b, 42::int4 AS n', types: [17] }),
        serialize.bind({ values: [bytes], binary: true }),
        serialize.execute({}),
        serialize.sync(),
      ]),
    );
    const row = (await raw.until('Z')).find((m) => m.type === 'D')!.bytes;
    // DataRow: 2 columns; bytea as its 8 raw bytes, int4 as 4 big-endian bytes.
    expect(row.subarray(7).toString('hex')).toBe(`00000008${bytes.toString('hex')}000000040000002a`);
    raw.end();
  });

  it('keeps NULL and the empty string apart in parameters', async () => {
    const result = await client.query(
      "SELECT $1::text IS NULL AS first_is_null, $2::text IS NULL AS second_is_null, $2::text = '' AS second_is_empty",
      [null, ''],
    );
    expect(result.rows[0]).toEqual({ first_is_null: true, second_is_null: false, second_is_empty: true });
  });

  it('maps any client user and database to the upstream identity and passes ordinary startup parameters', async () => {
    const other = pgClient(endpoint, {
      user: 'someone-else',
      database: 'not-a-database',
      application_name: 'dbeaver',
      options: '-c statement_timeout=4321',
    });
    await other.connect();
    const { rows } = await other.query(
      "SELECT current_user AS u, current_database() AS d, current_setting('application_name') AS app, current_setting('statement_timeout') AS timeout",
    );
    await other.end();
    expect(rows[0]).toEqual({ u: 'postgres', d: 'postgres', app: 'dbeaver', timeout: '4321ms' });
  });

  it('commits and rolls back transactions as the client asks', async () => {
    await client.query('BEGIN');
    await client.query("INSERT INTO items VALUES (1, 'kept')");
    await client.query('COMMIT');
    await client.query('BEGIN');
    await client.query("INSERT INTO items VALUES (2, 'discarded')");
    await client.query('ROLLBACK');
    const { rows } = await direct.query('SELECT id, name FROM items ORDER BY id');
    expect(rows).toEqual([{ id: 1, name: 'kept' }]);
  });

  it('delivers LISTEN/NOTIFY notifications', async () => {
    await client.query('LISTEN tunnel_channel');
    const received = new Promise<pg.Notification>((resolve) => client.once('notification', resolve));
    await direct.query("NOTIFY tunnel_channel, 'hello through the tunnel'");
    const notification = await received;
    expect(notification.channel).toBe('tunnel_channel');
    expect(notification.payload).toBe('hello through the tunnel');
  });

  it('passes notices and parameter changes through', async () => {
    const notice = new Promise<{ message?: string }>((resolve) => client.once('notice', resolve));
    await client.query("DO $$ BEGIN RAISE NOTICE 'careful'; END $$");
    expect((await notice).message).toBe('careful');
    await client.query("SET application_name = 'renamed'");
    const { rows } = await client.query("SELECT current_setting('application_name') AS app");
    expect(rows[0].app).toBe('renamed');
  });

  it('passes on the server ending the session, and the session ends cleanly', async () => {
    const victim = pgClient(endpoint);
    await victim.connect();
    const errors: { code?: string }[] = [];
    victim.on('error', (error) => errors.push(error as { code?: string }));
    const { rows } = await victim.query('SELECT pg_backend_pid() AS pid');
    const told = new Promise((resolve) => victim.once('error', resolve));
    await direct.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
    await told;
    expect(errors[0]?.code).toBe('57P01');
    await expect(victim.query('SELECT 1')).rejects.toThrow();
    await victim.end().catch(() => {});
  });

  it('records the session: start with identities, each statement with its decision, results and errors', async () => {
    await client.query('SELECT 7 AS seven');
    await expect(client.query('SELECT 1/0')).rejects.toThrow(/division by zero/);
    const start = recorder.ofType('session.start')[0]!;
    expect(start.client.applicationName).toBe('tunnel-spec');
    expect(start.upstream).toMatchObject({
      host: '127.0.0.1',
      port: server.port,
      user: 'postgres',
      tls: false,
    });
    const statements = recorder.ofType('statement').map((s) => s.sql);
    expect(statements).toContain('SELECT 7 AS seven');
    expect(recorder.ofType('statement').every((s) => s.decision === 'allow')).toBe(true);
    expect(recorder.ofType('result')).toContainEqual(
      expect.objectContaining({ command: 'SELECT 1', rows: 1 }),
    );
    expect(recorder.ofType('error')).toContainEqual(expect.objectContaining({ code: '22012' }));
    expect(JSON.stringify(recorder.events)).not.toContain(server.password);
  });
});

describe('a guarded Postgres tunnel, used by postgres.js', () => {
  let tunnel: PostgresTunnel;
  let sql: postgres.Sql;

  beforeAll(async () => {
    const opened = await openTunnel();
    tunnel = opened.tunnel;
    sql = postgres(opened.endpoint.url, { max: 4, onnotice: () => {} });
    await direct.query('CREATE TABLE IF NOT EXISTS copied (id int, note text)');
  });

  afterAll(async () => {
    await sql.end();
    await tunnel.close();
  });

  it('runs prepared statements with typed parameters', async () => {
    const rows = await sql`SELECT ${5}::int * 3 AS product, ${'café'}::text AS word`;
    expect([...rows]).toEqual([{ product: 15, word: 'café' }]);
  });

  it('copies data in with COPY FROM STDIN and out with COPY TO STDOUT', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `${i}\tnote ${i}\n`).join('');
    const writable = await sql`COPY copied (id, note) FROM STDIN`.writable();
    await pipeline(Readable.from([lines]), writable);
    const { rows } = await direct.query('SELECT count(*)::int AS n FROM copied');
    expect(rows[0].n).toBe(5000);

    const chunks: Buffer[] = [];
    const readable = await sql`COPY (SELECT * FROM copied ORDER BY id) TO STDOUT`.readable();
    await pipeline(
      readable,
      new Writable({
        write(chunk: Buffer, _enc, done) {
          chunks.push(chunk);
          done();
        },
      }),
    );
    expect(Buffer.concat(chunks).toString()).toBe(lines);
  });

  it('cancels a running pg_sleep through the tunnel', async () => {
    const query = sql`SELECT pg_sleep(30)`;
    const started = Date.now();
    setTimeout(() => void query.cancel(), 300);
    await expect(query).rejects.toThrow(/canceling statement due to user request/);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('keeps serving the rest of a pipeline after an error in its middle', async () => {
    const results = await Promise.allSettled([sql`SELECT 1 AS n`, sql`SELECT 1/0 AS n`, sql`SELECT 3 AS n`]);
    expect(results[0]).toMatchObject({ status: 'fulfilled', value: [{ n: 1 }] });
    expect(results[1]).toMatchObject({ status: 'rejected' });
    expect(results[2]).toMatchObject({ status: 'fulfilled', value: [{ n: 3 }] });
  });

  it('runs a transaction and sees its own writes', async () => {
    const count = await sql.begin(async (tx) => {
      await tx`INSERT INTO copied VALUES (-1, 'in tx')`;
      const [row] = await tx`SELECT count(*)::int AS n FROM copied WHERE id = -1`;
      return row!.n as number;
    });
    expect(count).toBe(1);
  });
});

describe('the local leg of the tunnel', () => {
  let tunnel: PostgresTunnel;
  let endpoint: TunnelEndpoint;
  let recorder: MemoryRecorder;

  beforeAll(async () => {
    ({ tunnel, endpoint, recorder } = await openTunnel({ maxMessageSize: 64 * 1024 }));
  });

  afterAll(async () => {
    await tunnel.close();
  });

  it('refuses a wrong secret with FATAL 28P01 and closes the connection', async () => {
    const client = pgClient(endpoint, { password: 'not-the-secret' });
    await expect(client.connect()).rejects.toMatchObject({ code: '28P01' });
    expect(recorder.ofType('auth.failed')).toContainEqual(
      expect.objectContaining({ reason: 'wrong tunnel secret' }),
    );
  });

  it('refuses a missing secret with FATAL 28P01', async () => {
    await expect(RawClient.login(endpoint.port, 'postgres', '')).rejects.toThrow(
      /password authentication failed/,
    );
  });

  it('answers SSLRequest and GSSENCRequest with N and then accepts the startup', async () => {
    const raw = await RawClient.open(endpoint.port);
    const answers: string[] = [];
    raw.socket.once('data', (d: Buffer) => answers.push(d.toString()));
    raw.write(serialize.requestSsl());
    await until('the answer to SSLRequest', () => answers[0]);
    expect(answers).toEqual(['N']);
    raw.socket.destroy();
    // node-postgres with sslmode=prefer-like behaviour is not available; libpq's is covered by the psql test.
  });

  it('declines protocol 3.2 and _pq_ options with NegotiateProtocolVersion, then authenticates', async () => {
    const raw = await RawClient.open(endpoint.port);
    const params = Buffer.from('user\0postgres\0_pq_.test_option\0on\0\0');
    const packet = Buffer.alloc(8 + params.length);
    packet.writeUInt32BE(packet.length, 0);
    packet.writeUInt32BE(196610, 4);
    params.copy(packet, 8);
    raw.write(packet);
    const negotiate = await raw.next();
    expect(negotiate.type).toBe('v');
    expect(negotiate.bytes.readUInt32BE(5)).toBe(196608);
    expect(negotiate.bytes.toString('utf8', 13)).toContain('_pq_.test_option');
    expect((await raw.next()).type).toBe('R');
    raw.socket.destroy();
  });

  it('lets a client that says goodbye go without an error after it', async () => {
    const raw = await RawClient.login(endpoint.port, 'postgres', endpoint.password);
    raw.write(serialize.end());
    expect(await raw.closedAfter()).toEqual([]);
  });

  it('ends a connection that sends a message over the size limit, while others keep working', async () => {
    const healthy = pgClient(endpoint);
    await healthy.connect();
    const raw = await RawClient.login(endpoint.port, 'postgres', endpoint.password);
    raw.write(Buffer.from([0x51, 0, 0x10, 0, 0])); // a Query claiming 1 MiB
    const sent = await raw.closedAfter();
    expect(sent.map((m) => m.type)).toEqual(['E']);
    expect(errorField(sent[0]!.bytes, 'S')).toBe('FATAL');
    expect(errorField(sent[0]!.bytes, 'C')).toBe('54000');
    expect((await healthy.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    await healthy.end();
  });

  it('ends a connection that sends garbage, with a protocol-violation error', async () => {
    const raw = await RawClient.login(endpoint.port, 'postgres', endpoint.password);
    raw.write(Buffer.from([0x00, 0, 0, 0, 8, 1, 2, 3, 4]));
    const sent = await raw.closedAfter();
    expect(errorField(sent[0]!.bytes, 'C')).toBe('08P01');
    expect(errorMessage(sent[0]!.bytes)).toMatch(/invalid frontend message type/);

    // Before the startup packet, as PostgreSQL does: silence and a close (client-fidelity.test.ts).
    const beforeAuth = await RawClient.open(endpoint.port);
    beforeAuth.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(await beforeAuth.closedAfter()).toEqual([]);
  });

  it('lets go of a client that never finishes authenticating', async () => {
    const { tunnel: strict, endpoint: strictEndpoint } = await openTunnel({ authenticationTimeoutMs: 200 });
    const raw = await RawClient.open(strictEndpoint.port);
    raw.write(serialize.startup({ user: 'postgres' }));
    const sent = await raw.closedAfter();
    expect(sent.map((m) => m.type)).toEqual(['R', 'E']);
    expect(errorMessage(sent[1]!.bytes)).toBe('authentication timed out');
    await strict.close();
  });

  it('closes a direct-TLS ClientHello it cannot answer', async () => {
    const raw = await RawClient.open(endpoint.port);
    raw.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 1, 0, 0, 0]));
    expect(await raw.closedAfter()).toEqual([]);
  });

  it('gives identical answers to a recorded session however its bytes are split', async () => {
    const script = Buffer.concat([
      serialize.query("SELECT 1 AS a, 'two' AS b; SELECT NULL AS c"),
      serialize.parse({ name: 'p', text: 'SELECT $1::int + 1 AS n' }),
      serialize.bind({ statement: 'p', values: ['41'] }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.close({ type: 'S', name: 'p' }),
      serialize.sync(),
    ]);
    const raw = await RawClient.login(endpoint.port, 'postgres', endpoint.password);
    const run = async (parts: Buffer[]): Promise<string> => {
      for (const part of parts) {
        raw.write(part);
        await new Promise((r) => setTimeout(r, 1));
      }
      const first = await raw.until('Z');
      const second = await raw.until('Z');
      return [...first, ...second].map((m) => m.bytes.toString('hex')).join(' ');
    };
    const expected = await run([script]);
    expect(expected).toContain('5a0000000549'); // ReadyForQuery 'I'
    for (let cut = 1; cut < script.length; cut++) {
      expect(await run([script.subarray(0, cut), script.subarray(cut)]), `split at ${cut}`).toBe(expected);
    }
    raw.end();
  });
});

describe('the decision point in the data path', () => {
  const denyForbidden = (context: StatementContext): Decision => {
    const sql = 'sql' in context.route ? context.route.sql : '';
    return sql.includes('forbidden')
      ? { action: 'deny', rule: 'test-rule', message: 'statement mentions forbidden' }
      : { action: 'allow' };
  };

  it('denies with 42501 naming the rule, and the client carries on', async () => {
    const { tunnel, endpoint, recorder } = await openTunnel({ decisions: statelessDecisions(denyForbidden) });
    const client = pgClient(endpoint);
    await client.connect();
    await expect(client.query("SELECT 'forbidden'")).rejects.toMatchObject({
      code: '42501',
      message: expect.stringContaining('rule: test-rule'),
    });
    await expect(client.query("SELECT $1::text AS x, 'forbidden'", ['p'])).rejects.toMatchObject({
      code: '42501',
    });
    expect((await client.query('SELECT 1 AS fine')).rows).toEqual([{ fine: 1 }]);
    expect(recorder.ofType('statement').filter((s) => s.decision === 'deny')).toHaveLength(2);
    await client.end();
    await tunnel.close();
  });

  it('aborts the surrounding transaction so a later COMMIT cannot commit earlier work', async () => {
    const { tunnel, endpoint } = await openTunnel({ decisions: statelessDecisions(denyForbidden) });
    const client = pgClient(endpoint);
    await client.connect();
    await client.query('BEGIN');
    await client.query("INSERT INTO items VALUES (100, 'before denial')");
    await expect(client.query("SELECT 'forbidden'")).rejects.toMatchObject({ code: '42501' });
    await client.query('COMMIT');
    const { rows } = await direct.query('SELECT count(*)::int AS n FROM items WHERE id = 100');
    expect(rows[0].n).toBe(0);
    await client.end();
    await tunnel.close();
  });

  it('keeps pipelined messages in order behind a decision that takes time', async () => {
    const slow = statelessDecisions((context) =>
      'sql' in context.route && context.route.sql.includes('slow')
        ? new Promise((resolve) => setTimeout(() => resolve({ action: 'allow' }), 200))
        : { action: 'allow' },
    );
    const { tunnel, endpoint } = await openTunnel({ decisions: slow });
    const sql = postgres(endpoint.url, { max: 1 });
    const order: string[] = [];
    await Promise.all([
      sql`SELECT 'slow' AS v`.then(() => order.push('slow')),
      sql`SELECT 'fast' AS v`.then(() => order.push('fast')),
    ]);
    expect(order).toEqual(['slow', 'fast']);
    await sql.end();
    await tunnel.close();
  });

  it('answers a denied Execute in a pipeline in order and discards the rest until Sync', async () => {
    const { tunnel, endpoint } = await openTunnel({ decisions: statelessDecisions(denyForbidden) });
    const raw = await RawClient.login(endpoint.port, 'postgres', endpoint.password);
    raw.write(
      Buffer.concat([
        serialize.parse({ text: 'SELECT 1' }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.parse({ text: "SELECT 'forbidden'" }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.sync(),
        serialize.query('SELECT 2'),
      ]),
    );
    const first = await raw.until('Z');
    expect(first.map((m) => m.type).join('')).toBe('12DCEZ');
    expect(errorField(first[4]!.bytes, 'C')).toBe('42501');
    const second = await raw.until('Z');
    expect(second.map((m) => m.type).join('')).toBe('TDCZ');
    raw.end();
    await tunnel.close();
  });
});
