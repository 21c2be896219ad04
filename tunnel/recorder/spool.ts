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
import path from 'node:path';
import type Database from 'better-sqlite3';
import { chainHash, GENESIS_HASH } from '../../hub/api/recording-chain.ts';
import type { RecordingEventInput } from '../../hub/api/types.ts';
import type { RecordingPoint, SessionEvent } from './recording-point.ts';
import {
  acknowledger,
  batchWriter,
  openSpoolDatabase,
  prepareSpoolStatements,
  type BufferedEvent,
  type SpoolStatements,
} from './spool-database.ts';

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

  private readonly sql: SpoolStatements;
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
    try {
      this.db = openSpoolDatabase(this.path, options);
    } catch (error) {
      const message = `cannot open the recording spool ${this.path}: ${messageOf(error)}`;
      throw new RecordingError('open-failed', message, { cause: error });
    }
    this.sql = prepareSpoolStatements(this.db);
    this.writeBatch = batchWriter(this.db, this.sql, this.now);
    this.ackTransaction = acknowledger(this.db, this.sql);
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
