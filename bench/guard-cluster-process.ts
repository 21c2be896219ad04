/**
 * The structural option issue 15 asks to measure: several guard processes behind one port with
 * node:cluster (Node 20 has no SO_REUSEPORT; the primary accepts and hands each connection to a worker
 * in turn). Each worker is wired as `portcullis guard postgres --policy guarded --record FILE` wires
 * itself, with one local secret for all (CLUSTER_SECRET) and a recording file of its own. An
 * experiment for bench/guard-cluster.ts, not a product feature: cancel requests, for one, would reach a
 * worker that does not know the session's cancel key.
 *
 * Environment: CLUSTER_UPSTREAM (libpq URI), CLUSTER_PORT, CLUSTER_WORKERS, CLUSTER_SECRET, CLUSTER_DIR.
 * The primary prints one JSON line, {"pids": [primary, ...workers]}, once every worker listens.
 */
import cluster from 'node:cluster';
import path from 'node:path';
import { loadClassifier } from '../tunnel/policy/classifier.ts';
import { PolicyEngine } from '../tunnel/policy/engine.ts';
import { presetPolicy } from '../tunnel/policy/policy.ts';
import { parseUpstreamUrl } from '../tunnel/postgres/connection-string.ts';
import { sharedSideConnection } from '../tunnel/postgres/side-connection.ts';
import { PostgresTunnel } from '../tunnel/postgres/tunnel.ts';
import { JsonLinesRecorder } from '../tunnel/recorder/jsonl-recorder.ts';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

async function worker(): Promise<void> {
  await loadClassifier();
  const upstream = parseUpstreamUrl(env('CLUSTER_UPSTREAM'));
  let connected = (): boolean => false;
  const side = sharedSideConnection(upstream, undefined, { inUse: () => connected() });
  const decisions = new PolicyEngine(presetPolicy('guarded'), { sideConnection: side.get });
  const recorder = JsonLinesRecorder.open(
    path.join(env('CLUSTER_DIR'), `worker-${cluster.worker!.id}.jsonl`),
  );
  const tunnel = new PostgresTunnel({
    upstream,
    host: '127.0.0.1',
    port: Number(env('CLUSTER_PORT')),
    decisions,
    recorder,
    secret: env('CLUSTER_SECRET'),
  });
  connected = () => tunnel.sessionCount > 0;
  await tunnel.listen();
  process.send!({ listening: process.pid });
  process.on('SIGTERM', () => void tunnel.close().then(() => (side.close(), process.exit(0))));
}

async function primary(): Promise<void> {
  const count = Number(env('CLUSTER_WORKERS'));
  const pids: number[] = [];
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve, reject) => {
          const forked = cluster.fork();
          forked.on('message', (message: { listening?: number }) => {
            if (message.listening) pids.push(message.listening);
            resolve();
          });
          forked.on('exit', (code) => reject(new Error(`a worker exited with ${code}`)));
        }),
    ),
  );
  process.stdout.write(JSON.stringify({ pids: [process.pid, ...pids] }) + '\n');
  process.on('SIGTERM', () => {
    for (const each of Object.values(cluster.workers ?? {})) each?.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 500).unref();
  });
}

await (cluster.isPrimary ? primary() : worker());
