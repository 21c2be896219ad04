/**
 * The outbox: syncs the spool's events to the hub, per session, in seq order, in batches.
 *
 * At least once: a batch is marked uploaded in the spool only after the hub acknowledged it, so a crash, a
 * lost response or an outage means the batch is sent again, and the hub, idempotent on (session, seq),
 * counts the resent events as duplicates. The spool's bookkeeping is a per-session acknowledged seq that
 * only moves forward, so nothing is counted or marked twice, and a restarted outbox continues after the
 * last acknowledged event.
 *
 * A failing session backs off exponentially with jitter (capped), independently of the others, so one
 * session the hub refuses does not hold up the rest; a success resets its backoff. While sessions back
 * off, the hub's health is probed every second (one small request, however many sessions wait): when it
 * answers, every session is retried at once, so a backlog follows a hub that comes back within about a
 * second instead of after the longest backoff.
 */
import type { IngestResult, RecordingEventInput } from '../../hub/api/types.ts';
import type { PendingSession, RecordingSpool } from './spool.ts';

/**
 * Where the outbox delivers: the hub's `POST /v1/sessions/:id/recordings` (hubSink makes one of the
 * typed hub client).
 */
export interface RecordingSink {
  ingest(
    sessionId: string,
    events: readonly RecordingEventInput[],
    options?: { signal?: AbortSignal },
  ): Promise<IngestResult>;
  /**
   * Resolves when the hub answers that it is up (`GET /healthz`), rejects otherwise: probed while sessions
   * back off. Without it, sessions wait out their backoff.
   */
  healthy?(options?: { signal?: AbortSignal }): Promise<unknown>;
}

/** What the outbox needs of the typed hub client (tunnel/hub-client). */
export interface HubRecordings {
  ingestRecording(
    sessionId: string,
    events: readonly RecordingEventInput[],
    options?: { signal?: AbortSignal },
  ): Promise<IngestResult>;
  health(options?: { signal?: AbortSignal }): Promise<unknown>;
}

/** The hub as the outbox delivers to it: ingestion, and the health check it probes during an outage. */
export function hubSink(hub: HubRecordings): RecordingSink {
  return {
    ingest: (sessionId, events, o) => hub.ingestRecording(sessionId, events, o),
    healthy: (o) => hub.health(o),
  };
}

export interface BackoffOptions {
  /** Delay ceiling after the first failure. Default 500 ms. */
  initialMs?: number;
  /** The ceiling stops doubling here. Default 10 s. */
  maxMs?: number;
  /** Source of jitter in [0, 1). Default Math.random. */
  random?: () => number;
}

/**
 * The delay after the `attempt`-th consecutive failure (1-based): "equal jitter", uniformly in
 * [ceiling/2, ceiling) with ceiling = min(maxMs, initialMs · 2^(attempt−1)). Spread out, yet never
 * shorter than half the ceiling, so it grows attempt after attempt until capped.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 500;
  const max = options.maxMs ?? 10_000;
  const ceiling = Math.min(max, initial * 2 ** Math.min(Math.max(attempt, 1) - 1, 52));
  return ceiling / 2 + ((options.random ?? Math.random)() * ceiling) / 2;
}

/** How long a health probe may take before it counts as the hub being down. */
const PROBE_TIMEOUT_MS = 2000;

/** A quarter of what the hub takes in one ingest request (16 MiB): batches of large statements still fit. */
export const DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024;

/** The leading events whose payloads fit in `maxBytes` together; always at least one. */
export function withinBytes(events: RecordingEventInput[], maxBytes: number): RecordingEventInput[] {
  let total = 0;
  for (let i = 0; i < events.length; i++) {
    total += JSON.stringify(events[i]!.payload).length;
    if (total > maxBytes && i > 0) return events.slice(0, i);
  }
  return events;
}

export interface OutboxOptions {
  /** Events per ingest call (the hub takes up to 5000). Default 500. */
  batchSize?: number;
  /**
   * Payload bytes per ingest call, roughly (JSON characters): a batch of many large statements is cut
   * short so that the hub's request size limit never refuses it forever. Default DEFAULT_MAX_BATCH_BYTES.
   */
  maxBatchBytes?: number;
  /** After new events were spooled, wait this long so that they travel together. Default 50 ms. */
  debounceMs?: number;
  /** Look at the spool this often even without news (e.g. another process writes to it). Default 5 s. */
  pollIntervalMs?: number;
  backoff?: BackoffOptions;
  /** While sessions back off, probe the sink's health this often. Default 1 s. */
  probeIntervalMs?: number;
  /** Every failed ingest, with the backoff it earned. */
  onError?: (error: unknown, info: { sessionId: string; attempt: number; delayMs: number }) => void;
  /** The first acknowledged batch after failures: syncing works again. */
  onRecovered?: (info: { failures: number }) => void;
  now?: () => number;
}

export interface OutboxStatus {
  running: boolean;
  /** Events not yet acknowledged by the hub: in the spool, or still buffered by it. */
  pending: number;
  /** The last failure: an ingest (with its session) or reading the spool (without). */
  lastError: { message: string; sessionId: string | undefined; at: string } | undefined;
  /** When the hub last acknowledged a batch. */
  lastSyncAt: string | undefined;
  /** Failed ingests since the last success. */
  consecutiveFailures: number;
  /** The soonest retry of a session that is backing off. */
  nextRetryAt: string | undefined;
  /** Since this outbox was created: events acknowledged, batches sent, and what the hub reported. */
  uploaded: number;
  batches: number;
  duplicates: number;
  conflicts: number;
}

interface Backoff {
  attempt: number;
  retryAt: number;
}

interface Waiter {
  /** Session → the seq that must be acknowledged. */
  targets: Map<string, number>;
  resolve(): void;
  reject(error: Error): void;
}

export class Outbox {
  private readonly spool: RecordingSpool;
  private readonly sink: RecordingSink;
  private readonly batchSize: number;
  private readonly debounceMs: number;
  private readonly pollIntervalMs: number;
  private readonly probeIntervalMs: number;
  private readonly options: OutboxOptions;
  private readonly now: () => number;
  private readonly backoffs = new Map<string, Backoff>();
  private readonly waiters = new Set<Waiter>();
  private running = false;
  private loop: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private unsubscribe: (() => void) | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private wake: (() => void) | undefined;
  /** A wake-up asked for while the loop was busy: the next sleep is no longer than this. */
  private requested = Infinity;
  private consecutiveFailures = 0;
  private lastProbeAt = -Infinity;
  private lastError: OutboxStatus['lastError'];
  private lastSyncAt: string | undefined;
  private counts = { uploaded: 0, batches: 0, duplicates: 0, conflicts: 0 };

  constructor(spool: RecordingSpool, sink: RecordingSink, options: OutboxOptions = {}) {
    this.spool = spool;
    this.sink = sink;
    this.options = options;
    this.batchSize = Math.min(5000, Math.max(1, options.batchSize ?? 500));
    this.debounceMs = options.debounceMs ?? 50;
    this.pollIntervalMs = options.pollIntervalMs ?? 5000;
    this.probeIntervalMs = options.probeIntervalMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  /** Starts syncing in the background; idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.unsubscribe = this.spool.onSpooled(() => this.poke(this.debounceMs));
    this.loop = this.run();
  }

  /** Stops syncing: aborts an ingest in flight (it will be sent again) and waits for the loop to end. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unsubscribe?.();
    this.abort?.abort(new Error('outbox stopped'));
    this.poke(0);
    await this.loop;
    this.loop = undefined;
    for (const waiter of this.waiters)
      waiter.reject(new Error('the outbox stopped before the hub acknowledged'));
    this.waiters.clear();
  }

  /**
   * Resolves once the hub acknowledged every event spooled (or buffered by the spool) when flush was called.
   * Sessions backing off are retried at once, then back off as usual. Runs the outbox for the duration if
   * it was not started. Rejects on `timeoutMs`, or when the outbox is stopped.
   */
  async flush(options: { timeoutMs?: number } = {}): Promise<void> {
    this.spool.flush();
    const targets = new Map<string, number>();
    for (const s of this.spool.pendingSessions()) targets.set(s.sessionId, s.lastSeq);
    if (targets.size === 0) return;
    for (const sessionId of targets.keys()) {
      const backoff = this.backoffs.get(sessionId);
      if (backoff) backoff.retryAt = this.now();
    }
    const startedHere = !this.running;
    if (startedHere) this.start();
    let timer: NodeJS.Timeout | undefined;
    let waiter: Waiter | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        waiter = { targets, resolve, reject };
        this.waiters.add(waiter);
        if (options.timeoutMs !== undefined) {
          timer = setTimeout(() => {
            const left = [...targets].map(([id, seq]) => `${id} to ${seq}`).join(', ');
            reject(new Error(`outbox flush timed out after ${options.timeoutMs} ms; waiting for ${left}`));
          }, options.timeoutMs);
        }
        this.poke(0);
      });
    } finally {
      clearTimeout(timer);
      if (waiter) this.waiters.delete(waiter);
      if (startedHere) await this.stop();
    }
  }

  status(): OutboxStatus {
    let pending = 0;
    if (!this.spool.isClosed) {
      const stats = this.spool.stats();
      pending = stats.pendingUpload + stats.buffered;
    }
    let soonest = Infinity;
    for (const b of this.backoffs.values()) soonest = Math.min(soonest, b.retryAt);
    return {
      running: this.running,
      pending,
      lastError: this.lastError,
      lastSyncAt: this.lastSyncAt,
      consecutiveFailures: this.consecutiveFailures,
      nextRetryAt: Number.isFinite(soonest) ? new Date(soonest).toISOString() : undefined,
      ...this.counts,
    };
  }

  // ------------------------------------------------------------------------------------------------

  private async run(): Promise<void> {
    while (this.running) {
      let progressed = false;
      try {
        progressed = await this.pass();
      } catch (error) {
        // The spool itself failed (closed, unreadable): nothing to sync from; try again later.
        this.lastError = {
          message: errorMessage(error),
          sessionId: '',
          at: new Date(this.now()).toISOString(),
        };
        if (this.spool.isClosed) {
          this.running = false;
          break;
        }
      }
      if (!this.running) break;
      if (progressed) continue;
      await this.sleep(this.nextDelay());
      if (this.running) await this.probe();
    }
    this.unsubscribe?.();
    for (const waiter of this.waiters)
      waiter.reject(new Error('the outbox stopped before the hub acknowledged'));
    this.waiters.clear();
  }

  /** One batch for each session that is due; true if anything was acknowledged. */
  private async pass(): Promise<boolean> {
    const sessions = this.spool.pendingSessions();
    this.settleWaiters(sessions);
    let progressed = false;
    for (const session of sessions) {
      if (!this.running) break;
      const backoff = this.backoffs.get(session.sessionId);
      if (backoff && backoff.retryAt > this.now()) continue;
      if (await this.send(session.sessionId)) progressed = true;
    }
    return progressed;
  }

  private async send(sessionId: string): Promise<boolean> {
    const events = withinBytes(
      this.spool.readPending(sessionId, this.batchSize),
      this.options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
    );
    if (events.length === 0) return false;
    let result: IngestResult;
    try {
      result = await abortable(this.abort!.signal, (signal) =>
        this.sink.ingest(sessionId, events, { signal }),
      );
    } catch (error) {
      if (!this.running) return false; // aborted by stop(): not the hub's failure
      const attempt = (this.backoffs.get(sessionId)?.attempt ?? 0) + 1;
      const delayMs = backoffDelay(attempt, this.options.backoff);
      this.backoffs.set(sessionId, { attempt, retryAt: this.now() + delayMs });
      this.consecutiveFailures++;
      this.lastError = { message: errorMessage(error), sessionId, at: new Date(this.now()).toISOString() };
      this.options.onError?.(error, { sessionId, attempt, delayMs });
      return false;
    }
    // Acknowledged: the hub holds every event of the batch (stored now, or before as a duplicate).
    const through = events[events.length - 1]!.seq;
    if (this.spool.isClosed) return false;
    this.counts.uploaded += this.spool.markUploaded(sessionId, through);
    this.counts.batches++;
    this.counts.duplicates += result.duplicates;
    this.counts.conflicts += result.conflicts;
    this.backoffs.delete(sessionId);
    const failures = this.consecutiveFailures;
    this.consecutiveFailures = 0;
    if (failures > 0) this.options.onRecovered?.({ failures });
    this.lastSyncAt = new Date(this.now()).toISOString();
    for (const waiter of this.waiters) {
      const target = waiter.targets.get(sessionId);
      if (target !== undefined && target <= through) waiter.targets.delete(sessionId);
      if (waiter.targets.size === 0) waiter.resolve();
    }
    return true;
  }

  /** Targets acknowledged elsewhere (another outbox on the same spool) no longer hold up a flush. */
  private settleWaiters(sessions: readonly PendingSession[]): void {
    if (this.waiters.size === 0) return;
    const acked = new Map(sessions.map((s) => [s.sessionId, s.ackedSeq]));
    for (const waiter of this.waiters) {
      for (const [sessionId, target] of waiter.targets) {
        if ((acked.get(sessionId) ?? Infinity) >= target) waiter.targets.delete(sessionId);
      }
      if (waiter.targets.size === 0) waiter.resolve();
    }
  }

  private nextDelay(): number {
    let delay = this.pollIntervalMs;
    const now = this.now();
    for (const b of this.backoffs.values()) delay = Math.min(delay, Math.max(0, b.retryAt - now));
    if (this.backoffs.size > 0 && this.sink.healthy) delay = Math.min(delay, this.probeIntervalMs);
    return delay;
  }

  /** While sessions back off: when the hub answers its health check, every one of them is due now. */
  private async probe(): Promise<void> {
    if (!this.sink.healthy || this.backoffs.size === 0) return;
    const now = this.now();
    if (now - this.lastProbeAt < this.probeIntervalMs) return;
    if ([...this.backoffs.values()].every((b) => b.retryAt <= now)) return;
    this.lastProbeAt = now;
    const timeout = AbortSignal.timeout(Math.max(PROBE_TIMEOUT_MS, this.probeIntervalMs));
    try {
      await abortable(AbortSignal.any([this.abort!.signal, timeout]), (signal) =>
        this.sink.healthy!({ signal }),
      );
    } catch {
      return; // still down: the backoffs stand
    }
    for (const backoff of this.backoffs.values()) backoff.retryAt = Math.min(backoff.retryAt, this.now());
  }

  private sleep(ms: number): Promise<void> {
    const delay = Math.min(ms, this.requested);
    this.requested = Infinity;
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      this.wakeAt = Infinity;
      this.poke(delay);
    });
  }

  /** Wakes the loop within `ms` (earlier wake-ups win). */
  private poke(ms: number): void {
    if (!this.wake) {
      this.requested = Math.min(this.requested, ms);
      return;
    }
    const at = this.now() + ms;
    if (at >= this.wakeAt) return;
    this.wakeAt = at;
    clearTimeout(this.wakeTimer);
    this.wakeTimer = setTimeout(() => {
      const wake = this.wake;
      this.wake = undefined;
      this.wakeTimer = undefined;
      this.wakeAt = Infinity;
      wake?.();
    }, ms);
  }
}

/**
 * Runs `call` with `signal`, rejecting as soon as the signal aborts: a sink that ignores the signal must not
 * hold up stop() (its late answer is dropped, and the batch goes again next time).
 */
function abortable<T>(signal: AbortSignal, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  let onAbort!: () => void;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([call(signal), aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
