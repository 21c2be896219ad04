/**
 * `enforcement: relay`, everything real: PostgreSQL with a small shop, the development IdP, a hub over
 * HTTP, a relay (its own agent identity, its own TLS certificate) and the user's tunnel manager. The user's
 * machine holds a session, an access token and a tunnel, and nothing of it reaches the database except
 * through the relay's policy: masking, blocking and holds happen at the relay, which records each
 * connection itself.
 */
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainHash, GENESIS_HASH } from '../../hub/api/recording-chain.ts';
import type { RecordedEvent } from '../../hub/api/types.ts';
import { parseHubConfig } from '../../hub/config/index.ts';
import { DEMO_AGENT, startDevIdp, type DevAgent, type DevIdp } from '../../hub/dev-idp/index.ts';
import { startHub, type RunningHub } from '../../hub/server.ts';
import { signInPerson, type Account } from '../../tunnel/account/account.ts';
import { portcullisHome } from '../../tunnel/account/home.ts';
import { createHubClient, HubError, type HubClient } from '../../tunnel/hub-client/index.ts';
import { PortRegistry } from '../../tunnel/manager/port-registry.ts';
import { TunnelManager } from '../../tunnel/manager/tunnel-manager.ts';
import { RecordingSpool } from '../../tunnel/recorder/spool.ts';
import { startRelay, type RunningRelay } from '../../tunnel/relay/index.ts';
import { demoUser, fakeBrowser } from '../identity/browser-driver.ts';
import { runCli, runCliToEnd } from '../support/guard-process.ts';
import { createAuthority } from '../support/certs.ts';
import { agentToken, signIn } from '../support/hub-tokens.ts';
import { freePort, startPostgres, type TestPostgres } from '../support/postgres.ts';
import { installed, run } from '../support/commands.ts';
import { rejectionOf } from '../support/rejection.ts';
import { freeRange, until } from '../support/waiting.ts';

const SECRETS = { APP_DB_PASSWORD: 'relay-app-secret' };
const RELAY_AGENT: DevAgent = {
  clientId: 'relay-eu-1',
  clientSecret: 'relay-eu-1-secret',
  name: 'Relay eu-1',
  groups: ['relays'],
};

const POLICY = `extends: guarded
approve: [{ class: write, table: payments }]
mask:
  - { column: customers.email, strategy: email }
`;

const SCHEMA = `
  CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL);
  CREATE TABLE payments (id int PRIMARY KEY, amount numeric NOT NULL);
  INSERT INTO customers VALUES (1, 'Ada Lovelace', 'ada@example.com');
  CREATE ROLE app_user LOGIN PASSWORD '${SECRETS.APP_DB_PASSWORD}';
  GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO app_user;
`;

const havePgbench = installed('pgbench');
if (!havePgbench) {
  console.warn(
    'skipping pgbench through the relay: pgbench is not installed (apt-get install postgresql-client)',
  );
}

let dir: string;
let postgres: TestPostgres;
let idp: DevIdp;
let hub: RunningHub;
let relay: RunningRelay;
let ca: string;
let relayPort: number;
let relayTls: { cert: string; key: string };
/** The hub as the relay's own identity sees it. */
let asRelay: HubClient;
let priya: Account;
const people: Record<string, HubClient> = {};
const clients: pg.Client[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'portcullis-relay-'));
  const authority = await createAuthority();
  ca = authority.cert;
  await writeFile(path.join(dir, 'relay-ca.pem'), ca);
  await writeFile(path.join(dir, 'policy.yaml'), POLICY);
  postgres = await startPostgres();
  const shop = new pg.Client({ connectionString: await postgres.createDatabase('shop') });
  await shop.connect();
  await shop.query(SCHEMA);
  await shop.end();
  if (havePgbench) {
    const shopUrl = postgres.url({ sslmode: 'disable' }).replace(/\/[^/?]*\?/, '/shop?');
    const init = await run('pgbench', ['-i', '-s', '1', '-q', shopUrl], { env: libpqEnv() });
    expect(init.code, init.stderr).toBe(0);
    const admin = new pg.Client({ connectionString: shopUrl });
    await admin.connect();
    await admin.query('GRANT SELECT ON ALL TABLES IN SCHEMA public TO app_user');
    await admin.end();
  }
  idp = await startDevIdp({ audience: 'portcullis-hub', agents: [DEMO_AGENT, RELAY_AGENT] });
  relayPort = await freePort();
  const yaml = `identity: { issuer: '${idp.issuer}', audience: portcullis-hub }
auditors: [auditors]
relays: [relays]
targets:
  - { id: admin-db, name: Admin, kind: postgres, address: '127.0.0.1:${postgres.port}', database: shop,
      tls: { sslmode: disable }, credentials: { user: app_user, password_env: APP_DB_PASSWORD },
      policy: policy.yaml, access: [engineering], approvers: [managers], enforcement: relay,
      relay: { address: '127.0.0.1:${relayPort}', sslrootcert: relay-ca.pem, sslservername: relay.test } }
  - { id: local-db, name: Local, kind: postgres, address: '127.0.0.1:${postgres.port}', database: shop,
      tls: { sslmode: disable }, credentials: { user: app_user, password_env: APP_DB_PASSWORD },
      policy: guarded, access: [engineering] }
`;
  hub = await startHub({
    config: parseHubConfig(yaml, path.join(dir, 'hub.yaml')),
    database: ':memory:',
    env: SECRETS,
    sweepIntervalMs: 60_000,
  });
  const relayToken = await agentToken(idp, RELAY_AGENT);
  asRelay = createHubClient({ url: hub.url, token: () => relayToken });
  relay = await startRelay({
    hub: asRelay,
    tls: (relayTls = await authority.sign('relay.test', { dns: ['relay.test'] })),
    host: '127.0.0.1',
    port: relayPort,
    spoolPath: path.join(dir, 'relay-spool.db'),
    revocationPollMs: 600_000,
  });
  for (const username of ['marcus', 'elena', 'tom']) {
    people[username] = createHubClient({
      url: hub.url,
      token: async () => (await signIn(idp, username)).accessToken,
    });
  }
  const home = await mkdtemp(path.join(dir, 'home-'));
  priya = await signInPerson({
    hubUrl: hub.url,
    paths: portcullisHome({ PORTCULLIS_HOME: home }),
    openBrowser: fakeBrowser(demoUser('priya')).openBrowser,
  });
}, 180_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  await relay?.stop();
  await hub?.close();
  await idp?.close();
  await postgres?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** libpq's environment, without whatever the developer's shell happens to set. */
function libpqEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
  return { ...env, PGCONNECT_TIMEOUT: '10', ...extra };
}

/** A client straight to the relay with what the user's machine holds: its session id and access token. */
async function straightToRelay(
  sessionId: string,
  token: string,
  ssl: pg.ClientConfig['ssl'] = true,
  port = relayPort,
) {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: sessionId,
    password: token,
    database: 'shop',
    ssl: ssl === true ? { ca, servername: 'relay.test' } : ssl,
  });
  client.on('error', () => {});
  clients.push(client);
  await client.connect();
  return client;
}

/** The relay's connections of a session, as an auditor reads them at the hub once delivered. */
async function relayedEvents(sessionId: string): Promise<RecordedEvent[][]> {
  await relay.syncNow(10_000);
  const tom = people.tom!;
  const children = (await tom.searchSessions({ subject: 'priya' })).filter((s) => s.parentId === sessionId);
  return Promise.all(children.map((child) => tom.sessionEvents(child.id)));
}

describe('a target enforced at a relay', () => {
  it('gives the user’s machine only the relay’s address, and no proof for the database', async () => {
    const opened = await priya.hub.openSession('admin-db');
    try {
      expect(opened.enforcement).toBe('relay');
      expect(opened.connection).toEqual({
        kind: 'relay',
        host: '127.0.0.1',
        port: relayPort,
        database: 'shop',
        tls: { sslmode: 'verify-full', sslrootcert: null, ca, sslservername: 'relay.test' },
      });
      const text = JSON.stringify(opened);
      expect(text).not.toContain(String(postgres.port));
      expect(text).not.toContain('app_user');
      expect(text).not.toContain(SECRETS.APP_DB_PASSWORD);
      const refused = await rejectionOf(
        priya.hub.prove(opened.sessionId, {
          method: 'postgres-scram-sha-256',
          connection: 1,
          clientFirst: 'n,,n=,r=abc',
          serverFirst: 'r=abcdef,s=c2FsdA==,i=4096',
        }),
        HubError,
      );
      expect(refused).toMatchObject({ status: 403, message: expect.stringMatching(/enforced at a relay/) });
    } finally {
      await priya.hub.closeSession(opened.sessionId);
    }
  });

  it('runs the policy at the relay for the user’s tunnel, and records there', async () => {
    const spool = new RecordingSpool(path.join(dir, 'user-spool.db'));
    const manager = new TunnelManager({
      hub: priya.hub,
      tokens: priya.tokens,
      spool,
      ports: new PortRegistry(path.join(dir, 'ports.json'), await freeRange(2)),
      identity: await priya.hub.me(),
      revocationPollMs: 600_000,
    });
    const tunnel = await manager.open('admin-db');
    try {
      const client = new pg.Client({ connectionString: tunnel.endpoint.url });
      clients.push(client);
      await client.connect();
      const { rows } = await client.query('SELECT name, email FROM customers');
      expect(rows).toEqual([{ name: 'Ada Lovelace', email: expect.not.stringContaining('ada@example.com') }]);
      const dropped = await rejectionOf(client.query('DROP TABLE payments'), Error);
      expect(dropped.message).toMatch(/Portcullis/);
      await client.end();
      const [events] = await until('the relay’s recording at the hub', async () => {
        const found = await relayedEvents(tunnel.sessionId);
        return found.some((e) => e.some((event) => event.type === 'relay.close')) ? found : undefined;
      });
      const types = events!.map((event) => event.type);
      expect(types[0]).toBe('relay.open');
      expect(types).toContain('session.start');
      expect(types.at(-1)).toBe('relay.close');
      const denied = events!.find(
        (e) => e.type === 'statement' && (e.payload as { decision?: string }).decision === 'deny',
      );
      expect(denied?.payload).toMatchObject({ sql: 'DROP TABLE payments' });
    } finally {
      await manager.closeAll();
      await spool.close();
    }
  });

  it('holds what the policy holds until a manager approves, at the relay', async () => {
    const opened = await priya.hub.openSession('admin-db');
    try {
      const client = await straightToRelay(opened.sessionId, await priya.tokens.getAccessToken());
      const insert = client.query('INSERT INTO payments VALUES (7, 10.00)');
      const elena = people.elena!;
      const held = await until('the hold at the hub', async () => (await elena.approvals('pending'))[0]);
      expect(held).toMatchObject({
        requester: { subject: 'priya' },
        sql: 'INSERT INTO payments VALUES (7, 10.00)',
      });
      expect((await people.tom!.session(held.sessionId)).parentId).toBe(opened.sessionId);
      await elena.decideApproval(held.id, { approve: true, comment: 'ok' });
      expect((await insert).rowCount).toBe(1);
    } finally {
      await priya.hub.closeSession(opened.sessionId);
    }
  });
});

describe('what the user’s machine holds', () => {
  it('still passes through the relay’s policy: a modified tunnel connecting by itself is masked and blocked', async () => {
    const opened = await priya.hub.openSession('admin-db');
    try {
      const client = await straightToRelay(opened.sessionId, await priya.tokens.getAccessToken());
      const { rows } = await client.query('SELECT email FROM customers');
      expect(rows[0].email).not.toBe('ada@example.com');
      const bound = await client.query({ text: 'SELECT email FROM customers WHERE id = $1', values: [1] });
      expect(bound.rows[0].email).not.toBe('ada@example.com');
      const named = { name: 'by-id', text: 'SELECT name FROM customers WHERE id = $1', values: [1] };
      expect((await client.query(named)).rows).toEqual([{ name: 'Ada Lovelace' }]);
      expect((await client.query(named)).rows).toEqual([{ name: 'Ada Lovelace' }]);
      await expect(client.query('DROP TABLE customers')).rejects.toThrow(/Portcullis/);
      await client.end();
    } finally {
      await priya.hub.closeSession(opened.sessionId);
    }
  });

  it('records a password literal redacted, and an oversized statement by its size and hash only', async () => {
    const opened = await priya.hub.openSession('admin-db');
    try {
      const client = await straightToRelay(opened.sessionId, await priya.tokens.getAccessToken());
      const password = 'relay-recorded-secret-7781';
      await expect(client.query(`ALTER ROLE app_user PASSWORD '${password}'`)).rejects.toThrow(/Portcullis/);
      const huge = `SELECT '${'x'.repeat(1024 * 1024 + 10)}'`;
      await expect(client.query(huge)).rejects.toMatchObject({ code: '54000' });
      await client.end();
      const events = await until('the relay’s recording at the hub', async () => {
        const found = (await relayedEvents(opened.sessionId)).flat();
        return found.some((event) => event.type === 'relay.close') ? found : undefined;
      });
      const statements = events
        .filter((event) => event.type === 'statement')
        .map((event) => (event.payload as { sql: string }).sql);
      expect(statements).toContainEqual(expect.stringMatching(/^ALTER ROLE app_user PASSWORD '\*+'$/));
      expect(statements).toContainEqual(
        expect.stringMatching(
          /^<statement of 1048595 bytes, above the 1048576 the tunnel inspects; sha256 [0-9a-f]{64}>$/,
        ),
      );
      expect(JSON.stringify(events)).not.toContain(password);
      expect(JSON.stringify(events).length).toBeLessThan(64 * 1024);
    } finally {
      await priya.hub.closeSession(opened.sessionId);
    }
  });

  it('opens nothing without TLS, with another person’s token, or with a token for a closed session', async () => {
    const opened = await priya.hub.openSession('admin-db');
    const token = await priya.tokens.getAccessToken();
    const plain = await rejectionOf(straightToRelay(opened.sessionId, token, false), Error);
    expect(plain.message).toMatch(/TLS only/);
    const marcus = (await signIn(idp, 'marcus')).accessToken;
    const someoneElse = await rejectionOf(straightToRelay(opened.sessionId, marcus), Error);
    expect(someoneElse).toMatchObject({
      code: '28000',
      message: expect.stringMatching(/not the token holder/),
    });
    const forged = await rejectionOf(straightToRelay(opened.sessionId, 'not-a-token'), Error);
    expect(forged).toMatchObject({ code: '28000', message: expect.stringMatching(/not valid/) });

    const open = await straightToRelay(opened.sessionId, token);
    const ended = new Promise<Error>((resolve) => open.once('error', resolve));
    await priya.hub.closeSession(opened.sessionId, 'done');
    await relay.server.checkRevocations();
    expect((await ended).message).toMatch(/was closed/);
    const after = await rejectionOf(straightToRelay(opened.sessionId, token), Error);
    expect(after.message).toMatch(/is closed/);
  });
});

describe('the hub', () => {
  it('admits relay connections for relay targets only, and keeps each connection’s recording the relay’s', async () => {
    const token = await priya.tokens.getAccessToken();
    const local = await priya.hub.openSession('local-db');
    const notRelayed = await rejectionOf(
      asRelay.admitRelayConnection({ sessionId: local.sessionId, accessToken: token }),
      HubError,
    );
    expect(notRelayed).toMatchObject({
      status: 403,
      message: expect.stringMatching(/not enforced at a relay/),
    });
    await priya.hub.closeSession(local.sessionId);

    const opened = await priya.hub.openSession('admin-db');
    try {
      const admitted = await asRelay.admitRelayConnection({
        sessionId: opened.sessionId,
        accessToken: token,
      });
      expect(admitted).toMatchObject({
        sessionId: opened.sessionId,
        owner: { subject: 'priya' },
        connection: { kind: 'postgres', port: postgres.port, user: 'app_user' },
      });
      expect(JSON.stringify(admitted)).not.toContain(SECRETS.APP_DB_PASSWORD);
      const child = admitted.connectionSessionId;
      expect((await priya.hub.session(child)).parentId).toBe(opened.sessionId);
      // The user's machine can neither write into nor end what the relay records.
      const content = {
        seq: 1,
        at: new Date().toISOString(),
        type: 'relay.close',
        payload: { reason: 'forged' },
      };
      const event = { ...content, prevHash: GENESIS_HASH, hash: chainHash(GENESIS_HASH, content) };
      const written = await rejectionOf(priya.hub.ingestRecording(child, [event]), HubError);
      expect(written.status).toBe(403);
      expect((await rejectionOf(priya.hub.closeSession(child), HubError)).status).toBe(403);

      await priya.hub.closeSession(opened.sessionId);
      expect(await asRelay.sessionsToClose()).toContainEqual(
        expect.objectContaining({ sessionId: child, reason: 'session-closed' }),
      );
      await asRelay.closeSession(child, 'the session was closed');
      expect(await asRelay.sessionsToClose()).not.toContainEqual(
        expect.objectContaining({ sessionId: child }),
      );
    } finally {
      await priya.hub.closeSession(opened.sessionId);
    }
  });
});

describe.skipIf(!havePgbench)('pgbench through the user’s tunnel and the relay', () => {
  it('runs select-only in simple, extended and prepared modes, and connecting per transaction, without failures', async () => {
    const spool = new RecordingSpool(path.join(dir, 'pgbench-spool.db'));
    const manager = new TunnelManager({
      hub: priya.hub,
      tokens: priya.tokens,
      spool,
      ports: new PortRegistry(path.join(dir, 'pgbench-ports.json'), await freeRange(2)),
      identity: await priya.hub.me(),
      revocationPollMs: 600_000,
    });
    const tunnel = await manager.open('admin-db');
    try {
      const { host, port, user, password } = tunnel.endpoint;
      const env = libpqEnv({ PGPASSWORD: password, PGSSLMODE: 'disable' });
      const target = ['-h', host, '-p', String(port), '-U', user, 'shop'];
      const runs = [
        ...['simple', 'extended', 'prepared'].map((mode) => ['-M', mode, '-c', '4', '-j', '2', '-t', '50']),
        ['-M', 'prepared', '-C', '-c', '2', '-t', '10'],
      ];
      for (const args of runs) {
        const { code, stdout, stderr } = await run('pgbench', ['-n', '-S', ...args, ...target], { env });
        expect(code, `${args.join(' ')}: ${stderr}`).toBe(0);
        const expected = Number(args[args.indexOf('-c') + 1]) * Number(args.at(-1));
        expect(stdout, args.join(' ')).toContain(
          `number of transactions actually processed: ${expected}/${expected}`,
        );
        expect(stdout, args.join(' ')).toMatch(/number of failed transactions: 0/);
      }
      // The relay's connections to one role share one catalog connection (and its one proof): each
      // opening its own had every connection wait for a second sign-in and a catalog read.
      const connections = (await people.tom!.searchSessions({ subject: 'priya' })).filter(
        (s) => s.parentId === tunnel.sessionId,
      );
      expect(connections.length).toBeGreaterThanOrEqual(4 * 3 + 2 * 10);
      const proofs = (await Promise.all(connections.map((c) => people.tom!.proofs(c.id)))).flat();
      expect(proofs.filter((p) => p.purpose === 'client')).toHaveLength(connections.length);
      expect(proofs.filter((p) => p.purpose === 'catalog').length).toBeLessThanOrEqual(2);
    } finally {
      await manager.closeAll();
      await spool.close();
    }
  }, 180_000);
});

describe('portcullis relay', () => {
  it('serves as an agent of the relays group: another instance admits the same session’s connections', async () => {
    await writeFile(path.join(dir, 'relay.crt'), relayTls.cert);
    await writeFile(path.join(dir, 'relay.key'), relayTls.key, { mode: 0o600 });
    const env = {
      ...process.env,
      PORTCULLIS_HOME: await mkdtemp(path.join(dir, 'relay-home-')),
      PORTCULLIS_CLIENT_ID: RELAY_AGENT.clientId,
      PORTCULLIS_CLIENT_SECRET: RELAY_AGENT.clientSecret,
    };
    const args = ['relay', '--hub', hub.url, '--tls-cert', path.join(dir, 'relay.crt')];
    const missingKey = await runCliToEnd([...args, '--tls-key', path.join(dir, 'nope.key')], env);
    expect(missingKey).toMatchObject({ code: 2, stderr: expect.stringMatching(/--tls-key: cannot read/) });

    const child = runCli([...args, '--tls-key', path.join(dir, 'relay.key'), '--listen', '127.0.0.1:0'], env);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit');
    try {
      const [line] = (await Promise.race([once(child.stdout!, 'data'), exited])) as [Buffer];
      expect(String(line), stderr).toMatch(/"event":"ready"/);
      const { listen } = JSON.parse(String(line)) as { listen: string };
      const port = Number(listen.split(':').at(-1));
      const opened = await priya.hub.openSession('admin-db');
      const client = await straightToRelay(opened.sessionId, await priya.tokens.getAccessToken(), true, port);
      const { rows } = await client.query('SELECT email FROM customers');
      expect(rows[0].email).not.toBe('ada@example.com');
      await client.end();
      await priya.hub.closeSession(opened.sessionId);
    } finally {
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      expect(code, stderr).toBe(0);
    }
  }, 180_000);
});
