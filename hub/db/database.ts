/**
 * One query layer over two stores: SQLite (better-sqlite3, the embedded default: a file path) and
 * PostgreSQL (a postgres:// URL; teams, several hub instances on one database). Migrations run on open.
 */
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { hubMigrations, type HubDialect } from './migrations.ts';
import type { HubSchema } from './schema.ts';

export type { HubDialect } from './migrations.ts';

/** A LISTEN subscription (PostgreSQL only). */
export interface Listener {
  close(): Promise<void>;
}

export interface HubDatabase {
  db: Kysely<HubSchema>;
  dialect: HubDialect;
  /**
   * LISTENs on a channel with a dedicated connection (PostgreSQL); `onNotify` gets each payload.
   * After a lost connection it reconnects and calls `onReconnect`, since notifications sent meanwhile
   * are gone. On SQLite there is nothing to listen to: returns a no-op listener.
   */
  listen(channel: string, onNotify: (payload: string) => void, onReconnect?: () => void): Promise<Listener>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Run migrations (default true). */
  migrate?: boolean;
  /** PostgreSQL pool size (default 10). */
  poolSize?: number;
  /** SQLite busy timeout (default 5000 ms). */
  busyTimeoutMs?: number;
}

export function isPostgresUrl(urlOrPath: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(urlOrPath);
}

const INT8_OID = 20;

/** int8 (bigserial ids, count(*)) as JavaScript numbers: the hub's ids and counts stay below 2^53. */
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

export async function openHubDatabase(urlOrPath: string, options: OpenOptions = {}): Promise<HubDatabase> {
  const hub = isPostgresUrl(urlOrPath) ? openPostgres(urlOrPath, options) : openSqlite(urlOrPath, options);
  if (options.migrate !== false) {
    try {
      await migrate(hub);
    } catch (error) {
      await hub.close();
      throw error;
    }
  }
  return hub;
}

async function migrate(hub: HubDatabase): Promise<void> {
  const migrator = new Migrator({ db: hub.db, provider: hubMigrations(hub.dialect) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`hub database migration ${failed ?? ''} failed: ${(error as Error).message ?? error}`, {
      cause: error,
    });
  }
}

/**
 * The audit store holds recorded SQL: owner-only. A directory created here is 0700; the database file is
 * created (or brought back to) 0600 before SQLite opens it, and SQLite gives its -wal and -shm files the
 * database's mode; existing ones are brought back to 0600 too.
 */
function keepPrivate(file: string): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
  closeSync(openSync(file, 'a', 0o600));
  for (const owned of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      chmodSync(owned, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

function openSqlite(file: string, options: OpenOptions): HubDatabase {
  if (file !== ':memory:') keepPrivate(file);
  const sqlite = new Database(file);
  if (file !== ':memory:') sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<HubSchema>({ dialect: new SqliteDialect({ database: sqlite }) });
  return {
    db,
    dialect: 'sqlite',
    listen: async () => ({ close: async () => {} }),
    close: () => db.destroy(),
  };
}

function openPostgres(url: string, options: OpenOptions): HubDatabase {
  const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10, types: pgTypes });
  // An idle connection that fails is dropped by the pool; the next query gets a fresh one.
  pool.on('error', () => {});
  const db = new Kysely<HubSchema>({ dialect: new PostgresDialect({ pool }) });
  const listeners = new Set<Listener>();
  return {
    db,
    dialect: 'postgres',
    async listen(channel, onNotify, onReconnect) {
      const listener = await listenPostgres(url, channel, onNotify, onReconnect);
      const tracked: Listener = {
        close: async () => {
          listeners.delete(tracked);
          await listener.close();
        },
      };
      listeners.add(tracked);
      return tracked;
    },
    async close() {
      await Promise.all([...listeners].map((l) => l.close()));
      await db.destroy();
    },
  };
}

async function listenPostgres(
  url: string,
  channel: string,
  onNotify: (payload: string) => void,
  onReconnect?: () => void,
): Promise<Listener> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`invalid channel name ${channel}`);
  let closed = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let delay = 100;

  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: url, types: pgTypes });
    next.on('notification', (message) => {
      if (message.channel === channel) onNotify(message.payload ?? '');
    });
    next.on('error', () => reconnect(next));
    next.on('end', () => reconnect(next));
    await next.connect();
    await next.query(`LISTEN ${channel}`);
    if (closed) {
      await next.end().catch(() => {});
      return;
    }
    client = next;
  };

  const reconnect = (failed: pg.Client): void => {
    if (closed || client !== failed || retry) return;
    client = undefined;
    failed.end().catch(() => {});
    const attempt = (): void => {
      retry = undefined;
      if (closed) return;
      connect().then(
        () => {
          delay = 100;
          onReconnect?.();
        },
        () => {
          delay = Math.min(delay * 2, 5000);
          retry = setTimeout(attempt, delay);
          retry.unref();
        },
      );
    };
    retry = setTimeout(attempt, delay);
    retry.unref();
  };

  await connect();
  return {
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      const current = client;
      client = undefined;
      await current?.end().catch(() => {});
    },
  };
}
