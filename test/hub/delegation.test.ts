/**
 * Delegated upstream authentication, everything real: a PostgreSQL with SCRAM, md5 and cleartext roles
 * and a TLS certificate for channel binding, the development IdP, a hub over HTTP, and tunnels built from
 * the hub's session material whose every upstream connection the hub authenticates. The password never
 * reaches the tunnel; each proof is authorized, recorded, rate-limited, good for one connection only, and
 * refused once the session is closed or revoked.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenedSession } from '../../hub/api/types.ts';
import { parseHubConfig } from '../../hub/config/index.ts';
import { startDevIdp, type DevIdp } from '../../hub/dev-idp/index.ts';
import { startHub, type RunningHub } from '../../hub/server.ts';
import { createHubClient, HubError, type HubClient } from '../../tunnel/hub-client/index.ts';
import { ScramClient } from '../../tunnel/postgres/wire/scram.ts';
import { createAuthority } from '../support/certs.ts';
import { openDelegatedTunnel } from '../support/delegated-tunnel.ts';
import { signIn } from '../support/hub-tokens.ts';
import { MemoryRecorder } from '../support/memory-recorder.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { RawClient } from '../support/raw-client.ts';
import { rejectionOf } from '../support/rejection.ts';

const SECRETS = {
  SCRAM_PASSWORD: 'scram-role-secret',
  MD5_PASSWORD: 'md5-role-secret',
  CLEAR_PASSWORD: 'clear-role-secret',
};

let pgServer: TestPostgres;
let idp: DevIdp;
let dir: string;
let hub: RunningHub;
const people: Record<string, HubClient> = {};

function hubYaml(extra = ''): string {
  const at = `address: '127.0.0.1:${pgServer.port}', database: shop`;
  const plain = `${at}, tls: { sslmode: disable }`;
  return `identity: { issuer: '${idp.issuer}', audience: portcullis-hub }
auditors: [auditors]
${extra}
targets:
  - { id: scram-db, kind: postgres, ${plain}, policy: observe, access: [engineering],
      credentials: { user: app_scram, password_env: SCRAM_PASSWORD } }
  - { id: plus-db, kind: postgres, ${at}, policy: observe, access: [engineering],
      tls: { sslmode: verify-full, sslrootcert: ca.pem, sslservername: db.test },
      credentials: { user: app_scram, password_env: SCRAM_PASSWORD } }
  - { id: md5-db, kind: postgres, ${plain}, policy: observe, access: [engineering],
      credentials: { user: app_md5, password_env: MD5_PASSWORD } }
  - { id: clear-db, kind: postgres, ${at}, tls: { sslmode: require }, policy: observe, access: [engineering],
      credentials: { user: app_clear, password_env: CLEAR_PASSWORD } }
  - { id: jit-db, kind: postgres, ${plain}, policy: observe,
      credentials: { user: app_scram, password_env: SCRAM_PASSWORD },
      jit: { requesters: [oncall], approvers: [managers], max_duration: 1h } }
`;
}

async function hubWith(extra = ''): Promise<RunningHub> {
  const file = path.join(dir, `hub-${Math.random().toString(36).slice(2)}.yaml`);
  return startHub({
    config: parseHubConfig(hubYaml(extra), file),
    database: ':memory:',
    env: SECRETS,
    sweepIntervalMs: 60_000,
  });
}

const clientOf = (running: RunningHub, token: string): HubClient =>
  createHubClient({ url: running.url, token: () => token });

beforeAll(async () => {
  const authority = await createAuthority();
  dir = await mkdtemp(path.join(tmpdir(), 'portcullis-delegation-'));
  await writeFile(path.join(dir, 'ca.pem'), authority.cert);
  pgServer = await startPostgres({
    tls: await authority.sign('db.test', { dns: ['db.test'] }),
    hba: ['host all app_md5 127.0.0.1/32 md5', 'host all app_clear 127.0.0.1/32 password'],
  });
  const admin = await pgServer.connect();
  await admin.query('CREATE DATABASE shop');
  await admin.query(`CREATE ROLE app_scram LOGIN PASSWORD '${SECRETS.SCRAM_PASSWORD}'`);
  await admin.query(`CREATE ROLE app_clear LOGIN PASSWORD '${SECRETS.CLEAR_PASSWORD}'`);
  await admin.query(`SET password_encryption = 'md5'`);
  await admin.query(`CREATE ROLE app_md5 LOGIN PASSWORD '${SECRETS.MD5_PASSWORD}'`);
  await admin.end();
  idp = await startDevIdp({ audience: 'portcullis-hub' });
  hub = await hubWith();
  for (const username of ['priya', 'marcus', 'elena', 'tom']) {
    people[username] = clientOf(hub, (await signIn(idp, username)).accessToken);
  }
}, 120_000);

afterAll(async () => {
  await hub?.close();
  await idp?.close();
  await pgServer?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A client through a delegated tunnel; returns the client, the tunnel and what it recorded. */
async function through(client: HubClient, session: OpenedSession) {
  const recorder = new MemoryRecorder();
  const tunnel = await openDelegatedTunnel(client, session, { recorder });
  const connect = async () => {
    const pgClient = new pg.Client({ connectionString: tunnel.endpoint.url });
    pgClient.on('error', () => {});
    await pgClient.connect();
    return pgClient;
  };
  return { tunnel, recorder, connect };
}

describe('delegated SCRAM and md5', () => {
  it('authenticates with SCRAM-SHA-256 through the hub: no secret in the material, each connection on record', async () => {
    const priya = people.priya!;
    const session = await priya.openSession('scram-db');
    expect(session.connection).toMatchObject({
      kind: 'postgres',
      user: 'app_scram',
      authentication: { kind: 'delegated' },
    });
    expect(JSON.stringify(session)).not.toContain(SECRETS.SCRAM_PASSWORD);
    const { tunnel, recorder, connect } = await through(priya, session);
    try {
      const first = await connect();
      const second = await connect();
      expect((await first.query('SELECT current_user AS u')).rows[0].u).toBe('app_scram');
      expect((await second.query('SELECT 1 AS one')).rows[0].one).toBe(1);
      await Promise.all([first.end(), second.end()]);
      expect(recorder.ofType('session.start').map((e) => e.upstream.authMechanism)).toEqual([
        'SCRAM-SHA-256',
        'SCRAM-SHA-256',
      ]);
    } finally {
      await tunnel.close();
    }
    const proofs = await priya.proofs(session.sessionId);
    expect(proofs.map((p) => [p.connection, p.method, p.purpose, p.user, p.requester.subject])).toEqual([
      [1, 'postgres-scram-sha-256', 'client', 'app_scram', 'priya'],
      [2, 'postgres-scram-sha-256', 'client', 'app_scram', 'priya'],
    ]);
    // Auditors read them; nobody else does.
    expect(await people.tom!.proofs(session.sessionId)).toHaveLength(2);
    expect(await rejectionOf(people.marcus!.proofs(session.sessionId), HubError)).toMatchObject({
      status: 403,
    });
    await priya.closeSession(session.sessionId);
  });

  it('binds the proof to verified TLS with SCRAM-SHA-256-PLUS', async () => {
    const priya = people.priya!;
    const session = await priya.openSession('plus-db');
    const { tunnel, recorder, connect } = await through(priya, session);
    try {
      const client = await connect();
      expect((await client.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows).toEqual([
        { ssl: true },
      ]);
      await client.end();
      expect(recorder.ofType('session.start')[0]!.upstream).toMatchObject({
        tls: true,
        authMechanism: 'SCRAM-SHA-256-PLUS',
      });
    } finally {
      await tunnel.close();
      await priya.closeSession(session.sessionId);
    }
  });

  it('answers md5 for the server’s salt', async () => {
    const priya = people.priya!;
    const session = await priya.openSession('md5-db');
    const { tunnel, recorder, connect } = await through(priya, session);
    try {
      const client = await connect();
      expect((await client.query('SELECT current_user AS u')).rows[0].u).toBe('app_md5');
      await client.end();
      expect(recorder.ofType('session.start')[0]!.upstream.authMechanism).toBe('md5');
      expect((await priya.proofs(session.sessionId)).map((p) => p.method)).toEqual(['postgres-md5']);
    } finally {
      await tunnel.close();
      await priya.closeSession(session.sessionId);
    }
  });

  it('never delegates a cleartext password: the client is told to use SCRAM, md5 or a relay', async () => {
    const priya = people.priya!;
    const session = await priya.openSession('clear-db');
    const { tunnel, connect } = await through(priya, session);
    try {
      const error = await rejectionOf(connect(), Error);
      expect(error.message).toMatch(/cleartext.*relay/);
      expect(await priya.proofs(session.sessionId)).toEqual([]);
    } finally {
      await tunnel.close();
      await priya.closeSession(session.sessionId);
    }
  });
});

/** Starts a SCRAM exchange by hand as app_scram; returns the client-first and the server-first. */
async function startExchange(clientFirst?: string) {
  const raw = await RawClient.open(pgServer.port);
  raw.write(serialize.startup({ user: 'app_scram', database: 'shop' }));
  const sasl = await raw.next();
  expect(sasl.type).toBe('R');
  let first = clientFirst;
  let scram: ScramClient | undefined;
  if (!first) {
    scram = new ScramClient(async () => ({ clientFinal: '', serverFinal: '' }));
    first = scram.clientFirst();
  }
  raw.write(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', first));
  const cont = await raw.next();
  expect(cont.type).toBe('R');
  return { raw, clientFirst: first, serverFirst: cont.bytes.toString('utf8', 9) };
}

describe('a proof', () => {
  it('opens exactly one connection: replayed on another, the server refuses it', async () => {
    const priya = people.priya!;
    const session = await priya.openSession('scram-db');
    try {
      // Someone holding Priya's token asks for a proof for a connection of their own: it works once, and
      // the hub has it on record (local enforcement does not stop the signed-in user; a relay does).
      const one = await startExchange();
      const proof = await priya.prove(session.sessionId, {
        method: 'postgres-scram-sha-256',
        connection: 7,
        clientFirst: one.clientFirst,
        serverFirst: one.serverFirst,
      });
      if (proof.method !== 'postgres-scram-sha-256') throw new Error('expected a SCRAM proof');
      one.raw.write(serialize.sendSCRAMClientFinalMessage(proof.clientFinal));
      const final = await one.raw.next();
      expect(final.type).toBe('R');
      expect(final.bytes.toString('utf8', 9)).toBe(proof.serverFinal);
      expect((await one.raw.until('Z')).at(-1)!.type).toBe('Z');
      one.raw.end();

      // The same client-first on a new connection: the server's nonce is new, so the old proof fails.
      const two = await startExchange(one.clientFirst);
      expect(two.serverFirst).not.toBe(one.serverFirst);
      two.raw.write(serialize.sendSCRAMClientFinalMessage(proof.clientFinal));
      const refused = await two.raw.next();
      expect(refused.type).toBe('E');
      expect(refused.bytes.toString('utf8')).toMatch(/C(28P01|08P01)/);
      two.raw.end();

      expect((await priya.proofs(session.sessionId)).map((p) => p.connection)).toEqual([7]);
    } finally {
      await priya.closeSession(session.sessionId);
    }
  });

  it('is refused once the session is closed: new connections fail even through a tunnel that ignores the hub', async () => {
    const priya = people.priya!;
    const session = await priya.openSession('scram-db');
    const { tunnel, connect } = await through(priya, session);
    try {
      const before = await connect();
      await priya.closeSession(session.sessionId, 'done');
      const refused = await rejectionOf(connect(), Error);
      expect(refused).toMatchObject({ code: '28000' });
      expect(refused.message).toMatch(/session .* is closed/);
      const direct = await startExchange();
      const error = await rejectionOf(
        priya.prove(session.sessionId, {
          method: 'postgres-scram-sha-256',
          connection: 9,
          clientFirst: direct.clientFirst,
          serverFirst: direct.serverFirst,
        }),
        HubError,
      );
      expect(error).toMatchObject({ status: 409 });
      direct.raw.end();
      // What was open before is the tunnel's to end (the manager does on close and revocation).
      expect((await before.query('SELECT 1 AS one')).rows[0].one).toBe(1);
      await before.end();
    } finally {
      await tunnel.close();
    }
  });

  it('is refused once the grant is revoked, and for someone else’s session', async () => {
    const marcus = people.marcus!;
    const elena = people.elena!;
    const request = await marcus.requestAccess({ targetId: 'jit-db', reason: 'incident', duration: '30m' });
    await elena.decideAccess(request.id, { approve: true });
    const session = await marcus.openSession('jit-db');
    const { tunnel, connect } = await through(marcus, session);
    try {
      await (await connect()).end();
      const { raw, clientFirst, serverFirst } = await startExchange();
      const asPriya = await rejectionOf(
        people.priya!.prove(session.sessionId, {
          method: 'postgres-scram-sha-256',
          connection: 2,
          clientFirst,
          serverFirst,
        }),
        HubError,
      );
      expect(asPriya).toMatchObject({ status: 403 });
      raw.end();

      await elena.revokeAccess(request.id, 'incident over');
      const refused = await rejectionOf(connect(), Error);
      expect(refused).toMatchObject({ code: '28000' });
      expect(refused.message).toMatch(/closing/);
    } finally {
      await tunnel.close();
    }
  });

  it('refuses challenges it should not answer, naming the field', async () => {
    const priya = people.priya!;
    const session = await priya.openSession('scram-db');
    const scram = (clientFirst: string, serverFirst: string, channelBinding?: string) =>
      rejectionOf(
        priya.prove(session.sessionId, {
          method: 'postgres-scram-sha-256',
          connection: 1,
          clientFirst,
          serverFirst,
          ...(channelBinding === undefined ? {} : { channelBinding }),
        }),
        HubError,
      );
    try {
      expect(await scram('n,,n=,r=abc', 'r=abcdef,s=c2FsdA==,i=5000000')).toMatchObject({
        status: 400,
        field: 'serverFirst',
        message: expect.stringMatching(/iteration count/),
      });
      expect(await scram('n,,n=,r=abc', 'r=xyzdef,s=c2FsdA==,i=4096')).toMatchObject({
        status: 400,
        field: 'serverFirst',
      });
      expect(await scram('p=tls-server-end-point,,n=,r=abc', 'r=abcdef,s=c2FsdA==,i=4096')).toMatchObject({
        status: 400,
        field: 'channelBinding',
      });
      expect(await scram('n,a=admin,n=,r=abc', 'r=abcdef,s=c2FsdA==,i=4096')).toMatchObject({
        status: 400,
        field: 'clientFirst',
      });
      const md5 = await rejectionOf(
        priya.prove(session.sessionId, { method: 'postgres-md5', connection: 1, salt: 'AAAAAAAA' }),
        HubError,
      );
      expect(md5).toMatchObject({ status: 400, field: 'salt' });
      expect(await priya.proofs(session.sessionId)).toEqual([]);
    } finally {
      await priya.closeSession(session.sessionId);
    }
  });

  it('is rate-limited per session: past the limit the client is told too many connections', async () => {
    const limited = await hubWith('delegation: { proofs_per_minute: 3 }');
    try {
      const priya = clientOf(limited, (await signIn(idp, 'priya')).accessToken);
      const session = await priya.openSession('scram-db');
      const { tunnel, connect } = await through(priya, session);
      try {
        for (let i = 0; i < 3; i++) await (await connect()).end();
        const refused = await rejectionOf(connect(), Error);
        expect(refused).toMatchObject({ code: '53300' });
        const raw = await fetch(`${limited.url}/v1/sessions/${session.sessionId}/proofs`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${(await signIn(idp, 'priya')).accessToken}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ method: 'postgres-md5', connection: 5, salt: 'AAAAAA==' }),
        });
        expect(raw.status).toBe(429);
        expect(raw.headers.get('retry-after')).toBe('60');
        // The other session of the same person has its own budget.
        const other = await priya.openSession('scram-db');
        const second = await through(priya, other);
        await (await second.connect()).end();
        await second.tunnel.close();
      } finally {
        await tunnel.close();
      }
    } finally {
      await limited.close();
    }
  });
});
