/**
 * The local recording spool: every session event goes first into a better-sqlite3 database (WAL,
 * synchronous=NORMAL) on this machine, chained exactly as the hub verifies it (see
 * hub/api/recording-chain.ts), and the outbox (outbox.ts) syncs it to the hub from there.
 *
 * Per session, events get seq 1, 2, … and `hash = chainHash(prevHash, {seq, at, type, payload})`, where
 * `payload` is the SessionEvent without its `type` and prevHash of seq 1 is GENESIS_HASH. The last seq and
 * hash of every session live in the database too, so a restarted process continues the chain.
 *
 * Writes are batched: `record` hashes the event and buffers it; the buffer is written in one transaction
 * at the end of the current event-loop turn (setImmediate; or after `flushIntervalMs`), or at once when it
 * holds `maxBatch` events. `close()` writes whatever is buffered.
 *
 * Durability window. An event is on disk once its batch transaction committed:
 *  - process crash (SIGKILL, abort, OOM kill): loses only events accepted by `record` but not yet written,
 *    i.e. fewer than `maxBatch` events, and never more than those accepted since the last flush — with the
 *    default setImmediate scheduling, the events of the current event-loop turn (plus `flushIntervalMs`
 *    worth when that is set). Committed transactions survive: WAL with synchronous=NORMAL hands every commit
 *    to the OS before `record`'s batch is considered written.
 *  - OS crash or power loss: additionally the commits since the WAL was last synced to the disk (at
 *    checkpoints); synchronous=NORMAL trades that for speed. The database itself stays consistent.
 * What is lost is always a suffix of each session's chain, so the hub sees a shorter recording, never a
 * wrong one.
 *
 * Failures (disk full or `maxBytes` reached, the database locked past `busyTimeoutMs`, a closed spool):
 *  - `strict`: the failure is surfaced. `onFailure` fires once per failure episode, and `record` throws a
 *    RecordingError until a write succeeds again, so the proxy can end the session with a clear error
 *    instead of running unrecorded. Events accepted before the failure stay buffered and are retried every
 *    `retryIntervalMs` (and on close).
 *  - non-strict: the failure is logged, buffered events are retried the same way, and events are dropped
 *    (and counted) only when the buffer exceeds `maxBuffered` or the spool is closed. A dropped event
 *    leaves a gap in its session's chain that the hub will report: a loss is visible, not papered over.
 *
 * One process writes a given session (the tunnel that owns it); several processes may share the file.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { chainHash, GENESIS_HASH } from '../../hub/api/recording-chain.ts';
import type { RecordingEventInput } from '../../hub/api/types.ts';
import type { RecordingPoint, SessionEvent } from './recording-point.ts';

const SCHEMA_VERSION = 1;

export type RecordingErrorCode = 'open-failed' | 'closed' | 'write-failed';

/** The spool could not take an event: the session should end rather than run unrecorded. */
export class RecordingError extends Error {
  override readonly name = 'RecordingError';
  readonly code: RecordingErrorCode;
  /** The session whose event was refused, when one was. */
  readonly sessionId: string | undefined;

  constructor(
    code: RecordingErrorCode,
    message: string,
    options: { cause?: unknown; sessionId?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.sessionId = options.sessionId;
  }
}

export interface RecordingSpoolOptions {
  /** Surface failures (`record` throws, `onFailure` fires) instead of logging and dropping. Default false. */
  strict?: boolean;
  /**
   * Called once when writing starts failing (strict or not), with the sessions whose events are waiting:
   * a tunnel whose policy asks for strict recording ends its sessions here.
   */
  onFailure?: (error: RecordingError, sessionIds: readonly string[]) => void;
  /** Write at once when this many events are buffered. Default 1000. */
  maxBatch?: number;
  /** 0 (default): write at the end of the current event-loop turn; otherwise after this many ms. */
  flushIntervalMs?: number;
  /** How long a write waits for another connection's lock; it blocks the event loop. Default 250. */
  busyTimeoutMs?: number;
  /** Retry a failed write this often. Default 1000. */
  retryIntervalMs?: number;
  /** Non-strict: while writes fail, buffer about this many events (+ maxBatch), then drop the oldest. Default 50,000. */
  maxBuffered?: number;
  /** Cap the database's size (SQLite max_page_count): past it, writes fail as on a full disk. */
  maxBytes?: number;
  /** Where failures are reported in non-strict mode (and recoveries in both). Default: console.error. */
  log?: (message: string) => void;
  /** The clock for events' `at`. */
  now?: () => Date;
}

export interface SpoolStats {
  /** Events accepted by `record` since the spool was opened. */
  recorded: number;
  /** Events written to the database since the spool was opened. */
  spooled: number;
  /** Events accepted but not written yet. */
  buffered: number;
  /** Events in the database the hub has not acknowledged yet (all sessions, earlier runs included). */
  pendingUpload: number;
  /** Events marked acknowledged by the hub since the spool was opened. */
  uploaded: number;
  /** Events lost: refused by a closed spool, or dropped from an overfull buffer (non-strict). */
  dropped: number;
  /** Whether the last write failed. */
  failing: boolean;
  lastError: string | undefined;
}

/** A session's first and last spooled event. */
export interface SessionBounds {
  sessionId: string;
  first: { type: string; payload: unknown };
  last: { type: string; payload: unknown };
}

/** A session with events waiting for the hub's acknowledgement. */
export interface PendingSession {
  sessionId: string;
  /** Acknowledged by the hub up to here. */
  ackedSeq: number;
  /** Spooled up to here. */
  lastSeq: number;
  pending: number;
}

interface ChainState {
  seq: number;
  hash: string;
}

interface BufferedEvent {
  sessionId: string;
  seq: number;
  at: string;
  type: string;
  payload: string;
  prevHash: string;
  hash: string;
}

interface EventRow {
  seq: number;
  at: string;
  type: string;
  payload: string;
  prev_hash: string;
  hash: string;
}

interface SessionRow {
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

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The connected app's RecordingPoint: a local, chained, crash-safe spool that the outbox drains. */
export class RecordingSpool implements RecordingPoint {
  readonly path: string;
  readonly strict: boolean;

  private readonly db: Database.Database;
  private readonly options: RecordingSpoolOptions;
  private readonly maxBatch: number;
  private readonly maxBuffered: number;
  private readonly log: (message: string) => void;
  private readonly now: () => Date;
  private readonly chains = new Map<string, ChainState>();
  private readonly listeners = new Set<() => void>();
  private buffer: BufferedEvent[] = [];
  private scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failure: RecordingError | undefined;
  private closed = false;
  private counts = { recorded: 0, spooled: 0, uploaded: 0, dropped: 0 };

  private readonly sql: {
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
  };
  private readonly writeBatch: (batch: readonly BufferedEvent[]) => void;
  private readonly ackTransaction: (sessionId: string, throughSeq: number) => number;

  constructor(file: string, options: RecordingSpoolOptions = {}) {
    this.path = path.resolve(file);
    this.options = options;
    this.strict = options.strict ?? false;
    this.maxBatch = Math.max(1, options.maxBatch ?? 1000);
    this.maxBuffered = Math.max(this.maxBatch, options.maxBuffered ?? 50_000);
    this.log = options.log ?? ((message) => console.error(`portcullis recorder: ${message}`));
    this.now = options.now ?? (() => new Date());

    let db: Database.Database | undefined;
    try {
      mkdirSync(path.dirname(this.path), { recursive: true, mode: 0o700 });
      // Recordings hold SQL text: the file owner-only (SQLite gives -wal/-shm the same mode when it
      // creates them; ones left by an older version are brought back to it).
      closeSync(openSync(this.path, 'a', 0o600));
      for (const owned of [this.path, `${this.path}-wal`, `${this.path}-shm`]) {
        if (existsSync(owned)) chmodSync(owned, 0o600);
      }
      db = new Database(this.path, { timeout: options.busyTimeoutMs ?? 250 });
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
    } catch (error) {
      db?.close();
      const message = `cannot open the recording spool ${this.path}: ${messageOf(error)}`;
      throw new RecordingError('open-failed', message, { cause: error });
    }
    this.db = db;

    this.sql = {
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
      countRange: db.prepare(
        'SELECT count(*) AS n FROM events WHERE session_id = ? AND seq > ? AND seq <= ?',
      ),
      ack: db.prepare(
        'UPDATE sessions SET acked_seq = ?, pending = max(0, pending - ?) WHERE session_id = ?',
      ),
      bounds: db.prepare(
        `SELECT s.session_id, f.type AS first_type, f.payload AS first_payload,
                l.type AS last_type, l.payload AS last_payload
         FROM sessions s
         JOIN events f ON f.session_id = s.session_id AND f.seq = 1
         JOIN events l ON l.session_id = s.session_id AND l.seq = s.last_seq`,
      ),
    };

    const { insert, upsertSession } = this.sql;
    this.writeBatch = db
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
        const updatedAt = this.now().toISOString();
        for (const [sessionId, t] of touched) upsertSession.run(sessionId, t.seq, t.hash, t.count, updatedAt);
      })
      .immediate.bind(null);

    this.ackTransaction = db
      .transaction((sessionId: string, throughSeq: number): number => {
        const row = this.sql.session.get(sessionId);
        if (!row) return 0;
        const through = Math.min(throughSeq, row.last_seq);
        if (through <= row.acked_seq) return 0;
        const { n } = this.sql.countRange.get(sessionId, row.acked_seq, through)!;
        this.sql.ack.run(through, n, sessionId);
        return n;
      })
      .immediate.bind(null);
  }

  // ------------------------------------------------------------------------------------------------
  // RecordingPoint

  /**
   * Chains and buffers the event. Strict mode throws a RecordingError when the spool is closed or failing
   * (the event is refused), or when this call's own batch write failed (the event is kept and retried):
   * either way the session should end.
   */
  record(sessionId: string, event: SessionEvent): void {
    if (this.closed) {
      this.refuse(new RecordingError('closed', 'the recording spool is closed', { sessionId }));
      return;
    }
    if (this.strict && this.failure) {
      throw new RecordingError('write-failed', `recording is failing: ${this.failure.message}`, {
        cause: this.failure.cause,
        sessionId,
      });
    }
    let chain = this.chains.get(sessionId);
    if (!chain) {
      try {
        const row = this.sql.chain.get(sessionId);
        chain = row ? { seq: row.last_seq, hash: row.last_hash } : { seq: 0, hash: GENESIS_HASH };
      } catch (error) {
        this.refuse(
          new RecordingError('write-failed', `cannot read the spool: ${messageOf(error)}`, {
            cause: error,
            sessionId,
          }),
        );
        return;
      }
      this.chains.set(sessionId, chain);
    }
    const { type, ...payload } = event;
    const seq = chain.seq + 1;
    const at = this.now().toISOString();
    const hash = chainHash(chain.hash, { seq, at, type, payload });
    // JSON.stringify and canonicalJson agree on every value a SessionEvent can hold, so the payload read
    // back from the spool hashes to the same bytes.
    this.buffer.push({
      sessionId,
      seq,
      at,
      type,
      payload: JSON.stringify(payload),
      prevHash: chain.hash,
      hash,
    });
    chain.seq = seq;
    chain.hash = hash;
    this.counts.recorded++;

    if (this.failure)
      this.trim(); // failing, non-strict: the retry timer writes it
    else if (this.buffer.length >= this.maxBatch) {
      if (!this.write() && this.strict) {
        throw new RecordingError('write-failed', `recording is failing: ${this.failure!.message}`, {
          cause: this.failure!.cause,
          sessionId,
        });
      }
    } else this.schedule();
  }

  /** Writes everything buffered and closes the database. Rejects (strict) if events could not be written. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelTimers();
    const ok = this.write();
    const lost = this.buffer.length;
    if (!ok) {
      this.counts.dropped += lost;
      this.buffer = [];
    }
    this.listeners.clear();
    this.db.close();
    if (!ok) {
      const error = new RecordingError(
        'write-failed',
        `closed the recording spool with ${lost} event(s) unwritten: ${this.failure?.message}`,
        { cause: this.failure?.cause },
      );
      if (this.strict) throw error;
      this.log(error.message);
    }
  }

  // ------------------------------------------------------------------------------------------------
  // For the outbox and the app

  /** Whether the last write failed (events wait in memory for the retry). */
  get failing(): boolean {
    return this.failure !== undefined;
  }

  /** Why writing fails, while it does. */
  get failureMessage(): string | undefined {
    return this.failure?.message;
  }

  /** Writes the buffered events now; throws a RecordingError if that fails (they stay buffered). */
  flush(): void {
    if (this.closed) return;
    if (!this.write()) {
      throw new RecordingError('write-failed', `cannot write the recording spool: ${this.failure?.message}`, {
        cause: this.failure?.cause,
      });
    }
  }

  /** Calls `listener` after every successful write; returns the unsubscribe function. */
  onSpooled(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sessions with spooled events the hub has not acknowledged, least recently written first. */
  pendingSessions(): PendingSession[] {
    this.assertOpen();
    return this.sql.pendingSessions.all().map((row) => ({
      sessionId: row.session_id,
      ackedSeq: row.acked_seq,
      lastSeq: row.last_seq,
      pending: row.pending,
    }));
  }

  /**
   * Every session in the spool with its first and last event (type and payload): how a restarted app
   * finds sessions an earlier process opened and never ended. Reads the whole sessions table.
   */
  sessionBounds(): SessionBounds[] {
    this.assertOpen();
    this.flush();
    return this.sql.bounds.all().map((row) => ({
      sessionId: row.session_id,
      first: { type: row.first_type, payload: JSON.parse(row.first_payload) as unknown },
      last: { type: row.last_type, payload: JSON.parse(row.last_payload) as unknown },
    }));
  }

  /** Up to `limit` of the session's unacknowledged events, in seq order, as the hub takes them. */
  readPending(sessionId: string, limit: number): RecordingEventInput[] {
    this.assertOpen();
    const session = this.sql.session.get(sessionId);
    return session ? this.readSession(sessionId, session.acked_seq, limit) : [];
  }

  /** Every event of a session in the spool (from `afterSeq`), acknowledged or not. */
  readSession(sessionId: string, afterSeq = 0, limit = -1): RecordingEventInput[] {
    this.assertOpen();
    return this.sql.readEvents.all(sessionId, afterSeq, limit).map((row) => ({
      seq: row.seq,
      at: row.at,
      type: row.type,
      payload: JSON.parse(row.payload) as unknown,
      prevHash: row.prev_hash,
      hash: row.hash,
    }));
  }

  /** The hub acknowledged the session up to `throughSeq`. Idempotent; returns how many were newly marked. */
  markUploaded(sessionId: string, throughSeq: number): number {
    this.assertOpen();
    const marked = this.ackTransaction(sessionId, throughSeq);
    this.counts.uploaded += marked;
    return marked;
  }

  /** Where the session's upload stands, or undefined for a session never spooled. */
  session(sessionId: string): PendingSession | undefined {
    this.assertOpen();
    const row = this.sql.session.get(sessionId);
    return row && { sessionId, ackedSeq: row.acked_seq, lastSeq: row.last_seq, pending: row.pending };
  }

  /** Deletes acknowledged events (the sessions' seq and hash are kept so their chains can continue). */
  pruneUploaded(): number {
    this.assertOpen();
    return this.db
      .prepare(
        `DELETE FROM events WHERE seq <= (SELECT acked_seq FROM sessions s WHERE s.session_id = events.session_id)`,
      )
      .run().changes;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  stats(): SpoolStats {
    let pendingUpload = 0;
    if (!this.closed) {
      try {
        pendingUpload = this.sql.pendingTotal.get()?.total ?? 0;
      } catch {
        // A locked or broken database: the counters below still say what matters.
      }
    }
    return {
      ...this.counts,
      buffered: this.buffer.length,
      pendingUpload,
      failing: this.failure !== undefined,
      lastError: this.failure?.message,
    };
  }

  // ------------------------------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new RecordingError('closed', 'the recording spool is closed');
  }

  /** A refused event: thrown in strict mode, counted and logged otherwise. */
  private refuse(error: RecordingError): void {
    if (this.strict) throw error;
    this.counts.dropped++;
    if (this.counts.dropped === 1 || this.counts.dropped % 1000 === 0) {
      this.log(`dropped ${this.counts.dropped} event(s) so far: ${error.message}`);
    }
  }

  private schedule(): void {
    if (this.scheduled || this.failure) return;
    const interval = this.options.flushIntervalMs ?? 0;
    this.scheduled =
      interval > 0
        ? setTimeout(() => this.scheduledWrite(), interval)
        : setImmediate(() => this.scheduledWrite());
  }

  private scheduledWrite(): void {
    this.scheduled = undefined;
    this.write();
  }

  private cancelTimers(): void {
    if (this.scheduled) {
      clearTimeout(this.scheduled as NodeJS.Timeout);
      clearImmediate(this.scheduled as NodeJS.Immediate);
      this.scheduled = undefined;
    }
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
  }

  /** Writes the buffer in one transaction; on failure keeps it and enters (or stays in) the failing state. */
  private write(): boolean {
    if (this.scheduled) {
      clearTimeout(this.scheduled as NodeJS.Timeout);
      clearImmediate(this.scheduled as NodeJS.Immediate);
      this.scheduled = undefined;
    }
    if (this.buffer.length === 0) return true;
    const batch = this.buffer;
    try {
      this.writeBatch(batch);
    } catch (error) {
      this.failed(error);
      return false;
    }
    this.buffer = [];
    this.counts.spooled += batch.length;
    for (const e of batch) {
      // A finished session's chain need not stay in memory: it is on disk now.
      if (e.type === 'session.end' && this.chains.get(e.sessionId)?.seq === e.seq)
        this.chains.delete(e.sessionId);
    }
    if (this.failure) {
      this.log(`recording spool writable again (${this.failure.message})`);
      this.failure = undefined;
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    for (const listener of this.listeners) listener();
    return true;
  }

  /** Non-strict, while failing: keeps the buffer within maxBuffered by dropping the oldest events. */
  private trim(): void {
    // Trimmed in steps of maxBatch so that a failing spool does not shift a large array per event.
    if (this.strict || this.buffer.length < this.maxBuffered + this.maxBatch) return;
    const excess = this.buffer.length - this.maxBuffered;
    this.buffer.splice(0, excess);
    const before = this.counts.dropped;
    this.counts.dropped += excess;
    if (Math.floor(before / 1000) !== Math.floor(this.counts.dropped / 1000) || before === 0) {
      this.log(
        `dropped ${this.counts.dropped} event(s) so far: the spool keeps failing and the buffer is full`,
      );
    }
  }

  private failed(cause: unknown): void {
    const first = this.failure === undefined;
    this.failure = new RecordingError(
      'write-failed',
      `cannot write the recording spool: ${messageOf(cause)}`,
      {
        cause,
      },
    );
    if (first) {
      if (!this.strict) this.log(`${this.failure.message}; ${this.buffer.length} event(s) kept for a retry`);
      try {
        this.options.onFailure?.(this.failure, [...new Set(this.buffer.map((e) => e.sessionId))]);
      } catch (error) {
        this.log(`onFailure threw: ${messageOf(error)}`);
      }
    }
    this.trim();
    if (!this.retryTimer && !this.closed) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.write();
      }, this.options.retryIntervalMs ?? 1000);
      this.retryTimer.unref();
    }
  }
}
