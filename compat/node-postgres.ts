/**
 * node-postgres (pg, pg-cursor, pg-copy-streams) through the compatibility scenarios, each modelled on a
 * test of node-postgres' own suite that failed through the tunnel or that tools depend on.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import Cursor from 'pg-cursor';
import {
  BAD_SQL,
  BAD_SQL_ERROR,
  EXPECTED_SETTINGS,
  sleep,
  STARTUP_OPTIONS,
  type DriverTarget,
  type Scenario,
  type ScenarioName,
} from './scenario.ts';

/** A client with what it emitted outside queries ('error' events: a FATAL while idle, a dropped link). */
interface Watched {
  client: pg.Client;
  errors: (Error & { code?: string })[];
}

function config(target: DriverTarget, extra: pg.ClientConfig = {}): pg.ClientConfig {
  const { host, port, user, password, dbname: database } = target;
  return { host, port, user, password, database, connectionTimeoutMillis: 10_000, ...extra };
}

async function connect(target: DriverTarget, extra: pg.ClientConfig = {}): Promise<Watched> {
  const watched: Watched = { client: new pg.Client(config(target, extra)), errors: [] };
  watched.client.on('error', (error) => watched.errors.push(error));
  await watched.client.connect();
  return watched;
}

async function using<T>(
  target: DriverTarget,
  extra: pg.ClientConfig,
  body: (w: Watched) => Promise<T>,
): Promise<T> {
  const watched = await connect(target, extra);
  try {
    return await body(watched);
  } finally {
    await watched.client.end().catch(() => undefined);
  }
}

/** node-postgres keeps the BackendKeyData pid here; its typings leave it out. */
const backendPid = (client: pg.Client): number => (client as unknown as { processID: number }).processID;

const scalar = async (client: pg.Client, sql: string, values: unknown[] = []): Promise<unknown> =>
  Object.values((await client.query(sql, values)).rows[0] as object)[0];

export const nodePostgres: Partial<Record<ScenarioName, Scenario>> = {
  'connect-options': (target) =>
    using(target, { options: STARTUP_OPTIONS, application_name: 'pg-compat' }, async ({ client }) => {
      const got = [
        await scalar(client, 'SHOW statement_timeout'),
        await scalar(client, 'SHOW default_transaction_isolation'),
        await scalar(client, "SELECT current_setting('some.var')"),
        await scalar(client, 'SHOW application_name'),
      ];
      const ok = JSON.stringify(got) === JSON.stringify([...EXPECTED_SETTINGS, 'pg-compat']);
      return { ok, detail: `got ${JSON.stringify(got)}` };
    }),

  'current-schema': (target) =>
    using(target, { options: '-c search_path=public' }, async ({ client }) => {
      const path = await scalar(client, 'SHOW search_path');
      return { ok: path === 'public', detail: `search_path ${String(path)}` };
    }),

  // node-postgres' issue #320 regression test: connect() then end() at once. The Terminate goes out
  // before the startup packet; the server closes without a word, and end() must simply finish.
  'connect-then-end': async (target) => {
    const client = new pg.Client(config(target));
    const errors: Error[] = [];
    client.on('error', (error) => errors.push(error));
    // node-postgres leaves this connect() unsettled once end() has won the race; only end() is awaited.
    client.connect().catch((error: Error) => errors.push(error));
    await client.end();
    await sleep(300);
    return {
      ok: errors.length === 0,
      detail: `end() finished; ${errors.length} error(s)${errors[0] ? `: ${errors[0].message}` : ''}`,
    };
  },

  cancel: (target) =>
    using(target, {}, async ({ client }) => {
      const query = client.query(new pg.Query('SELECT pg_sleep(10)'));
      const ended = new Promise<string>((resolve) => {
        query.on('error', (error: Error & { code?: string }) => resolve(error.code ?? error.message));
        query.on('end', () => resolve('ran to its end'));
      });
      await sleep(500);
      // node-postgres cancels through a connection of a client of its own: Client#cancel.
      const canceller = new pg.Client(config(target)) as pg.Client & {
        cancel(client: pg.Client, query: pg.Query): void;
      };
      canceller.cancel(client, query);
      const outcome = await ended;
      const after = await scalar(client, 'SELECT 1 AS one');
      return {
        ok: outcome === '57014' && after === 1,
        detail: `pg_sleep: ${outcome}; next statement ${after}`,
      };
    }),

  notifications: (target) =>
    using(target, {}, async ({ client }) => {
      const received: number[] = [];
      client.on('notification', (message) => received.push(message.processId));
      await client.query('LISTEN compat_channel');
      await client.query("NOTIFY compat_channel, 'mine'");
      for (let i = 0; i < 50 && received.length === 0; i++) await sleep(20);
      const server = await scalar(client, 'SELECT pg_backend_pid()');
      const known = backendPid(client);
      return {
        ok: received[0] === known && known === server,
        detail: `notification pid ${received[0]}, BackendKeyData ${known}, pg_backend_pid() ${String(server)}`,
      };
    }),

  // "query killed during query execution of prepared statement" and "connection-level errors cause
  // queued queries to fail": one error for the statement, at most one for the connection, all 57P01.
  terminate: (target) =>
    using(target, {}, async (killer) => {
      const victim = await connect(target);
      const running = victim.client
        .query({ name: 'compat-sleep', text: 'SELECT pg_sleep($1)', values: [10] })
        .then(
          () => 'ran to its end',
          (error: Error & { code?: string }) => error.code ?? error.message,
        );
      const queued = victim.client.query('SELECT 2').then(
        () => 'ran',
        (error: Error) => `failed (${error.message})`,
      );
      await sleep(300);
      const done = await scalar(killer.client, 'SELECT pg_terminate_backend($1)', [
        backendPid(victim.client),
      ]);
      const statement = await running;
      const next = await queued;
      await sleep(300);
      await victim.client.end().catch(() => undefined);
      const foreign = victim.errors.filter((e) => e.code !== undefined && e.code !== '57P01');
      return {
        ok:
          done === true &&
          statement === '57P01' &&
          next.startsWith('failed') &&
          victim.errors.length <= 1 &&
          foreign.length === 0,
        detail: `terminated ${String(done)}; statement ${statement}; queued ${next}; error events ${JSON.stringify(victim.errors.map((e) => e.code ?? e.message))}`,
      };
    }),

  pipeline: (target) =>
    using(target, { pipeline: true } as pg.ClientConfig, async ({ client }) => {
      const settle = (p: Promise<pg.QueryResult>): Promise<unknown> =>
        p.then(
          (r) => Object.values(r.rows[0] as object)[0],
          (error: Error & { code?: string }) => error.code ?? error.message,
        );
      const results = await Promise.all([
        settle(client.query('SELECT 1 AS n')),
        settle(client.query('SELECT 1/0 AS n')),
        settle(client.query('SELECT $1::int AS n', [3])),
      ]);
      return {
        ok: JSON.stringify(results) === JSON.stringify([1, '22012', 3]),
        detail: `got ${JSON.stringify(results)}`,
      };
    }),

  cursors: (target) =>
    using(target, {}, async ({ client }) => {
      const cursor = client.query(new Cursor('SELECT g FROM generate_series(1, 100) g'));
      const values: number[] = [];
      for (;;) {
        const rows = (await cursor.read(7)) as { g: number }[];
        if (rows.length === 0) break;
        values.push(...rows.map((r) => r.g));
      }
      await cursor.close();
      const ok = values.length === 100 && values.every((v, i) => v === i + 1);
      return { ok, detail: `${values.length} rows in reads of 7` };
    }),

  copy: (target) =>
    using(target, {}, async ({ client }) => {
      await client.query('CREATE TEMP TABLE compat_copy (id int, note text)');
      const lines = Array.from({ length: 1000 }, (_, i) => `${i}\tnote ${i}\n`);
      await pipeline(Readable.from(lines), client.query(copyFrom('COPY compat_copy FROM STDIN')));
      let out = '';
      await pipeline(
        client.query(copyTo('COPY (SELECT id, note FROM compat_copy ORDER BY id) TO STDOUT')),
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            out += chunk.toString();
            done();
          },
        }),
      );
      return { ok: out === lines.join(''), detail: `${out.split('\n').length - 1} rows back` };
    }),

  // Every result column in binary (`binary: true`, which node-postgres' typings leave out), parsed by its
  // binary parsers. (Its bytea and timestamp binary parsers are unusable, so the bytes are compared by
  // the server's md5 and times are left out.)
  binary: (target) =>
    using(target, {}, async ({ client }) => {
      const data = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const { rows } = await client.query({
        text: `SELECT 42::int4 AS n, 2.5::float8 AS f, true AS b, 'x'::text AS t, md5($1::bytea) AS md5`,
        values: [data],
        binary: true,
      } as pg.QueryConfig);
      const row = rows[0] as { n: number; f: number; b: boolean; t: string; md5: string };
      const got = [row.n, row.f, row.b, row.t, row.md5];
      const expected = [42, 2.5, true, 'x', createHash('md5').update(data).digest('hex')];
      return { ok: JSON.stringify(got) === JSON.stringify(expected), detail: `got ${JSON.stringify(got)}` };
    }),

  'tls-require': (target) =>
    using(target, { ssl: { rejectUnauthorized: false } }, async ({ client }) => {
      const one = await scalar(client, 'SELECT 1 AS one');
      const encrypted = (client as unknown as { connection: { stream: { encrypted?: boolean } } }).connection
        .stream.encrypted;
      return { ok: one === 1 && encrypted === true, detail: encrypted ? 'TLS in use' : 'no TLS' };
    }),

  'tls-verify-full': async (target) => {
    if (!target.sslrootcert) return { skip: 'no CA to verify against' };
    const ca = await readFile(target.sslrootcert, 'utf8');
    return using(target, { ssl: { ca, rejectUnauthorized: true } }, async ({ client }) => {
      const one = await scalar(client, 'SELECT 1 AS one');
      return { ok: one === 1, detail: 'verified TLS in use' };
    });
  },

  'syntax-error': (target) =>
    using(target, {}, async ({ client }) => {
      const error = await client.query(BAD_SQL).then(
        () => undefined,
        (e: pg.DatabaseError) => e,
      );
      const got = error && { code: error.code, position: error.position, message: error.message };
      return {
        ok: JSON.stringify(got) === JSON.stringify(BAD_SQL_ERROR),
        detail: `got ${JSON.stringify(got)}`,
      };
    }),
};
