/**
 * What keeping target passwords at the hub costs, as users run it (`delegation`):
 *
 * - Connection setup: node-postgres connecting (startup, SCRAM, ReadyForQuery) through a tunnel whose
 *   upstream sign-in the hub proves (the tunnel manager as `portcullis connect` builds it) against a tunnel
 *   holding the password itself, and PostgreSQL directly; and through the user's tunnel → a relay →
 *   PostgreSQL. Interleaved over BENCH_ROUNDS rounds. Target: delegated ≤ 5 ms more than a local password
 *   at the median, on loopback.
 * - pgbench -S -M prepared, 8 clients, through the relay against the local (delegated) tunnel alone.
 *
 * Everything is real and in one process except PostgreSQL and pgbench: the development IdP, the hub on
 * SQLite, the manager signed in as the demo agent by client credentials, the relay as its own agent.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { parseHubConfig } from '../hub/config/hub-config.ts';
import { DEMO_AGENT, startDevIdp, type DevAgent } from '../hub/dev-idp/index.ts';
import { startHub } from '../hub/server.ts';
import { createAuthority } from '../test/support/certs.ts';
import { freePort, startPostgres } from '../test/support/postgres.ts';
import { freeRange } from '../test/support/waiting.ts';
import { authenticatedHubClient } from '../tunnel/account/account.ts';
import { createHubClient } from '../tunnel/hub-client/index.ts';
import { clientCredentialsLogin } from '../tunnel/identity/index.ts';
import { PortRegistry } from '../tunnel/manager/port-registry.ts';
import { TunnelManager } from '../tunnel/manager/tunnel-manager.ts';
import { PostgresTunnel } from '../tunnel/postgres/tunnel.ts';
import { RecordingSpool } from '../tunnel/recorder/spool.ts';
import { startRelay } from '../tunnel/relay/index.ts';
import { agentToken } from '../test/support/hub-tokens.ts';
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

export async function benchDelegation(): Promise<void> {
  const closers: (() => Promise<unknown>)[] = [];
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-bench-delegation-'));
  try {
    const server = await startPostgres();
    closers.unshift(() => server.stop());
    const admin = await server.connect();
    await admin.query(`CREATE ROLE app_user LOGIN PASSWORD '${PASSWORD}'`);
    await admin.query('GRANT pg_read_all_data TO app_user');
    await admin.end();
    const direct: Endpoint = { name: 'direct', ...server };
    const pgbench = installed('pgbench');
    if (pgbench) await pgbenchInit(direct, 5);

    const authority = await createAuthority();
    const relayPort = await freePort();
    const idp = await startDevIdp({ audience: 'portcullis-hub', agents: [DEMO_AGENT, RELAY_AGENT] });
    closers.unshift(() => idp.close());
    const at = `address: '127.0.0.1:${server.port}', database: ${server.database}, tls: { sslmode: disable }`;
    const yaml = `identity: { issuer: '${idp.issuer}', audience: portcullis-hub }
relays: [relays]
delegation: { proofs_per_minute: 100000 }
targets:
  - { id: delegated-db, kind: postgres, ${at}, policy: observe, access: [agents],
      credentials: { user: app_user, password_env: APP_PASSWORD } }
  - { id: relayed-db, kind: postgres, ${at}, policy: observe, access: [agents],
      credentials: { user: app_user, password_env: APP_PASSWORD }, enforcement: relay,
      relay: { address: '127.0.0.1:${relayPort}', sslrootcert: ca.pem, sslservername: relay.bench } }
`;
    await writeFile(path.join(dir, 'ca.pem'), authority.cert);
    const hub = await startHub({
      config: parseHubConfig(yaml, path.join(dir, 'hub.yaml')),
      database: path.join(dir, 'hub.db'),
      env: { APP_PASSWORD: PASSWORD },
      logLevel: 'silent',
    });
    closers.unshift(() => hub.close());
    const relayToken = await agentToken(idp, RELAY_AGENT);
    const relay = await startRelay({
      hub: createHubClient({ url: hub.url, token: () => relayToken }),
      tls: await authority.sign('relay.bench', { dns: ['relay.bench'] }),
      host: '127.0.0.1',
      port: relayPort,
      spoolPath: path.join(dir, 'relay.db'),
    });
    closers.unshift(() => relay.stop());

    const tokens = await clientCredentialsLogin({
      issuer: idp.issuer,
      clientId: DEMO_AGENT.clientId,
      clientSecret: DEMO_AGENT.clientSecret,
      env: {},
    });
    const agentHub = authenticatedHubClient(hub.url, tokens);
    const spool = new RecordingSpool(path.join(dir, 'spool.db'));
    closers.unshift(() => spool.close());
    const manager = new TunnelManager({
      hub: agentHub,
      tokens,
      spool,
      ports: new PortRegistry(path.join(dir, 'ports.json'), await freeRange(4)),
      identity: await agentHub.me(),
    });
    closers.unshift(() => manager.closeAll());
    const delegated = await manager.open('delegated-db');
    const relayed = await manager.open('relayed-db');
    const local = new PostgresTunnel({
      upstream: {
        host: server.host,
        port: server.port,
        user: 'app_user',
        password: PASSWORD,
        database: server.database,
        sslmode: 'disable',
        allowCleartextPassword: false,
        connectTimeoutMs: 10_000,
      },
    });
    const localEndpoint = await local.listen();
    closers.unshift(() => local.close());

    const paths: Path[] = [
      { name: 'PostgreSQL directly', url: server.url({ sslmode: 'disable' }), times: [] },
      { name: 'tunnel, local password', url: localEndpoint.url, times: [] },
      { name: 'tunnel, delegated (hub proves)', url: delegated.endpoint.url, times: [] },
      { name: 'tunnel → relay → PostgreSQL', url: relayed.endpoint.url, times: [] },
    ];
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
      `\ndelegated adds ${extra.toFixed(2)} ms at the median (target ≤ ${TARGET_EXTRA_MS} ms): ${extra <= TARGET_EXTRA_MS ? 'met' : 'MISSED'}`,
    );

    if (!pgbench) {
      console.log('\npgbench is not installed: skipping pgbench -S through the relay');
      return;
    }
    const endpointOf = (name: string, url: string): Endpoint => {
      const u = new URL(url);
      return {
        name,
        host: u.hostname,
        port: Number(u.port),
        user: decodeURIComponent(u.username),
        password: decodeURIComponent(u.password),
        database: server.database,
      };
    };
    const runs: [string, number][] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, url] of [
        ['local tunnel', delegated.endpoint.url],
        ['local tunnel → relay', relayed.endpoint.url],
      ] as const) {
        runs.push([
          name,
          (await pgbenchSelectOnly(endpointOf(name, url), { mode: 'prepared', clients: 8 })).tps,
        ]);
      }
    }
    const tps = (name: string): number => median(runs.filter(([n]) => n === name).map(([, t]) => t));
    console.log(`\npgbench -S -M prepared, 8 clients, median of ${ROUNDS} (load ${loadAverage()})\n`);
    console.log(
      table(
        ['path', 'tps', 'ratio'],
        ['local tunnel', 'local tunnel → relay'].map((name) => [
          name,
          tps(name).toFixed(0),
          (tps(name) / tps('local tunnel')).toFixed(2),
        ]),
      ),
    );
  } finally {
    for (const close of closers) await close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

function loadAverage(): string {
  return loadavg()
    .map((n) => n.toFixed(1))
    .join(' ');
}
