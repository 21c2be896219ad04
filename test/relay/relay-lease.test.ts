/**
 * A relay that dies (SIGKILL: no relay.close, no goodbye to the hub) leaves its connections' sessions
 * open at the hub only as long as their lease: a relay renews the lease of every connection it serves
 * with each poll, and the hub's sweep closes the connections whose lease ran out. Everything real: the
 * relay killed is `portcullis relay` in its own process; the one that lives is in this process.
 */
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHubConfig } from '../../hub/config/index.ts';
import { startDevIdp, type DevAgent, type DevIdp } from '../../hub/dev-idp/index.ts';
import { ManualClock } from '../../hub/services/index.ts';
import { RELAY_LEASE_SECONDS } from '../../hub/services/relays.ts';
import { startHub, type RunningHub } from '../../hub/server.ts';
import { createHubClient, type HubClient } from '../../tunnel/hub-client/index.ts';
import { startRelay, type RunningRelay } from '../../tunnel/relay/index.ts';
import { createAuthority } from '../support/certs.ts';
import { runCli } from '../support/guard-process.ts';
import { agentToken, signIn } from '../support/hub-tokens.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

const RELAY_AGENT: DevAgent = {
  clientId: 'relay-lease',
  clientSecret: 'relay-lease-secret',
  name: 'Relay (leases)',
  groups: ['relays'],
};

let dir: string;
let postgres: TestPostgres;
let idp: DevIdp;
let hub: RunningHub;
let relay: RunningRelay;
let ca: string;
let tls: { cert: string; key: string };
const clock = new ManualClock(new Date());
let priya: HubClient;
let priyaToken: string;
let asRelay: HubClient;
const clients: pg.Client[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'portcullis-relay-lease-'));
  const authority = await createAuthority();
  ca = authority.cert;
  tls = await authority.sign('relay.test', { dns: ['relay.test'] });
  await writeFile(path.join(dir, 'relay-ca.pem'), ca);
  postgres = await startPostgres();
  const admin = await postgres.connect();
  await admin.query(`CREATE ROLE app_user LOGIN PASSWORD 'relay-lease-secret-db'`);
  await admin.end();
  idp = await startDevIdp({ audience: 'portcullis-hub', agents: [RELAY_AGENT] });
  const yaml = `identity: { issuer: '${idp.issuer}', audience: portcullis-hub }
relays: [relays]
targets:
  - { id: admin-db, name: Admin, kind: postgres, address: '127.0.0.1:${postgres.port}',
      database: ${postgres.database}, tls: { sslmode: disable },
      credentials: { user: app_user, password_env: APP_DB_PASSWORD },
      policy: read-only, access: [engineering], enforcement: relay,
      relay: { address: '127.0.0.1:1', sslrootcert: relay-ca.pem, sslservername: relay.test } }
`;
  hub = await startHub({
    config: parseHubConfig(yaml, path.join(dir, 'hub.yaml')),
    database: ':memory:',
    env: { APP_DB_PASSWORD: 'relay-lease-secret-db' },
    clock,
    sweepIntervalMs: 600_000,
  });
  const relayToken = await agentToken(idp, RELAY_AGENT);
  asRelay = createHubClient({ url: hub.url, token: () => relayToken });
  relay = await startRelay({
    hub: asRelay,
    tls,
    host: '127.0.0.1',
    port: 0,
    spoolPath: path.join(dir, 'relay-spool.db'),
    revocationPollMs: 600_000,
  });
  priyaToken = (await signIn(idp, 'priya')).accessToken;
  priya = createHubClient({ url: hub.url, token: () => priyaToken });
}, 180_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  await relay?.stop();
  await hub?.close();
  await idp?.close();
  await postgres?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function throughRelay(sessionId: string, port: number): Promise<pg.Client> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: sessionId,
    password: priyaToken,
    database: postgres.database,
    ssl: { ca, servername: 'relay.test' },
  });
  client.on('error', () => {});
  clients.push(client);
  await client.connect();
  await client.query('SELECT 1');
  return client;
}

/** `portcullis relay` in a process of its own; resolves once it serves, with its port. */
async function relayProcess(): Promise<{ child: ReturnType<typeof runCli>; port: number; spool: string }> {
  await writeFile(path.join(dir, 'relay.crt'), tls.cert);
  await writeFile(path.join(dir, 'relay.key'), tls.key, { mode: 0o600 });
  const child = runCli(
    [
      'relay',
      '--hub',
      hub.url,
      '--tls-cert',
      path.join(dir, 'relay.crt'),
      '--tls-key',
      path.join(dir, 'relay.key'),
      '--listen',
      '127.0.0.1:0',
      '--spool',
      path.join(dir, 'killed-relay-spool.db'),
    ],
    {
      ...process.env,
      PORTCULLIS_HOME: await mkdtemp(path.join(dir, 'relay-home-')),
      PORTCULLIS_CLIENT_ID: RELAY_AGENT.clientId,
      PORTCULLIS_CLIENT_SECRET: RELAY_AGENT.clientSecret,
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const [line] = (await Promise.race([once(child.stdout!, 'data'), once(child, 'exit')])) as [Buffer];
  expect(String(line), stderr).toMatch(/"event":"ready"/);
  const { listen } = JSON.parse(String(line)) as { listen: string };
  return { child, port: Number(listen.split(':').at(-1)), spool: path.join(dir, 'killed-relay-spool.db') };
}

/** The connections (child sessions) relays serve for a session, as the hub has them. */
async function connectionsOf(sessionId: string) {
  const all = await priya.searchSessions({ subject: 'priya' });
  return all.filter((s) => s.parentId === sessionId);
}

describe('a relay that dies', () => {
  it('leaves its connections open at the hub only until their lease runs out; a live relay keeps its own', async () => {
    const opened = await priya.openSession('admin-db');
    const killed = await relayProcess();
    const orphaned = await throughRelay(opened.sessionId, killed.port);
    const served = await throughRelay(opened.sessionId, relay.port);
    const [first, second] = await connectionsOf(opened.sessionId);
    expect([first?.status, second?.status]).toEqual(['open', 'open']);

    const exited = once(killed.child, 'exit');
    killed.child.kill('SIGKILL');
    await exited;
    await expect(orphaned.query('SELECT 1')).rejects.toThrow();

    // Within the lease nothing closes: a relay may be restarting or briefly cut off from the hub.
    clock.advance((RELAY_LEASE_SECONDS - 5) * 1000);
    expect((await hub.services.sweep()).abandonedRelayConnections).toBe(0);
    // The live relay renews what it serves; the dead one cannot.
    await relay.server.renewLeases();
    clock.advance(10_000);
    expect((await hub.services.sweep()).abandonedRelayConnections).toBe(1);

    const after = await connectionsOf(opened.sessionId);
    const ended = after.find((s) => s.status === 'closed');
    expect(ended?.closeReason).toMatch(/^relay-lost: .*stopped renewing its lease/);
    expect(after.filter((s) => s.status === 'open')).toHaveLength(1);
    expect((await served.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    // The user's own session is untouched: it may open connections through a relay that lives.
    expect((await priya.session(opened.sessionId)).status).toBe('open');

    // A relay started again over the dead one's spool ends the orphaned connection in its recording.
    const successor = await startRelay({
      hub: asRelay,
      tls,
      host: '127.0.0.1',
      port: 0,
      spoolPath: killed.spool,
      revocationPollMs: 600_000,
    });
    try {
      expect(await successor.syncNow(30_000)).toBe(true);
      const recorded = await priya.sessionEvents(ended!.id);
      expect(recorded[0]).toMatchObject({
        type: 'relay.open',
        payload: { process: { pid: killed.child.pid } },
      });
      expect(recorded.at(-1)).toMatchObject({
        type: 'relay.abandoned',
        payload: {
          reason: `the relay process (pid ${killed.child.pid}) ended while serving this connection`,
          process: { pid: killed.child.pid },
        },
      });
      expect(recorded.every((event) => event.chainOk === true)).toBe(true);
    } finally {
      await successor.stop();
    }
    await priya.closeSession(opened.sessionId);
  }, 120_000);

  it('is told by a renewal which of its connections the hub has closed, and ends them', async () => {
    const opened = await priya.openSession('admin-db');
    const client = await throughRelay(opened.sessionId, relay.port);
    const [connection] = await connectionsOf(opened.sessionId);
    // As if its lease had run out while the relay was cut off from the hub.
    clock.advance((RELAY_LEASE_SECONDS + 1) * 1000);
    await hub.services.sweep();
    expect(
      await asRelay.renewRelayLeases({
        sessionIds: [connection!.id, '00000000-0000-0000-0000-000000000000'],
      }),
    ).toEqual({
      leaseSeconds: RELAY_LEASE_SECONDS,
      closed: [
        { sessionId: connection!.id, reason: expect.stringMatching(/^the hub closed it \(relay-lost/) },
        { sessionId: '00000000-0000-0000-0000-000000000000', reason: 'the hub knows no such connection' },
      ],
    });
    const ended = new Promise<Error>((resolve) => client.once('error', resolve));
    await relay.server.renewLeases();
    expect((await ended).message).toMatch(/the hub closed it/);
    await priya.closeSession(opened.sessionId);
  }, 60_000);
});
