/**
 * `npm run soak fuzz`: SOAK_FUZZ_MESSAGES (default 1,000,000) generated and mutated frontend messages —
 * startup packets, SSL/GSS/cancel requests and SASL before sign-in; simple, extended, COPY and
 * FunctionCall messages after — split at random byte boundaries, against one guarded `portcullis guard`
 * process, while a canary runs `select 1` every 200 ms. Prints the counts, the rate reached and the guard's
 * memory and descriptors over the run; exits 1 on a crash, a connection left hanging or a canary error.
 * SOAK_FUZZ_MAX_SECONDS (default 3600) ends a run that has not spent its budget by then.
 */
import { loadAverage } from '../bench/process-stats.ts';
import { table } from '../bench/tools.ts';
import { startGuard, type GuardProcess } from '../test/support/guard-process.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { startFuzz, type FuzzCounts, type RunningFuzz } from './fuzz.ts';
import { canary } from './hostile-load.ts';
import { startSampler, trend, type Sample } from './sampler.ts';

const AUTH_TIMEOUT_SECONDS = 5;
/** On a busy machine a million messages can take hours: stop there and report how far it got. */
const MAX_SECONDS = Number(process.env['SOAK_FUZZ_MAX_SECONDS'] ?? 3600);

async function startTunnel(): Promise<{ guard: GuardProcess; stop(): Promise<void> }> {
  const server = await startPostgres({ settings: { max_connections: '300' } });
  const setup = await server.connect();
  await setup.query(`CREATE TABLE soak_items (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO soak_items SELECT g, 'item ' || g FROM generate_series(1, 100) g`);
  await setup.end();
  const guard = await startGuard(
    [
      '--policy',
      'guarded',
      '--authentication-timeout',
      String(AUTH_TIMEOUT_SECONDS),
      '--max-connections',
      '200',
    ],
    { env: { ...process.env, PORTCULLIS_UPSTREAM: server.url({ sslmode: 'disable' }) } },
  );
  return {
    guard,
    async stop() {
      if (guard.child.exitCode === null && guard.child.signalCode === null) await guard.stop('SIGTERM');
      await server.stop();
    },
  };
}

/** A line every 15 s: how far, how fast, how big. */
function progress(fuzz: RunningFuzz, rss: () => number): NodeJS.Timeout {
  const started = Date.now();
  return setInterval(() => {
    const sent = fuzz.counts.messages;
    const rate = sent / ((Date.now() - started) / 1000);
    console.log(
      `  ${sent} messages, ${rate.toFixed(0)}/s, ${fuzz.counts.connections} connections, RSS ${rss().toFixed(0)} MiB, load ${loadAverage()}`,
    );
  }, 15_000);
}

function print(
  counts: FuzzCounts,
  seconds: number,
  memory: { idle: Sample; during: Sample[]; after: Sample },
): void {
  console.log(
    table(
      [
        'messages',
        'per second',
        'connections',
        'batches',
        'answered',
        'closed by tunnel',
        'closed on FIN',
        'hung',
        'refused connects',
      ],
      [
        [
          counts.messages,
          (counts.messages / seconds).toFixed(0),
          counts.connections,
          counts.batches,
          counts.answered,
          counts.closedByTunnel,
          counts.closedAfterFin,
          counts.hung,
          counts.refusedConnects,
        ],
      ],
    ),
  );
  const rss = trend(memory.during, 'rssMiB');
  const fds = trend(memory.during, 'fds');
  const f = (n: number): string => n.toFixed(0);
  console.log(
    table(
      [
        'guard',
        'idle before',
        'peak',
        'first quarter',
        'last quarter',
        `${AUTH_TIMEOUT_SECONDS + 5} s after`,
      ],
      [
        ['RSS MiB', f(memory.idle.rssMiB), f(rss.peak), f(rss.early), f(rss.late), f(memory.after.rssMiB)],
        ['open fds', memory.idle.fds, fds.peak, f(fds.early), f(fds.late), memory.after.fds],
      ],
    ),
  );
}

export async function runFuzzSoak(): Promise<boolean> {
  const messages = Number(process.env['SOAK_FUZZ_MESSAGES'] ?? 1_000_000);
  const seed = Number(process.env['SOAK_SEED'] ?? Date.now() % 1_000_000);
  const tunnel = await startTunnel();
  const { guard } = tunnel;
  let crashed: string | undefined;
  guard.child.once('exit', (code, signal) => (crashed = `exited with ${code ?? signal}`));
  console.log(`fuzz: ${messages} messages at pid ${guard.child.pid}, seed ${seed}, load ${loadAverage()}`);
  try {
    const sampler = startSampler(guard.child.pid!);
    const idle = sampler.now();
    const stop = { stopped: false };
    const watching = canary(guard.ready.url, stop);
    const started = Date.now();
    const fuzz = startFuzz({
      port: Number(guard.ready.listen.split(':')[1]),
      credentials: { user: guard.ready.user, password: guard.ready.password },
      messages,
      seed,
    });
    const ticker = progress(fuzz, () => sampler.samples.at(-1)?.rssMiB ?? 0);
    const cap = setTimeout(() => fuzz.stop(), MAX_SECONDS * 1000);
    const counts = await fuzz.done;
    clearInterval(ticker);
    clearTimeout(cap);
    const seconds = (Date.now() - started) / 1000;
    stop.stopped = true;
    const worst = await watching;
    const during = [...sampler.samples];
    await new Promise((resolve) => setTimeout(resolve, (AUTH_TIMEOUT_SECONDS + 5) * 1000));
    const after = sampler.now();
    sampler.stop();
    print(counts, seconds, { idle, during, after });
    console.log(
      `${seconds.toFixed(0)} s; crashed: ${crashed ?? 'no'}; canary worst select 1: ${worst.worstMs.toFixed(1)} ms (${worst.errors} errors); load ${loadAverage()}`,
    );
    for (const hang of fuzz.hangs)
      console.log(`hung ${hang.where}; its last batch began (base64) ${hang.lastBatch}`);
    return !crashed && counts.hung === 0 && worst.errors === 0;
  } finally {
    await tunnel.stop();
  }
}
