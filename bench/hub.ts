/**
 * Hub recording ingestion on SQLite: 100,000 chained events (20 sessions × 5,000) sent in batches of 500
 * through RecordingService.ingest (validation, idempotency lookup, hash verification, chain walk, insert,
 * session update, one transaction per batch). Baseline: the same rows inserted with one prepared
 * better-sqlite3 statement per batch transaction, no checks. Target: ≥ 20,000 events/s.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { chainHash, GENESIS_HASH } from '../hub/api/recording-chain.ts';
import type { Identity, RecordingEventInput } from '../hub/api/types.ts';
import { parseHubConfig } from '../hub/config/hub-config.ts';
import { openHubDatabase } from '../hub/db/database.ts';
import { createHubServices } from '../hub/services/index.ts';
import { table } from './tools.ts';

const SESSIONS = 20;
const EVENTS_PER_SESSION = 5_000;
const BATCH = 500;
const TARGET_PER_SECOND = 20_000;

function recording(): RecordingEventInput[] {
  const events: RecordingEventInput[] = [];
  let prev = GENESIS_HASH;
  const start = Date.UTC(2025, 2, 1, 9);
  for (let seq = 1; seq <= EVENTS_PER_SESSION; seq++) {
    const content = {
      seq,
      at: new Date(start + seq * 10).toISOString(),
      type: seq % 2 ? 'statement' : 'result',
      payload:
        seq % 2
          ? {
              protocol: 'extended',
              sql: `select id, email, created_at from customers where id = $1 /* ${seq} */`,
              decision: seq % 50 === 1 ? 'deny' : 'allow',
              classes: ['read'],
            }
          : { command: 'SELECT 1', rows: 1, maskedCells: 1, durationMs: 0.4 },
    };
    const hash = chainHash(prev, content);
    events.push({ ...content, prevHash: prev, hash });
    prev = hash;
  }
  return events;
}

export async function benchHubIngestion(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-bench-hub-'));
  try {
    const events = recording();
    const total = SESSIONS * EVENTS_PER_SESSION;
    const owner: Identity = { subject: 'bench', name: 'Bench', groups: ['engineering'], kind: 'person' };

    // Baseline: the bare inserts.
    const raw = new Database(path.join(dir, 'baseline.db'));
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    raw.exec(`create table session_events (session_id text not null, seq integer not null, at text not null,
      type text not null, payload text not null, prev_hash text not null, hash text not null, chain_ok integer,
      received_at text not null, primary key (session_id, seq))`);
    const insert = raw.prepare('insert into session_events values (?, ?, ?, ?, ?, ?, ?, 1, ?)');
    const insertBatch = raw.transaction((session: string, batch: RecordingEventInput[]) => {
      const now = new Date().toISOString();
      for (const e of batch)
        insert.run(session, e.seq, e.at, e.type, JSON.stringify(e.payload), e.prevHash, e.hash, now);
    });
    let started = performance.now();
    for (let offset = 0; offset < EVENTS_PER_SESSION; offset += BATCH) {
      for (let s = 0; s < SESSIONS; s++) insertBatch(`session-${s}`, events.slice(offset, offset + BATCH));
    }
    const baselineMs = performance.now() - started;
    raw.close();

    // The hub.
    const config = parseHubConfig(
      `identity: { issuer: http://127.0.0.1:4000, audience: hub }
targets:
  - { id: db, kind: postgres, address: 127.0.0.1:5432, database: app, credentials: { user: app, password_env: BENCH_PW }, access: [engineering] }
`,
      path.join(dir, 'hub.yaml'),
    );
    const database = await openHubDatabase(path.join(dir, 'hub.db'));
    const services = await createHubServices({ database, config, env: { BENCH_PW: 'x' } });
    try {
      const sessions: string[] = [];
      for (let s = 0; s < SESSIONS; s++)
        sessions.push((await services.sessions.openSession(owner, 'db')).sessionId);
      started = performance.now();
      for (let offset = 0; offset < EVENTS_PER_SESSION; offset += BATCH) {
        for (const session of sessions) {
          const result = await services.recordings.ingest(
            owner,
            session,
            events.slice(offset, offset + BATCH),
          );
          if (result.chainStatus !== 'ok' || result.stored !== BATCH) {
            throw new Error(`unexpected ingest result ${JSON.stringify(result)}`);
          }
        }
      }
      const hubMs = performance.now() - started;

      // A resend of everything (the outbox after a crash): all duplicates.
      started = performance.now();
      for (let offset = 0; offset < EVENTS_PER_SESSION; offset += BATCH) {
        for (const session of sessions) {
          await services.recordings.ingest(owner, session, events.slice(offset, offset + BATCH));
        }
      }
      const resendMs = performance.now() - started;

      const rate = (ms: number): number => Math.round(total / (ms / 1000));
      console.log(
        `\nhub ingestion on SQLite: ${total.toLocaleString('en')} events, ${SESSIONS} sessions, batches of ${BATCH}\n`,
      );
      console.log(
        table(
          ['path', 'ms', 'events/s', 'vs baseline'],
          [
            ['baseline: prepared inserts', baselineMs.toFixed(0), rate(baselineMs), '1.00×'],
            ['RecordingService.ingest', hubMs.toFixed(0), rate(hubMs), `${(hubMs / baselineMs).toFixed(2)}×`],
            [
              'resend (all duplicates)',
              resendMs.toFixed(0),
              rate(resendMs),
              `${(resendMs / baselineMs).toFixed(2)}×`,
            ],
          ],
        ),
      );
      const verdict = rate(hubMs) >= TARGET_PER_SECOND ? 'meets' : 'MISSES';
      console.log(`\n${verdict} the target of ${TARGET_PER_SECOND.toLocaleString('en')} events/s`);
    } finally {
      await services.close();
      await database.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
