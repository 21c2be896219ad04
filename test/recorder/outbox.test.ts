/**
 * Outbox unit tests. The sink here is an in-process stand-in for the hub's ingestion (a Map keyed by
 * (session, seq), idempotent like the hub) and exists ONLY for these unit tests; the end-to-end test of the
 * outbox against the real hub (HTTP, the typed hub client, the hub's RecordingService) lives with the CLI.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashMatches, verifyChain } from '../../hub/api/recording-chain.ts';
import type { IngestResult, RecordingEventInput } from '../../hub/api/types.ts';
import { backoffDelay, Outbox, type OutboxStatus, type RecordingSink } from '../../tunnel/recorder/outbox.ts';
import type { SessionEvent } from '../../tunnel/recorder/recording-point.ts';
import { RecordingSpool } from '../../tunnel/recorder/spool.ts';
import { until } from '../support/waiting.ts';

/** Stores events by (session, seq) the way the hub does: a resent event with the same hash is a duplicate. */
class HubStandIn implements RecordingSink {
  readonly stored = new Map<string, Map<number, RecordingEventInput>>();
  calls = 0;
  duplicates = 0;
  conflicts = 0;
  /** Events of calls that were stored but whose acknowledgement was "lost". */
  lostAcks = 0;
  /** Every call's (session, first seq, last seq). */
  readonly log: { sessionId: string; first: number; last: number }[] = [];
  /** Every 3rd call fails: alternately before storing (an outage) and after storing (a lost response). */
  failEvery = 3;
  /** Refuses a request body larger than this, as the hub does (recordingBodyLimit, 16 MiB). */
  maxRequestBytes = 16 * 1024 * 1024;
  tooLarge = 0;

  async ingest(sessionId: string, events: readonly RecordingEventInput[]): Promise<IngestResult> {
    this.calls++;
    await sleep(0);
    if (JSON.stringify({ events }).length > this.maxRequestBytes) {
      this.tooLarge++;
      throw new Error('413 the request body is too large');
    }
    this.log.push({ sessionId, first: events[0]!.seq, last: events.at(-1)!.seq });
    const failing = this.failEvery > 0 && this.calls % this.failEvery === 0;
    const afterStore = failing && (this.calls / this.failEvery) % 2 === 0;
    if (failing && !afterStore) throw new Error(`hub unavailable (call ${this.calls})`);
    const result = this.store(sessionId, events);
    if (afterStore) {
      this.lostAcks += events.length;
      throw new Error(`connection reset after the hub stored the batch (call ${this.calls})`);
    }
    return result;
  }

  store(sessionId: string, events: readonly RecordingEventInput[]): IngestResult {
    let session = this.stored.get(sessionId);
    if (!session) this.stored.set(sessionId, (session = new Map()));
    let stored = 0;
    let duplicates = 0;
    let conflicts = 0;
    for (const event of events) {
      expect(hashMatches(event as Parameters<typeof hashMatches>[0])).toBe(true);
      const known = session.get(event.seq);
      if (known === undefined) {
        session.set(event.seq, structuredClone(event));
        stored++;
      } else if (known.hash === event.hash) duplicates++;
      else conflicts++;
    }
    this.duplicates += duplicates;
    this.conflicts += conflicts;
    let lastSeq = 0;
    while (session.has(lastSeq + 1)) lastSeq++;
    return { stored, duplicates, conflicts, chainStatus: 'ok', lastSeq };
  }

  chain(sessionId: string): RecordingEventInput[] {
    return [...(this.stored.get(sessionId)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
  }

  total(): number {
    let n = 0;
    for (const s of this.stored.values()) n += s.size;
    return n;
  }
}

let dir: string;
const cleanups: (() => Promise<void>)[] = [];

function openSpool(name = 'spool.db'): RecordingSpool {
  const spool = new RecordingSpool(path.join(dir, name), { log: () => {} });
  cleanups.push(() => spool.close());
  return spool;
}

function outbox(...args: ConstructorParameters<typeof Outbox>): Outbox {
  const box = new Outbox(...args);
  cleanups.push(() => box.stop());
  return box;
}

const statement = (n: number): SessionEvent => ({
  type: 'statement',
  protocol: 'simple',
  sql: `select ${n}`,
  decision: 'allow',
});

function fill(spool: RecordingSpool, sessions: number, perSession: number, from = 0): void {
  for (let i = from; i < from + perSession; i++) {
    for (let s = 0; s < sessions; s++) spool.record(`session-${s}`, statement(i));
  }
}

const fast = { initialMs: 2, maxMs: 10 };

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'portcullis-outbox-'));
});

afterEach(async () => {
  // Outboxes stop before their spools close.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

describe('backoffDelay', () => {
  it('doubles its ceiling, jitters within [ceiling/2, ceiling) and caps', () => {
    const opts = { initialMs: 100, maxMs: 1000 };
    expect(backoffDelay(1, { ...opts, random: () => 0 })).toBe(50);
    expect(backoffDelay(1, { ...opts, random: () => 0.999 })).toBeCloseTo(99.95);
    expect(backoffDelay(3, { ...opts, random: () => 0 })).toBe(200);
    expect(backoffDelay(30, { ...opts, random: () => 0.5 })).toBe(750);
    for (let attempt = 1; attempt < 10; attempt++) {
      const lowNext = backoffDelay(attempt + 1, { ...opts, random: () => 0 });
      expect(backoffDelay(attempt, { ...opts, random: () => 0.999 })).toBeLessThanOrEqual(lowNext * 2);
      expect(backoffDelay(attempt, { ...opts, random: () => 0 })).toBeLessThanOrEqual(lowNext);
    }
  });
});

describe('Outbox', () => {
  it('uploads everything exactly once to a sink that fails every 3rd call', async () => {
    const spool = openSpool();
    const hub = new HubStandIn();
    const errors: string[] = [];
    const box = outbox(spool, hub, {
      batchSize: 100,
      backoff: fast,
      onError: (error) => errors.push((error as Error).message),
    });
    box.start();
    fill(spool, 5, 400);
    await sleep(5);
    fill(spool, 5, 234, 400); // more arrives while the outbox is syncing
    await box.flush({ timeoutMs: 20_000 });

    expect(hub.total()).toBe(5 * 634);
    for (let s = 0; s < 5; s++) {
      const chain = hub.chain(`session-${s}`);
      expect(chain.map((e) => e.seq)).toEqual(chain.map((_, i) => i + 1));
      expect(verifyChain(chain)).toEqual([]);
    }
    expect(hub.conflicts).toBe(0);
    expect(errors.length).toBeGreaterThan(5);
    // At-least-once, and only as much as needed: the only resent events are the ones whose ack was lost.
    expect(hub.lostAcks).toBeGreaterThan(0);
    expect(hub.duplicates).toBe(hub.lostAcks);

    // The spool's own bookkeeping: every event acknowledged once, nothing left.
    expect(spool.stats()).toMatchObject({ pendingUpload: 0, uploaded: 5 * 634 });
    const status = box.status();
    expect(status).toMatchObject({ running: true, pending: 0, uploaded: 5 * 634, consecutiveFailures: 0 });
    expect(status.lastError?.message).toMatch(/hub unavailable|connection reset/);
    expect(Date.parse(status.lastSyncAt!)).not.toBeNaN();
  });

  it('backs off with growing delays while the hub fails and resets after a success', async () => {
    const spool = openSpool();
    let failuresLeft = 5;
    const hub = new HubStandIn();
    hub.failEvery = 0;
    const sink: RecordingSink = {
      ingest: async (sessionId, events) => {
        if (failuresLeft > 0) {
          failuresLeft--;
          throw new Error('hub down');
        }
        return hub.store(sessionId, events);
      },
    };
    const seen: { attempt: number; delayMs: number }[] = [];
    const statuses: OutboxStatus[] = [];
    const box: Outbox = outbox(spool, sink, {
      backoff: { initialMs: 8, maxMs: 40, random: () => 0.5 },
      onError: (_e, info) => {
        seen.push(info);
        statuses.push(box.status());
      },
      onRecovered: (info) => recoveries.push(info.failures),
    });
    const recoveries: number[] = [];
    box.start();
    fill(spool, 1, 10);
    spool.flush();
    // flush() would retry a backing-off session at once; waiting on the status keeps the schedule visible.
    while (box.status().pending > 0) await sleep(5);
    expect(seen.map((s) => s.attempt)).toEqual([1, 2, 3, 4, 5]);
    expect(seen.map((s) => s.delayMs)).toEqual([6, 12, 24, 30, 30]);
    expect(statuses.map((s) => s.consecutiveFailures)).toEqual([1, 2, 3, 4, 5]);
    expect(statuses[1]).toMatchObject({
      lastError: { message: 'hub down', sessionId: 'session-0' },
      pending: 10,
    });
    expect(statuses.every((s) => s.nextRetryAt !== undefined)).toBe(true);
    expect(box.status()).toMatchObject({ consecutiveFailures: 0, nextRetryAt: undefined, uploaded: 10 });
    expect(recoveries).toEqual([5]);

    failuresLeft = 1;
    fill(spool, 1, 5, 10);
    await box.flush({ timeoutMs: 30_000 });
    expect(seen.at(-1)).toEqual({ sessionId: 'session-0', attempt: 1, delayMs: 6 });
    expect(verifyChain(hub.chain('session-0'))).toEqual([]);
    expect(hub.chain('session-0')).toHaveLength(15);
    expect(recoveries).toEqual([5, 1]);
  });

  it('delivers the backlog as soon as the hub answers its health check, long before the backoff', async () => {
    const spool = openSpool();
    const hub = new HubStandIn();
    hub.failEvery = 0;
    let down = true;
    let probes = 0;
    const sink: RecordingSink = {
      ingest: (sessionId, events) =>
        down ? Promise.reject(new Error('connection refused')) : hub.ingest(sessionId, events),
      healthy: async () => {
        probes++;
        if (down) throw new Error('connection refused');
      },
    };
    const backoffs: number[] = [];
    const box = outbox(spool, sink, {
      backoff: { initialMs: 20_000, maxMs: 20_000 },
      probeIntervalMs: 20,
      onError: (_error, info) => backoffs.push(info.delayMs),
    });
    fill(spool, 3, 50);
    box.start();
    await until('every session failing once', () => (backoffs.length >= 3 ? true : undefined));
    await until('a failed probe', () => (probes >= 2 ? true : undefined));
    expect(hub.total()).toBe(0);

    const backAt = Date.now();
    down = false;
    // Each session earned at least 10 s of backoff; the probe must beat every one of them.
    const soonestRetry = Math.min(...backoffs);
    await until(
      'the backlog at the hub',
      () => (box.status().pending === 0 ? true : undefined),
      soonestRetry,
    );
    expect(Date.now() - backAt).toBeLessThan(soonestRetry);
    expect(hub.total()).toBe(150);
    expect(hub.duplicates + hub.conflicts).toBe(0);
    for (let s = 0; s < 3; s++) expect(verifyChain(hub.chain(`session-${s}`))).toEqual([]);
  });

  it('probes only while sessions back off, and a hub that answers its health but refuses batches is not hammered', async () => {
    const spool = openSpool();
    const hub = new HubStandIn();
    hub.failEvery = 0;
    let refusing = false;
    let probes = 0;
    let ingests = 0;
    const sink: RecordingSink = {
      ingest: (sessionId, events) => {
        ingests++;
        return refusing ? Promise.reject(new Error('500 internal error')) : hub.ingest(sessionId, events);
      },
      healthy: async () => void probes++,
    };
    const box = outbox(spool, sink, { backoff: { initialMs: 60_000 }, probeIntervalMs: 50 });
    box.start();
    fill(spool, 1, 20);
    await box.flush({ timeoutMs: 30_000 });
    await sleep(200);
    expect(probes).toBe(0);

    refusing = true;
    ingests = 0;
    fill(spool, 1, 5, 20);
    await sleep(600);
    // About one retry per probe (12 in 600 ms), never a loop as fast as the hub can refuse.
    expect(ingests).toBeGreaterThan(1);
    expect(ingests).toBeLessThanOrEqual(14);
    expect(probes).toBeGreaterThanOrEqual(ingests - 1);
  });

  it('retries a session at least every 10 s by default, with or without a health check', () => {
    for (const attempt of [1, 5, 10, 50]) {
      expect(backoffDelay(attempt, { random: () => 0.999 })).toBeLessThan(10_000);
    }
    expect(backoffDelay(50, { random: () => 0 })).toBe(5000);
  });

  it('resolves flush only once the hub acknowledged, and rejects on timeout', async () => {
    const spool = openSpool();
    const hub = new HubStandIn();
    hub.failEvery = 0;
    let open!: () => void;
    let gate = new Promise<void>((resolve) => (open = resolve));
    const sink: RecordingSink = {
      ingest: async (sessionId, events) => {
        await gate;
        return hub.store(sessionId, events);
      },
    };
    const box = outbox(spool, sink, { batchSize: 50 });
    box.start();
    fill(spool, 2, 120);

    let flushed = false;
    const flushing = box.flush({ timeoutMs: 30_000 }).then(() => (flushed = true));
    await sleep(50);
    expect(flushed).toBe(false);
    expect(hub.total()).toBe(0);
    expect(box.status().pending).toBe(240);
    open();
    await flushing;
    expect(hub.total()).toBe(240);
    expect(box.status().pending).toBe(0);

    // Events recorded after flush() was called are not waited for; a hub that never answers times out.
    gate = new Promise<void>(() => {});
    fill(spool, 1, 3, 120);
    await expect(box.flush({ timeoutMs: 50 })).rejects.toThrow(/timed out.*session-0 to 123/);
    // Nothing pending: flush resolves at once, started or not.
    await box.stop();
    const idle = outbox(openSpool('other.db'), hub);
    await idle.flush();
  });

  it('flushes without start(), and the outbox keeps working after it', async () => {
    const spool = openSpool();
    const hub = new HubStandIn();
    hub.failEvery = 0;
    fill(spool, 3, 10);
    const box = outbox(spool, hub, { backoff: fast });
    await box.flush({ timeoutMs: 30_000 });
    expect(box.status().running).toBe(false);
    expect(hub.total()).toBe(30);
  });

  it('cuts batches of large statements to what the hub takes in one request, never wedging the session', async () => {
    const spool = openSpool();
    const hub = new HubStandIn();
    hub.failEvery = 0;
    // 20 statements of 1 MiB each (the largest the tunnel inspects): 20 MiB in one batch of 500.
    for (let i = 0; i < 20; i++) {
      spool.record('big', {
        type: 'statement',
        protocol: 'simple',
        sql: `select '${'x'.repeat(1 << 20)}'`,
        decision: 'allow',
      });
    }
    const box = outbox(spool, hub, { backoff: fast });
    await box.flush({ timeoutMs: 20_000 });
    expect(hub.tooLarge).toBe(0);
    expect(hub.chain('big').map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(hub.log.every(({ first, last }) => last - first + 1 <= 4)).toBe(true);
  });

  it('resumes on an existing spool without resending acknowledged events', async () => {
    const file = path.join(dir, 'resume.db');
    let spool = new RecordingSpool(file, { log: () => {} });
    const hub = new HubStandIn();
    hub.failEvery = 0;
    let box = new Outbox(spool, hub, { batchSize: 100 });
    fill(spool, 2, 300);
    await box.flush({ timeoutMs: 30_000 });
    expect(hub.total()).toBe(600);

    // The next upload reaches the hub, but the process "crashes" before the acknowledgement arrives.
    fill(spool, 2, 150, 300);
    let delivered = 0;
    const hanging: RecordingSink = {
      ingest: (sessionId, events, options) => {
        hub.store(sessionId, events);
        delivered += events.length;
        return new Promise((_resolve, reject) =>
          options?.signal?.addEventListener('abort', () => reject(options.signal!.reason)),
        );
      },
    };
    box = new Outbox(spool, hanging, { batchSize: 100 });
    box.start();
    while (delivered === 0) await sleep(2);
    await box.stop();
    expect(delivered).toBe(100);
    await spool.close();
    // Recorded while no outbox runs, before the restart.
    spool = new RecordingSpool(file, { log: () => {} });
    fill(spool, 2, 50, 450);
    expect(spool.stats().pendingUpload + spool.stats().buffered).toBe(400);

    hub.log.length = 0;
    const duplicatesBefore = hub.duplicates;
    box = new Outbox(spool, hub, { batchSize: 100 });
    box.start();
    await box.flush({ timeoutMs: 30_000 });
    await box.stop();
    await spool.close();

    // Only unacknowledged events went out again: the hanging batch (100) is the only duplicate.
    expect(Math.min(...hub.log.map((c) => c.first))).toBe(301);
    expect(hub.duplicates - duplicatesBefore).toBe(100);
    for (const s of ['session-0', 'session-1']) {
      const chain = hub.chain(s);
      expect(chain).toHaveLength(500);
      expect(verifyChain(chain)).toEqual([]);
    }
  });

  it('stops when its spool is closed', async () => {
    const spool = new RecordingSpool(path.join(dir, 'closing.db'), { log: () => {} });
    const hub = new HubStandIn();
    const box = new Outbox(spool, hub, { pollIntervalMs: 10 });
    box.start();
    await spool.close();
    await sleep(40);
    expect(box.status().running).toBe(false);
    await box.stop();
  });
});
