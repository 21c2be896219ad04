/**
 * The tunnel's recorder.
 *
 * 1. Spool throughput: 100,000 events (20 sessions, statement/result alternating) through
 *    RecordingSpool.record — hash chaining, buffering, batched WAL transactions — and close(). Baseline in
 *    the same run: the same rows (hashes precomputed) inserted with one prepared better-sqlite3 statement in
 *    1000-row transactions into the same schema. Target: ≥ 50,000 events/s.
 * 2. Backlog sync to a real hub: the same 100,000-event backlog (a copy of the spool file) uploaded by the
 *    Outbox (batches of 500) over HTTP to a hub (startHub, SQLite, in a temp dir) whose sessions were
 *    opened with the agent's real token (client credentials at the development IdP, the account's
 *    authenticated hub client), timed from `flush()` until the hub acknowledged every event, then checked
 *    at the hub: every session's chain 'ok' and its lastSeq the number spooled. Target: ≤ 10 s. Baseline
 *    in the same run: the same backlog drained through the Outbox to an in-process sink that verifies every
 *    batch's chain against the previous one, so the ratio is the cost of HTTP, auth and the hub's ingest.
 *
 * The hub and the IdP run in this process, sharing its event loop with the outbox.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { chainHash, GENESIS_HASH, verifyChain } from '../hub/api/recording-chain.ts';
import type { IngestResult, RecordingEventInput } from '../hub/api/types.ts';
import { parseHubConfig } from '../hub/config/hub-config.ts';
import { DEMO_AGENT, startDevIdp, type DevIdp } from '../hub/dev-idp/index.ts';
import { startHub, type RunningHub } from '../hub/server.ts';
import { freePort } from '../test/support/postgres.ts';
import { authenticatedHubClient } from '../tunnel/account/account.ts';
import type { HubClient } from '../tunnel/hub-client/index.ts';
import { clientCredentialsLogin } from '../tunnel/identity/index.ts';
import { Outbox, type RecordingSink } from '../tunnel/recorder/outbox.ts';
import type { SessionEvent } from '../tunnel/recorder/recording-point.ts';
import { RecordingSpool } from '../tunnel/recorder/spool.ts';
import { table } from './tools.ts';

const SESSIONS = 20;
const TOTAL = 100_000;
const TARGET_PER_SECOND = 50_000;
const SYNC_TARGET_SECONDS = 10;
const BATCH = 500;
const AUDIENCE = 'portcullis-hub';

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

/** A hub with one target the demo agent may open sessions on, and the agent's authenticated client. */
interface BenchHub {
  hub: RunningHub;
  idp: DevIdp;
  client: HubClient;
  close(): Promise<void>;
}

async function startBenchHub(dir: string): Promise<BenchHub> {
  const idp = await startDevIdp({ audience: AUDIENCE });
  let hub: RunningHub | undefined;
  try {
    // Standing access for the agent; nothing connects to the address, so it is an unused port.
    const config = parseHubConfig(
      `identity: { issuer: ${idp.issuer}, audience: ${AUDIENCE} }
targets:
  - id: app-db
    kind: postgres
    address: 127.0.0.1:${await freePort()}
    database: app
    tls: { sslmode: disable }
    credentials: { user: app, password_env: BENCH_APP_PASSWORD }
    access: [agents]
`,
      path.join(dir, 'hub.yaml'),
    );
    hub = await startHub({ config, database: path.join(dir, 'hub.db'), env: { BENCH_APP_PASSWORD: 'x' } });
    const tokens = await clientCredentialsLogin({
      issuer: idp.issuer,
      clientId: DEMO_AGENT.clientId,
      clientSecret: DEMO_AGENT.clientSecret,
      env: {},
    });
    const running = hub;
    return {
      hub,
      idp,
      client: authenticatedHubClient(hub.url, tokens),
      async close() {
        await running.close();
        await idp.close();
      },
    };
  } catch (error) {
    await hub?.close();
    await idp.close();
    throw error;
  }
}

export async function benchRecorder(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-bench-recorder-'));
  let bench: BenchHub | undefined;
  try {
    // The hub only takes recordings of sessions it opened, so the spool records under the hub's ids.
    bench = await startBenchHub(dir);
    const hubClient = bench.client;
    const sessionIds: string[] = [];
    for (let s = 0; s < SESSIONS; s++) sessionIds.push((await hubClient.openSession('app-db')).sessionId);

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
      rows.push([sessionIds[s]!, seq, at, type, JSON.stringify(payload), head.hash, hash]);
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
    for (let i = 0; i < TOTAL; i++) spool.record(sessionIds[i % SESSIONS]!, events[i]!);
    await spool.close();
    const spoolMs = performance.now() - started;
    // close() checkpointed the WAL: the file alone is the backlog, once for each drain.
    const hubFile = path.join(dir, 'spool-for-hub.db');
    await copyFile(file, hubFile);

    // The backlog drained through the outbox to the in-process verifying sink.
    spool = new RecordingSpool(file);
    const sink = new VerifyingSink();
    let outbox = new Outbox(spool, sink, { batchSize: BATCH });
    started = performance.now();
    await outbox.flush();
    const drainMs = performance.now() - started;
    let left = spool.stats().pendingUpload;
    await spool.close();
    if (sink.received !== TOTAL || left !== 0) {
      throw new Error(`outbox drained ${sink.received} of ${TOTAL} events, ${left} left pending`);
    }

    // The same backlog synced to the hub over HTTP.
    spool = new RecordingSpool(hubFile);
    const failures: string[] = [];
    outbox = new Outbox(
      spool,
      { ingest: (id, batch, options) => hubClient.ingestRecording(id, batch, options) },
      { batchSize: BATCH, onError: (error) => failures.push((error as Error).message) },
    );
    started = performance.now();
    await outbox.flush({ timeoutMs: 120_000 });
    const syncMs = performance.now() - started;
    const status = outbox.status();
    left = spool.stats().pendingUpload;
    await spool.close();
    if (status.uploaded !== TOTAL || left !== 0 || failures.length > 0) {
      throw new Error(
        `hub acknowledged ${status.uploaded} of ${TOTAL} events, ${left} left pending; errors: ${failures.slice(0, 3).join('; ')}`,
      );
    }
    started = performance.now();
    for (const id of sessionIds) {
      const summary = await hubClient.session(id);
      const expected = TOTAL / SESSIONS;
      if (summary.chainStatus !== 'ok' || summary.lastSeq !== expected || summary.eventCount !== expected) {
        throw new Error(
          `hub session ${id}: chain ${summary.chainStatus}, lastSeq ${summary.lastSeq}, ${summary.eventCount} events; expected ok, ${expected}`,
        );
      }
    }
    const checkMs = performance.now() - started;

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
        ],
      ),
    );
    const verdict = perSecond(spoolMs) >= TARGET_PER_SECOND ? 'meets' : 'MISSES';
    console.log(`spool ${verdict} the target of ${TARGET_PER_SECOND.toLocaleString('en')} events/s`);

    console.log(
      `\nrecorder backlog sync: ${TOTAL.toLocaleString('en')} spooled events, ${SESSIONS} sessions, outbox batches of ${BATCH}`,
    );
    console.log(
      table(
        ['measurement', 'seconds', 'events/s', 'vs baseline'],
        [
          [
            'outbox → in-process verifying sink (baseline)',
            (drainMs / 1000).toFixed(3),
            perSecond(drainMs),
            '1.00',
          ],
          [
            `outbox → hub over HTTP (${status.batches} requests)`,
            (syncMs / 1000).toFixed(3),
            perSecond(syncMs),
            (syncMs / drainMs).toFixed(2),
          ],
        ],
      ),
    );
    console.log(
      `hub checked: ${SESSIONS} sessions, chain ok, lastSeq ${TOTAL / SESSIONS} each (${checkMs.toFixed(0)} ms)`,
    );
    const syncVerdict = syncMs / 1000 <= SYNC_TARGET_SECONDS ? 'meets' : 'MISSES';
    console.log(`backlog sync ${syncVerdict} the target of ≤ ${SYNC_TARGET_SECONDS} s`);
  } finally {
    await bench?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
