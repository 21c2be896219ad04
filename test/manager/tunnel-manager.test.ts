/**
 * The tunnel manager in-process, against everything real: PostgreSQL with the shop schema, the
 * development IdP, and the hub (connected-world.ts). People sign in through the real browser flow; the
 * manager is built directly on their account, a local recording spool and a port registry, and
 * node-postgres / postgres.js connect through the tunnels it opens.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AccessRequest, RecordingEventInput } from '../../hub/api/types.ts';
import type { Account } from '../../tunnel/account/account.ts';
import type { HubClient } from '../../tunnel/hub-client/index.ts';
import { PortRegistry } from '../../tunnel/manager/port-registry.ts';
import type { TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import {
  TargetUnavailableError,
  TunnelManager,
  type OpenTunnel,
  type TunnelClosed,
  type TunnelManagerOptions,
} from '../../tunnel/manager/tunnel-manager.ts';
import { TunnelCertificateStore } from '../../tunnel/manager/tunnel-certificates.ts';
import { loadClassifier } from '../../tunnel/policy/classifier.ts';
import { RecordingSpool, type RecordingSpoolOptions } from '../../tunnel/recorder/spool.ts';
import { startConnectedWorld, type ConnectedWorld } from '../support/connected-world.ts';
import { until, freeRange } from '../support/waiting.ts';

// ---------------------------------------------------------------------------------------------------
// Helpers

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * How long something the tunnel does in reaction (closing, running an approved statement) may take here:
 * a deadline for a loaded 2-core machine, not a speed target; what happens sooner ends the wait sooner.
 */
const REACTION_MS = 30_000;

async function within<T>(what: string, promise: Promise<T>, ms = REACTION_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether the promise has settled by now. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending');
  return (await Promise.race([promise, sleep(0).then(() => marker)])) !== marker;
}

/** A node-postgres client through a tunnel, with what the server said to it on the side. */
interface Client {
  pg: pg.Client;
  /** Errors the client emitted outside a query (a FATAL while idle, the connection dropping). */
  errors: Error[];
  notices: string[];
}

const clients: pg.Client[] = [];

async function connect(url: string): Promise<Client> {
  const client: Client = { pg: new pg.Client({ connectionString: url }), errors: [], notices: [] };
  client.pg.on('error', (error) => client.errors.push(error));
  client.pg.on('notice', (notice) => client.notices.push(notice.message ?? ''));
  clients.push(client.pg);
  await client.pg.connect();
  return client;
}

/** The first error a client was told outside a query: a FATAL while idle, say. */
const idleError = (client: Client): Promise<Error & { code?: string }> =>
  until('an error from the server', () => client.errors[0]);

async function endClients(): Promise<void> {
  await Promise.all(
    clients.splice(0).map((c) => Promise.race([c.end().catch(() => undefined), sleep(1000)])),
  );
}

type Event = RecordingEventInput & { payload: Record<string, unknown> };

/** Everything the spool holds for a session, in order. */
function spooled(spool: RecordingSpool, sessionId: string): Event[] {
  spool.flush();
  return spool.readSession(sessionId) as Event[];
}

/** The approval id a held statement's notice names. */
const heldRequest = (notices: string[]): string | undefined => {
  const notice = notices.find((n) => n.startsWith('waiting for approval: request '));
  return notice ? notice.slice('waiting for approval: request '.length) : undefined;
};

let dir: string;
let ports: { first: number; last: number };
const spools: RecordingSpool[] = [];
const managers: TunnelManager[] = [];
let managersBuilt = 0;

interface Built {
  manager: TunnelManager;
  spool: RecordingSpool;
  registry: PortRegistry;
  logs: string[];
}

/** A TunnelManager for `account`, as `portcullis connect` builds one, each with its own spool and ports file. */
async function manager(
  account: Account,
  options: {
    revocationPollMs?: number;
    hub?: HubClient;
    spool?: RecordingSpoolOptions;
    certificates?: TunnelManagerOptions['certificates'];
    catalogIdleMs?: number;
  } = {},
): Promise<Built> {
  const logs: string[] = [];
  const log = (message: string): void => void logs.push(message);
  const n = managersBuilt++;
  const spool = new RecordingSpool(path.join(dir, `spool-${n}.db`), { log, ...options.spool });
  spools.push(spool);
  const registry = new PortRegistry(path.join(dir, `ports-${n}.json`), ports);
  const hub = options.hub ?? account.hub;
  const built = new TunnelManager({
    hub,
    tokens: account.tokens,
    spool,
    ports: registry,
    identity: await account.hub.me(),
    revocationPollMs: options.revocationPollMs ?? 600_000,
    ...(options.certificates ? { certificates: options.certificates } : {}),
    ...(options.catalogIdleMs ? { catalogIdleMs: options.catalogIdleMs } : {}),
    log,
  });
  managers.push(built);
  return { manager: built, spool, registry, logs };
}

/** The account's hub client whose event stream stays silent (a proxy that buffers server-sent events). */
function withSilentEvents(hub: HubClient): HubClient {
  return {
    ...hub,
    events: (options = {}) =>
      (async function* () {
        const { signal } = options;
        if (signal && !signal.aborted)
          await new Promise((resolve) => signal.addEventListener('abort', resolve));
        yield* []; // nothing, ever
      })(),
  };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'portcullis-manager-'));
  ports = await freeRange(20);
  await loadClassifier();
});

afterEach(async () => {
  await endClients();
  await Promise.all(managers.splice(0).map((m) => m.closeAll()));
  await Promise.all(spools.splice(0).map((s) => s.close().catch(() => undefined)));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------

describe('in the standard world', () => {
  let world: ConnectedWorld;
  let priya: Account;
  let elena: Account;

  beforeAll(async () => {
    world = await startConnectedWorld();
    priya = (await world.signIn('priya')).account;
    elena = (await world.signIn('elena')).account;
  }, 120_000);

  afterAll(async () => {
    await world?.close();
  });

  /** Priya asks for admin-db and Elena grants it. */
  async function grantAdminDb(durationSeconds?: number): Promise<AccessRequest> {
    const request = await priya.hub.requestAccess({
      targetId: 'admin-db',
      reason: 'investigating INC-42',
      ...(durationSeconds ? { durationSeconds } : {}),
    });
    const grant = await elena.hub.decideAccess(request.id, { approve: true, comment: 'go ahead' });
    expect(grant).toMatchObject({ state: 'approved', expiresAt: expect.any(String) });
    return grant;
  }

  afterEach(async () => {
    // A grant a failed test left active would carry the next test's tunnel.
    for (const request of await priya.hub.accessRequests('mine')) {
      if (request.state === 'approved' || request.state === 'pending') {
        await priya.hub.revokeAccess(request.id, 'test cleanup').catch(() => undefined);
      }
    }
  });

  describe('opening a target', () => {
    it("serves TLS with the target's own CA from the Portcullis home, the same CA on every open", async () => {
      const store = new TunnelCertificateStore(path.join(dir, 'tls'));
      const { manager: m } = await manager(priya, { certificates: store });
      const first = await m.open('app-db');
      expect(first.caFile).toBe(path.join(dir, 'tls', 'app-db', 'ca.pem'));
      const ca = await readFile(first.caFile!, 'utf8');
      const endpoint = postgresEndpoint(first);
      expect(endpoint.ca).toBe(ca);
      const verified = new pg.Client({
        host: endpoint.host,
        port: endpoint.port,
        user: endpoint.user,
        password: endpoint.password,
        database: endpoint.database,
        ssl: { ca },
      });
      await verified.connect();
      expect((await verified.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
      await verified.end();
      await first.close();

      const again = await m.open('app-db');
      expect(postgresEndpoint(again).ca).toBe(ca);
      await again.close();
    });

    it('gives a loopback endpoint on the remembered port, guards what runs through it, and counts it', async () => {
      const { manager: m, spool, registry } = await manager(priya);
      const tunnel = await m.open('app-db');

      expect(tunnel.target).toMatchObject({ id: 'app-db', name: 'App database', usable: true });
      expect(tunnel.policy).toBe('app-policy.yaml');
      expect(tunnel.grantExpiresAt).toBeNull();
      expect(tunnel.endpoint).toMatchObject({ host: '127.0.0.1', user: 'app_user', database: 'shop' });
      expect(tunnel.endpoint.port).toBe((await registry.all())['app-db']);
      expect(tunnel.endpoint.port).toBeGreaterThanOrEqual(ports.first);
      expect(tunnel.endpoint.url).not.toContain('app-user-secret');
      expect(m.list()).toEqual([tunnel]);

      const first = await connect(tunnel.endpoint.url);
      const customers = await first.pg.query('select id, name, email from customers order by id');
      expect(customers.rows.map((r: { email: string }) => r.email)).toEqual([
        expect.stringMatching(/@example\.com$/),
        expect.stringMatching(/@example\.org$/),
      ]);
      expect(customers.rows[0].email).not.toBe('ada@example.com');
      await expect(first.pg.query('drop table payments')).rejects.toMatchObject({ code: '42501' });
      await first.pg.query(`insert into notes (body) values ('checked the customers')`);

      const second = await connect(tunnel.endpoint.url);
      expect((await second.pg.query('select count(*)::int as n from payments')).rows[0].n).toBe(2);

      const live = tunnel.stats();
      expect(live).toMatchObject({
        open: 2,
        connections: 2,
        refused: 0,
        statements: 4,
        blocked: 1,
        held: 0,
        maskedCells: 2,
      });
      expect(live.bytesFromClient).toBeGreaterThan(0);
      expect(live.bytesToClient).toBeGreaterThan(0);

      await endClients();
      const ended = await until('the clients to be gone', () =>
        tunnel.stats().open === 0 ? tunnel.stats() : undefined,
      );
      expect(ended.bytesToClient).toBeGreaterThanOrEqual(live.bytesToClient);

      const closed = await tunnel.close();
      expect(closed).toEqual({ cause: 'stopped', reason: 'the tunnel was stopped' });
      await expect(tunnel.closed).resolves.toEqual(closed);
      expect(m.list()).toEqual([]);
      await expect(connect(tunnel.endpoint.url)).rejects.toThrow(/ECONNREFUSED/);

      const events = spooled(spool, tunnel.sessionId);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(events[0]).toMatchObject({
        type: 'tunnel.open',
        payload: {
          identity: { subject: 'priya', name: 'Priya Shah', kind: 'person' },
          target: { id: 'app-db', name: 'App database' },
          listen: `127.0.0.1:${tunnel.endpoint.port}`,
          policy: 'app-policy.yaml',
          grantExpiresAt: null,
        },
      });
      expect(events.at(-1)).toMatchObject({
        type: 'tunnel.close',
        payload: {
          reason: 'the tunnel was stopped',
          connections: 2,
          statements: 4,
          blocked: 1,
          held: 0,
          maskedCells: 2,
          bytesFromClient: ended.bytesFromClient,
          bytesToClient: ended.bytesToClient,
        },
      });
      const ofConnections = events.slice(1, -1);
      expect(ofConnections.every((e) => e.payload.connection === 1 || e.payload.connection === 2)).toBe(true);
      const starts = ofConnections.filter((e) => e.type === 'session.start').map((e) => e.payload.connection);
      expect(starts).toEqual([1, 2]);
      const statements = ofConnections.filter((e) => e.type === 'statement');
      expect(statements.map((e) => e.payload.connection)).toEqual([1, 1, 1, 2]);
      expect(JSON.stringify(events)).not.toContain('ada@example.com');

      // The hub session the tunnel rode on is closed too.
      expect(await priya.hub.session(tunnel.sessionId)).toMatchObject({
        status: 'closed',
        targetId: 'app-db',
        closeReason: 'the tunnel was stopped',
      });
    });

    it('keeps its catalog connection only while clients are connected, named after the session', async () => {
      const { manager: m } = await manager(priya, { catalogIdleMs: 300 });
      const tunnel = await m.open('app-db');
      const shop = new pg.Client({ connectionString: world.shopUrl });
      await shop.connect();
      try {
        const catalogConnections = async (): Promise<number> =>
          (
            await shop.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1`, [
              `portcullis catalog for ${tunnel.sessionId}`,
            ])
          ).rowCount ?? 0;
        // Opening checks the policy against the catalog; then a tunnel nobody uses lets the connection go
        // and holds no server slot (dropdb would fail on it).
        await until('the catalog connection of an unused tunnel to close', async () =>
          (await catalogConnections()) === 0 ? true : undefined,
        );

        const client = await connect(tunnel.endpoint.url);
        await until('the catalog connection, opened as the client came in', async () =>
          (await catalogConnections()) === 1 ? true : undefined,
        );
        await sleep(900);
        expect(await catalogConnections()).toBe(1);
        const emails = await client.pg.query('select email from customers order by id');
        expect(emails.rows[0].email).not.toBe('ada@example.com');

        await endClients();
        await until('the catalog connection to close with no client left', async () =>
          (await catalogConnections()) === 0 ? true : undefined,
        );
        // The next client is masked as before, through a catalog connection opened again.
        const again = await connect(tunnel.endpoint.url);
        const masked = await again.pg.query('select email from customers order by id');
        expect(masked.rows.map((r: { email: string }) => r.email)).toEqual(emails.rows.map((r) => r.email));
        // Opened as the client came in, beside it: it may show in pg_stat_activity after the first result.
        await until('the catalog connection, opened again', async () =>
          (await catalogConnections()) === 1 ? true : undefined,
        );
      } finally {
        await shop.end();
      }
    });

    it("passes the client's application_name upstream, and names one that gives none 'portcullis'", async () => {
      const { manager: m } = await manager(priya);
      const tunnel = await m.open('app-db');
      const named = await connect(`${tunnel.endpoint.url}&application_name=DBeaver%2025.1`);
      const unnamed = await connect(tunnel.endpoint.url);
      const seen = async (client: Client): Promise<unknown> =>
        (await client.pg.query('SHOW application_name')).rows[0].application_name;
      expect(await seen(named)).toBe('DBeaver 25.1');
      expect(await seen(unnamed)).toBe('portcullis');
    });

    it('says what to do when the target cannot be used now, and opens nothing', async () => {
      const { manager: m, registry } = await manager(priya);

      await expect(m.open('admin-db')).rejects.toThrow(
        new TargetUnavailableError(
          'you have no access to admin-db now; ask for it with `portcullis request admin-db --reason "…"`',
        ),
      );
      await expect(m.open('billing-db')).rejects.toThrow(
        new TargetUnavailableError('no target billing-db; `portcullis targets` lists yours'),
      );
      const request = await priya.hub.requestAccess({ targetId: 'admin-db', reason: 'INC-42' });
      const pending = await m.open('admin-db').catch((e: unknown) => e);
      expect(pending).toBeInstanceOf(TargetUnavailableError);
      expect((pending as Error).message).toBe(
        `your access request ${request.id} for admin-db is waiting for approval`,
      );

      expect(m.list()).toEqual([]);
      expect(await registry.all()).toEqual({});
      const open = await priya.hub.searchSessions({ targetId: 'admin-db' });
      expect(open.filter((s) => s.status !== 'closed')).toEqual([]);
    });

    it('refuses to guard with a policy whose rules name what the database lacks, and closes the session', async () => {
      // As if the hub had served it unchecked (it could not reach the database itself).
      const hub: HubClient = {
        ...priya.hub,
        openSession: async (targetId) => ({
          ...(await priya.hub.openSession(targetId)),
          policy: {
            kind: 'file',
            name: 'app-policy.yaml',
            yaml: 'mask:\n  - { column: customers.emial, strategy: email }\n',
          },
        }),
      };
      const { manager: m } = await manager(priya, { hub });
      const refused = await m.open('app-db').catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(TargetUnavailableError);
      expect((refused as Error).message).toContain(
        'app-policy.yaml:2: mask[0].column: customers.emial: no such column; did you mean customers.email?',
      );
      expect(m.list()).toEqual([]);
      const sessions = await priya.hub.searchSessions({ targetId: 'app-db' });
      expect(sessions.filter((s) => s.status !== 'closed')).toEqual([]);
    });

    it('opens one tunnel per target', async () => {
      const { manager: m } = await manager(priya);
      const tunnel = await m.open('reports-db');
      await expect(m.open('reports-db')).rejects.toThrow(
        new TargetUnavailableError('a tunnel to reports-db is already open'),
      );
      expect(m.list()).toEqual([tunnel]);
    });
  });

  describe('a just-in-time grant', () => {
    it('opens the target while granted, and the hub revoking it closes the tunnel at once', async () => {
      const grant = await grantAdminDb();
      // The poll is far off: only the hub's event stream can close the tunnel in time.
      const { manager: m } = await manager(priya, { revocationPollMs: 600_000 });
      const tunnel = await m.open('admin-db');
      expect(tunnel.grantExpiresAt).toBe(grant.expiresAt);
      expect(tunnel.target).toMatchObject({ status: 'granted', grant: { requestId: grant.id } });
      const client = await connect(tunnel.endpoint.url);
      expect((await client.pg.query('select count(*)::int as n from customers')).rows[0].n).toBe(2);

      // The revocation poll is ten minutes off: closing within the deadline is the event stream's doing.
      await elena.hub.revokeAccess(grant.id, 'incident closed');
      const closed = await within('the tunnel closing', tunnel.closed);

      expect(closed).toEqual({
        cause: 'grant-revoked',
        reason: 'your access to admin-db was revoked at the hub',
      });
      const error = await idleError(client);
      expect(error).toMatchObject({
        message: 'your access to admin-db was revoked at the hub',
        code: '57P01',
        severity: 'FATAL',
      });
      expect(m.list()).toEqual([]);
      expect(await priya.hub.session(tunnel.sessionId)).toMatchObject({
        status: 'closed',
        closeReason: 'grant-revoked',
      });
    });

    it('is closed by the revocation poll when no event arrives', async () => {
      const grant = await grantAdminDb();
      const { manager: m } = await manager(priya, {
        hub: withSilentEvents(priya.hub),
        revocationPollMs: 300,
      });
      const tunnel = await m.open('admin-db');
      await elena.hub.revokeAccess(grant.id, 'incident closed');

      await expect(within('the poll closing the tunnel', tunnel.closed)).resolves.toMatchObject({
        cause: 'grant-revoked',
      });
    });

    it('is closed by checkRevocations, and only by it, when no event arrives and the poll is far off', async () => {
      const grant = await grantAdminDb();
      const { manager: m } = await manager(priya, {
        hub: withSilentEvents(priya.hub),
        revocationPollMs: 600_000,
      });
      const tunnel = await m.open('admin-db');
      const client = await connect(tunnel.endpoint.url);
      await elena.hub.revokeAccess(grant.id, 'incident closed');
      await sleep(1500);
      expect(await settled(tunnel.closed)).toBe(false);

      await m.checkRevocations();
      await expect(within('the tunnel closing', tunnel.closed)).resolves.toEqual({
        cause: 'grant-revoked',
        reason: 'your access to admin-db was revoked at the hub',
      });
      expect((await idleError(client)).message).toBe('your access to admin-db was revoked at the hub');
    });

    it('warns, while there is time to ask again, when the grant ends within ten minutes', async () => {
      await grantAdminDb(300);
      const { manager: m, logs } = await manager(priya, { revocationPollMs: 600_000 });
      const tunnel = await m.open('admin-db');
      const warning = await until('the expiry warning', () =>
        logs.find((line) => line.includes('your access ends in')),
      );
      expect(warning).toMatch(
        /^admin-db: your access ends in [45] min \(at .*\); ask for more with `portcullis request admin-db/,
      );
      await tunnel.close();
    });

    /**
     * A client connected through a granted tunnel and the hub stopped, all before the grant ends. A short
     * grant keeps the test short; a machine too slow to set all that up in time gets a longer one.
     */
    async function connectedThenHubStopped() {
      for (const seconds of [5, 20, 45]) {
        const grant = await grantAdminDb(seconds);
        const { manager: m, logs } = await manager(priya, { revocationPollMs: 600_000 });
        const tunnel = await m.open('admin-db');
        const client = await connect(tunnel.endpoint.url);
        await client.pg.query('select 1');
        await world.stopHub();
        const expiresAt = Date.parse(grant.expiresAt!);
        if (Date.now() < expiresAt - 500) return { tunnel, client, logs, expiresAt };
        await world.startHub();
        await tunnel.close();
        await priya.hub.revokeAccess(grant.id, 'set up too late').catch(() => undefined);
      }
      throw new Error('could not connect and stop the hub before a 45 s grant ended');
    }

    it('closes the tunnel on time when the grant expires, even with the hub out of reach', async () => {
      const { tunnel, client, logs, expiresAt } = await connectedThenHubStopped();
      let closed: TunnelClosed;
      try {
        closed = await within('the grant expiring', tunnel.closed, expiresAt - Date.now() + REACTION_MS);
      } finally {
        await world.startHub();
      }
      expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
      expect(closed).toEqual({
        cause: 'grant-expired',
        reason: 'your access to admin-db has expired; request it again with `portcullis request admin-db`',
      });
      expect((await idleError(client)).message).toBe(closed.reason);
      // The hub could not be told; it ends the session itself (its sweep) and learns from the recording.
      expect(logs).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^admin-db: could not close session .*: cannot reach the hub/),
        ]),
      );
    }, 240_000);
  });

  describe('held statements (HubApprover)', () => {
    it('a held write runs once an approver approves it, and the recording says who and why', async () => {
      const { manager: m, spool } = await manager(priya);
      const tunnel = await m.open('app-db');
      const client = await connect(tunnel.endpoint.url);

      const update = client.pg.query(`update payments set status = status where id = 2`);
      const id = await until('the hold notice', () => heldRequest(client.notices));
      const pending = await elena.hub.approvals('pending');
      expect(pending).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            id,
            sessionId: tunnel.sessionId,
            requester: { subject: 'priya', name: 'Priya Shah' },
          }),
        ]),
      );
      await elena.hub.decideApproval(id, { approve: true, comment: 'refund ticket 7' });

      expect((await within('the approved update', update)).rowCount).toBe(1);
      expect(tunnel.stats()).toMatchObject({ held: 1, blocked: 0 });
      const resolved = spooled(spool, tunnel.sessionId).find((e) => e.type === 'hold.resolved');
      expect(resolved?.payload).toMatchObject({
        request: id,
        outcome: 'approved',
        by: 'Elena Garcia',
        comment: 'refund ticket 7',
        connection: 1,
      });
      expect(await priya.hub.approval(id)).toMatchObject({
        state: 'approved',
        decidedBy: { subject: 'elena', name: 'Elena Garcia' },
      });
    });

    it('a denied write fails with the approver and the comment, and nothing is written', async () => {
      const { manager: m, spool } = await manager(priya);
      const tunnel = await m.open('app-db');
      const client = await connect(tunnel.endpoint.url);

      const update = client.pg.query(`update payments set status = 'void' where id = 1`);
      const id = await until('the hold notice', () => heldRequest(client.notices));
      await elena.hub.decideApproval(id, { approve: false, comment: 'not during the freeze' });

      await expect(within('the denied update', update)).rejects.toMatchObject({
        code: '42501',
        message: expect.stringContaining(
          `approval request ${id} was denied by Elena Garcia: not during the freeze`,
        ),
      });
      expect((await client.pg.query('select status from payments where id = 1')).rows[0].status).not.toBe(
        'void',
      );
      expect(tunnel.stats()).toMatchObject({ held: 1 });
      const resolved = spooled(spool, tunnel.sessionId).find((e) => e.type === 'hold.resolved');
      expect(resolved?.payload).toMatchObject({
        outcome: 'denied',
        by: 'Elena Garcia',
        comment: 'not during the freeze',
      });
    });

    it('identical held writes of several connections wait on one approval, and one decision runs them all', async () => {
      const { manager: m } = await manager(priya);
      const tunnel = await m.open('app-db');
      const clients = [];
      for (let i = 0; i < 3; i++) clients.push(await connect(tunnel.endpoint.url));
      const runs = clients.map((c) => c.pg.query(`update payments set status = status where id = 2`));
      const ids = await Promise.all(
        clients.map((c) => until('the hold notice', () => heldRequest(c.notices))),
      );
      expect(new Set(ids).size).toBe(1);
      const ofSession = (await elena.hub.approvals('pending')).filter(
        (a) => a.sessionId === tunnel.sessionId,
      );
      expect(ofSession).toMatchObject([{ id: ids[0], holds: 3 }]);
      await elena.hub.decideApproval(ids[0]!, { approve: true, comment: 'all three' });
      for (const run of runs) expect((await within('the approved update', run)).rowCount).toBe(1);
    });

    it('refuses held statements past the per-session limit with a clear error; approvers never see them', async () => {
      const { manager: m } = await manager(priya);
      const tunnel = await m.open('app-db');
      // Each connection holds one statement at a time: a flood needs many connections.
      const clients = [];
      for (let i = 0; i < 21; i++) clients.push(await connect(tunnel.endpoint.url));
      const runs = clients.map((c, i) =>
        c.pg.query(`update payments set status = 'flood-${i}' where id = 1`).then(
          () => 'ran',
          (error: Error & { code?: string }) => error,
        ),
      );
      const refused = await within('one refusal', Promise.race(runs));
      expect(refused).toMatchObject({
        code: '42501',
        message: expect.stringMatching(
          /approval could not be requested: session .* held 20 statements for approval in the last minute/,
        ),
      });
      const pending = await until('20 holds at the hub', async () => {
        const mine = (await elena.hub.approvals('pending')).filter((a) => a.sessionId === tunnel.sessionId);
        return mine.length === 20 ? mine : undefined;
      });
      for (const approval of pending) await elena.hub.decideApproval(approval.id, { approve: false });
      const outcomes = await within('every statement answered', Promise.all(runs));
      expect(outcomes.filter((o) => o === 'ran')).toEqual([]);
      expect(outcomes.filter((o) => /denied by Elena Garcia/.test((o as Error).message))).toHaveLength(20);
    });

    it('shows approvers and the recording the held statement without the password it carries', async () => {
      const { manager: m, spool } = await manager(priya);
      const tunnel = await m.open('app-db');
      const client = await connect(tunnel.endpoint.url);
      const statement = `update payments set status = 'synced' where id = 2 and current_setting('app.dsn', true) is distinct from 'host=db password=hunter2'`;
      const update = client.pg.query(statement);
      const id = await until('the hold notice', () => heldRequest(client.notices));
      const redacted = statement.replace('password=hunter2', 'password=***');
      expect((await elena.hub.approval(id)).sql).toBe(redacted);
      await elena.hub.decideApproval(id, { approve: false, comment: 'no' });
      await expect(within('the denied update', update)).rejects.toMatchObject({ code: '42501' });
      const events = spooled(spool, tunnel.sessionId);
      expect(JSON.stringify(events)).not.toContain('hunter2');
      expect(events.find((e) => e.type === 'hold')?.payload).toMatchObject({ sql: redacted });
    });

    it('a held statement the client cancels is withdrawn at the hub', async () => {
      const { manager: m, spool } = await manager(priya);
      const tunnel = await m.open('app-db');
      const notices: string[] = [];
      const sql = postgres(tunnel.endpoint.url, {
        max: 1,
        onnotice: (n) => void notices.push(n.message ?? ''),
      });
      try {
        const held = sql`update payments set status = 'void' where id = 1`.execute();
        const id = await until('the hold notice', () => heldRequest(notices));
        await held.cancel();
        await expect(held).rejects.toMatchObject({ code: '57014' });

        const withdrawn = await until('the approval to be withdrawn', async () => {
          const approval = await priya.hub.approval(id);
          return approval.state === 'pending' ? undefined : approval;
        });
        expect(withdrawn).toMatchObject({ state: 'withdrawn', comment: 'cancelled by the client' });
        // An approver who comes too late cannot run it any more.
        await expect(elena.hub.decideApproval(id, { approve: true })).rejects.toMatchObject({ status: 409 });
        expect([...(await sql`select status from payments where id = 1`)][0]!.status).not.toBe('void');
        const resolved = spooled(spool, tunnel.sessionId).find((e) => e.type === 'hold.resolved');
        expect(resolved?.payload).toMatchObject({ request: id, outcome: 'cancelled' });
      } finally {
        await sql.end({ timeout: 1 });
      }
    });
  });

  describe('strict recording', () => {
    /** Far more than the small spools below hold: writing its statement fails like a full disk. */
    const HUGE = `select length('${'x'.repeat(200_000)}') as n`;
    const SMALL_SPOOL = { maxBytes: 64 * 1024 };

    it('ends the sessions with a clear error when the spool stops taking events, and opens no new ones', async () => {
      const { manager: m, spool } = await manager(priya, { spool: SMALL_SPOOL });
      const tunnel = await m.open('strict-db');
      expect(tunnel.policy).toBe('strict-policy.yaml');
      const client = await connect(tunnel.endpoint.url);
      expect((await client.pg.query('select count(*)::int as n from customers')).rows[0].n).toBe(2);

      // The statement itself may still run: the spool fails when it writes, after the statement was let through.
      const huge = client.pg.query(HUGE).then(
        () => undefined,
        (error: Error) => error,
      );
      const closed = await within('the tunnel closing', tunnel.closed);

      const reason =
        "recording failed, and strict-db's policy does not allow unrecorded sessions: " +
        'cannot write the recording spool: database or disk is full';
      expect(closed).toEqual({ cause: 'recording-failed', reason });
      expect(spool.failing).toBe(true);
      const told = (await huge) ?? (await idleError(client));
      expect(told).toMatchObject({ message: reason, code: '57P01', severity: 'FATAL' });
      expect(m.list()).toEqual([]);
      await expect(connect(tunnel.endpoint.url)).rejects.toThrow(/ECONNREFUSED/);
      await expect(m.open('strict-db')).rejects.toThrow(
        'recording is failing (cannot write the recording spool: database or disk is full)',
      );
      expect(await priya.hub.session(tunnel.sessionId)).toMatchObject({
        status: 'closed',
        closeReason: reason,
      });
      const sessions = await priya.hub.searchSessions({ targetId: 'strict-db' });
      expect(sessions.filter((s) => s.status !== 'closed')).toEqual([]);
    });

    it('refuses new connections while the shared spool fails; a best-effort tunnel carries on', async () => {
      const { manager: m, logs } = await manager(priya, { spool: SMALL_SPOOL });
      const strict = await m.open('strict-db');
      const relaxed = await m.open('reports-db');
      const reader = await connect(relaxed.endpoint.url);

      // The best-effort tunnel fills the spool; its session goes on unrecorded, and it says so.
      expect((await reader.pg.query(HUGE)).rows[0].n).toBe(200_000);
      await until('the spool to fail', () =>
        logs.some((l) => l.includes('database or disk is full')) ? true : undefined,
      );
      expect((await reader.pg.query('select 1 as one')).rows[0].one).toBe(1);
      const another = await connect(relaxed.endpoint.url);
      expect((await another.pg.query('select 2 as two')).rows[0].two).toBe(2);
      expect(await settled(relaxed.closed)).toBe(false);
      expect(logs).toEqual(
        expect.arrayContaining([expect.stringMatching(/^reports-db: recording: .*database or disk is full/)]),
      );

      // The strict tunnel lets nobody in unrecorded.
      const refused = await connect(strict.endpoint.url).catch((e: unknown) => e);
      expect(refused).toMatchObject({
        code: '28000',
        message:
          "recording failed, and strict-db's policy does not allow unrecorded sessions: " +
          'cannot write the recording spool: database or disk is full',
      });
      await expect(within('the strict tunnel closing', strict.closed)).resolves.toMatchObject({
        cause: 'recording-failed',
      });
      expect(await settled(relaxed.closed)).toBe(false);
    });
  });
});

describe('with short-lived access tokens', () => {
  let world: ConnectedWorld;

  beforeAll(async () => {
    world = await startConnectedWorld({ idp: { accessTokenTtlSeconds: 2 } });
  }, 120_000);

  afterAll(async () => {
    await world?.close();
  });

  it('renews the sign-in when a client connects after the access token is due', async () => {
    const { account } = await world.signIn('marcus');
    const { manager: m } = await manager(account);
    const tunnel = await m.open('reports-db');

    // Nothing else renews it first: the poll is far off, and the event stream renews only at expiry.
    await until('the access token to be due', () => (account.tokens.isDue() ? true : undefined));
    const stale = account.tokens.tokens!;
    const client = await connect(tunnel.endpoint.url);
    expect((await client.pg.query('select count(*)::int as n from customers')).rows[0].n).toBe(2);

    const fresh = account.tokens.tokens!;
    expect(fresh.accessToken).not.toBe(stale.accessToken);
    expect(fresh.expiresAt).toBeGreaterThan(Date.now());
    expect(tunnel.stats()).toMatchObject({ connections: 1, refused: 0 });
  });

  it('refuses a new connection, saying to log in again, once the sign-in cannot be renewed', async () => {
    const { account } = await world.signIn('priya');
    const { manager: m, spool } = await manager(account);
    const tunnel = await m.open('reports-db');
    await account.tokens.signOut();

    const refused = await connect(tunnel.endpoint.url).catch((e: unknown) => e);

    const message = 'your Portcullis sign-in has ended; run `portcullis login` and connect again';
    expect(refused).toMatchObject({ code: '28000', severity: 'FATAL', message });
    expect(tunnel.stats()).toMatchObject({ connections: 0, refused: 1 });
    const failed = spooled(spool, tunnel.sessionId).find((e) => e.type === 'auth.failed');
    expect(failed?.payload).toMatchObject({ reason: message, connection: 1 });
    // The refused connection is gone, not left half-open until the tunnel closes.
    await expect.poll(() => tunnel.stats().open).toBe(0);
  });
});

function postgresEndpoint(tunnel: OpenTunnel): TunnelEndpoint {
  if (tunnel.endpoint.kind !== 'postgres') throw new Error(`${tunnel.target.id} is not a Postgres tunnel`);
  return tunnel.endpoint;
}
