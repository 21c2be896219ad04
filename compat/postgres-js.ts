/**
 * postgres.js through the compatibility scenarios, each modelled on a test of its own suite ("listen
 * reconnects", "Throw syntax error", "cancel", "pipeline", cursors, COPY streams, `ssl: 'require'`).
 */
import { readFile } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import postgres from 'postgres';
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

type Options = postgres.Options<Record<string, postgres.PostgresType>>;
type Sql = postgres.Sql;

async function using<T>(target: DriverTarget, extra: Options, body: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = postgres({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.dbname,
    max: 1,
    connect_timeout: 10,
    onnotice: () => {},
    ...extra,
  });
  try {
    return await body(sql);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

const codeOf = (error: unknown): string => (error as { code?: string }).code ?? String(error);

async function eventually(check: () => boolean, ms = 2000): Promise<boolean> {
  for (let waited = 0; !check() && waited < ms; waited += 20) await sleep(20);
  return check();
}

export const postgresJs: Partial<Record<ScenarioName, Scenario>> = {
  'connect-options': (target) =>
    using(
      target,
      { connection: { options: STARTUP_OPTIONS, application_name: 'postgresjs-compat' } },
      async (sql) => {
        const [row] = await sql`SELECT current_setting('statement_timeout') AS a,
          current_setting('default_transaction_isolation') AS b, current_setting('some.var') AS c,
          current_setting('application_name') AS d`;
        const got = [row!.a, row!.b, row!.c, row!.d];
        const ok = JSON.stringify(got) === JSON.stringify([...EXPECTED_SETTINGS, 'postgresjs-compat']);
        return { ok, detail: `got ${JSON.stringify(got)}` };
      },
    ),

  // postgres.js users set the schema as a startup parameter of its own, not through options.
  'current-schema': (target) =>
    using(target, { connection: { search_path: 'public' } }, async (sql) => {
      const [row] = await sql`SHOW search_path`;
      return { ok: row!.search_path === 'public', detail: `search_path ${row!.search_path}` };
    }),

  cancel: (target) =>
    using(target, {}, async (sql) => {
      const query = sql`SELECT pg_sleep(10)`;
      const outcome = query.then(
        () => 'ran to its end',
        (error: unknown) => codeOf(error),
      );
      await sleep(500);
      await query.cancel();
      const [after] = await sql`SELECT 1 AS one`;
      return {
        ok: (await outcome) === '57014' && after!.one === 1,
        detail: `pg_sleep: ${await outcome}; next ${after!.one}`,
      };
    }),

  // "listen reconnects": terminating the listener by the pid the driver knows; it listens again.
  notifications: (target) =>
    using(target, { max: 2 }, async (sql) => {
      const received: string[] = [];
      let listens = 0;
      const { state } = await sql.listen(
        'compat_channel',
        (payload) => received.push(payload),
        () => (listens += 1),
      );
      await sql.notify('compat_channel', 'before');
      await eventually(() => received.length === 1);
      const [row] = await sql`SELECT pg_terminate_backend(${state.pid}) AS done`;
      // The driver calls onlisten again once its new connection listens; a notification before is lost.
      await eventually(() => listens === 2, 10_000);
      await sql.notify('compat_channel', 'after');
      await eventually(() => received.length === 2, 5000);
      return {
        ok: row!.done === true && JSON.stringify(received) === '["before","after"]',
        detail: `terminated ${row!.done}; received ${JSON.stringify(received)}`,
      };
    }),

  // The statement running when its backend is terminated fails; the pool then connects again. (postgres.js
  // hands the server's FATAL to the next statement when it arrives after the socket closed, directly too,
  // so that one may fail with 57P01 before a new connection serves the one after.)
  terminate: (target) =>
    using(target, {}, async (sql) =>
      using(target, {}, async (killer) => {
        const [{ pid }] = (await sql`SELECT pg_backend_pid() AS pid`) as unknown as [{ pid: number }];
        const running = sql`SELECT pg_sleep(10)`.then(
          () => 'ran to its end',
          (error: unknown) => codeOf(error),
        );
        await sleep(300);
        const [row] = await killer`SELECT pg_terminate_backend(${pid}) AS done`;
        const statement = await running;
        const after: string[] = [];
        for (let attempt = 0; attempt < 3 && after.at(-1) !== 'ran'; attempt++) {
          after.push(await sql`SELECT 1 AS one`.then(() => 'ran', codeOf));
        }
        const ok =
          row!.done === true &&
          ['CONNECTION_CLOSED', '57P01'].includes(statement) &&
          after.at(-1) === 'ran' &&
          after.length <= 2;
        return { ok, detail: `terminated ${row!.done}; statement ${statement}; then ${after.join(', ')}` };
      }),
    ),

  pipeline: (target) =>
    using(target, {}, async (sql) => {
      const settle = (q: Promise<postgres.RowList<postgres.Row[]>>): Promise<unknown> =>
        q.then(
          (rows) => rows[0]!.n,
          (error: unknown) => codeOf(error),
        );
      const results = await Promise.all([
        settle(sql`SELECT 1 AS n`),
        settle(sql`SELECT 1/0 AS n`),
        settle(sql`SELECT ${3}::int AS n`),
      ]);
      return {
        ok: JSON.stringify(results) === JSON.stringify([1, '22012', 3]),
        detail: `got ${JSON.stringify(results)}`,
      };
    }),

  cursors: (target) =>
    using(target, {}, async (sql) => {
      const values: number[] = [];
      for await (const rows of sql`SELECT g FROM generate_series(1, 100) g`.cursor(7)) {
        values.push(...rows.map((r) => r.g as number));
      }
      const ok = values.length === 100 && values.every((v, i) => v === i + 1);
      return { ok, detail: `${values.length} rows in batches of 7` };
    }),

  copy: (target) =>
    using(target, {}, async (sql) => {
      await sql`CREATE TEMP TABLE compat_copy (id int, note text)`;
      const lines = Array.from({ length: 1000 }, (_, i) => `${i}\tnote ${i}\n`);
      await pipeline(Readable.from(lines), await sql`COPY compat_copy FROM STDIN`.writable());
      let out = '';
      await pipeline(
        await sql`COPY (SELECT id, note FROM compat_copy ORDER BY id) TO STDOUT`.readable(),
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            out += chunk.toString();
            done();
          },
        }),
      );
      return { ok: out === lines.join(''), detail: `${out.split('\n').length - 1} rows back` };
    }),

  binary: (target) =>
    using(target, {}, async (sql) => {
      const data = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const [row] = await sql`SELECT ${data}::bytea AS data, 42::int4 AS n`;
      const back = row!.data as Buffer;
      return {
        ok: Buffer.isBuffer(back) && back.equals(data) && row!.n === 42,
        detail: `${back.length} bytes, ${row!.n}`,
      };
    }),

  'tls-require': (target) =>
    using(target, { ssl: 'require' }, async (sql) => {
      const [row] = await sql`SELECT 1 AS one`;
      return { ok: row!.one === 1, detail: 'connected with ssl: require' };
    }),

  'tls-verify-full': async (target) => {
    if (!target.sslrootcert) return { skip: 'no CA to verify against' };
    const ca = await readFile(target.sslrootcert, 'utf8');
    return using(target, { ssl: { ca, rejectUnauthorized: true } }, async (sql) => {
      const [row] = await sql`SELECT 1 AS one`;
      return { ok: row!.one === 1, detail: 'verified TLS in use' };
    });
  },

  'syntax-error': (target) =>
    using(target, {}, async (sql) => {
      const error = (await sql.unsafe(BAD_SQL).then(
        () => undefined,
        (e: unknown) => e,
      )) as postgres.PostgresError | undefined;
      const got = error && { code: error.code, position: error.position, message: error.message };
      return {
        ok: JSON.stringify(got) === JSON.stringify(BAD_SQL_ERROR),
        detail: `got ${JSON.stringify(got)}`,
      };
    }),
};
