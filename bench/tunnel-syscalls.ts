/**
 * System calls per transaction, counted rather than timed: pgbench -S for a fixed number of
 * transactions (-t) through PgBouncer, the node-pipe floor and the guard CLI (`--record` on), each
 * under `strace -c -f -p PID`. A guard that makes more socket writes per transaction than the pipe
 * does is paying for it in kernel time, whatever the load of the machine; this shows where.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPostgres } from '../test/support/postgres.ts';
import { startGuard, type GuardProcess } from '../test/support/guard-process.ts';
import { startPgbouncer, type Pgbouncer } from './pgbouncer.ts';
import { startNodePipe, type NodePipe } from './node-pipe.ts';
import { directEndpoint, pgbenchInit, tunnelEndpoint, type Endpoint } from './postgres-endpoints.ts';
import { cpuTimes, loadAverage } from './process-stats.ts';
import { installed, run, table } from './tools.ts';
import { buildBaselineCli, type BaselineCli } from './baseline-cli.ts';

/** Transactions per client: enough that connecting (SCRAM, the side connection) is lost in the count. */
const TRANSACTIONS = Number(process.env.BENCH_TRANSACTIONS ?? 2000);
/** Set to a git revision to count its build of the guard too (`guarded@REV`). */
const BASELINE = process.env.BENCH_BASELINE;
const KINDS = ['write', 'writev', 'sendto', 'read', 'recvfrom', 'epoll_wait', 'epoll_pwait', 'futex'];

interface Counted {
  path: string;
  transactions: number;
  calls: Map<string, number>;
  /** CPU µs per transaction in user space and in the kernel, from a run without strace. */
  cpu: { user: number; system: number };
}

interface Run {
  endpoint: Endpoint;
  pid: number;
  mode: string;
  clients: number;
}

/** pgbench -S -t TRANSACTIONS with `clients` clients through `endpoint`. */
async function pgbench({ endpoint, mode, clients }: Run): Promise<void> {
  const env = { ...process.env, PGPASSWORD: endpoint.password, PGSSLMODE: 'disable' };
  const args = ['-S', '-n', '-M', mode, '-c', String(clients), '-t', String(TRANSACTIONS)];
  const target = ['-h', endpoint.host, '-p', String(endpoint.port), '-U', endpoint.user, endpoint.database];
  const result = await run('pgbench', [...args, ...target], { env, timeoutMs: 600_000 });
  if (result.code !== 0) throw new Error(`pgbench through ${endpoint.name} failed: ${result.stderr}`);
}

/** The CPU the process spends per transaction, user and kernel apart, without strace slowing it. */
async function cpuPerTransaction(spec: Run): Promise<{ user: number; system: number }> {
  const before = cpuTimes(spec.pid);
  await pgbench(spec);
  const after = cpuTimes(spec.pid);
  const us = (seconds: number): number => (seconds * 1e6) / (spec.clients * TRANSACTIONS);
  return { user: us(after.user - before.user), system: us(after.system - before.system) };
}

/** Runs pgbench while strace counts the system calls of the process. */
async function countSyscalls(spec: Run, out: string): Promise<Map<string, number>> {
  const strace = spawn('strace', ['-c', '-f', '-p', String(spec.pid), '-o', out], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // strace says "Process N attached" on stderr once it is counting.
  await new Promise<void>((resolve, reject) => {
    strace.stderr!.on('data', (d: Buffer) => {
      if (d.toString().includes('attached')) resolve();
    });
    strace.once('exit', (code) => reject(new Error(`strace exited (${code}) before attaching`)));
  });
  const exited = once(strace, 'exit');
  try {
    await pgbench(spec);
  } finally {
    strace.kill('SIGINT');
    await exited;
  }
  return parseStraceSummary(await readFile(out, 'utf8'));
}

/** The `calls` column of strace -c's table, by system call. */
export function parseStraceSummary(text: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const line of text.split('\n')) {
    // % time, seconds, usecs/call, calls, [errors,] syscall
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || !/^[\d.]+$/.test(fields[0]!)) continue;
    const name = fields[fields.length - 1]!;
    if (name === 'total') continue;
    calls.set(name, Number(fields[3]));
  }
  return calls;
}

function countsTable(counted: Counted[]): string {
  const perTx = (c: Counted, n: number): string => (n / c.transactions).toFixed(2);
  const others = (c: Counted): string => {
    const rest = [...c.calls].filter(([name]) => !KINDS.includes(name)).sort((a, b) => b[1] - a[1]);
    const sum = rest.reduce((total, [, n]) => total + n, 0);
    const top = rest.slice(0, 3).map(([name, n]) => `${name} ${perTx(c, n)}`);
    return `${perTx(c, sum)} (${top.join(', ')})`;
  };
  const total = (c: Counted): string =>
    perTx(
      c,
      [...c.calls.values()].reduce((a, b) => a + b, 0),
    );
  return table(
    ['path', 'CPU µs/tx user', 'sys', ...KINDS, 'total', 'other (largest)'],
    counted.map((c) => [
      c.path,
      c.cpu.user.toFixed(1),
      c.cpu.system.toFixed(1),
      ...KINDS.map((k) => perTx(c, c.calls.get(k) ?? 0)),
      total(c),
      others(c),
    ]),
  );
}

export async function benchTunnelSyscalls(): Promise<void> {
  console.log('\n## System calls per transaction (strace -c)\n');
  for (const tool of ['pgbench', 'strace']) {
    if (!installed(tool)) {
      console.log(`${tool} is not installed: skipping the system-call count`);
      return;
    }
  }
  const server = await startPostgres({ settings: { max_connections: '200' } });
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-syscalls-'));
  let guard: GuardProcess | undefined;
  let bouncer: Pgbouncer | undefined;
  let pipe: NodePipe | undefined;
  let baseline: { cli: BaselineCli; guard?: GuardProcess } | undefined;
  try {
    await pgbenchInit(directEndpoint(server), 1);
    const env = { ...process.env, PORTCULLIS_UPSTREAM: server.url({ sslmode: 'disable' }) };
    guard = await startGuard(['--policy', 'guarded', '--record', path.join(dir, 'guarded.jsonl')], { env });
    if (BASELINE) {
      baseline = { cli: await buildBaselineCli(BASELINE) };
      baseline.guard = await startGuard(
        ['--policy', 'guarded', '--record', path.join(dir, 'baseline.jsonl')],
        {
          env,
          cli: baseline.cli.cli,
        },
      );
    }
    bouncer = await startPgbouncer(server);
    pipe = await startNodePipe(server);
    const paths: { endpoint: Endpoint; pid: number }[] = [
      ...(bouncer ? [{ endpoint: bouncer.endpoint, pid: bouncer.pid }] : []),
      { endpoint: pipe.endpoint, pid: pipe.pid },
      {
        endpoint: { ...tunnelEndpoint(guard.ready, server.database), name: 'guarded' },
        pid: guard.child.pid!,
      },
      ...(baseline?.guard
        ? [
            {
              endpoint: {
                ...tunnelEndpoint(baseline.guard.ready, server.database),
                name: `guarded@${BASELINE}`,
              },
              pid: baseline.guard.child.pid!,
            },
          ]
        : []),
    ];
    console.log(
      `pgbench -S -t ${TRANSACTIONS} per client; counts are per transaction, the process's threads included.`,
    );
    for (const mode of ['simple', 'extended', 'prepared']) {
      for (const clients of [1, 8]) {
        const load = loadAverage();
        const counted = [];
        for (const { endpoint, pid } of paths) {
          const spec = { endpoint, pid, mode, clients };
          const cpu = await cpuPerTransaction(spec);
          const calls = await countSyscalls(spec, path.join(dir, 'strace.txt'));
          counted.push({ path: endpoint.name, transactions: clients * TRANSACTIONS, calls, cpu });
        }
        console.log(`\n-M ${mode}, ${clients} client(s) — load ${load}\n`);
        console.log(countsTable(counted));
      }
    }
  } finally {
    await bouncer?.stop();
    await pipe?.stop();
    await guard?.stop();
    await baseline?.guard?.stop();
    await baseline?.cli.remove();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
