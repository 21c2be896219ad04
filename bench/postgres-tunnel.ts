import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { freePort, startPostgres, type TestPostgres } from '../test/support/postgres.ts';
import { startGuard, type GuardProcess } from '../test/support/guard-process.ts';
import {
  directEndpoint,
  pgbenchInit,
  pgbenchSelectOnly,
  SECONDS,
  streamMBps,
  tunnelEndpoint,
  type Endpoint,
} from './postgres-endpoints.ts';
import { installed, median, percentile, run, table } from './tools.ts';

/** Round-trip times of one-row queries from a single client: the latency the tunnel adds. */
async function roundTrips(target: Endpoint, count: number): Promise<number[]> {
  const client = new pg.Client({ ...target, ssl: false });
  await client.connect();
  for (let i = 0; i < 500; i++) await client.query('SELECT 1');
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await client.query('SELECT 1');
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  await client.end();
  return samples;
}

async function startPgbouncer(
  server: TestPostgres,
): Promise<{ endpoint: Endpoint; stop(): void } | undefined> {
  if (!installed('pgbouncer')) return undefined;
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-pgbouncer-'));
  const port = await freePort();
  await writeFile(path.join(dir, 'users.txt'), `"${server.user}" "${server.password}"\n`);
  await writeFile(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `${server.database} = host=${server.host} port=${server.port} dbname=${server.database}`,
      '[pgbouncer]',
      `listen_addr = 127.0.0.1`,
      `listen_port = ${port}`,
      'auth_type = scram-sha-256',
      `auth_file = ${path.join(dir, 'users.txt')}`,
      'pool_mode = session',
      'max_client_conn = 100',
      'default_pool_size = 20',
      `unix_socket_dir =`,
      `logfile = ${path.join(dir, 'pgbouncer.log')}`,
    ].join('\n') + '\n',
  );
  const ini = path.join(dir, 'pgbouncer.ini');
  // PgBouncer, like PostgreSQL, refuses to run as root.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await run('chown', ['-R', 'postgres', dir]);
  const child = asRoot
    ? spawn('su', ['postgres', '-s', '/bin/sh', '-c', `exec pgbouncer ${ini}`], { stdio: 'ignore' })
    : spawn('pgbouncer', [ini], { stdio: 'ignore' });
  const endpoint: Endpoint = {
    name: 'pgbouncer',
    host: '127.0.0.1',
    port,
    user: server.user,
    password: server.password,
    database: server.database,
  };
  for (let i = 0; i < 50; i++) {
    try {
      const c = new pg.Client({ ...endpoint });
      await c.connect();
      await c.end();
      return {
        endpoint,
        stop: () => {
          child.kill('SIGTERM');
          void rm(dir, { recursive: true, force: true });
        },
      };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill('SIGKILL');
  console.warn('pgbouncer did not start; skipping its column');
  return undefined;
}

const MILLION_ROWS = "SELECT g, md5(g::text), repeat('x', 80) FROM generate_series(1, 1000000) g";

export async function benchPostgresTunnel(): Promise<void> {
  console.log('\n## Postgres tunnel\n');
  const server = await startPostgres({ settings: { max_connections: '100' } });
  let guard: GuardProcess | undefined;
  let bouncer: Awaited<ReturnType<typeof startPgbouncer>>;
  try {
    const direct = directEndpoint(server);
    // observe: every statement is still classified and recorded, nothing is enforced.
    guard = await startGuard(['--upstream', server.url({ sslmode: 'disable' }), '--policy', 'observe']);
    const tunnel = tunnelEndpoint(guard.ready, server.database);
    bouncer = await startPgbouncer(server);

    if (installed('pgbench')) {
      await pgbenchInit(direct, 10);
      const rows: (string | number)[][] = [];
      for (const clients of [1, 8]) {
        for (const mode of ['simple', 'extended', 'prepared']) {
          const d = await pgbenchSelectOnly(direct, mode, clients);
          const t = await pgbenchSelectOnly(tunnel, mode, clients);
          const b = bouncer ? await pgbenchSelectOnly(bouncer.endpoint, mode, clients) : undefined;
          rows.push([
            mode,
            clients,
            d.tps.toFixed(0),
            t.tps.toFixed(0),
            (t.tps / d.tps).toFixed(2),
            b ? b.tps.toFixed(0) : 'n/a',
            b ? (t.tps / b.tps).toFixed(2) : 'n/a',
          ]);
        }
      }
      console.log(
        `pgbench -S, ${SECONDS} s per run (targets: tunnel/direct >= 0.80, tunnel/pgbouncer >= 1.00 at 8 clients)\n`,
      );
      console.log(
        table(
          [
            'mode',
            'clients',
            'direct tps',
            'tunnel tps',
            'tunnel/direct',
            'pgbouncer tps',
            'tunnel/pgbouncer',
          ],
          rows,
        ),
      );
    } else {
      console.log('pgbench is not installed (apt-get install postgresql-client): skipping the TPS table');
    }

    const d = await roundTrips(direct, 5000);
    const t = await roundTrips(tunnel, 5000);
    console.log('\nSingle-client round trip of SELECT 1 with node-postgres (target: added p50 <= 50 µs)\n');
    console.log(
      table(
        ['path', 'p50 µs', 'p99 µs'],
        [
          ['direct', median(d).toFixed(0), percentile(d, 99).toFixed(0)],
          ['tunnel', median(t).toFixed(0), percentile(t, 99).toFixed(0)],
          ['added', (median(t) - median(d)).toFixed(0), (percentile(t, 99) - percentile(d, 99)).toFixed(0)],
        ],
      ),
    );

    const rssBefore = guard.memory();
    const sd = await streamMBps(direct, MILLION_ROWS);
    const st = await streamMBps(tunnel, MILLION_ROWS);
    const rssAfter = guard.memory();
    console.log(
      `\n1M-row select (${(sd.bytes / 1e6).toFixed(0)} MB of protocol bytes) to a raw client (target: peak RSS <= 200 MB)\n`,
    );
    console.log(
      table(
        ['path', 'MB/s', 'ratio'],
        [
          ['direct', sd.mbps.toFixed(0), '1.00'],
          ['tunnel', st.mbps.toFixed(0), (st.mbps / sd.mbps).toFixed(2)],
        ],
      ),
    );
    console.log(
      `\ntunnel RSS: ${(rssBefore.rss / 1048576).toFixed(0)} MiB before, ${(rssAfter.rss / 1048576).toFixed(0)} MiB after, peak ${(rssAfter.peak / 1048576).toFixed(0)} MiB`,
    );
  } finally {
    bouncer?.stop();
    await guard?.stop();
    await server.stop();
  }
}
