/**
 * The hub goes away while a guarded tunnel keeps recording, and comes back; then it is killed with SIGKILL
 * in the middle of ingesting the backlog, more than once. What the tunnel spooled must reach the hub
 * exactly once: every seq from 1 to the last, each with the hash the tunnel gave it, an intact chain, no
 * anomaly. Meanwhile the tunnel's memory must not grow with the backlog (it waits on disk, in the spool).
 *
 * One person's `portcullis connect` process serves a few node-postgres clients that run a select at a
 * steady pace, so that `events` recorded events fall inside the outage. The auditor checks the hub over HTTP.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { verifyChain, type ChainProblem } from '../hub/api/recording-chain.ts';
import type { RecordedEvent, RecordingAnomaly, SessionSummary } from '../hub/api/types.ts';
import type { HubClient } from '../tunnel/hub-client/index.ts';
import { until } from '../test/support/waiting.ts';
import { seeded } from './mutations.ts';
import type { ConnectProcess } from '../test/support/connected-world.ts';
import type { OutageWorld } from './outage-world.ts';
import { startSampler, trend, type Sample, type Sampler } from './sampler.ts';

export interface OutageOptions {
  /** Recorded events the tunnel spools while the hub is down. */
  events: number;
  outageMs: number;
  /** SIGKILLs of the hub while it ingests the backlog, once it is back. */
  kills: number;
  clients?: number;
  seed?: number;
  /** How long to wait for the backlog to arrive while the tunnel runs (the outbox backs off up to 60 s). */
  deliveryTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface OutageReport {
  sessionId: string;
  spooled: number;
  atHub: number;
  spooledDuringOutage: number;
  outageMs: number;
  /** The hub's verified prefix (lastSeq) when each SIGKILL landed. */
  killedAt: number[];
  /** From the hub's return until it held everything spooled by then (with the kills in between). */
  deliveredAfterMs: number;
  missing: number[];
  /** Seqs the hub listed more than once. */
  repeated: number[];
  /** Seqs whose hash at the hub differs from the tunnel's. */
  altered: number[];
  chainProblems: ChainProblem[];
  anomalies: RecordingAnomaly[];
  session: SessionSummary;
  tunnelExit: number | null;
  memory: { beforeOutage: Sample; outage: ReturnType<typeof trend>; endOfOutage: Sample; end: Sample };
  queries: number;
  queryErrors: number;
}

/** The tunnel's own record of the session, read from the spool in the person's home. */
function spooled(home: string, sessionId: string): { seq: number; hash: string }[] {
  const db = new Database(path.join(home, 'recordings.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT seq, hash FROM events WHERE session_id = ? ORDER BY seq').all(sessionId) as {
      seq: number;
      hash: string;
    }[];
  } finally {
    db.close();
  }
}

function spooledCount(home: string, sessionId: string): number {
  const db = new Database(path.join(home, 'recordings.db'), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT count(*) AS n FROM events WHERE session_id = ?').get(sessionId);
    return (row as { n: number }).n;
  } finally {
    db.close();
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Load {
  /** Lets the clients spool up to `n` events of the session in all. */
  allow(n: number): void;
  spooled(): number;
  stop(): Promise<{ queries: number; errors: number; firstError?: string }>;
}

/** Clients that run selects while fewer than the allowed events are spooled; the spool is read 4× a second. */
function pacedLoad(clients: pg.Client[], count: () => number): Load {
  let allowed = 0;
  let current = count();
  let stopped = false;
  const tally = { queries: 0, errors: 0, firstError: undefined as string | undefined };
  const reader = setInterval(() => (current = count()), 250);
  const run = async (client: pg.Client, n: number): Promise<void> => {
    while (!stopped) {
      if (current >= allowed) {
        await pause(25);
        continue;
      }
      try {
        await client.query('select id, name from items where id = $1', [(n % 100) + 1]);
        tally.queries++;
      } catch (error) {
        tally.errors++;
        tally.firstError ??= (error as Error).message;
        await pause(100);
      }
    }
  };
  const running = clients.map((client, n) => run(client, n));
  return {
    allow: (n) => void (allowed = n),
    spooled: () => current,
    async stop() {
      stopped = true;
      await Promise.all(running);
      clearInterval(reader);
      return tally;
    },
  };
}

/** Every event of the session at the hub, page by page. */
async function eventsAtHub(hub: HubClient, sessionId: string): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  for (;;) {
    const page = await hub.sessionEvents(sessionId, { afterSeq: all.at(-1)?.seq ?? 0, limit: 5000 });
    if (page.length === 0) return all;
    all.push(...page);
  }
}

/** Compares the hub's copy with the spool's, seq by seq. */
function compare(
  mine: { seq: number; hash: string }[],
  theirs: RecordedEvent[],
): Pick<OutageReport, 'missing' | 'repeated' | 'altered' | 'chainProblems'> {
  const byHub = new Map<number, string>();
  const repeated: number[] = [];
  for (const event of theirs) {
    if (byHub.has(event.seq)) repeated.push(event.seq);
    byHub.set(event.seq, event.hash);
  }
  const missing = mine.filter((e) => !byHub.has(e.seq)).map((e) => e.seq);
  const altered = mine.filter((e) => byHub.has(e.seq) && byHub.get(e.seq) !== e.hash).map((e) => e.seq);
  return { missing, repeated, altered, chainProblems: verifyChain(theirs) };
}

interface Running {
  world: OutageWorld;
  auditor: HubClient;
  sessionId: string;
  load: Load;
  sampler: Sampler;
  log: (line: string) => void;
}

/** Stops the hub for `outageMs` while the clients spool `events` at an even pace; starts it again. */
async function outage(
  run: Running,
  options: OutageOptions,
): Promise<{
  base: number;
  backlog: number;
  outageMs: number;
  memory: Pick<OutageReport['memory'], 'beforeOutage' | 'outage' | 'endOfOutage'>;
}> {
  const { load, sampler } = run;
  const beforeOutage = sampler.now();
  const base = load.spooled();
  await run.world.hub.stop('SIGTERM');
  const downAt = Date.now();
  const ratePerMs = options.events / options.outageMs;
  while (Date.now() - downAt < options.outageMs) {
    load.allow(base + Math.ceil((Date.now() - downAt) * ratePerMs));
    await pause(100);
  }
  load.allow(base + options.events);
  await until(
    'the events of the outage to be spooled',
    () => (load.spooled() >= base + options.events ? true : undefined),
    120_000,
  );
  const outageMs = Date.now() - downAt;
  const endOfOutage = sampler.now();
  const during = sampler.samples.filter((s) => s.atMs >= beforeOutage.atMs && s.atMs <= endOfOutage.atMs);
  const backlog = load.spooled();
  run.log(
    `hub down ${(outageMs / 1000).toFixed(1)} s; ${backlog - base} events spooled meanwhile, ${backlog} in all`,
  );
  await run.world.hub.restart();
  return { base, backlog, outageMs, memory: { beforeOutage, outage: trend(during, 'rssMiB'), endOfOutage } };
}

/** SIGKILLs the hub as it starts reading an ingest request, or a moment later: before, in or after its commit. */
async function killsMidIngest(run: Running, kills: number, random: () => number): Promise<number[]> {
  const killedAt: number[] = [];
  for (let k = 0; k < kills; k++) {
    const nth = 1 + Math.floor(random() * 3);
    await run.world.hub.nextRequest(/^\/v1\/sessions\/[^/]+\/recordings/, { nth });
    await pause(Math.floor(random() * 30));
    await run.world.hub.stop('SIGKILL');
    await run.world.hub.restart();
    killedAt.push((await run.auditor.session(run.sessionId)).lastSeq);
    run.log(`hub killed mid-ingest (${k + 1}/${kills}); its verified prefix ends at seq ${killedAt.at(-1)}`);
  }
  return killedAt;
}

const reaches = (run: Running, seq: number, what: string, timeoutMs: number): Promise<SessionSummary> =>
  until(
    what,
    async () => {
      const s = await run.auditor.session(run.sessionId);
      return s.lastSeq >= seq ? s : undefined;
    },
    timeoutMs,
  );

/** Stops the clients and the tunnel (SIGINT, as a person would), then holds the hub's copy against the spool's. */
async function finish(
  run: Running,
  home: string,
  tunnel: ConnectProcess,
  clients: pg.Client[],
): Promise<
  Omit<OutageReport, 'spooledDuringOutage' | 'outageMs' | 'killedAt' | 'deliveredAfterMs' | 'memory'> & {
    end: Sample;
  }
> {
  const tally = await run.load.stop();
  for (const client of clients) await client.end();
  const end = run.sampler.now();
  const tunnelExit = await tunnel.stop('SIGINT');
  const mine = spooled(home, run.sessionId);
  const session = await until('the session closed at the hub', async () => {
    const s = await run.auditor.session(run.sessionId);
    return s.status === 'closed' && s.lastSeq >= mine.length ? s : undefined;
  });
  const theirs = await eventsAtHub(run.auditor, run.sessionId);
  return {
    sessionId: run.sessionId,
    spooled: mine.length,
    atHub: theirs.length,
    ...compare(mine, theirs),
    anomalies: await run.auditor.sessionAnomalies(run.sessionId),
    session,
    tunnelExit,
    queries: tally.queries,
    queryErrors: tally.errors,
    end,
  };
}

export async function runHubOutage(world: OutageWorld, options: OutageOptions): Promise<OutageReport> {
  const log = options.log ?? (() => {});
  const person = await world.signIn('priya');
  const auditor = await world.signIn('tom');
  const tunnel = await world.connect(person.env);
  const home = person.env.PORTCULLIS_HOME!;
  const sessionId = tunnel.ready.session;
  const sampler = startSampler(tunnel.child.pid!, 500);
  const url = tunnel.ready.url;
  const clients = Array.from(
    { length: options.clients ?? 4 },
    () => new pg.Client({ connectionString: url }),
  );
  try {
    for (const client of clients) await client.connect();
    const load = pacedLoad(clients, () => spooledCount(home, sessionId));
    const run: Running = { world, auditor: auditor.hub, sessionId, load, sampler, log };
    load.allow(200);
    log(
      `warm: ${(await reaches(run, 150, 'the first events at the hub', 60_000)).lastSeq} events at the hub`,
    );
    const down = await outage(run, options);
    const backAt = Date.now();
    const killedAt = await killsMidIngest(run, options.kills, seeded(options.seed ?? 1));
    await reaches(run, down.backlog, 'the backlog at the hub', options.deliveryTimeoutMs ?? 180_000);
    const deliveredAfterMs = Date.now() - backAt;
    log(`the backlog reached the hub ${(deliveredAfterMs / 1000).toFixed(1)} s after it came back`);
    const { end, ...finished } = await finish(run, home, tunnel, clients);
    const { outageMs } = down;
    const spooledDuringOutage = down.backlog - down.base;
    const memory = { ...down.memory, end };
    return { ...finished, spooledDuringOutage, outageMs, killedAt, deliveredAfterMs, memory };
  } finally {
    sampler.stop();
    for (const client of clients) await client.end().catch(() => undefined);
    await tunnel.stop('SIGKILL');
  }
}
