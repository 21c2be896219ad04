/**
 * Per-session database roles (`credentials.provision`), everything real: a PostgreSQL whose provisioning
 * administrator may create roles and hand out two group roles, the development IdP, a hub over HTTP, and
 * tunnels whose connections the hub authenticates as the session's own role. The role exists only while
 * the session may use it — dropped, its backends terminated, when the session closes, the grant is
 * revoked or expires, also when that happened while no hub was running — and a read-only target's role
 * cannot write in the database itself.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenedSession } from '../../hub/api/types.ts';
import { parseHubConfig } from '../../hub/config/index.ts';
import { startDevIdp, type DevIdp } from '../../hub/dev-idp/index.ts';
import { startHub, type RunningHub } from '../../hub/server.ts';
import { createHubClient, HubError, type HubClient } from '../../tunnel/hub-client/index.ts';
import { openDelegatedTunnel, type DelegatedTunnel } from '../support/delegated-tunnel.ts';
import { signIn } from '../support/hub-tokens.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { rejectionOf } from '../support/rejection.ts';
import { until } from '../support/waiting.ts';

const SECRETS = { PROVISIONER_PASSWORD: 'provisioner-secret' };

let server: TestPostgres;
let superuser: pg.Client;
let idp: DevIdp;
let dir: string;

function hubYaml(): string {
  const at = `address: '127.0.0.1:${server.port}', database: shop, tls: { sslmode: disable }, policy: observe`;
  const admin = `admin: { user: provisioner, password_env: PROVISIONER_PASSWORD }`;
  return `identity: { issuer: '${idp.issuer}', audience: portcullis-hub }
auditors: [auditors]
targets:
  - { id: reports, ${at}, kind: postgres, access: [engineering],
      credentials: { provision: { ${admin}, grant: [pg_read_all_data], connection_limit: 3, lease: 1h } } }
  - { id: writer, ${at}, kind: postgres,
      credentials: { provision: { ${admin}, grant: [shop_writer] } },
      jit: { requesters: [oncall], approvers: [managers], max_duration: 1h } }
  - { id: broken, ${at}, kind: postgres, access: [engineering],
      credentials: { provision: { ${admin}, grant: [no_such_role] } } }
`;
}

async function startTestHub(database: string, sweepIntervalMs = 60_000): Promise<RunningHub> {
  return startHub({
    config: parseHubConfig(hubYaml(), path.join(dir, 'hub.yaml')),
    database,
    env: SECRETS,
    sweepIntervalMs,
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'portcullis-provisioning-'));
  server = await startPostgres();
  superuser = new pg.Client({ connectionString: await server.createDatabase('shop') });
  await superuser.connect();
  await superuser.query(`
    CREATE TABLE payments (id int PRIMARY KEY, status text NOT NULL);
    INSERT INTO payments VALUES (1, 'paid'), (2, 'paid');
    CREATE ROLE shop_writer NOLOGIN;
    GRANT SELECT, UPDATE ON payments TO shop_writer;
    CREATE ROLE provisioner LOGIN CREATEROLE PASSWORD '${SECRETS.PROVISIONER_PASSWORD}';
    -- It may hand these out, without holding their rights itself.
    GRANT pg_read_all_data TO provisioner WITH ADMIN OPTION, INHERIT FALSE, SET FALSE;
    GRANT shop_writer TO provisioner WITH ADMIN OPTION, INHERIT FALSE, SET FALSE;
    -- It ends the backends of the roles it drops.
    GRANT pg_signal_backend TO provisioner;
  `);
  idp = await startDevIdp({ audience: 'portcullis-hub' });
}, 120_000);

afterAll(async () => {
  await superuser?.end();
  await idp?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function person(hub: RunningHub, username: string): Promise<HubClient> {
  const { accessToken } = await signIn(idp, username);
  return createHubClient({ url: hub.url, token: () => accessToken });
}

async function roleRow(role: string) {
  const { rows } = await superuser.query(
    `SELECT r.rolname, r.rolvaliduntil, r.rolconnlimit, r.rolsuper, r.rolcreaterole,
            shobj_description(r.oid, 'pg_authid') AS comment,
            ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                  WHERE m.member = r.oid ORDER BY 1)::text[] AS member_of
       FROM pg_roles r WHERE r.rolname = $1`,
    [role],
  );
  return rows[0] as
    | {
        rolname: string;
        rolvaliduntil: Date;
        rolconnlimit: number;
        rolsuper: boolean;
        rolcreaterole: boolean;
        comment: string;
        member_of: string[];
      }
    | undefined;
}

const roleGone = (role: string) =>
  until(`role ${role} dropped`, async () => ((await roleRow(role)) === undefined ? true : undefined));

interface Connected {
  tunnel: DelegatedTunnel;
  client: pg.Client;
  errors: Error[];
}

async function connectAs(hub: HubClient, session: OpenedSession): Promise<Connected> {
  const tunnel = await openDelegatedTunnel(hub, session);
  const client = new pg.Client({ connectionString: tunnel.endpoint.url });
  const errors: Error[] = [];
  client.on('error', (error) => errors.push(error));
  await client.connect();
  return { tunnel, client, errors };
}

describe('per-session database roles', () => {
  let hub: RunningHub;
  beforeAll(async () => {
    hub = await startTestHub(':memory:');
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('gives a session a role of its own, read-only in the database itself, dropped with its backends on close', async () => {
    const priya = await person(hub, 'priya');
    const session = await priya.openSession('reports');
    const role = session.provisioned!.role;
    expect(role).toMatch(/^pc_priya_[0-9a-f]{12}$/);
    expect(session.provisioned).toEqual({ role, validUntil: expect.any(String) });
    const validFor = Date.parse(session.provisioned!.validUntil) - Date.now();
    expect(validFor).toBeGreaterThan(59 * 60_000);
    expect(validFor).toBeLessThanOrEqual(60 * 60_000);

    expect(await roleRow(role)).toMatchObject({
      rolconnlimit: 3,
      rolsuper: false,
      rolcreaterole: false,
      member_of: ['pg_read_all_data'],
      comment: `Portcullis session ${session.sessionId} of Priya Shah (priya)`,
    });
    expect((await roleRow(role))!.rolvaliduntil.toISOString()).toBe(session.provisioned!.validUntil);

    const { tunnel, client, errors } = await connectAs(priya, session);
    try {
      expect((await client.query('SELECT current_user AS u')).rows[0].u).toBe(role);
      expect((await client.query('SELECT count(*)::int AS n FROM payments')).rows[0].n).toBe(2);
      // The tunnel's policy here is observe: the database itself refuses the write.
      await expect(client.query(`UPDATE payments SET status = 'refunded'`)).rejects.toMatchObject({
        code: '42501',
      });
      // The server's own view names the person's role.
      const { rows } = await superuser.query(`SELECT usename FROM pg_stat_activity WHERE usename = $1`, [
        role,
      ]);
      expect(rows.length).toBeGreaterThan(0);

      await priya.closeSession(session.sessionId, 'done');
      expect(await roleRow(role)).toBeUndefined();
      await until('the connected client to be ended', async () => (errors[0] ? true : undefined));
      expect(errors[0]).toMatchObject({ code: '57P01' });
      const refused = await rejectionOf(
        new pg.Client({ connectionString: tunnel.endpoint.url }).connect(),
        Error,
      );
      expect(refused.message).toMatch(/session .* is closed/);
    } finally {
      await tunnel.close();
    }
  });

  it('makes a grant’s role valid until the grant ends, and drops it with its backends when the grant is revoked', async () => {
    const marcus = await person(hub, 'marcus');
    const elena = await person(hub, 'elena');
    const request = await marcus.requestAccess({ targetId: 'writer', reason: 'refund', duration: '30m' });
    const granted = await elena.decideAccess(request.id, { approve: true });
    const session = await marcus.openSession('writer');
    const role = session.provisioned!.role;
    expect(session.provisioned!.validUntil).toBe(granted.expiresAt);
    expect((await roleRow(role))!.rolvaliduntil.toISOString()).toBe(granted.expiresAt);
    expect((await roleRow(role))!.member_of).toEqual(['shop_writer']);

    const { tunnel, client, errors } = await connectAs(marcus, session);
    try {
      expect((await client.query(`UPDATE payments SET status = 'refunded' WHERE id = 2`)).rowCount).toBe(1);
      await elena.revokeAccess(request.id, 'done');
      await roleGone(role);
      await until('the connected client to be ended', async () => (errors[0] ? true : undefined));
    } finally {
      await tunnel.close();
    }
  });

  it('renews the lease of a role on standing access while its session stays open', async () => {
    const priya = await person(hub, 'priya');
    const session = await priya.openSession('reports');
    const role = session.provisioned!.role;
    try {
      expect(await hub.services.provisioning.reconcile()).toMatchObject({ renewed: 0 });
      const later = new Date(Date.now() + 40 * 60_000);
      expect((await hub.services.provisioning.reconcile(later)).renewed).toBeGreaterThanOrEqual(1);
      expect((await roleRow(role))!.rolvaliduntil.getTime()).toBe(later.getTime() + 3_600_000);
    } finally {
      await priya.closeSession(session.sessionId);
    }
    expect(await roleRow(role)).toBeUndefined();
  });

  it('refuses to open a session whose role cannot be created, and leaves nothing behind', async () => {
    const priya = await person(hub, 'priya');
    const error = await rejectionOf(priya.openSession('broken'), HubError);
    expect(error).toMatchObject({ status: 503, message: expect.stringMatching(/no_such_role/) });
    const [closed] = await priya.searchSessions({ targetId: 'broken' });
    expect(closed).toMatchObject({ status: 'closed', closeReason: expect.stringMatching(/database role/) });
    const { rows } = await superuser.query(
      `SELECT rolname FROM pg_roles WHERE shobj_description(oid, 'pg_authid') LIKE '%' || $1 || '%'`,
      [closed!.id],
    );
    expect(rows).toEqual([]);
  });
});

describe('after a hub restart', () => {
  it('drops the role of a session whose grant expired while no hub was running', async () => {
    const database = path.join(dir, 'restart.db');
    let hub = await startTestHub(database);
    const marcus = await person(hub, 'marcus');
    const elena = await person(hub, 'elena');
    const request = await marcus.requestAccess({ targetId: 'writer', reason: 'short', durationSeconds: 2 });
    await elena.decideAccess(request.id, { approve: true });
    const session = await marcus.openSession('writer');
    const role = session.provisioned!.role;
    expect(await roleRow(role)).toBeDefined();
    await hub.close();

    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(await roleRow(role)).toBeDefined();
    hub = await startTestHub(database);
    try {
      await roleGone(role);
    } finally {
      await hub.close();
    }
  });
});
