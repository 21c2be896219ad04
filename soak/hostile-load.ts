/**
 * `npm run soak load`: one guarded, recording `portcullis guard` process (started as a user starts it) under
 * well-behaved load and clients that misbehave on purpose, all at once, for SOAK_SECONDS (default 60):
 *
 * - SOAK_CLIENTS (default 300) node-postgres clients running a parameterised select in a loop, first
 *   straight against PostgreSQL (the baseline, SOAK_DIRECT_SECONDS, default 20) and then through the tunnel;
 * - protocol fuzzers: mutated frontend messages before and after sign-in, split at random byte boundaries;
 * - clients refused at sign-in that keep sending, slowloris connections that never finish a startup packet,
 *   a client announcing a 60 MiB message before signing in, and one sending 2 MiB statements;
 * - a canary that runs `select 1` every 200 ms: its worst latency is how long anything stalled the tunnel.
 *
 * Printed: the guard's resident memory and open descriptors over the run (peak, first and last quarter,
 * after the clients left), crashes, connections left hanging, errors, and the clients' p50/p99 through the
 * tunnel against direct, the RSS curve and its slope once warm; with SOAK_HEAP_DIR, what grew in the heap
 * between a snapshot a quarter in and one at the end. Not part of `npm test`: it measures, it does not
 * assert.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startGuard } from '../test/support/guard-process.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { loadAverage } from '../bench/process-stats.ts';
import { percentile, table } from '../bench/tools.ts';
import {
  emptyTally,
  fuzzAfterSignIn,
  fuzzBeforeSignIn,
  giantBeforeSignIn,
  oversizedStatements,
  slowloris,
  talkAfterRefusal,
  type Stop,
  type Tally,
} from './hostile-clients.ts';
import { seeded } from './mutations.ts';
import { heapSnapshots, printHeapGrowth, rssCurve, rssSlope, type HeapSnapshots } from './memory-watch.ts';
import { startSampler, trend } from './sampler.ts';

const SECONDS = Number(process.env['SOAK_SECONDS'] ?? 60);
const DIRECT_SECONDS = Number(process.env['SOAK_DIRECT_SECONDS'] ?? 20);
const CLIENTS = Number(process.env['SOAK_CLIENTS'] ?? 300);
const SEED = Number(process.env['SOAK_SEED'] ?? Date.now() % 1_000_000);
const AUTH_TIMEOUT_SECONDS = 5;

interface Load {
  latenciesMs: number[];
  errors: number;
  firstError?: string;
}

/**
 * CLIENTS connections, opened 20 at a time (a storm of sign-ins would meet --max-unauthenticated by
 * design), each then running the select in a loop until `stop`. Resolves `connected` once all are in.
 */
function runClients(url: string, stop: Stop): { connected: Promise<void>; done: Promise<Load> } {
  const load: Load = { latenciesMs: [], errors: 0 };
  let gate = Promise.resolve();
  const one = async (n: number): Promise<void> => {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => {});
    try {
      const turn = gate.then(() => client.connect());
      if (n % 20 === 19)
        gate = turn.then(
          () => {},
          () => {},
        );
      await turn;
      while (!stop.stopped) {
        const started = performance.now();
        await client.query('select id, name from soak_items where id = $1', [(n % 100) + 1]);
        load.latenciesMs.push(performance.now() - started);
      }
    } catch (error) {
      load.errors++;
      load.firstError ??= (error as Error).message;
    } finally {
      await client.end().catch(() => {});
    }
  };
  const all = Array.from({ length: CLIENTS }, (_, n) => one(n));
  return { connected: gate.then(() => undefined), done: Promise.all(all).then(() => load) };
}

export async function canary(url: string, stop: Stop): Promise<{ worstMs: number; errors: number }> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  const result = { worstMs: 0, errors: 0 };
  await client.connect();
  while (!stop.stopped) {
    const started = performance.now();
    try {
      await client.query('select 1');
    } catch {
      result.errors++;
    }
    result.worstMs = Math.max(result.worstMs, performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await client.end().catch(() => {});
  return result;
}

/**
 * Lets the load run for SECONDS; with heap snapshots, takes one a quarter in (warm) and one at the end.
 * Each stops the guard while V8 writes it: the canary's worst latency then includes that pause.
 */
async function runFor(
  pid: number,
  heap: HeapSnapshots | undefined,
): Promise<{ warm: string; late: string } | undefined> {
  const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  if (!heap) return void (await wait(SECONDS * 1000));
  const started = Date.now();
  await wait((SECONDS * 1000) / 4);
  const warm = await heap.take(pid);
  await wait(Math.max(0, SECONDS * 1000 - (Date.now() - started)));
  return { warm, late: await heap.take(pid) };
}

const mib = (n: number): string => n.toFixed(0);
const ms = (n: number): string => n.toFixed(1);

function tallyRow(name: string, t: Tally): (string | number)[] {
  const notes = Object.entries(t.notes)
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');
  return [name, t.connections, t.messages, t.closedByTunnel, t.leftOpen, t.errors, notes];
}

export async function runHostileLoad(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-soak-'));
  const server = await startPostgres({ settings: { max_connections: String(CLIENTS + 100) } });
  const setup = await server.connect();
  await setup.query(`CREATE TABLE soak_items (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO soak_items SELECT g, 'item ' || g FROM generate_series(1, 100) g`);
  await setup.end();

  const record = path.join(dir, 'soak.jsonl');
  const heapDir = process.env['SOAK_HEAP_DIR'];
  const heap = heapDir ? heapSnapshots(heapDir) : undefined;
  const guard = await startGuard(
    [
      '--policy',
      'guarded',
      '--record',
      record,
      '--max-connections',
      String(CLIENTS + 60),
      '--authentication-timeout',
      String(AUTH_TIMEOUT_SECONDS),
    ],
    {
      env: { ...process.env, PORTCULLIS_UPSTREAM: server.url({ sslmode: 'disable' }) },
      nodeArgs: heap?.nodeArgs ?? [],
    },
  );
  let crashed: string | undefined;
  guard.child.once('exit', (code, signal) => (crashed = `exited with ${code ?? signal}`));
  const port = Number(new URL(guard.ready.url).port);
  const credentials = { user: guard.ready.user, password: guard.ready.password };
  const random = seeded(SEED);
  console.log(
    `soak: ${CLIENTS} clients, ${SECONDS} s through the tunnel (${DIRECT_SECONDS} s direct first), seed ${SEED}, load ${loadAverage()}`,
  );

  try {
    const direct = await (async () => {
      const stop: Stop = { stopped: false };
      const running = runClients(server.url({ sslmode: 'disable' }), stop);
      await running.connected;
      await new Promise((resolve) => setTimeout(resolve, DIRECT_SECONDS * 1000));
      stop.stopped = true;
      return running.done;
    })();

    const sampler = startSampler(guard.child.pid!);
    const idle = sampler.now();
    const stop: Stop = { stopped: false };
    const tunneled = runClients(guard.ready.url, stop);
    await tunneled.connected;
    const tallies = {
      'fuzz before sign-in ×4': emptyTally(),
      'fuzz after sign-in ×4': emptyTally(),
      'refused, keeps sending ×2': emptyTally(),
      'slowloris ×20': emptyTally(),
      '60 MiB before sign-in': emptyTally(),
      '2 MiB statements': emptyTally(),
    };
    const t = Object.values(tallies);
    const hostile = Promise.all([
      ...[0, 1, 2, 3].map(() => fuzzBeforeSignIn(port, random, stop, t[0]!)),
      ...[0, 1, 2, 3].map(() => fuzzAfterSignIn(port, credentials, random, stop, t[1]!)),
      talkAfterRefusal(port, credentials.user, stop, t[2]!),
      talkAfterRefusal(port, credentials.user, stop, t[2]!),
      slowloris(port, 20, stop, t[3]!),
      giantBeforeSignIn(port, stop, t[4]!),
      oversizedStatements(port, credentials, stop, t[5]!),
    ]);
    const watching = canary(guard.ready.url, stop);
    const snapshots = await runFor(guard.child.pid!, heap);
    stop.stopped = true;
    const [load, worst] = await Promise.all([tunneled.done, watching, hostile]).then(
      ([l, w]) => [l, w] as const,
    );
    const during = [...sampler.samples];
    // Everyone has left; the slowest leftovers end with the sign-in timeout.
    await new Promise((resolve) => setTimeout(resolve, (AUTH_TIMEOUT_SECONDS + 5) * 1000));
    const after = sampler.now();
    sampler.stop();

    const rss = trend(during, 'rssMiB');
    const fds = trend(during, 'fds');
    console.log(`\nthe guard process (pid ${guard.child.pid}), sampled every second; load ${loadAverage()}`);
    console.log(
      table(
        ['', 'idle before', 'peak', 'first quarter', 'last quarter', '10 s after all left'],
        [
          ['RSS MiB', mib(idle.rssMiB), mib(rss.peak), mib(rss.early), mib(rss.late), mib(after.rssMiB)],
          ['open fds', idle.fds, fds.peak, fds.early.toFixed(0), fds.late.toFixed(0), after.fds],
        ],
      ),
    );
    const warm = during.filter((sample) => sample.atMs >= during.at(-1)!.atMs / 4);
    console.log(`RSS MiB over the run: ${rssCurve(during)}`);
    console.log(`RSS slope once warm (the last three quarters): ${rssSlope(warm).toFixed(2)} MiB/min`);
    if (snapshots) printHeapGrowth(snapshots.warm, snapshots.late);
    console.log(
      `crashed: ${crashed ?? 'no'}; canary worst select 1: ${ms(worst.worstMs)} ms (${worst.errors} errors)`,
    );
    console.log(
      table(
        ['hostile client', 'connections', 'messages', 'closed by tunnel', 'left open', 'errors', 'notes'],
        Object.entries(tallies).map(([name, tally]) => tallyRow(name, tally)),
      ),
    );
    console.log(
      table(
        ['well-behaved clients', 'queries', 'errors', 'p50 ms', 'p99 ms', '×direct p99'],
        [
          [
            'direct',
            direct.latenciesMs.length,
            direct.errors,
            ms(percentile(direct.latenciesMs, 50)),
            ms(percentile(direct.latenciesMs, 99)),
            '1.00',
          ],
          [
            'guarded + recording tunnel',
            load.latenciesMs.length,
            load.errors,
            ms(percentile(load.latenciesMs, 50)),
            ms(percentile(load.latenciesMs, 99)),
            (percentile(load.latenciesMs, 99) / percentile(direct.latenciesMs, 99)).toFixed(2),
          ],
        ],
      ),
    );
    if (load.firstError) console.log(`first client error: ${load.firstError}`);
    console.log(`recording: ${((await stat(record)).size / (1024 * 1024)).toFixed(1)} MiB of JSON lines`);
  } finally {
    if (!crashed) await guard.stop('SIGTERM');
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
