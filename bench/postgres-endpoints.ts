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

/** pgbench -S for SECONDS: transactions per second and average latency. */
export async function pgbenchSelectOnly(
  target: Endpoint,
  mode: string,
  clients: number,
): Promise<{ tps: number; latencyMs: number }> {
  const { target: args, env } = pgbenchArgs(target);
  const jobs = String(Math.min(clients, 2));
  const { code, stdout, stderr } = await run(
    'pgbench',
    ['-S', '-M', mode, '-c', String(clients), '-j', jobs, '-T', String(SECONDS), '-n', ...args],
    { env },
  );
  if (code !== 0) throw new Error(`pgbench against ${target.name} failed: ${stderr}`);
  return {
    tps: Number(/tps = ([\d.]+)/.exec(stdout)?.[1]),
    latencyMs: Number(/latency average = ([\d.]+) ms/.exec(stdout)?.[1]),
  };
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
