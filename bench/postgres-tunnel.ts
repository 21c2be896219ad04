/**
 * The tunnel as a user runs it, against PostgreSQL itself and PgBouncer, in one run and interleaved.
 *
 * Each guard is the installed CLI (`portcullis guard postgres`, the compiled dist/cli) started the way
 * the README tells a user to: upstream in PORTCULLIS_UPSTREAM, `--record FILE` on, one process per
 * policy. pgbench runs with its defaults (-j 1) against every path in turn, the order rotated each
 * round, so that a machine whose load drifts treats every path alike.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPostgres, type TestPostgres } from '../test/support/postgres.ts';
import { startGuard, type GuardProcess } from '../test/support/guard-process.ts';
import { startPgbouncer, type Pgbouncer } from './pgbouncer.ts';
import { startNodePipe, type NodePipe } from './node-pipe.ts';
import {
  directEndpoint,
  pgbenchInit,
  pgbenchSelectOnly,
  SECONDS,
  streamMBps,
  tunnelEndpoint,
  type Endpoint,
  type PgbenchResult,
} from './postgres-endpoints.ts';
import { cpuSeconds, loadAverage, memory } from './process-stats.ts';
import { installed, median, percentile, table } from './tools.ts';
import { summariseCpuProfiles } from './cpu-profile.ts';
import { buildBaselineCli, type BaselineCli } from './baseline-cli.ts';

/** pgbench's scale: 500,000 accounts, as in the measurements users reported. */
const SCALE = 5;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Set to a directory to run every guard under `node --cpu-prof` and summarise the profiles. */
const CPU_PROFILE_DIR = process.env.BENCH_CPU_PROF;
/** Set to a git revision to run its build of the `guarded` guard beside this one (`guarded@REV`). */
const BASELINE = process.env.BENCH_BASELINE;

/** A place pgbench connects to, and the process whose CPU time is charged to it. */
interface Path {
  name: string;
  endpoint: Endpoint;
  pid?: number;
}

interface Scenario {
  mode: string;
  clients: number;
  connectEach: boolean;
}

const GUARDS = [
  { name: 'observe', policy: () => 'observe' },
  { name: 'guarded', policy: () => 'guarded' },
  { name: 'guarded+mask', policy: (dir: string) => path.join(dir, 'mask.yaml') },
];

/** Masks the column pgbench -S reads, so every row is rewritten, and looks for values in the rest. */
const MASK_POLICY = `extends: guarded
mask:
  - {column: pgbench_accounts.abalance, strategy: 'null'}
  - {column: pgbench_accounts.filler, strategy: redact}
detect: [card, email]
`;

/** BENCH_SCENARIOS=simple:8,prepared:1,simple:8:C picks some; all by default. */
function scenarios(): Scenario[] {
  const all: Scenario[] = [
    ...['simple', 'extended', 'prepared'].flatMap((mode) =>
      [1, 8].map((clients) => ({ mode, clients, connectEach: false })),
    ),
    { mode: 'simple', clients: 8, connectEach: true },
  ];
  const wanted = process.env.BENCH_SCENARIOS?.split(',');
  if (!wanted) return all;
  return wanted.map((spec) => {
    const [mode = 'simple', clients = '8', c] = spec.split(':');
    return { mode, clients: Number(clients), connectEach: c === 'C' };
  });
}

/** BENCH_PATHS=pgbouncer,guarded picks some paths; all by default. */
function wantedPath(name: string): boolean {
  const wanted = process.env.BENCH_PATHS?.split(',');
  return !wanted || wanted.includes(name);
}

interface Measured {
  runs: PgbenchResult[];
  cpu: number;
}

async function measureScenario(
  paths: Path[],
  scenario: Scenario,
  logDir: string,
): Promise<Map<string, Measured>> {
  const measured = new Map<string, Measured>(paths.map((p) => [p.name, { runs: [], cpu: 0 }]));
  const logLatencies = scenario.clients === 1 && !scenario.connectEach;
  // Not measured: first connections, the guards' catalog reads and V8's compilation of the hot path.
  for (const p of paths) await pgbenchSelectOnly(p.endpoint, { ...scenario, seconds: 1 });
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < paths.length; i++) {
      const p = paths[(i + round) % paths.length]!;
      const before = p.pid ? cpuSeconds(p.pid) : 0;
      const result = await pgbenchSelectOnly(p.endpoint, {
        ...scenario,
        ...(logLatencies ? { latencyLogDir: logDir } : {}),
      });
      const m = measured.get(p.name)!;
      m.runs.push(result);
      if (p.pid) m.cpu += cpuSeconds(p.pid) - before;
    }
  }
  return measured;
}

function scenarioTable(paths: Path[], measured: Map<string, Measured>): string {
  const tps = (name: string): number | undefined => {
    const runs = measured.get(name)?.runs;
    return runs ? median(runs.map((r) => r.tps)) : undefined;
  };
  const latencies = (name: string): number[] =>
    measured.get(name)?.runs.flatMap((r) => r.latenciesUs ?? []) ?? [];
  const direct = tps('direct');
  const bouncer = tps('pgbouncer');
  const directLatency = latencies('direct');
  const ratio = (value: number, base: number | undefined): string =>
    base ? (value / base).toFixed(2) : 'n/a';
  const rows = paths.map((p) => {
    const m = measured.get(p.name)!;
    const all = m.runs.map((r) => r.tps);
    const t = median(all);
    const transactions = m.runs.reduce((sum, r) => sum + r.transactions, 0);
    const own = latencies(p.name);
    const latency =
      own.length > 0
        ? [
            median(own).toFixed(0),
            percentile(own, 99).toFixed(0),
            directLatency.length > 0 ? `+${(median(own) - median(directLatency)).toFixed(0)}` : 'n/a',
            directLatency.length > 0
              ? `+${(percentile(own, 99) - percentile(directLatency, 99)).toFixed(0)}`
              : 'n/a',
          ]
        : ['', '', '', ''];
    return [
      p.name,
      t.toFixed(0),
      `${Math.min(...all).toFixed(0)}–${Math.max(...all).toFixed(0)}`,
      ratio(t, bouncer),
      ratio(t, direct),
      p.pid ? ((m.cpu / transactions) * 1000).toFixed(3) : '',
      ...latency,
    ];
  });
  return table(
    [
      'path',
      'tps',
      'tps range',
      '×pgbouncer',
      '×direct',
      'CPU s/1k tx',
      'p50 µs',
      'p99 µs',
      '+p50 µs',
      '+p99 µs',
    ],
    rows,
  );
}

async function startGuards(
  server: TestPostgres,
  dir: string,
  baseline: BaselineCli | undefined,
): Promise<{ name: string; guard: GuardProcess; record: string }[]> {
  await writeFile(path.join(dir, 'mask.yaml'), MASK_POLICY);
  const env = { ...process.env, PORTCULLIS_UPSTREAM: server.url({ sslmode: 'disable' }) };
  const nodeArgs = CPU_PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROFILE_DIR] : [];
  const wanted: { name: string; policy: (dir: string) => string; cli?: string }[] = GUARDS.filter((g) =>
    wantedPath(g.name),
  );
  if (baseline) wanted.push({ name: `guarded@${BASELINE}`, policy: () => 'guarded', cli: baseline.cli });
  const guards = [];
  for (const { name, policy, cli } of wanted) {
    const record = path.join(dir, `${name.replace(/[^\w@.-]/g, '_')}.jsonl`);
    const guard = await startGuard(['--policy', policy(dir), '--record', record], {
      env,
      nodeArgs: CPU_PROFILE_DIR ? [...nodeArgs, '--cpu-prof-name', `${name}.cpuprofile`] : [],
      ...(cli ? { cli } : {}),
    });
    guards.push({ name, guard, record });
  }
  return guards;
}

const MILLION_ROWS = "SELECT g, md5(g::text), repeat('x', 80) FROM generate_series(1, 1000000) g";

async function streamTable(direct: Endpoint, tunnel: Endpoint): Promise<string> {
  const sd = await streamMBps(direct, MILLION_ROWS);
  const st = await streamMBps(tunnel, MILLION_ROWS);
  return (
    `1M-row select (${(sd.bytes / 1e6).toFixed(0)} MB of protocol bytes) to a raw client, load ${loadAverage()}\n\n` +
    table(
      ['path', 'MB/s', 'ratio'],
      [
        ['direct', sd.mbps.toFixed(0), '1.00'],
        ['guarded', st.mbps.toFixed(0), (st.mbps / sd.mbps).toFixed(2)],
      ],
    )
  );
}

export async function benchPostgresTunnel(): Promise<void> {
  console.log('\n## Postgres tunnel\n');
  if (!installed('pgbench')) {
    console.log(
      'pgbench is not installed (apt-get install postgresql-client): skipping the Postgres tunnel suite',
    );
    return;
  }
  const server = await startPostgres({ settings: { max_connections: '200' } });
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-bench-'));
  let guards: Awaited<ReturnType<typeof startGuards>> = [];
  let bouncer: Pgbouncer | undefined;
  let pipe: NodePipe | undefined;
  let baseline: BaselineCli | undefined;
  try {
    const direct = directEndpoint(server);
    await pgbenchInit(direct, SCALE);
    baseline = BASELINE ? await buildBaselineCli(BASELINE) : undefined;
    guards = await startGuards(server, dir, baseline);
    bouncer = wantedPath('pgbouncer') ? await startPgbouncer(server) : undefined;
    pipe = wantedPath('node-pipe') ? await startNodePipe(server) : undefined;
    const paths: Path[] = [
      ...(wantedPath('direct') ? [{ name: 'direct', endpoint: direct }] : []),
      ...(bouncer ? [{ name: 'pgbouncer', endpoint: bouncer.endpoint, pid: bouncer.pid }] : []),
      ...(pipe ? [{ name: 'node-pipe', endpoint: pipe.endpoint, pid: pipe.pid }] : []),
      ...guards.map(({ name, guard }) => ({
        name,
        endpoint: { ...tunnelEndpoint(guard.ready, server.database), name },
        pid: guard.child.pid!,
      })),
    ];
    console.log(
      `pgbench -S, scale ${SCALE}, -j 1, ${SECONDS} s per run, ${ROUNDS} rounds interleaved (median tps). ` +
        'Guards: `portcullis guard postgres --record FILE`; node-pipe: a Node process that only pipes bytes ' +
        '(the floor of a proxy in Node). Goal at 8 clients: ×pgbouncer >= 1.00; one client: +p50 <= 50 µs.',
    );
    for (const scenario of scenarios()) {
      const load = loadAverage();
      const measured = await measureScenario(paths, scenario, dir);
      const name = `${scenario.connectEach ? '-C ' : ''}-M ${scenario.mode}, ${scenario.clients} client(s)`;
      console.log(`\n${name} — load ${load} before, ${loadAverage()} after\n`);
      console.log(scenarioTable(paths, measured));
    }
    const guarded = guards.find((g) => g.name === 'guarded');
    if (guarded && wantedPath('direct')) {
      console.log('\n' + (await streamTable(direct, tunnelEndpoint(guarded.guard.ready, server.database))));
    }
    console.log('\nGuard processes\n');
    const rows = [];
    for (const { name, guard, record } of guards) {
      const events = (await readFile(record, 'utf8')).split('\n').length - 1;
      const { peak } = memory(guard.child.pid!);
      rows.push([name, (peak / 1048576).toFixed(0), events]);
    }
    console.log(table(['guard', 'peak RSS MiB', 'events recorded'], rows));
  } finally {
    await bouncer?.stop();
    await pipe?.stop();
    for (const { guard } of guards) await guard.stop();
    await baseline?.remove();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
  if (CPU_PROFILE_DIR) console.log('\n' + (await summariseCpuProfiles(CPU_PROFILE_DIR)));
}
