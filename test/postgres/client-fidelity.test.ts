/**
 * What drivers see through the tunnel must be what they see from the server itself: cancels that reach
 * the statement they were meant for and nothing later, the server's own backend pid, exactly one FATAL
 * when the server ends a session, and silence for a startup packet the server would not answer either.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import postgres from 'postgres';
import { serialize } from 'pg-protocol';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import { driverMissing, runScenarios, type Driver, type ScenarioResult } from '../support/drivers.ts';
import { MemoryRecorder } from '../support/memory-recorder.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { errorField, RawClient } from '../support/raw-client.ts';
import { until } from '../support/waiting.ts';

let server: TestPostgres;
let direct: pg.Client;
let tunnel: PostgresTunnel;
let endpoint: TunnelEndpoint;
let recorder: MemoryRecorder;

beforeAll(async () => {
  server = await startPostgres();
  direct = await server.connect();
  recorder = new MemoryRecorder();
  tunnel = new PostgresTunnel({ upstream: parseUpstreamUrl(server.url({ sslmode: 'disable' })), recorder });
  endpoint = await tunnel.listen();
});

afterAll(async () => {
  await tunnel?.close();
  await direct?.end();
  await server?.stop();
});

/** Where a client connects: the server itself, or the tunnel in front of it. */
type Route = 'direct' | 'tunnel';
const ROUTES: Route[] = ['direct', 'tunnel'];

function waitFor(check: () => boolean | Promise<boolean>, timeoutMs?: number): Promise<true> {
  return until('the condition', async () => ((await check()) ? true : undefined), timeoutMs);
}

function pgConfig(route: Route): pg.ClientConfig {
  return route === 'direct'
    ? { host: server.host, port: server.port, user: server.user, password: server.password }
    : { host: endpoint.host, port: endpoint.port, user: endpoint.user, password: endpoint.password };
}

function rawLogin(route: Route): Promise<RawClient> {
  return route === 'direct'
    ? RawClient.login(server.port, server.user, server.password)
    : RawClient.login(endpoint.port, endpoint.user, endpoint.password);
}

describe('cancel requests', () => {
  it.each(ROUTES)(
    '%s: a cancel sent while idle never cancels the statement sent after it (100 rounds)',
    async (route) => {
      const raw = await rawLogin(route);
      const port = route === 'direct' ? server.port : endpoint.port;
      let cancelled = 0;
      for (let round = 0; round < 100; round++) {
        // libpq's PQcancel returns once the server has closed the cancel connection; so does this.
        await RawClient.cancel(port, raw.backendKey!);
        raw.write(serialize.query('SELECT pg_sleep(0.01)'));
        const answer = await raw.until('Z');
        const error = answer.find((m) => m.type === 'E');
        if (error && errorField(error.bytes, 'C') === '57014') cancelled++;
      }
      expect(cancelled).toBe(0);
      raw.end();
    },
  );

  it('holds the session’s next statement until the cancel in flight has reached the server', async () => {
    const raw = await rawLogin('tunnel');
    // A client that does not wait for the cancel connection to close (node-postgres, postgres.js):
    // whatever it sends once the tunnel has the cancel request must not be what gets cancelled.
    let cancelled = 0;
    const before = recorder.ofType('cancel').length;
    for (let round = 0; round < 30; round++) {
      const sent = RawClient.cancel(endpoint.port, raw.backendKey!);
      await waitFor(() => recorder.ofType('cancel').length > before + round);
      raw.write(serialize.query('SELECT pg_sleep(0.01)'));
      const answer = await raw.until('Z');
      const error = answer.find((m) => m.type === 'E');
      if (error && errorField(error.bytes, 'C') === '57014') cancelled++;
      await sent;
    }
    expect(cancelled).toBe(0);
    raw.end();
  });

  it('still cancels a running statement, by the pid and key the client was given', async () => {
    const raw = await rawLogin('tunnel');
    raw.write(serialize.query('SELECT pg_sleep(30)'));
    await waitFor(async () => {
      const { rows } = await direct.query(
        "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND query LIKE 'SELECT pg_sleep(30)%'",
        [raw.backendKey!.processId],
      );
      return rows.length === 1;
    });
    await RawClient.cancel(endpoint.port, raw.backendKey!);
    const answer = await raw.until('Z');
    expect(errorField(answer.find((m) => m.type === 'E')!.bytes, 'C')).toBe('57014');
    raw.end();
  });

  it('ignores a cancel with the right pid but the wrong key', async () => {
    const raw = await rawLogin('tunnel');
    raw.write(serialize.query('SELECT pg_sleep(1.5)'));
    const wrong = Buffer.from(raw.backendKey!.secretKey.map((b) => b ^ 0xff));
    await RawClient.cancel(endpoint.port, { processId: raw.backendKey!.processId, secretKey: wrong });
    const answer = await raw.until('Z');
    expect(answer.map((m) => m.type)).not.toContain('E');
    raw.end();
  });
});

describe("the server's backend pid", () => {
  it('is the pid node-postgres is given, the one in pg_backend_pid() and in its own notifications', async () => {
    const client = new pg.Client(pgConfig('tunnel'));
    await client.connect();
    const processID = (client as unknown as { processID: number }).processID;
    const { rows } = await client.query('SELECT pg_backend_pid() AS pid');
    expect(rows[0].pid).toBe(processID);

    await client.query('LISTEN own_channel');
    const received = new Promise<pg.Notification>((resolve) => client.once('notification', resolve));
    await client.query("NOTIFY own_channel, 'mine'");
    expect((await received).processId).toBe(processID);
    await client.end();
  });

  it('lets pg_terminate_backend end the connection the driver knows by that pid', async () => {
    const client = new pg.Client(pgConfig('tunnel'));
    await client.connect();
    const ended = new Promise((resolve) => client.once('end', resolve));
    client.on('error', () => {});
    const processID = (client as unknown as { processID: number }).processID;
    const { rows } = await direct.query('SELECT pg_terminate_backend($1) AS done', [processID]);
    expect(rows[0].done).toBe(true);
    await ended;
  });

  it('lets postgres.js terminate its own listener by the pid listen() reports, and the listener comes back', async () => {
    const sql = postgres(endpoint.url, { max: 2, onnotice: () => {} });
    const payloads: string[] = [];
    let listening = 0;
    const { state } = await sql.listen(
      'reconnecting',
      (payload) => payloads.push(payload),
      () => listening++,
    );
    const [row] = await sql`SELECT pg_terminate_backend(${state.pid}) AS done`;
    expect(row!.done).toBe(true);
    await waitFor(() => listening >= 2, 10_000);
    await sql.notify('reconnecting', 'after');
    await waitFor(() => payloads.includes('after'));
    await sql.end();
  });
});

describe('the server ending a session', () => {
  /** The pid the server itself reports for the connection, whatever the driver was told. */
  async function serverPid(applicationName: string): Promise<number> {
    let pid: number | undefined;
    await waitFor(async () => {
      const { rows } = await direct.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [
        applicationName,
      ]);
      pid = rows[0]?.pid as number | undefined;
      return pid !== undefined;
    });
    return pid!;
  }

  async function errorsWhenTerminated(route: Route, busy: boolean): Promise<string[]> {
    const name = `terminated-${route}-${busy}`;
    const client = new pg.Client({ ...pgConfig(route), application_name: name });
    await client.connect();
    const errors: string[] = [];
    const ended = new Promise((resolve) => client.once('end', resolve));
    client.on('error', (error: Error & { code?: string }) => errors.push(error.code ?? error.message));
    const pid = await serverPid(name);
    const running = busy ? client.query('SELECT pg_sleep(30)').catch((e: { code?: string }) => e) : undefined;
    if (busy) {
      await waitFor(async () => {
        const { rows } = await direct.query(
          "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'",
          [pid],
        );
        return rows.length === 1;
      });
    }
    await direct.query('SELECT pg_terminate_backend($1)', [pid]);
    await ended;
    if (running) expect(await running).toMatchObject({ code: '57P01' });
    // Anything the tunnel added after the server's FATAL would arrive within this wait.
    await new Promise((resolve) => setTimeout(resolve, 200));
    return errors;
  }

  it.each([false, true])(
    'node-postgres raises the same errors as directly, no second FATAL (statement running: %s)',
    async (busy) => {
      const directly = await errorsWhenTerminated('direct', busy);
      expect(await errorsWhenTerminated('tunnel', busy)).toEqual(directly);
    },
  );

  it('passes on exactly the server’s FATAL and then closes', async () => {
    const raw = await rawLogin('tunnel');
    raw.write(serialize.query('SELECT pg_backend_pid()'));
    const row = (await raw.until('Z')).find((m) => m.type === 'D')!.bytes;
    const pid = Number(row.toString('utf8', 11));
    await direct.query('SELECT pg_terminate_backend($1)', [pid]);
    const sent = await raw.closedAfter();
    expect(sent.map((m) => `${m.type}:${errorField(m.bytes, 'C')}`)).toEqual(['E:57P01']);
  });
});

describe('an invalid startup packet', () => {
  it.each(ROUTES)('%s: a Terminate before the startup packet gets silence and a close', async (route) => {
    const raw = await RawClient.open(route === 'direct' ? server.port : endpoint.port);
    raw.write(serialize.end());
    expect(await raw.closedAfter()).toEqual([]);
  });

  it.each(ROUTES)('%s: a startup packet with an impossible length gets silence too', async (route) => {
    const raw = await RawClient.open(route === 'direct' ? server.port : endpoint.port);
    raw.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(await raw.closedAfter()).toEqual([]);
  });

  it.each(ROUTES)('%s: node-postgres connect() then end() ends without an error', async (route) => {
    const client = new pg.Client(pgConfig(route));
    const errors: unknown[] = [];
    client.on('error', (error) => errors.push(error));
    // connect() never settles here, directly as through the tunnel: the connection ends first.
    void client.connect().catch((error: unknown) => errors.push(error));
    await client.end();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(errors).toEqual([]);
  });
});

describe.each(['psycopg', 'pgjdbc'] as Driver[])('%s, directly and through the tunnel', (driver) => {
  const reason = driverMissing(driver);
  if (reason) console.warn(`skipping ${driver} client-fidelity tests: ${reason}`);
  // psycopg: conn.cancel() (PQcancel) then the next statement; pgjdbc: StatementTest.testShortQueryTimeout.
  // notifications: the notifier's pid is the one the driver knows. terminate: pg_terminate_backend(that pid).
  const SCENARIOS = ['cancel', 'notifications', 'terminate'];
  let results: Record<Route, ScenarioResult[]>;

  beforeAll(async () => {
    if (reason) return;
    results = {
      direct: await runScenarios(driver, { ...server, dbname: 'postgres' }, SCENARIOS),
      tunnel: await runScenarios(driver, { ...endpoint, dbname: endpoint.database }, SCENARIOS),
    };
  }, 300_000);

  it.skipIf(reason !== undefined).each(SCENARIOS)('%s', (scenario) => {
    for (const route of ROUTES) {
      const result = results[route].find((r) => r.scenario === scenario)!;
      expect(result, `${route}: ${result.detail}`).toMatchObject({ ok: true });
    }
  });
});
