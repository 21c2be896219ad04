import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort, type TestPostgres } from '../test/support/postgres.ts';
import type { Endpoint } from './postgres-endpoints.ts';
import { installed, run } from './tools.ts';

export interface Pgbouncer {
  endpoint: Endpoint;
  pid: number;
  stop(): Promise<void>;
}

/** PgBouncer in session pooling mode in front of `server`, the baseline a tunnel is compared with. */
export async function startPgbouncer(server: TestPostgres): Promise<Pgbouncer | undefined> {
  if (!installed('pgbouncer')) return undefined;
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-pgbouncer-'));
  const port = await freePort();
  const ini = path.join(dir, 'pgbouncer.ini');
  await writeFile(path.join(dir, 'users.txt'), `"${server.user}" "${server.password}"\n`);
  await writeFile(
    ini,
    [
      '[databases]',
      `${server.database} = host=${server.host} port=${server.port} dbname=${server.database}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'auth_type = scram-sha-256',
      `auth_file = ${path.join(dir, 'users.txt')}`,
      'pool_mode = session',
      'max_client_conn = 200',
      'default_pool_size = 20',
      'unix_socket_dir =',
      `logfile = ${path.join(dir, 'pgbouncer.log')}`,
    ].join('\n') + '\n',
  );
  // PgBouncer, like PostgreSQL, refuses to run as root: it switches to the postgres user itself.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await run('chown', ['-R', 'postgres', dir]);
  const child = spawn('pgbouncer', [...(asRoot ? ['-u', 'postgres'] : []), ini], { stdio: 'ignore' });
  const endpoint: Endpoint = {
    name: 'pgbouncer',
    host: '127.0.0.1',
    port,
    user: server.user,
    password: server.password,
    database: server.database,
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 50; i++) {
    try {
      const client = new pg.Client({ ...endpoint });
      await client.connect();
      await client.end();
      return { endpoint, pid: child.pid!, stop };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  await stop();
  console.warn('pgbouncer did not start; its rows are left out');
  return undefined;
}
