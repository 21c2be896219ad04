/**
 * The spool's SQLite file: its schema, how it is opened, the statements the spool runs and the two
 * transactions that change it (writing a batch of events, acknowledging what the hub has taken).
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

const SCHEMA_VERSION = 1;

/** An event hashed and waiting to be written. */
export interface BufferedEvent {
  sessionId: string;
  seq: number;
  at: string;
  type: string;
  payload: string;
  prevHash: string;
  hash: string;
}

export interface EventRow {
  seq: number;
  at: string;
  type: string;
  payload: string;
  prev_hash: string;
  hash: string;
}

export interface SessionRow {
  session_id: string;
  last_seq: number;
  last_hash: string;
  acked_seq: number;
  pending: number;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS events (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    last_hash TEXT NOT NULL,
    acked_seq INTEGER NOT NULL DEFAULT 0,
    pending INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS sessions_pending ON sessions (pending) WHERE pending > 0;
`;

/**
 * Opens (creating when needed) the spool's SQLite file, owner-only, in WAL mode with its schema; refuses a
 * file written by a newer version. Throws what went wrong; the spool says which file it was.
 */
export function openSpoolDatabase(
  file: string,
  options: { busyTimeoutMs?: number; maxBytes?: number },
): Database.Database {
  let db: Database.Database | undefined;
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // Recordings hold SQL text: the file owner-only (SQLite gives -wal/-shm the same mode when it
    // creates them; ones left by an older version are brought back to it).
    closeSync(openSync(file, 'a', 0o600));
    for (const owned of [file, `${file}-wal`, `${file}-shm`]) {
      if (existsSync(owned)) chmodSync(owned, 0o600);
    }
    db = new Database(file, { timeout: options.busyTimeoutMs ?? 250 });
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') throw new Error(`journal_mode is ${String(mode)}, not wal`);
    db.pragma('synchronous = NORMAL');
    const version = Number(db.pragma('user_version', { simple: true }));
    if (version > SCHEMA_VERSION) {
      throw new Error(`the spool has format ${version}; this version reads up to ${SCHEMA_VERSION}`);
    }
    if (options.maxBytes !== undefined) {
      const pageSize = Number(db.pragma('page_size', { simple: true }));
      db.pragma(`max_page_count = ${Math.max(2, Math.floor(options.maxBytes / pageSize))}`);
    }
    db.exec(SCHEMA);
    if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
    return db;
  } catch (error) {
    db?.close();
    throw error;
  }
}

export interface SpoolStatements {
  insert: Database.Statement<[string, number, string, string, string, string, string]>;
  upsertSession: Database.Statement<[string, number, string, number, string]>;
  chain: Database.Statement<[string], { last_seq: number; last_hash: string }>;
  pendingSessions: Database.Statement<[], SessionRow>;
  pendingTotal: Database.Statement<[], { total: number | null }>;
  session: Database.Statement<[string], SessionRow>;
  readEvents: Database.Statement<[string, number, number], EventRow>;
  countRange: Database.Statement<[string, number, number], { n: number }>;
  ack: Database.Statement<[number, number, string]>;
  bounds: Database.Statement<
    [],
    {
      session_id: string;
      first_type: string;
      first_payload: string;
      last_type: string;
      last_payload: string;
    }
  >;
}

export function prepareSpoolStatements(db: Database.Database): SpoolStatements {
  return {
    insert: db.prepare(
      'INSERT INTO events (session_id, seq, at, type, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    upsertSession: db.prepare(
      `INSERT INTO sessions (session_id, last_seq, last_hash, pending, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (session_id) DO UPDATE SET last_seq = excluded.last_seq, last_hash = excluded.last_hash,
         pending = pending + excluded.pending, updated_at = excluded.updated_at`,
    ),
    chain: db.prepare('SELECT last_seq, last_hash FROM sessions WHERE session_id = ?'),
    pendingSessions: db.prepare(
      'SELECT session_id, last_seq, last_hash, acked_seq, pending FROM sessions WHERE pending > 0 ORDER BY updated_at',
    ),
    pendingTotal: db.prepare('SELECT sum(pending) AS total FROM sessions WHERE pending > 0'),
    session: db.prepare(
      'SELECT session_id, last_seq, last_hash, acked_seq, pending FROM sessions WHERE session_id = ?',
    ),
    readEvents: db.prepare(
      `SELECT seq, at, type, payload, prev_hash, hash FROM events
       WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
    ),
    countRange: db.prepare('SELECT count(*) AS n FROM events WHERE session_id = ? AND seq > ? AND seq <= ?'),
    ack: db.prepare('UPDATE sessions SET acked_seq = ?, pending = max(0, pending - ?) WHERE session_id = ?'),
    bounds: db.prepare(
      `SELECT s.session_id, f.type AS first_type, f.payload AS first_payload,
              l.type AS last_type, l.payload AS last_payload
       FROM sessions s
       JOIN events f ON f.session_id = s.session_id AND f.seq = 1
       JOIN events l ON l.session_id = s.session_id AND l.seq = s.last_seq`,
    ),
  };
}

/** Writes a batch of events and moves each session's chain head, in one transaction. */
export function batchWriter(
  db: Database.Database,
  sql: SpoolStatements,
  now: () => Date,
): (batch: readonly BufferedEvent[]) => void {
  const { insert, upsertSession } = sql;
  return db
    .transaction((batch: readonly BufferedEvent[]) => {
      const touched = new Map<string, { seq: number; hash: string; count: number }>();
      for (const e of batch) {
        insert.run(e.sessionId, e.seq, e.at, e.type, e.payload, e.prevHash, e.hash);
        const t = touched.get(e.sessionId);
        if (t) {
          t.seq = e.seq;
          t.hash = e.hash;
          t.count++;
        } else touched.set(e.sessionId, { seq: e.seq, hash: e.hash, count: 1 });
      }
      const updatedAt = now().toISOString();
      for (const [sessionId, t] of touched) upsertSession.run(sessionId, t.seq, t.hash, t.count, updatedAt);
    })
    .immediate.bind(null);
}

/** Marks a session's events acknowledged up to a seq, in one transaction; returns how many it marked. */
export function acknowledger(
  db: Database.Database,
  sql: SpoolStatements,
): (sessionId: string, throughSeq: number) => number {
  return db
    .transaction((sessionId: string, throughSeq: number): number => {
      const row = sql.session.get(sessionId);
      if (!row) return 0;
      const through = Math.min(throughSeq, row.last_seq);
      if (through <= row.acked_seq) return 0;
      const { n } = sql.countRange.get(sessionId, row.acked_seq, through)!;
      sql.ack.run(through, n, sessionId);
      return n;
    })
    .immediate.bind(null);
}
