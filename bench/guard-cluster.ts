/**
 * Whether more guard processes behind one port (node:cluster) buy throughput on this machine: pgbench -S
 * with 8 clients through the guard CLI (one process), and through 1 and 2 cluster workers wired the same
 * way (bench/guard-cluster-process.ts), next to PgBouncer, interleaved in one run. CPU per transaction is
 * summed over every process of a path (the cluster's primary too).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, startPostgres } from '../test/support/postgres.ts';
import { startGuard, type GuardProcess } from '../test/support/guard-process.ts';
import { startPgbouncer, type Pgbouncer } from './pgbouncer.ts';
import {
  directEndpoint,
  pgbenchInit,
  pgbenchSelectOnly,
  SECONDS,
  tunnelEndpoint,
  type Endpoint,
} from './postgres-endpoints.ts';
import { cpuSeconds, loadAverage } from './process-stats.ts';
import { installed, median, table } from './tools.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const MODES = (process.env.BENCH_MODES ?? 'simple,extended,prepared').split(',');
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);

interface ClusterPath {
  name: string;
  endpoint: Endpoint;
  pids: number[];
  stop(): Promise<void>;
}

async function startCluster(
  workers: number,
  upstream: string,
  database: string,
  dir: string,
): Promise<ClusterPath> {
  const port = await freePort();
  const secret = randomBytes(18).toString('base64url');
  const child: ChildProcess = spawn(
    process.execPath,
    [...process.execArgv, path.join(import.meta.dirname, 'guard-cluster-process.ts')],
    {
      env: {
        ...process.env,
        CLUSTER_UPSTREAM: upstream,
        CLUSTER_PORT: String(port),
        CLUSTER_WORKERS: String(workers),
        CLUSTER_SECRET: secret,
        CLUSTER_DIR: dir,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the cluster of ${workers} exited with ${code}`)));
  });
  const { pids } = JSON.parse(line) as { pids: number[] };
  return {
    name: `cluster ×${workers}`,
    endpoint: {
      name: `cluster-${workers}`,
      host: '127.0.0.1',
      port,
      user: 'portcullis',
      password: secret,
      database,
    },
    pids,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function benchGuardCluster(): Promise<void> {
  console.log('\n## Guard cluster (structural option)\n');
  if (!installed('pgbench')) {
    console.log('pgbench is not installed (apt-get install postgresql-client): skipping');
    return;
  }
  const server = await startPostgres({ settings: { max_connections: '200' } });
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-cluster-'));
  const paths: ClusterPath[] = [];
  let bouncer: Pgbouncer | undefined;
  let guard: GuardProcess | undefined;
  try {
    const direct = directEndpoint(server);
    await pgbenchInit(direct, 5);
    const upstream = server.url({ sslmode: 'disable' });
    bouncer = await startPgbouncer(server);
    if (bouncer) {
      paths.push({
        name: 'pgbouncer',
        endpoint: bouncer.endpoint,
        pids: [bouncer.pid],
        stop: async () => {},
      });
    }
    guard = await startGuard(['--policy', 'guarded', '--record', path.join(dir, 'guard.jsonl')], {
      env: { ...process.env, PORTCULLIS_UPSTREAM: upstream },
    });
    paths.push({
      name: 'guard CLI',
      endpoint: { ...tunnelEndpoint(guard.ready, server.database), name: 'guard' },
      pids: [guard.child.pid!],
      stop: async () => {},
    });
    for (const workers of [1, 2]) paths.push(await startCluster(workers, upstream, server.database, dir));
    console.log(
      `pgbench -S, scale 5, ${CLIENTS} clients, -j 1, ${SECONDS} s per run, ${ROUNDS} rounds interleaved; ` +
        'guarded with recording; CPU summed over each path’s processes.',
    );
    for (const mode of MODES) await measureMode(paths, mode);
  } finally {
    for (const p of paths) await p.stop();
    await bouncer?.stop();
    await guard?.stop();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function measureMode(paths: ClusterPath[], mode: string): Promise<void> {
  const load = loadAverage();
  const runs = new Map(paths.map((p) => [p.name, { tps: [] as number[], cpu: 0, transactions: 0 }]));
  for (const p of paths) await pgbenchSelectOnly(p.endpoint, { mode, clients: CLIENTS, seconds: 1 });
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < paths.length; i++) {
      const p = paths[(i + round) % paths.length]!;
      const cpu = (): number => p.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
      const before = cpu();
      const result = await pgbenchSelectOnly(p.endpoint, { mode, clients: CLIENTS });
      const m = runs.get(p.name)!;
      m.tps.push(result.tps);
      m.transactions += result.transactions;
      m.cpu += cpu() - before;
    }
  }
  const bouncer = runs.get('pgbouncer');
  const single = runs.get('cluster ×1');
  console.log(`\n-M ${mode}, ${CLIENTS} clients — load ${load} before, ${loadAverage()} after\n`);
  console.log(
    table(
      ['path', 'tps', 'tps range', '×pgbouncer', '×cluster ×1', 'CPU s/1k tx'],
      paths.map((p) => {
        const m = runs.get(p.name)!;
        const tps = median(m.tps);
        const ratio = (base?: { tps: number[] }): string =>
          base ? (tps / median(base.tps)).toFixed(2) : 'n/a';
        return [
          p.name,
          tps.toFixed(0),
          `${Math.min(...m.tps).toFixed(0)}–${Math.max(...m.tps).toFixed(0)}`,
          ratio(bouncer),
          ratio(single),
          ((m.cpu / m.transactions) * 1000).toFixed(3),
        ];
      }),
    ),
  );
}
