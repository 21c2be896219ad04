import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { serialize } from 'pg-protocol';
import type { ReadyLine } from '../test/support/guard-process.ts';
import type { TestPostgres } from '../test/support/postgres.ts';
import { RawClient } from '../test/support/raw-client.ts';
import { run } from './tools.ts';

/** Somewhere a benchmark connects: the server itself, the tunnel, or a pooler. */
export interface Endpoint {
  name: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

export function directEndpoint(server: TestPostgres): Endpoint {
  const { host, port, user, password, database } = server;
  return { name: 'direct', host, port, user, password, database };
}

export function tunnelEndpoint(ready: ReadyLine, database: string): Endpoint {
  const [host, port] = ready.listen.split(':');
  return {
    name: 'tunnel',
    host: host!,
    port: Number(port),
    user: ready.user,
    password: ready.password,
    database,
  };
}

function pgbenchArgs(target: Endpoint): { target: string[]; env: NodeJS.ProcessEnv } {
  return {
    target: ['-h', target.host, '-p', String(target.port), '-U', target.user, target.database],
    env: { ...process.env, PGPASSWORD: target.password, PGSSLMODE: 'disable' },
  };
}

export async function pgbenchInit(target: Endpoint, scale: number): Promise<void> {
  const { target: args, env } = pgbenchArgs(target);
  const { code, stderr } = await run('pgbench', ['-i', '-s', String(scale), '-q', ...args], { env });
  if (code !== 0) throw new Error(`pgbench -i against ${target.name} failed: ${stderr}`);
}

export interface PgbenchRun {
  /** simple, extended or prepared (pgbench -M). */
  mode: string;
  clients: number;
  /** A new connection for every transaction (pgbench -C). */
  connectEach?: boolean;
  /** How long to run; SECONDS unless said otherwise. */
  seconds?: number;
  /** Log every transaction's latency (pgbench -l) into this directory and return them. */
  latencyLogDir?: string;
}

export interface PgbenchResult {
  tps: number;
  transactions: number;
  latencyMs: number;
  /** Each transaction's latency in µs, when the run logged them. */
  latenciesUs?: number[];
}

/**
 * pgbench -S (one primary-key SELECT per transaction) for SECONDS (or `spec.seconds`), with pgbench's default of one
 * thread (-j 1), as a user types it.
 */
export async function pgbenchSelectOnly(target: Endpoint, spec: PgbenchRun): Promise<PgbenchResult> {
  const { target: args, env } = pgbenchArgs(target);
  const logPrefix = spec.latencyLogDir ? path.join(spec.latencyLogDir, `${target.name}-${Date.now()}`) : '';
  const { code, stdout, stderr } = await run(
    'pgbench',
    [
      '-S',
      '-M',
      spec.mode,
      '-c',
      String(spec.clients),
      '-T',
      String(spec.seconds ?? SECONDS),
      '-n',
      ...(spec.connectEach ? ['-C'] : []),
      ...(logPrefix ? ['-l', `--log-prefix=${logPrefix}`] : []),
      ...args,
    ],
    { env },
  );
  if (code !== 0) throw new Error(`pgbench against ${target.name} failed: ${stderr}`);
  const result: PgbenchResult = {
    // pgbench prints no tps when no transaction finished in time (connecting took all of it, say).
    tps: Number(/tps = ([\d.]+)/.exec(stdout)?.[1] ?? 0),
    transactions: Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? 0),
    latencyMs: Number(/latency average = ([\d.]+) ms/.exec(stdout)?.[1] ?? NaN),
  };
  if (logPrefix) result.latenciesUs = await readLatencyLogs(logPrefix);
  return result;
}

/** pgbench -l writes PREFIX.PID (and .PID.N per extra thread): "client tx latency_us script epoch us". */
async function readLatencyLogs(prefix: string): Promise<number[]> {
  const dir = path.dirname(prefix);
  const base = path.basename(prefix) + '.';
  const latencies: number[] = [];
  for (const name of await readdir(dir)) {
    if (!name.startsWith(base)) continue;
    const file = path.join(dir, name);
    for (const line of (await readFile(file, 'utf8')).split('\n')) {
      const latency = Number(line.split(' ')[2]);
      if (line !== '' && Number.isFinite(latency)) latencies.push(latency);
    }
    await rm(file);
  }
  return latencies;
}

/** Streams a query's result to a raw client that discards it: MB/s of protocol bytes received. */
export async function streamMBps(target: Endpoint, sql: string): Promise<{ mbps: number; bytes: number }> {
  const raw = await RawClient.login(target.port, target.user, target.password, target.database);
  const t0 = performance.now();
  raw.write(serialize.query(sql));
  await raw.discardUntilReady();
  const seconds = (performance.now() - t0) / 1000;
  raw.end();
  return { mbps: raw.bytesReceived / 1e6 / seconds, bytes: raw.bytesReceived };
}
