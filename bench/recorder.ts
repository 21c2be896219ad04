/**
 * The tunnel's recorder.
 *
 * 1. Spool throughput: 100,000 events (20 sessions, statement/result alternating) through
 *    RecordingSpool.record — hash chaining, buffering, batched WAL transactions — and close(). Baseline in
 *    the same run: the same rows (hashes precomputed) inserted with one prepared better-sqlite3 statement in
 *    1000-row transactions into the same schema. Target: ≥ 50,000 events/s.
 * 2. Outbox drain: a 100,000-event backlog in the spool uploaded through the Outbox (batches of 500) to an
 *    in-process sink that verifies every batch's chain against the previous one. The number against the
 *    real hub (HTTP + RecordingService) comes with the CLI's end-to-end benchmark.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { chainHash, GENESIS_HASH, verifyChain } from '../hub/api/recording-chain.ts';
import type { IngestResult, RecordingEventInput } from '../hub/api/types.ts';
import { Outbox, type RecordingSink } from '../tunnel/recorder/outbox.ts';
import type { SessionEvent } from '../tunnel/recorder/recording-point.ts';
import { RecordingSpool } from '../tunnel/recorder/spool.ts';
import { table } from './tools.ts';

const SESSIONS = 20;
const TOTAL = 100_000;
const TARGET_PER_SECOND = 50_000;

function event(i: number): SessionEvent {
  return i % 2
    ? { type: 'result', command: 'SELECT 1', rows: 1, maskedCells: 1, durationMs: 0.4 }
    : {
        type: 'statement',
        protocol: 'extended',
        sql: `select id, email, created_at from customers where id = $1 /* ${i} */`,
        decision: i % 50 === 0 ? 'deny' : 'allow',
        classes: ['read'],
      };
}

/** Verifies every batch against the end of the previous one, as the hub would; stores nothing. */
class VerifyingSink implements RecordingSink {
  readonly heads = new Map<string, { seq: number; hash: string }>();
  received = 0;

  async ingest(sessionId: string, events: readonly RecordingEventInput[]): Promise<IngestResult> {
    const head = this.heads.get(sessionId) ?? { seq: 0, hash: GENESIS_HASH };
    const problems = verifyChain(events, head);
    if (problems.length > 0) throw new Error(`chain broken in ${sessionId}: ${JSON.stringify(problems[0])}`);
    const last = events[events.length - 1]!;
    this.heads.set(sessionId, { seq: last.seq, hash: last.hash });
    this.received += events.length;
    return { stored: events.length, duplicates: 0, conflicts: 0, chainStatus: 'ok', lastSeq: last.seq };
  }
}

export async function benchRecorder(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-bench-recorder-'));
  try {
    // Baseline: bare inserts of precomputed rows.
    const at = new Date().toISOString();
    const heads = Array.from({ length: SESSIONS }, () => ({ seq: 0, hash: GENESIS_HASH }));
    const rows: [string, number, string, string, string, string, string][] = [];
    for (let i = 0; i < TOTAL; i++) {
      const s = i % SESSIONS;
      const head = heads[s]!;
      const { type, ...payload } = event(i);
      const seq = head.seq + 1;
      const hash = chainHash(head.hash, { seq, at, type, payload });
      rows.push([`session-${s}`, seq, at, type, JSON.stringify(payload), head.hash, hash]);
      heads[s] = { seq, hash };
    }
    const raw = new Database(path.join(dir, 'baseline.db'));
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    raw.exec(`CREATE TABLE events (session_id TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL,
      type TEXT NOT NULL, payload TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
      PRIMARY KEY (session_id, seq)) WITHOUT ROWID`);
    const insert = raw.prepare('INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)');
    const insertBatch = raw.transaction((batch: typeof rows) => {
      for (const row of batch) insert.run(...row);
    });
    let started = performance.now();
    for (let i = 0; i < TOTAL; i += 1000) insertBatch(rows.slice(i, i + 1000));
    raw.close(); // checkpoints the WAL, as the spool's close() does
    const baselineMs = performance.now() - started;

    // The spool: everything record() does, as the proxy calls it, until close() has written it all.
    const events = Array.from({ length: TOTAL }, (_, i) => event(i));
    const file = path.join(dir, 'spool.db');
    let spool = new RecordingSpool(file);
    started = performance.now();
    for (let i = 0; i < TOTAL; i++) spool.record(`session-${i % SESSIONS}`, events[i]!);
    await spool.close();
    const spoolMs = performance.now() - started;

    // The same spool as a backlog, drained through the outbox.
    spool = new RecordingSpool(file);
    const sink = new VerifyingSink();
    const outbox = new Outbox(spool, sink, { batchSize: 500 });
    started = performance.now();
    await outbox.flush();
    const drainMs = performance.now() - started;
    const left = spool.stats().pendingUpload;
    await spool.close();
    if (sink.received !== TOTAL || left !== 0) {
      throw new Error(`outbox drained ${sink.received} of ${TOTAL} events, ${left} left pending`);
    }

    const perSecond = (ms: number): number => Math.round(TOTAL / (ms / 1000));
    console.log(`\nrecorder: ${TOTAL.toLocaleString('en')} events over ${SESSIONS} sessions`);
    console.log(
      table(
        ['measurement', 'seconds', 'events/s', 'vs baseline'],
        [
          [
            'raw better-sqlite3 inserts (baseline)',
            (baselineMs / 1000).toFixed(3),
            perSecond(baselineMs),
            '1.00',
          ],
          [
            'RecordingSpool.record + close',
            (spoolMs / 1000).toFixed(3),
            perSecond(spoolMs),
            (spoolMs / baselineMs).toFixed(2),
          ],
          ['outbox drain → verifying sink', (drainMs / 1000).toFixed(3), perSecond(drainMs), '—'],
        ],
      ),
    );
    const verdict = perSecond(spoolMs) >= TARGET_PER_SECOND ? 'meets' : 'MISSES';
    console.log(`spool ${verdict} the target of ${TARGET_PER_SECOND.toLocaleString('en')} events/s`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
