/**
 * What keeping target passwords at the hub costs, as users run it (`delegation`), with each part in its own
 * process as deployed: the hub (`portcullis hub`, SQLite), the relay (`portcullis relay`), and here the
 * user's side — the tunnel engine `portcullis connect` runs (tunnels, spool, and the outbox that uploads the
 * recording), signed in as the demo agent by client credentials — plus the development IdP and pgbench.
 *
 * - Connection setup: node-postgres connecting (startup, SCRAM, ReadyForQuery), interleaved over
 *   BENCH_ROUNDS rounds, through: a bare tunnel holding the password; the same bare tunnel whose upstream
 *   sign-in the hub proves (the delegation alone, the target: ≤ 5 ms more at the median, on
 *   loopback); the engine's tunnel (delegation plus policy, recording and the sign-in checks of each
 *   connection); the engine's tunnel → the relay → PostgreSQL; and PostgreSQL directly.
 * - pgbench -S -M prepared, 8 clients: the engine's tunnel alone against tunnel → relay, same run.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { DEMO_AGENT, startDevIdp, type DevAgent } from '../hub/dev-idp/index.ts';
import buildCli from '../test/support/build-cli.ts';
import { createAuthority } from '../test/support/certs.ts';
import { runCli } from '../test/support/guard-process.ts';
import { startHubProcess } from '../test/support/hub-process.ts';
import { freePort, startPostgres } from '../test/support/postgres.ts';
import { freeRange } from '../test/support/waiting.ts';
import { authenticatedHubClient } from '../tunnel/account/account.ts';
import type { HubClient } from '../tunnel/hub-client/index.ts';
import { clientCredentialsLogin } from '../tunnel/identity/index.ts';
import { hubProver } from '../tunnel/manager/hub-prover.ts';
import { upstreamFromMaterial } from '../tunnel/manager/session-material.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../tunnel/postgres/tunnel.ts';
import { delegatedCredentials } from '../tunnel/postgres/upstream-credentials.ts';
import { startEngine } from '../tunnel/runtime/engine.ts';
import { cpuSeconds, loadAverage } from './process-stats.ts';
import { pgbenchInit, pgbenchSelectOnly, type Endpoint } from './postgres-endpoints.ts';
import { installed, median, percentile, table } from './tools.ts';

const CONNECTS = Number(process.env.BENCH_CONNECTS ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TARGET_EXTRA_MS = 5;
const PASSWORD = 'bench-app-secret';
const RELAY_AGENT: DevAgent = {
  clientId: 'bench-relay',
  clientSecret: 'bench-relay-secret',
  name: 'Bench relay',
  groups: ['relays'],
};

interface Path {
  name: string;
  url: string;
  times: number[];
}

async function connectOnce(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  const started = performance.now();
  await client.connect();
  const took = performance.now() - started;
  await client.end();
  return took;
}

type Closers = (() => Promise<unknown>)[];

/** The bench's world: PostgreSQL with pgbench's tables, the IdP, the hub and the relay in their processes. */
async function startWorld(dir: string, closers: Closers) {
  const server = await startPostgres();
  closers.unshift(() => server.stop());
  const admin = await server.connect();
  await admin.query(`CREATE ROLE app_user LOGIN PASSWORD '${PASSWORD}'`);
  await admin.query('GRANT pg_read_all_data TO app_user');
  await admin.end();
  const pgbench = installed('pgbench');
  if (pgbench) await pgbenchInit({ name: 'direct', ...server }, 5);

  const authority = await createAuthority();
  const relayPort = await freePort();
  const idp = await startDevIdp({ audience: 'portcullis-hub', agents: [DEMO_AGENT, RELAY_AGENT] });
  closers.unshift(() => idp.close());
  const at = `address: '127.0.0.1:${server.port}', database: ${server.database}, tls: { sslmode: disable }`;
  await writeFile(path.join(dir, 'ca.pem'), authority.cert);
  await writeFile(
    path.join(dir, 'hub.yaml'),
    `identity: { issuer: '${idp.issuer}', audience: portcullis-hub }
relays: [relays]
delegation: { proofs_per_minute: 100000 }
targets:
  - { id: delegated-db, kind: postgres, ${at}, policy: observe, access: [agents],
      credentials: { user: app_user, password_env: APP_PASSWORD } }
  - { id: relayed-db, kind: postgres, ${at}, policy: observe, access: [agents],
      credentials: { user: app_user, password_env: APP_PASSWORD }, enforcement: relay,
      relay: { address: '127.0.0.1:${relayPort}', sslrootcert: ${path.join(dir, 'ca.pem')}, sslservername: relay.bench } }
`,
  );
  const hub = await startHubProcess({
    config: path.join(dir, 'hub.yaml'),
    database: path.join(dir, 'hub.db'),
    listen: '127.0.0.1:0',
    env: { ...process.env, APP_PASSWORD: PASSWORD },
  });
  closers.unshift(() => hub.stop());
  const tls = await authority.sign('relay.bench', { dns: ['relay.bench'] });
  await writeFile(path.join(dir, 'relay.crt'), tls.cert);
  await writeFile(path.join(dir, 'relay.key'), tls.key, { mode: 0o600 });
  const relay = runCli(
    ['relay', '--hub', hub.url, '--tls-cert', path.join(dir, 'relay.crt'), '--tls-key']
      .concat([path.join(dir, 'relay.key'), '--listen', `127.0.0.1:${relayPort}`])
      .concat(['--spool', path.join(dir, 'relay-spool.db')]),
    {
      ...process.env,
      PORTCULLIS_HOME: path.join(dir, 'relay-home'),
      PORTCULLIS_CLIENT_ID: RELAY_AGENT.clientId,
      PORTCULLIS_CLIENT_SECRET: RELAY_AGENT.clientSecret,
    },
  );
  closers.unshift(async () => {
    if (relay.exitCode === null) relay.kill('SIGTERM');
    if (relay.exitCode === null) await once(relay, 'exit');
  });
  const [line] = (await Promise.race([once(relay.stdout!, 'data'), once(relay, 'exit')])) as [unknown];
  if (!String(line).includes('"event":"ready"')) throw new Error(`the relay did not start: ${String(line)}`);
  return { server, idp, hub, pgbench, relayPid: relay.pid! };
}

/** A tunnel of its own, without policy or recording: with the password, or with the hub proving. */
async function bareTunnel(
  server: { host: string; port: number; database: string },
  delegation: { hub: HubClient; targetId: string } | undefined,
): Promise<{ endpoint: TunnelEndpoint; close(): Promise<unknown> }> {
  let tunnel: PostgresTunnel;
  if (delegation) {
    const opened = await delegation.hub.openSession(delegation.targetId);
    let connections = 0;
    const prover = hubProver({
      hub: delegation.hub,
      sessionId: opened.sessionId,
      purpose: 'client',
      connection: () => ++connections,
    });
    tunnel = new PostgresTunnel({
      upstream: upstreamFromMaterial(opened),
      upstreamCredentials: () => delegatedCredentials(prover),
    });
  } else {
    tunnel = new PostgresTunnel({
      upstream: {
        ...{ host: server.host, port: server.port, database: server.database },
        ...{ user: 'app_user', password: PASSWORD, sslmode: 'disable', allowCleartextPassword: false },
        connectTimeoutMs: 10_000,
      },
    });
  }
  return { endpoint: await tunnel.listen(), close: () => tunnel.close() };
}

export async function benchDelegation(): Promise<void> {
  buildCli();
  const closers: Closers = [];
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-bench-delegation-'));
  try {
    const { server, idp, hub, pgbench, relayPid } = await startWorld(dir, closers);
    const tokens = await clientCredentialsLogin({
      issuer: idp.issuer,
      clientId: DEMO_AGENT.clientId,
      clientSecret: DEMO_AGENT.clientSecret,
      env: {},
    });
    const agentHub = authenticatedHubClient(hub.url, tokens);
    const engine = await startEngine({
      hub: agentHub,
      tokens,
      identity: await agentHub.me(),
      paths: { spool: path.join(dir, 'spool.db'), ports: path.join(dir, 'ports.json') },
      portRange: await freeRange(4),
    });
    closers.unshift(() => engine.stop({ flushTimeoutMs: 0 }));
    const delegated = await engine.open('delegated-db');
    const relayed = await engine.open('relayed-db');
    const local = await bareTunnel(server, undefined);
    closers.unshift(() => local.close());
    const proved = await bareTunnel(server, { hub: agentHub, targetId: 'delegated-db' });
    closers.unshift(() => proved.close());

    await compareConnects([
      { name: 'PostgreSQL directly', url: server.url({ sslmode: 'disable' }), times: [] },
      { name: 'bare tunnel, local password', url: local.endpoint.url, times: [] },
      { name: 'bare tunnel, delegated (hub proves)', url: proved.endpoint.url, times: [] },
      { name: 'portcullis connect tunnel (delegated)', url: delegated.endpoint.url, times: [] },
      { name: 'portcullis connect tunnel → relay', url: relayed.endpoint.url, times: [] },
    ]);
    if (!pgbench) {
      console.log('\npgbench is not installed: skipping pgbench -S through the relay');
      return;
    }
    const processes = { tunnel: process.pid, relay: relayPid, hub: hub.child.pid! };
    await comparePgbench(server.database, processes, [
      ['portcullis connect tunnel', delegated.endpoint.url],
      ['portcullis connect tunnel → relay', relayed.endpoint.url],
    ]);
  } finally {
    for (const close of closers) await close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

async function compareConnects(paths: Path[]): Promise<void> {
  for (const p of paths) for (let i = 0; i < 5; i++) await connectOnce(p.url); // warm up
  for (let round = 0; round < ROUNDS; round++) {
    for (const p of paths) for (let i = 0; i < CONNECTS; i++) p.times.push(await connectOnce(p.url));
  }
  const baseline = median(paths[1]!.times);
  console.log(
    `\nConnection setup (${ROUNDS}×${CONNECTS} connects each, interleaved; load ${loadAverage()})\n`,
  );
  console.log(
    table(
      ['path', 'p50 ms', 'p99 ms', 'extra vs local password (p50)'],
      paths.map((p) => [
        p.name,
        median(p.times).toFixed(2),
        percentile(p.times, 99).toFixed(2),
        `${(median(p.times) - baseline).toFixed(2)} ms`,
      ]),
    ),
  );
  const extra = median(paths[2]!.times) - baseline;
  console.log(
    `\ndelegation adds ${extra.toFixed(2)} ms at the median (target ≤ ${TARGET_EXTRA_MS} ms): ${extra <= TARGET_EXTRA_MS ? 'met' : 'MISSED'}`,
  );
}

/** pgbench through each path, with the CPU each process spent per transaction (ms). */
async function comparePgbench(
  database: string,
  processes: Record<string, number>,
  paths: [string, string][],
): Promise<void> {
  const endpointOf = (name: string, url: string): Endpoint => {
    const u = new URL(url);
    const [user, password] = [decodeURIComponent(u.username), decodeURIComponent(u.password)];
    return { name, host: u.hostname, port: Number(u.port), user, password, database };
  };
  const cpuNow = () => Object.values(processes).map(cpuSeconds);
  const runs: { name: string; tps: number; cpuMsPerTx: number[] }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, url] of paths) {
      const before = cpuNow();
      const run = await pgbenchSelectOnly(endpointOf(name, url), { mode: 'prepared', clients: 8 });
      const cpuMsPerTx = cpuNow().map((s, i) => ((s - before[i]!) * 1000) / Math.max(1, run.transactions));
      runs.push({ name, tps: run.tps, cpuMsPerTx });
    }
  }
  const of = (name: string) => runs.filter((r) => r.name === name);
  const tps = (name: string): number => median(of(name).map((r) => r.tps));
  const baseline = tps(paths[0]![0]);
  console.log(`\npgbench -S -M prepared, 8 clients, median of ${ROUNDS} (load ${loadAverage()})\n`);
  console.log(
    table(
      ['path', 'tps', 'ratio', ...Object.keys(processes).map((p) => `${p} CPU ms/tx`)],
      paths.map(([name]) => [
        name,
        tps(name).toFixed(0),
        (tps(name) / baseline).toFixed(2),
        ...Object.keys(processes).map((_, i) => median(of(name).map((r) => r.cpuMsPerTx[i]!)).toFixed(3)),
      ]),
    ),
  );
}
