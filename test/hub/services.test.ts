import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  canonicalJson,
  chainHash,
  GENESIS_HASH,
  MAX_PAYLOAD_DEPTH,
  nestsDeeperThan,
  verifyChain,
} from '../../hub/api/recording-chain.ts';
import type { HubEvent, Identity, RecordingEventInput } from '../../hub/api/types.ts';
import { parseHubConfig, type HubConfig } from '../../hub/config/index.ts';
import { openHubDatabase, type HubDatabase } from '../../hub/db/index.ts';
import {
  ConflictError,
  createHubServices,
  ForbiddenError,
  ManualClock,
  NotFoundError,
  ProofService,
  RateLimitedError,
  UnavailableError,
  ValidationError,
  type HubServices,
} from '../../hub/services/index.ts';
import { targetCredentials } from '../../hub/services/proofs.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

type Backend = 'sqlite' | 'postgres';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// ---------------------------------------------------------------------------------------------------
// The cast

const person = (subject: string, groups: string[]): Identity => ({
  subject,
  name: subject[0]!.toUpperCase() + subject.slice(1),
  groups,
  kind: 'person',
});

const alice = person('alice', ['engineering']); // standing access to payments-db
const bob = person('bob', ['engineering']);
const oscar = person('oscar', ['oncall']); // may request payments-db and ledger-db
const mallory = person('mallory', ['oncall', 'managers', 'engineering']); // requester and approver
const mia = person('mia', ['managers']); // approver
const max = person('max', ['managers']); // approver
const boss = person('boss', ['platform-admins']);
const audrey = person('audrey', ['auditors']);
const eve = person('eve', ['contractors']);
const robot: Identity = { subject: 'ci-bot', name: 'ci-bot', groups: ['managers'], kind: 'agent' };

// ---------------------------------------------------------------------------------------------------
// Stores: an SQLite file, or a fresh database on one embedded PostgreSQL per file

let postgres: TestPostgres;
let scratch: string;
let stores = 0;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'portcullis-hub-services-'));
  await writeFile(path.join(scratch, 'ledger-password'), 'ledger-secret\n');
  await writeFile(path.join(scratch, 'strict.yaml'), 'extends: read-only\n');
  postgres = await startPostgres();
});

afterAll(async () => {
  await postgres?.stop();
  await rm(scratch, { recursive: true, force: true });
});

async function freshStore(backend: Backend): Promise<string> {
  stores++;
  if (backend === 'sqlite') return path.join(scratch, `store-${stores}`, 'hub.db');
  const name = `hub_services_${stores}`;
  return postgres.createDatabase(name);
}

function hubConfig(): HubConfig {
  return parseHubConfig(
    `identity: { issuer: http://127.0.0.1:4000, audience: portcullis-hub }
admins: [platform-admins]
auditors: [auditors]
targets:
  - id: payments-db
    kind: postgres
    address: db.internal:5432
    database: payments
    tls: { sslmode: verify-full }
    credentials: { user: app, password_env: PAYMENTS_DB_PASSWORD }
    policy: guarded
    access: [engineering]
    jit: { requesters: [oncall], approvers: [managers], max_duration: 4h }
    approvers: [managers]
  - id: ledger-db
    kind: postgres
    address: 10.0.0.7:6432
    database: ledger
    tls: { sslmode: disable }
    credentials: { user: ledger, password_file: ledger-password }
    policy: strict.yaml
    jit: { requesters: [oncall], approvers: [managers], max_duration: 1h, min_approvals: 2 }
  - id: vault-db
    kind: postgres
    address: 10.0.0.9:5432
    database: vault
    credentials: { user: vault, password_env: VAULT_DB_PASSWORD }
    access: [engineering]
`,
    path.join(scratch, 'hub.yaml'),
  );
}

interface Harness {
  services: HubServices;
  database: HubDatabase;
  clock: ManualClock;
  close(): Promise<void>;
}

async function harness(backend: Backend, location?: string): Promise<Harness> {
  const database = await openHubDatabase(location ?? (await freshStore(backend)));
  const clock = new ManualClock('2025-03-01T09:00:00.000Z');
  const services = await createHubServices({
    database,
    config: hubConfig(),
    clock,
    env: { PAYMENTS_DB_PASSWORD: 'payments-secret' },
  });
  return {
    services,
    database,
    clock,
    async close() {
      await services.close();
      await database.close();
    },
  };
}

/** A session of `who` with its first connection authenticated by the hub: it may hold statements. */
async function holdingSession(
  h: { services: HubServices },
  who: Identity,
  targetId: string,
): Promise<string> {
  const { sessionId } = await h.services.sessions.openSession(who, targetId);
  await h.services.proofs.prove(who, sessionId, { method: 'postgres-md5', connection: 1, salt: 'AAAAAA==' });
  return sessionId;
}

/** What an identity would get on the event stream: the stored events for it after an id. */
async function eventsFor(h: Harness, identity: Identity, after = 0): Promise<HubEvent[]> {
  return h.services.events.storedFor(identity, after);
}

async function lastEventId(h: Harness): Promise<number> {
  await h.services.events.settled();
  return h.services.events.lastId;
}

/** A well-formed chain of recording events: seq `from`…`from+count-1`, linked from `prev`. */
function chain(count: number, from = 1, prev = GENESIS_HASH): RecordingEventInput[] {
  const events: RecordingEventInput[] = [];
  for (let seq = from; seq < from + count; seq++) {
    const content = {
      seq,
      at: new Date(Date.UTC(2025, 2, 1, 9, 0, seq)).toISOString(),
      type: seq === from && from === 1 ? 'session.start' : 'statement',
      payload: { sql: `select ${seq}`, decision: 'allow', protocol: 'simple' },
    };
    const hash = chainHash(prev, content);
    events.push({ ...content, prevHash: prev, hash });
    prev = hash;
  }
  return events;
}

function next<T>(iterator: AsyncIterator<T>, ms = 20_000): Promise<T> {
  return Promise.race([
    iterator.next().then((r) => {
      if (r.done) throw new Error('the stream ended');
      return r.value;
    }),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`nothing within ${ms} ms`)), ms)),
  ]);
}

// ---------------------------------------------------------------------------------------------------

describe('the recording hash chain (hub/api/recording-chain.ts)', () => {
  it('hashes the predecessor and the canonical JSON of seq, at, type and payload', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: null }, u: undefined })).toBe(
      '{"a":{"c":null,"d":[3,{"e":2,"f":1}]},"b":1}',
    );
    const event = { seq: 1, at: '2025-03-01T09:00:00.000Z', type: 'session.start', payload: { b: 2, a: 1 } };
    // sha256("0"*64 + "\n" + '{"at":"2025-03-01T09:00:00.000Z","payload":{"a":1,"b":2},"seq":1,"type":"session.start"}')
    expect(chainHash(GENESIS_HASH, event)).toBe(
      chainHash(GENESIS_HASH, { ...event, payload: { a: 1, b: 2 } }),
    );
    expect(chainHash(GENESIS_HASH, event)).toMatch(/^[0-9a-f]{64}$/);
    expect(chainHash(GENESIS_HASH, event)).not.toBe(chainHash('1'.repeat(64), event));
  });

  it('writes canonical JSON as specified for any JSON value, at any depth, without recursion', () => {
    // The specification, written the obvious (recursive) way: keys sorted by code unit, no whitespace.
    const reference = (value: unknown): string => {
      if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
      if (value === null || typeof value !== 'object') return JSON.stringify(value);
      const record = value as Record<string, unknown>;
      const members = Object.keys(record)
        .sort()
        .map((key) => `${JSON.stringify(key)}:${reference(record[key])}`);
      return `{${members.join(',')}}`;
    };
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalJson(value)).toBe(reference(value));
      }),
      { numRuns: 500 },
    );
    expect(canonicalJson([undefined, () => 1, { a: undefined, b: Symbol('s'), c: new Date(0) }])).toBe(
      '[null,null,{"c":"1970-01-01T00:00:00.000Z"}]',
    );
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson(Number.NaN)).toBe('null');
    // Deeper than any call stack: a recursive encoder throws RangeError here.
    let deep: unknown = 'bottom';
    for (let i = 0; i < 200_000; i++) deep = i % 2 ? [deep] : { d: deep };
    expect(canonicalJson(deep)).toMatch(/^\[\{"d":\[\{"d":/);
    expect(nestsDeeperThan(deep, MAX_PAYLOAD_DEPTH)).toBe(true);
    expect(nestsDeeperThan({ a: [{ b: 1 }] }, 3)).toBe(false);
    expect(nestsDeeperThan({ a: [{ b: {} }] }, 3)).toBe(true);
  });

  it('verifies a run and names what is wrong', () => {
    const events = chain(4);
    expect(verifyChain(events)).toEqual([]);
    const tampered = events.map((e) => (e.seq === 2 ? { ...e, payload: { sql: 'drop table x' } } : e));
    expect(verifyChain(tampered)).toEqual([{ seq: 2, kind: 'tampered' }]);
    expect(verifyChain([events[0]!, events[2]!])).toEqual([{ seq: 3, kind: 'gap', expectedSeq: 2 }]);
  });
});

describe.each<Backend>(['sqlite', 'postgres'])('hub services on %s', (backend) => {
  describe('entitlements and sessions', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await harness(backend);
    });
    afterAll(async () => {
      await h.close();
    });

    it('lists the targets a caller may use now and those they may request', async () => {
      const forAlice = await h.services.entitlements.targetsFor(alice);
      expect(forAlice.map((t) => [t.id, t.status, t.usable])).toEqual([
        ['payments-db', 'standing', true],
        ['vault-db', 'standing', true],
      ]);
      const forOscar = await h.services.entitlements.targetsFor(oscar);
      expect(forOscar.map((t) => [t.id, t.status, t.usable, t.jit])).toEqual([
        ['payments-db', 'requestable', false, { maxDurationSeconds: 4 * 3600, minApprovals: 1 }],
        ['ledger-db', 'requestable', false, { maxDurationSeconds: 3600, minApprovals: 2 }],
      ]);
      expect(await h.services.entitlements.targetsFor(eve)).toEqual([]);
    });

    it('shows admins the whole catalogue, without access they do not have', async () => {
      const forBoss = await h.services.entitlements.targetsFor(boss);
      expect(forBoss.map((t) => [t.id, t.status, t.usable])).toEqual([
        ['payments-db', 'none', false],
        ['ledger-db', 'none', false],
        ['vault-db', 'none', false],
      ]);
      await expect(h.services.sessions.openSession(boss, 'payments-db')).rejects.toThrow(ForbiddenError);
    });

    it('opens a session with where and as whom to connect: the password is checked, never handed out', async () => {
      const opened = await h.services.sessions.openSession(alice, 'payments-db');
      expect(opened).toMatchObject({
        targetId: 'payments-db',
        openedAt: '2025-03-01T09:00:00.000Z',
        connection: {
          kind: 'postgres',
          host: 'db.internal',
          port: 5432,
          database: 'payments',
          user: 'app',
          tls: { sslmode: 'verify-full', sslrootcert: 'system', ca: null, sslservername: null },
          authentication: { kind: 'delegated' },
        },
        policy: { kind: 'preset', name: 'guarded' },
        grant: null,
        holdTimeoutSeconds: 300,
      });
      expect(JSON.stringify(opened)).not.toContain('payments-secret');
      const summary = await h.services.audit.getSession(opened.sessionId, alice);
      expect(summary).toMatchObject({ subject: 'alice', status: 'open', chainStatus: 'ok', grantId: null });
    });

    it('refuses a session without entitlement, saying why', async () => {
      const refusal = h.services.sessions.openSession(oscar, 'payments-db');
      await expect(refusal).rejects.toThrow(ForbiddenError);
      await expect(refusal).rejects.toThrow(/request just-in-time access/);
      await expect(h.services.sessions.openSession(eve, 'payments-db')).rejects.toThrow(ForbiddenError);
      await expect(h.services.sessions.openSession(alice, 'no-such-db')).rejects.toThrow(NotFoundError);
    });

    it('says the target is unavailable when its password is missing, without opening a session', async () => {
      const refusal = h.services.sessions.openSession(alice, 'vault-db');
      await expect(refusal).rejects.toThrow(UnavailableError);
      await expect(refusal).rejects.toThrow(/VAULT_DB_PASSWORD/);
      const sessions = await h.services.audit.searchSessions({ targetId: 'vault-db' }, alice);
      expect(sessions).toEqual([]);
    });

    it('gives no proof to a session closed while the proof was being made, and records none', async () => {
      const { sessionId } = await h.services.sessions.openSession(alice, 'payments-db');
      const ctx = {
        hub: h.database,
        config: () => h.services.config(),
        clock: h.clock,
        events: h.services.events,
        env: { PAYMENTS_DB_PASSWORD: 'payments-secret' },
      };
      // The session is closed (revoked, or its owner left) between the checks and the answer.
      const proofs = new ProofService(ctx, async (_session, target) => {
        await h.services.sessions.closeSession(alice, sessionId, 'revoked');
        return targetCredentials(ctx, target);
      });
      const proof = proofs.prove(alice, sessionId, {
        method: 'postgres-md5',
        connection: 1,
        salt: 'AAAAAA==',
      });
      await expect(proof).rejects.toThrow(ConflictError);
      await expect(proof).rejects.toThrow(/is closed: it opens no more connections/);
      expect(await h.services.proofs.list(alice, sessionId)).toEqual([]);
    });

    it('closes a session for its owner only; closing twice changes nothing', async () => {
      const { sessionId } = await h.services.sessions.openSession(alice, 'payments-db');
      await expect(h.services.sessions.closeSession(bob, sessionId)).rejects.toThrow(ForbiddenError);
      h.clock.advance(MINUTE);
      const closed = await h.services.sessions.closeSession(alice, sessionId, 'client disconnected');
      expect(closed).toMatchObject({
        status: 'closed',
        closedAt: '2025-03-01T09:01:00.000Z',
        closeReason: 'client disconnected',
      });
      h.clock.advance(MINUTE);
      expect(await h.services.sessions.closeSession(alice, sessionId)).toEqual(closed);
    });
  });

  describe('just-in-time access', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await harness(backend);
    });
    afterAll(async () => {
      await h.close();
    });

    it('takes a request from an allowed requester, with a reason, for no longer than max_duration', async () => {
      const create = (who: Identity, input: Parameters<HubServices['access']['create']>[1]) =>
        h.services.access.create(who, input);
      await expect(create(oscar, { targetId: 'payments-db', reason: '  ' })).rejects.toThrow(ValidationError);
      await expect(create(oscar, { targetId: 'payments-db', reason: 'x', duration: '5h' })).rejects.toThrow(
        /at most 4h/,
      );
      await expect(create(alice, { targetId: 'payments-db', reason: 'x' })).rejects.toThrow(ForbiddenError);
      await expect(create(oscar, { targetId: 'vault-db', reason: 'x' })).rejects.toThrow(ForbiddenError);
      await expect(create(oscar, { targetId: 'nope', reason: 'x' })).rejects.toThrow(NotFoundError);
    });

    it('grants on approval, expires on time, and then lists the sessions to close', async () => {
      const before = await lastEventId(h);
      const request = await h.services.access.create(oscar, {
        targetId: 'payments-db',
        reason: 'INC-4711: stuck payouts',
        duration: '2h',
      });
      expect(request).toMatchObject({
        state: 'pending',
        durationSeconds: 7200,
        minApprovals: 1,
        expiresAt: null,
      });
      await expect(
        h.services.access.create(oscar, { targetId: 'payments-db', reason: 'again' }),
      ).rejects.toThrow(ConflictError);

      // The approvers hear of it; the requester sees it pending.
      const toMia = await eventsFor(h, mia, before);
      expect(toMia.map((e) => e.type)).toEqual(['access.requested']);
      expect(toMia[0]!.payload).toMatchObject({
        request: { id: request.id, reason: 'INC-4711: stuck payouts' },
      });
      expect((await h.services.access.listPendingFor(mia)).map((r) => r.id)).toEqual([request.id]);
      expect(await h.services.access.listPendingFor(oscar)).toEqual([]);
      const pending = await h.services.entitlements.targetsFor(oscar);
      expect(pending.find((t) => t.id === 'payments-db')).toMatchObject({
        status: 'pending',
        pendingRequestId: request.id,
      });

      // Ten minutes later Mia approves: the grant runs two hours from her decision.
      h.clock.advance(10 * MINUTE);
      const approved = await h.services.access.decide(mia, request.id, {
        approve: true,
        comment: 'go ahead',
      });
      expect(approved).toMatchObject({
        state: 'approved',
        decidedAt: '2025-03-01T09:10:00.000Z',
        expiresAt: '2025-03-01T11:10:00.000Z',
        decisions: [{ approver: { subject: 'mia', name: 'Mia' }, approve: true, comment: 'go ahead' }],
      });
      const toOscar = await eventsFor(h, oscar, before);
      expect(toOscar.map((e) => e.type)).toEqual(['access.decided']);
      expect(toOscar[0]!.payload).toMatchObject({ request: { state: 'approved' } });
      expect(await h.services.access.listPendingFor(mia)).toEqual([]);

      const granted = await h.services.entitlements.targetsFor(oscar);
      expect(granted.find((t) => t.id === 'payments-db')).toMatchObject({
        status: 'granted',
        usable: true,
        grant: { requestId: request.id, expiresAt: '2025-03-01T11:10:00.000Z' },
      });
      const session = await h.services.sessions.openSession(oscar, 'payments-db');
      expect(session.grant).toEqual({ requestId: request.id, expiresAt: '2025-03-01T11:10:00.000Z' });

      // Shortly before the end the requester is warned, once.
      h.clock.set('2025-03-01T11:00:00.000Z');
      expect(await h.services.sessions.sessionsToClose()).toEqual([]);
      expect(await h.services.access.expireGrants()).toEqual({
        expiredGrants: 0,
        expiredRequests: 0,
        warned: 1,
      });
      expect(await h.services.access.expireGrants()).toEqual({
        expiredGrants: 0,
        expiredRequests: 0,
        warned: 0,
      });

      // On time, the session is due to close even before the sweep marks the grant expired.
      h.clock.set('2025-03-01T11:10:00.000Z');
      const due = [
        {
          sessionId: session.sessionId,
          subject: 'oscar',
          targetId: 'payments-db',
          grantId: request.id,
          reason: 'grant-expired',
        },
      ];
      expect(await h.services.sessions.sessionsToClose()).toEqual(due);
      await expect(h.services.sessions.openSession(oscar, 'payments-db')).rejects.toThrow(ForbiddenError);
      expect(await h.services.access.expireGrants()).toEqual({
        expiredGrants: 1,
        expiredRequests: 0,
        warned: 0,
      });
      expect(await h.services.sessions.sessionsToClose()).toEqual(due);
      const types = (await eventsFor(h, oscar, before)).map((e) => e.type);
      expect(types).toEqual(['access.decided', 'access.expiring', 'access.expired', 'session.revoked']);
      expect((await h.services.access.get(oscar, request.id)).state).toBe('expired');
      expect((await h.services.entitlements.targetsFor(oscar))[0]!.status).toBe('requestable');

      await h.services.sessions.closeSession(oscar, session.sessionId, 'grant expired');
      expect(await h.services.sessions.sessionsToClose()).toEqual([]);
    });

    it('never lets anyone approve their own request', async () => {
      const own = await h.services.access.create(mallory, { targetId: 'payments-db', reason: 'migration' });
      await expect(h.services.access.decide(mallory, own.id, { approve: true })).rejects.toThrow(
        /your own request/,
      );
      expect(await h.services.access.listPendingFor(mallory)).toEqual([]);
      expect((await h.services.access.listPendingFor(mia)).map((r) => r.id)).toContain(own.id);
      // Nor may someone who is not an approver, nor an agent that is in the group.
      await expect(h.services.access.decide(alice, own.id, { approve: true })).rejects.toThrow(
        ForbiddenError,
      );
      await expect(h.services.access.decide(robot, own.id, { approve: true })).rejects.toThrow(
        ForbiddenError,
      );
      expect((await h.services.access.get(mallory, own.id)).state).toBe('pending');
      await h.services.access.revoke(mallory, own.id);
    });

    it('needs min_approvals distinct approvers; each decides once', async () => {
      const request = await h.services.access.create(oscar, { targetId: 'ledger-db', reason: 'month end' });
      h.clock.advance(MINUTE);
      const first = await h.services.access.decide(mia, request.id, { approve: true });
      expect(first.state).toBe('pending');
      expect(first.decisions).toHaveLength(1);
      await expect(h.services.access.decide(mia, request.id, { approve: true })).rejects.toThrow(
        ConflictError,
      );
      expect((await h.services.access.listPendingFor(mia)).map((r) => r.id)).not.toContain(request.id);
      expect((await h.services.access.listPendingFor(max)).map((r) => r.id)).toContain(request.id);
      h.clock.advance(MINUTE);
      const second = await h.services.access.decide(max, request.id, { approve: true });
      expect(second.state).toBe('approved');
      expect(second.decisions.map((d) => d.approver.subject)).toEqual(['mia', 'max']);
      await expect(h.services.access.decide(mallory, request.id, { approve: false })).rejects.toThrow(
        ConflictError,
      );

      const opened = await h.services.sessions.openSession(oscar, 'ledger-db');
      expect(opened.connection).toMatchObject({
        host: '10.0.0.7',
        port: 6432,
        user: 'ledger',
        tls: { sslmode: 'disable', ca: null, sslrootcert: null },
      });
      expect(opened.policy).toEqual({ kind: 'file', name: 'strict.yaml', yaml: 'extends: read-only\n' });
      await h.services.sessions.closeSession(oscar, opened.sessionId);
      await h.services.access.revoke(oscar, request.id, 'done early');
    });

    it('denies on one denial', async () => {
      const request = await h.services.access.create(oscar, { targetId: 'ledger-db', reason: 'curious' });
      await h.services.access.decide(mia, request.id, { approve: true });
      h.clock.advance(MINUTE);
      const denied = await h.services.access.decide(max, request.id, {
        approve: false,
        comment: 'not needed',
      });
      expect(denied).toMatchObject({ state: 'denied', expiresAt: null });
      expect(denied.decisions.map((d) => [d.approver.subject, d.approve, d.comment])).toEqual([
        ['mia', true, null],
        ['max', false, 'not needed'],
      ]);
      await expect(h.services.sessions.openSession(oscar, 'ledger-db')).rejects.toThrow(ForbiddenError);
    });

    it('lets the requester cancel a pending request, and nobody else but an admin', async () => {
      const request = await h.services.access.create(oscar, { targetId: 'payments-db', reason: 'check' });
      await expect(h.services.access.revoke(eve, request.id)).rejects.toThrow(ForbiddenError);
      await expect(h.services.access.revoke(mia, request.id)).rejects.toThrow(ForbiddenError);
      const cancelled = await h.services.access.revoke(oscar, request.id, 'solved it');
      expect(cancelled).toMatchObject({
        state: 'cancelled',
        closedBy: { subject: 'oscar' },
        closeComment: 'solved it',
      });
      await expect(h.services.access.decide(mia, request.id, { approve: true })).rejects.toThrow(
        ConflictError,
      );
      await expect(h.services.access.revoke(oscar, request.id)).rejects.toThrow(ConflictError);
    });

    it('revokes a grant: its sessions are asked to close and their owner hears it', async () => {
      const request = await h.services.access.create(oscar, { targetId: 'payments-db', reason: 'hotfix' });
      await h.services.access.decide(mia, request.id, { approve: true });
      const session = await h.services.sessions.openSession(oscar, 'payments-db');
      const before = await lastEventId(h);
      await expect(h.services.access.revoke(eve, request.id)).rejects.toThrow(ForbiddenError);
      const revoked = await h.services.access.revoke(boss, request.id, 'incident closed');
      expect(revoked).toMatchObject({ state: 'revoked', closedBy: { subject: 'boss', name: 'Boss' } });
      expect(await h.services.sessions.sessionsToClose()).toEqual([
        {
          sessionId: session.sessionId,
          subject: 'oscar',
          targetId: 'payments-db',
          grantId: request.id,
          reason: 'grant-revoked',
        },
      ]);
      const toOscar = await eventsFor(h, oscar, before);
      expect(toOscar.map((e) => [e.type, e.payload['reason'] ?? null])).toEqual([
        ['access.revoked', null],
        ['session.revoked', 'grant-revoked'],
      ]);
      expect(toOscar[1]!.payload).toMatchObject({ sessionId: session.sessionId });
      expect((await h.services.audit.getSession(session.sessionId, oscar)).status).toBe('closing');
      await expect(h.services.sessions.openSession(oscar, 'payments-db')).rejects.toThrow(ForbiddenError);
      await h.services.sessions.closeSession(oscar, session.sessionId, 'revoked');
      expect((await h.services.audit.getSession(session.sessionId, oscar)).closeReason).toBe('grant-revoked');
    });

    it('expires a request nobody decided after a day', async () => {
      const request = await h.services.access.create(oscar, { targetId: 'payments-db', reason: 'later' });
      h.clock.advance(23 * HOUR);
      expect((await h.services.access.expireGrants()).expiredRequests).toBe(0);
      h.clock.advance(HOUR);
      expect((await h.services.access.expireGrants()).expiredRequests).toBe(1);
      expect((await h.services.access.get(oscar, request.id)).state).toBe('expired');
      await expect(h.services.access.decide(mia, request.id, { approve: true })).rejects.toThrow(
        ConflictError,
      );
    });

    it('shows a request to its requester, approvers and auditors only', async () => {
      const [mine] = await h.services.access.listMine(oscar, { limit: 1 });
      expect(mine).toBeDefined();
      await expect(h.services.access.get(mia, mine!.id)).resolves.toMatchObject({ id: mine!.id });
      await expect(h.services.access.get(audrey, mine!.id)).resolves.toMatchObject({ id: mine!.id });
      await expect(h.services.access.get(alice, mine!.id)).rejects.toThrow(ForbiddenError);
      await expect(h.services.access.get(alice, 'nope')).rejects.toThrow(NotFoundError);
      expect((await h.services.access.listMine(alice)).length).toBe(0);
    });
  });

  describe('held statements', () => {
    let h: Harness;
    let session: string;
    beforeAll(async () => {
      h = await harness(backend);
      session = await holdingSession(h, alice, 'payments-db');
    });
    afterAll(async () => {
      await h.close();
    });

    const hold = (who: Identity, sessionId: string, sql = 'update accounts set frozen = true') =>
      h.services.approvals.create(who, {
        sessionId,
        connection: 1,
        sql,
        classes: ['write'],
        rule: 'preset guarded: write',
      });

    it('holds a statement of the caller’s own session and asks the target’s approvers', async () => {
      const before = await lastEventId(h);
      const approval = await hold(alice, session);
      expect(approval).toMatchObject({
        sessionId: session,
        targetId: 'payments-db',
        requester: { subject: 'alice', name: 'Alice' },
        classes: ['write'],
        state: 'pending',
        createdAt: '2025-03-01T09:00:00.000Z',
        expiresAt: '2025-03-01T09:05:00.000Z',
      });
      const toMia = await eventsFor(h, mia, before);
      expect(toMia.map((e) => e.type)).toEqual(['approval.requested']);
      expect((await h.services.approvals.listPendingFor(mia)).map((a) => a.id)).toContain(approval.id);
      await expect(hold(bob, session)).rejects.toThrow(ForbiddenError);
      await expect(hold(alice, 'no-such-session')).rejects.toThrow(NotFoundError);
      await h.services.approvals.withdraw(alice, approval.id, 'client cancelled');
    });

    it('resolves the waiting tunnel when an approver decides', async () => {
      const approval = await hold(alice, session);
      const waiting = h.services.approvals.waitForDecision(alice, approval.id);
      await expect(h.services.approvals.decide(alice, approval.id, { approve: true })).rejects.toThrow(
        ForbiddenError,
      );
      const before = await lastEventId(h);
      h.clock.advance(30_000);
      await h.services.approvals.decide(mia, approval.id, { approve: true, comment: 'ok, ticket 12' });
      await expect(waiting).resolves.toMatchObject({
        id: approval.id,
        state: 'approved',
        decidedBy: { subject: 'mia', name: 'Mia' },
        comment: 'ok, ticket 12',
        decidedAt: '2025-03-01T09:00:30.000Z',
      });
      expect((await eventsFor(h, alice, before)).map((e) => e.type)).toEqual(['approval.decided']);
      expect((await eventsFor(h, max, before)).map((e) => e.type)).toEqual(['approval.updated']);
      await expect(h.services.approvals.decide(max, approval.id, { approve: false })).rejects.toThrow(
        ConflictError,
      );
    });

    it('never lets the requester decide their own statement', async () => {
      const own = await holdingSession(h, mallory, 'payments-db');
      const approval = await hold(mallory, own, 'delete from sessions');
      await expect(h.services.approvals.decide(mallory, approval.id, { approve: true })).rejects.toThrow(
        /your own statement/,
      );
      expect((await h.services.approvals.listPendingFor(mallory)).map((a) => a.id)).not.toContain(
        approval.id,
      );
      const denied = await h.services.approvals.decide(max, approval.id, { approve: false, comment: 'no' });
      expect(denied).toMatchObject({ state: 'denied', decidedBy: { subject: 'max' } });
    });

    it('expires a hold nobody decided, and the waiter learns it', async () => {
      const approval = await hold(alice, session);
      const waiting = h.services.approvals.waitForDecision(alice, approval.id);
      h.clock.advance(5 * MINUTE);
      expect(await h.services.approvals.expireApprovals()).toBe(1);
      await expect(waiting).resolves.toMatchObject({ state: 'expired' });
      await expect(h.services.approvals.decide(mia, approval.id, { approve: true })).rejects.toThrow(
        ConflictError,
      );
    });

    it('lets the waiter give up through its signal', async () => {
      const approval = await hold(alice, session);
      const controller = new AbortController();
      const waiting = h.services.approvals.waitForDecision(alice, approval.id, controller.signal);
      controller.abort(new Error('client cancelled'));
      await expect(waiting).rejects.toThrow('client cancelled');
      const withdrawn = await h.services.approvals.withdraw(alice, approval.id, 'client cancelled');
      expect(withdrawn).toMatchObject({ state: 'withdrawn', comment: 'client cancelled' });
    });

    it('refuses holds on a closed session or a target without approvers', async () => {
      const vaultSession = await h.services.sessions
        .openSession(alice, 'vault-db')
        .then(() => 'opened')
        .catch(() => 'unavailable');
      expect(vaultSession).toBe('unavailable');
      const other = (await h.services.sessions.openSession(bob, 'payments-db')).sessionId;
      await h.services.sessions.closeSession(bob, other);
      await expect(hold(bob, other)).rejects.toThrow(ConflictError);
    });
  });

  describe('held statements cannot be flooded', () => {
    let h: Harness;
    beforeEach(async () => {
      h = await harness(backend);
    });
    afterEach(async () => {
      await h.close();
    });

    const holdOn = (sessionId: string, sql: string, connection = 1) =>
      h.services.approvals.create(alice, {
        sessionId,
        connection,
        sql,
        classes: ['write'],
        rule: 'preset guarded: write',
      });

    it('takes a hold only from a connection the hub authenticated for that session', async () => {
      const session = await holdingSession(h, alice, 'payments-db');
      const bare = (await h.services.sessions.openSession(alice, 'payments-db')).sessionId;
      await expect(holdOn(session, 'delete from t', 2)).rejects.toThrow(/connection 2 .* not authenticated/);
      await expect(holdOn(bare, 'delete from t', 1)).rejects.toThrow(ForbiddenError);
      await expect(holdOn(session, 'delete from t', 0)).rejects.toThrow(ValidationError);
      await expect(holdOn(session, 'delete from t', 1.5)).rejects.toThrow(ValidationError);
      // The catalog connection (0) signs in too, but holds nothing.
      await h.services.proofs.prove(alice, bare, {
        method: 'postgres-md5',
        connection: 3,
        purpose: 'catalog',
        salt: 'AAAAAA==',
      });
      await expect(holdOn(bare, 'delete from t', 3)).rejects.toThrow(ForbiddenError);
      expect(await h.services.approvals.listPendingFor(mia)).toEqual([]);
    });

    it('collapses identical pending statements of a session into one approval that counts them', async () => {
      const session = await holdingSession(h, alice, 'payments-db');
      await h.services.proofs.prove(alice, session, {
        method: 'postgres-md5',
        connection: 2,
        salt: 'AAAAAA==',
      });
      const before = await lastEventId(h);
      const first = await holdOn(session, 'delete from orders where id = 7');
      const again = await holdOn(session, 'delete from orders where id = 7', 2);
      const third = await holdOn(session, 'delete from orders where id = 7');
      expect([again.id, third.id]).toEqual([first.id, first.id]);
      expect(third.holds).toBe(3);
      // Approvers were asked once, and see how many statements wait.
      expect((await eventsFor(h, mia, before)).map((e) => e.type)).toEqual(['approval.requested']);
      expect(await h.services.approvals.listPendingFor(mia)).toMatchObject([{ id: first.id, holds: 3 }]);
      // One statement gives up: the others still wait.
      expect(await h.services.approvals.withdraw(alice, first.id, 'cancelled')).toMatchObject({
        state: 'pending',
        holds: 2,
      });
      const decided = await h.services.approvals.decide(mia, first.id, { approve: true });
      expect(decided).toMatchObject({ state: 'approved', holds: 2 });
      // Decided: the same text asks again.
      const next = await holdOn(session, 'delete from orders where id = 7');
      expect(next.id).not.toBe(first.id);
      // Another session's identical statement is its own approval.
      const other = await holdingSession(h, alice, 'payments-db');
      expect((await holdOn(other, 'delete from orders where id = 7')).id).not.toBe(next.id);
    });

    it('limits new holds per session and per requester per minute, and pending ones per requester', async () => {
      // Defaults: 20 per session a minute, 60 per requester a minute, 20 waiting at once.
      const sessions = [await holdingSession(h, alice, 'payments-db')];
      for (let i = 0; i < 20; i++) {
        const held = await holdOn(sessions[0]!, `delete from orders where id = ${i}`);
        await h.services.approvals.withdraw(alice, held.id, 'test');
      }
      const refused = await holdOn(sessions[0]!, 'delete from orders where id = 20').catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(RateLimitedError);
      expect((refused as RateLimitedError).retryAfterSeconds).toBe(60);
      expect((refused as Error).message).toMatch(/held 20 statements for approval in the last minute/);
      // Identical to one still pending: joins it, beyond the limit.
      const waiting = await h.services.approvals
        .create(alice, {
          sessionId: sessions[0]!,
          connection: 1,
          sql: 'delete from orders where id = 19',
          classes: ['write'],
          rule: 'another rule',
        })
        .catch((e: unknown) => e);
      expect(waiting).toBeInstanceOf(RateLimitedError);

      // Per requester: 60 a minute over all sessions.
      for (let s = 1; s <= 2; s++) {
        sessions.push(await holdingSession(h, alice, 'payments-db'));
        for (let i = 0; i < 20; i++) {
          const held = await holdOn(sessions[s]!, `update orders set n = ${i} where id = ${s}`);
          await h.services.approvals.withdraw(alice, held.id, 'test');
        }
      }
      sessions.push(await holdingSession(h, alice, 'payments-db'));
      await expect(holdOn(sessions[3]!, 'delete from orders')).rejects.toThrow(
        /you held 60 statements for approval in the last minute/,
      );
      // Someone else is not limited by alice.
      const bobs = await holdingSession(h, bob, 'payments-db');
      await expect(
        h.services.approvals.create(bob, {
          sessionId: bobs,
          connection: 1,
          sql: 'delete from orders',
          classes: ['write'],
          rule: 'preset guarded: write',
        }),
      ).resolves.toMatchObject({ state: 'pending' });

      // A minute later the windows have passed; but only 20 may wait at once.
      h.clock.advance(61_000);
      const fresh = await holdingSession(h, alice, 'payments-db');
      const held = [];
      for (let i = 0; i < 20; i++) held.push(await holdOn(i < 10 ? fresh : sessions[1]!, `select ${i}`));
      await expect(holdOn(sessions[2]!, 'select 20')).rejects.toThrow(
        /20 of your held statements already wait for a decision/,
      );
      await h.services.approvals.decide(mia, held[0]!.id, { approve: false });
      await expect(holdOn(sessions[2]!, 'select 20')).resolves.toMatchObject({ state: 'pending' });
      expect((await h.services.approvals.listPendingFor(mia)).length).toBe(21); // 20 of alice's, 1 of bob's
    });

    it('expires the holds of a session that ended, and the waiting tunnel learns it', async () => {
      const session = await holdingSession(h, alice, 'payments-db');
      const held = await holdOn(session, 'delete from orders where id = 1');
      const waiting = h.services.approvals.waitForDecision(alice, held.id);
      const other = await holdingSession(h, alice, 'payments-db');
      const kept = await holdOn(other, 'delete from orders where id = 2');
      await h.services.sessions.closeSession(alice, session);
      expect((await h.services.sweep()).expiredApprovals).toBe(1);
      await expect(waiting).resolves.toMatchObject({
        state: 'expired',
        comment: 'the session ended before a decision',
      });
      expect((await h.services.approvals.listPendingFor(mia)).map((a) => a.id)).toEqual([kept.id]);
      await expect(h.services.approvals.decide(mia, held.id, { approve: true })).rejects.toThrow(
        ConflictError,
      );
      expect((await h.services.sweep()).expiredApprovals).toBe(0);
    });
  });

  describe('the event stream', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await harness(backend);
    });
    afterAll(async () => {
      await h.close();
    });

    it('delivers to subjects and groups, never to the excluded subject, resuming after an id', async () => {
      const [first, second, third] = await h.services.events.append([
        { type: 'access.requested', payload: { n: 1 }, to: { groups: ['managers'] } },
        { type: 'access.decided', payload: { n: 2 }, to: { subjects: ['alice'] } },
        { type: 'access.requested', payload: { n: 3 }, to: { groups: ['managers'], exceptSubject: 'mia' } },
      ]);
      expect((await eventsFor(h, mia)).map((e) => e.id)).toEqual([first]);
      expect((await eventsFor(h, max)).map((e) => e.id)).toEqual([first, third]);
      expect((await eventsFor(h, alice)).map((e) => e.id)).toEqual([second]);
      expect(await eventsFor(h, max, first)).toEqual([
        { id: third, type: 'access.requested', payload: { n: 3 }, createdAt: '2025-03-01T09:00:00.000Z' },
      ]);
    });

    it('streams stored events after Last-Event-ID, then live ones, until the signal aborts', async () => {
      const controller = new AbortController();
      const iterator = h.services.events.subscribe(max, { after: 0, signal: controller.signal });
      expect((await next(iterator)).payload).toEqual({ n: 1 });
      expect((await next(iterator)).payload).toEqual({ n: 3 });
      const pending = next(iterator);
      await h.services.events.append([
        { type: 'approval.requested', payload: { n: 4 }, to: { groups: ['managers'] } },
      ]);
      expect((await pending).payload).toEqual({ n: 4 });
      const ended = iterator.next();
      controller.abort();
      await expect(ended).resolves.toEqual({ done: true, value: undefined });
    });

    it('prunes events past the retention (3 days) once an hour, with their recipients; recordings stay', async () => {
      const t0 = h.clock.now();
      const session = await h.services.sessions.openSession(alice, 'payments-db');
      await h.services.recordings.ingest(alice, session.sessionId, chain(3));
      const old = await h.services.events.append([
        { type: 'access.requested', payload: { old: 1 }, to: { groups: ['managers'] } },
        { type: 'access.decided', payload: { old: 2 }, to: { subjects: ['alice'] } },
      ]);
      h.clock.advance(2 * DAY);
      const kept = await h.services.events.append([
        { type: 'access.requested', payload: { kept: 1 }, to: { groups: ['managers'] } },
      ]);
      h.clock.advance(DAY + MINUTE);
      const first = await h.services.sweep();
      expect(first.prunedEvents).toBeGreaterThanOrEqual(old.length);
      const left = await h.database.db.selectFrom('events').select('id').execute();
      expect(left.map((row) => Number(row.id))).not.toEqual(expect.arrayContaining([old[0]]));
      expect(left.map((row) => Number(row.id))).toEqual(expect.arrayContaining(kept));
      const recipients = await h.database.db
        .selectFrom('event_recipients')
        .select('event_id')
        .where('event_id', 'in', old)
        .execute();
      expect(recipients).toEqual([]);
      expect(await h.services.audit.sessionEvents(session.sessionId, audrey)).toHaveLength(3);
      // Not due again within the hour, whatever is old by then.
      const pruneTime = h.clock.now();
      h.clock.advance(-4 * DAY);
      await h.services.events.append([
        { type: 'access.requested', payload: {}, to: { groups: ['managers'] } },
      ]);
      h.clock.set(pruneTime);
      h.clock.advance(30 * MINUTE);
      expect((await h.services.sweep()).prunedEvents).toBe(0);
      h.clock.advance(HOUR);
      expect((await h.services.sweep()).prunedEvents).toBe(1);
      h.clock.set(t0);
    });

    it('starts from now without Last-Event-ID', async () => {
      const controller = new AbortController();
      const iterator = h.services.events.subscribe(mia, { signal: controller.signal });
      const pending = next(iterator);
      await h.services.events.append([
        { type: 'approval.updated', payload: { n: 5 }, to: { subjects: ['mia'] } },
      ]);
      expect((await pending).payload).toEqual({ n: 5 });
      controller.abort();
    });
  });

  describe('recordings', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await harness(backend);
    });
    afterAll(async () => {
      await h.close();
    });

    const open = async (who: Identity = alice) =>
      (await h.services.sessions.openSession(who, 'payments-db')).sessionId;

    it('stores a batch once, however often it is sent', async () => {
      const session = await open();
      const batch = chain(10);
      expect(await h.services.recordings.ingest(alice, session, batch)).toEqual({
        stored: 10,
        duplicates: 0,
        conflicts: 0,
        chainStatus: 'ok',
        lastSeq: 10,
      });
      expect(await h.services.recordings.ingest(alice, session, batch)).toEqual({
        stored: 0,
        duplicates: 10,
        conflicts: 0,
        chainStatus: 'ok',
        lastSeq: 10,
      });
      const events = await h.services.audit.sessionEvents(session, alice);
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(events.every((e) => e.chainOk === true)).toBe(true);
      expect(events[3]).toMatchObject({ ...batch[3], chainOk: true, receivedAt: '2025-03-01T09:00:00.000Z' });
      expect(await h.services.audit.getSession(session, alice)).toMatchObject({
        chainStatus: 'ok',
        eventCount: 10,
        statementCount: 9,
        lastSeq: 10,
        maxSeq: 10,
        anomalyCount: 0,
      });
    });

    it('closes the session when its recording ends the tunnel, even if the tunnel could not say so itself', async () => {
      const session = await open();
      const events = chain(3);
      const end = {
        seq: 4,
        at: '2025-03-01T09:00:04.000Z',
        type: 'tunnel.close',
        payload: { reason: 'the tunnel was stopped (SIGINT)', connections: 1, statements: 2 },
      };
      const hash = chainHash(events[2]!.hash, end);
      await h.services.recordings.ingest(alice, session, events);
      expect(await h.services.audit.getSession(session, alice)).toMatchObject({ status: 'open' });
      await h.services.recordings.ingest(alice, session, [{ ...end, prevHash: events[2]!.hash, hash }]);
      expect(await h.services.audit.getSession(session, alice)).toMatchObject({
        status: 'closed',
        closeReason: 'the tunnel was stopped (SIGINT)',
        chainStatus: 'ok',
        lastSeq: 4,
      });
    });

    it('does not let a tampered end close the session', async () => {
      const session = await open();
      const [start] = chain(1);
      const end = {
        seq: 2,
        at: '2025-03-01T09:00:02.000Z',
        type: 'tunnel.abandoned',
        payload: { reason: 'x' },
      };
      const forged = { ...end, prevHash: start!.hash, hash: 'f'.repeat(64) };
      await h.services.recordings.ingest(alice, session, [start!, forged]);
      expect(await h.services.audit.getSession(session, alice)).toMatchObject({
        status: 'open',
        chainStatus: 'broken',
      });
    });

    it('stores events that arrive out of order and verifies them when the gap fills', async () => {
      const session = await open();
      const events = chain(6);
      await h.services.recordings.ingest(alice, session, events.slice(0, 3));
      const early = await h.services.recordings.ingest(alice, session, [events[5]!, events[4]!]);
      expect(early).toMatchObject({ stored: 2, chainStatus: 'incomplete', lastSeq: 3 });
      expect((await h.services.audit.sessionEvents(session, alice)).map((e) => [e.seq, e.chainOk])).toEqual([
        [1, true],
        [2, true],
        [3, true],
        [5, null],
        [6, null],
      ]);
      const filled = await h.services.recordings.ingest(alice, session, [events[3]!]);
      expect(filled).toMatchObject({ stored: 1, chainStatus: 'ok', lastSeq: 6 });
      const stored = await h.services.audit.sessionEvents(session, alice);
      expect(stored.map((e) => [e.seq, e.chainOk])).toEqual([1, 2, 3, 4, 5, 6].map((seq) => [seq, true]));
    });

    it('flags a tampered event: stored, marked, and the session’s chain broken', async () => {
      const session = await open();
      const events = chain(4);
      events[2] = { ...events[2]!, payload: { sql: 'select 1', decision: 'allow', note: 'edited' } };
      const result = await h.services.recordings.ingest(alice, session, events);
      expect(result).toMatchObject({ stored: 4, chainStatus: 'broken', lastSeq: 4 });
      const stored = await h.services.audit.sessionEvents(session, alice);
      expect(stored.map((e) => e.chainOk)).toEqual([true, true, false, true]);
      expect(stored[2]!.payload).toMatchObject({ note: 'edited' });
      const anomalies = await h.services.audit.sessionAnomalies(session, alice);
      expect(anomalies.map((a) => [a.kind, a.seq])).toEqual([['tampered', 3]]);
      // The genuine event resent later (same hash) does not repair it: stored events are never overwritten.
      const again = await h.services.recordings.ingest(alice, session, chain(4));
      expect(again).toMatchObject({ stored: 0, duplicates: 4, conflicts: 0, chainStatus: 'broken' });
      expect((await h.services.audit.sessionEvents(session, alice))[2]!.payload).toMatchObject({
        note: 'edited',
      });
    });

    it('flags an event whose prevHash does not match its predecessor', async () => {
      const session = await open();
      const [first, second] = chain(2);
      const forged = { seq: 2, at: second!.at, type: second!.type, payload: second!.payload };
      const prevHash = 'f'.repeat(64);
      const result = await h.services.recordings.ingest(alice, session, [
        first!,
        { ...forged, prevHash, hash: chainHash(prevHash, forged) },
      ]);
      expect(result.chainStatus).toBe('broken');
      const anomalies = await h.services.audit.sessionAnomalies(session, alice);
      expect(anomalies).toMatchObject([
        { kind: 'prev-mismatch', seq: 2, detail: { expectedPrevHash: first!.hash, prevHash } },
      ]);
    });

    it('keeps the first version of a resent event with a different hash, recording the conflict', async () => {
      const session = await open();
      const events = chain(3);
      await h.services.recordings.ingest(alice, session, events);
      const rewritten = {
        seq: 2,
        at: events[1]!.at,
        type: 'statement',
        payload: { sql: 'drop table audit' },
      };
      const other = { ...rewritten, prevHash: events[0]!.hash, hash: chainHash(events[0]!.hash, rewritten) };
      const result = await h.services.recordings.ingest(alice, session, [other]);
      expect(result).toMatchObject({ stored: 0, duplicates: 0, conflicts: 1, chainStatus: 'broken' });
      const stored = await h.services.audit.sessionEvents(session, alice);
      expect(stored[1]).toMatchObject({ seq: 2, hash: events[1]!.hash, payload: events[1]!.payload });
      // A resend under the stored hash whose content does not match it is a conflict too.
      const altered = { ...events[2]!, payload: { sql: 'select 3; drop table audit' } };
      expect(await h.services.recordings.ingest(alice, session, [altered])).toMatchObject({ conflicts: 1 });
      const anomalies = await h.services.audit.sessionAnomalies(session, alice);
      expect(anomalies).toMatchObject([
        { kind: 'conflict', seq: 2, detail: { storedHash: events[1]!.hash, received: { hash: other.hash } } },
        {
          kind: 'conflict',
          seq: 3,
          detail: { storedHash: events[2]!.hash, received: { hash: events[2]!.hash } },
        },
      ]);
      expect((await h.services.audit.sessionEvents(session, alice))[2]!.payload).toEqual(events[2]!.payload);
    });

    it('flags a gap still open after the session closed and the grace period passed', async () => {
      const session = await open();
      const events = chain(5);
      await h.services.recordings.ingest(alice, session, [events[0]!, events[1]!, events[3]!, events[4]!]);
      await h.services.sessions.closeSession(alice, session);
      expect((await h.services.audit.getSession(session, alice)).chainStatus).toBe('incomplete');
      h.clock.advance(9 * MINUTE);
      expect(await h.services.recordings.finalizeRecordings()).toBe(0);
      h.clock.advance(MINUTE);
      expect(await h.services.recordings.finalizeRecordings()).toBe(1);
      expect(await h.services.recordings.finalizeRecordings()).toBe(0);
      expect(await h.services.audit.getSession(session, alice)).toMatchObject({
        chainStatus: 'broken',
        lastSeq: 2,
        maxSeq: 5,
        anomalyCount: 1,
      });
      const anomalies = await h.services.audit.sessionAnomalies(session, alice);
      expect(anomalies).toMatchObject([{ kind: 'gap', seq: 3, detail: { missingFrom: 3, missingTo: 3 } }]);
    });

    it('counts denied and held statements for the audit search', async () => {
      const session = await open();
      const contents = [
        { type: 'session.start', payload: {} },
        {
          type: 'statement',
          payload: { sql: 'drop table t', decision: 'deny', rule: 'preset guarded: drop' },
        },
        { type: 'hold', payload: { request: '1', sql: 'update t set a = 1', rule: 'preset guarded: write' } },
        { type: 'statement', payload: { sql: 'update t set a = 1', decision: 'allow' } },
      ];
      let prev = GENESIS_HASH;
      const events = contents.map((c, i) => {
        const content = { seq: i + 1, at: `2025-03-01T09:00:0${i}.000Z`, ...c };
        const hash = chainHash(prev, content);
        const event = { ...content, prevHash: prev, hash };
        prev = hash;
        return event;
      });
      await h.services.recordings.ingest(alice, session, events);
      expect(await h.services.audit.getSession(session, alice)).toMatchObject({
        statementCount: 2,
        deniedCount: 1,
        heldCount: 1,
        chainStatus: 'ok',
      });
    });

    it('takes events only from the session’s owner, and only well-formed ones', async () => {
      const session = await open();
      await expect(h.services.recordings.ingest(bob, session, chain(1))).rejects.toThrow(ForbiddenError);
      await expect(h.services.recordings.ingest(alice, 'nope', chain(1))).rejects.toThrow(NotFoundError);
      const bad = { ...chain(1)[0]!, hash: 'not-a-hash' };
      await expect(h.services.recordings.ingest(alice, session, [bad])).rejects.toThrow(ValidationError);
      expect(await h.services.audit.sessionEvents(session, alice)).toEqual([]);
    });
  });

  describe('audit', () => {
    let h: Harness;
    const ids: Record<string, string> = {};
    beforeAll(async () => {
      h = await harness(backend);
      for (const who of [alice, bob]) {
        ids[who.subject] = (await h.services.sessions.openSession(who, 'payments-db')).sessionId;
        h.clock.advance(MINUTE);
      }
      const denied = chain(2);
      const content = {
        seq: 3,
        at: '2025-03-01T09:00:03.000Z',
        type: 'statement',
        payload: { decision: 'deny' },
      };
      denied.push({ ...content, prevHash: denied[1]!.hash, hash: chainHash(denied[1]!.hash, content) });
      await h.services.recordings.ingest(bob, ids['bob']!, denied);
      await h.services.recordings.ingest(alice, ids['alice']!, chain(2));
    });
    afterAll(async () => {
      await h.close();
    });

    it('shows people their own sessions only', async () => {
      expect((await h.services.audit.searchSessions({}, alice)).map((s) => s.subject)).toEqual(['alice']);
      await expect(h.services.audit.searchSessions({ subject: 'bob' }, alice)).rejects.toThrow(
        ForbiddenError,
      );
      await expect(h.services.audit.sessionEvents(ids['bob']!, alice)).rejects.toThrow(ForbiddenError);
      await expect(h.services.audit.getSession(ids['bob']!, alice)).rejects.toThrow(ForbiddenError);
      await expect(h.services.audit.sessionAnomalies(ids['bob']!, alice)).rejects.toThrow(ForbiddenError);
      await expect(h.services.audit.sessionEvents('nope', audrey)).rejects.toThrow(NotFoundError);
    });

    it('shows auditors and admins everyone’s, with filters', async () => {
      expect((await h.services.audit.searchSessions({}, audrey)).map((s) => s.subject)).toEqual([
        'bob',
        'alice',
      ]);
      expect((await h.services.audit.searchSessions({ subject: 'bob' }, boss)).map((s) => s.id)).toEqual([
        ids['bob'],
      ]);
      expect(
        (await h.services.audit.searchSessions({ decision: 'denied' }, audrey)).map((s) => s.id),
      ).toEqual([ids['bob']]);
      expect(await h.services.audit.searchSessions({ decision: 'held' }, audrey)).toEqual([]);
      const window = { from: '2025-03-01T09:00:30.000Z', to: '2025-03-01T09:05:00.000Z' };
      expect((await h.services.audit.searchSessions(window, audrey)).map((s) => s.id)).toEqual([ids['bob']]);
      expect(
        (await h.services.audit.searchSessions({ limit: 1, before: ids['bob'] }, audrey)).map((s) => s.id),
      ).toEqual([ids['alice']]);
      const events = await h.services.audit.sessionEvents(ids['bob']!, audrey);
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    });

    it('exports JSON lines: everyone’s for auditors, one’s own otherwise', async () => {
      const lines: string[] = [];
      for await (const line of h.services.audit.exportJsonLines('2025-03-01T00:00:00.000Z', audrey))
        lines.push(line);
      const parsed = lines.map((l) => JSON.parse(l) as { kind: string; session?: { subject: string } });
      expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
      expect(parsed.map((p) => p.kind)).toEqual([
        'session',
        'event',
        'event',
        'session',
        'event',
        'event',
        'event',
      ]);
      const own: string[] = [];
      for await (const line of h.services.audit.exportJsonLines(new Date('2025-03-01T00:00:00Z'), bob)) {
        own.push(line);
      }
      expect(own.map((l) => (JSON.parse(l) as { kind: string }).kind)).toEqual([
        'session',
        'event',
        'event',
        'event',
      ]);
      expect(own[0]).toContain('"subject":"bob"');
    });
  });
});

describe('several hub instances on one PostgreSQL database', () => {
  let location: string;
  let a: Harness;
  let b: Harness;
  beforeAll(async () => {
    location = await freshStore('postgres');
    a = await harness('postgres', location);
    b = await harness('postgres', location);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('delivers an event appended on instance A to a subscriber on instance B (LISTEN/NOTIFY)', async () => {
    const controller = new AbortController();
    const iterator = b.services.events.subscribe(mia, { signal: controller.signal });
    const pending = next(iterator);
    const request = await a.services.access.create(oscar, { targetId: 'payments-db', reason: 'over there' });
    const event = await pending;
    expect(event).toMatchObject({ type: 'access.requested', payload: { request: { id: request.id } } });
    controller.abort();
  });

  it('resolves a hold waited for on one instance when it is decided on the other', async () => {
    const sessionId = await holdingSession(a, alice, 'payments-db');
    const approval = await a.services.approvals.create(alice, {
      sessionId,
      connection: 1,
      sql: 'delete from invoices where id = 7',
      classes: ['write'],
      rule: 'preset guarded: write',
    });
    const waiting = a.services.approvals.waitForDecision(alice, approval.id);
    await b.services.approvals.decide(max, approval.id, { approve: false, comment: 'use a refund' });
    await expect(waiting).resolves.toMatchObject({ state: 'denied', comment: 'use a refund' });
  });

  it('prunes the event log once per interval between them, whichever instance claims it', async () => {
    const old = await a.services.events.append(
      Array.from({ length: 20 }, (_, n) => ({
        type: 'access.requested' as const,
        payload: { n },
        to: { groups: ['managers'] },
      })),
    );
    for (const h of [a, b]) h.clock.advance(3 * DAY + HOUR);
    const reports = await Promise.all([a.services.sweep(), b.services.sweep(), a.services.sweep()]);
    const pruned = reports.map((report) => report.prunedEvents);
    expect(pruned.filter((n) => n > 0)).toHaveLength(1);
    expect(pruned.reduce((sum, n) => sum + n, 0)).toBeGreaterThanOrEqual(old.length);
    const left = await a.database.db.selectFrom('events').select('id').where('id', 'in', old).execute();
    expect(left).toEqual([]);
    // Within the hour, neither prunes; after it, one of them does again.
    for (const h of [a, b]) h.clock.advance(30 * MINUTE);
    expect((await Promise.all([a.services.sweep(), b.services.sweep()])).map((r) => r.prunedEvents)).toEqual([
      0, 0,
    ]);
    await b.services.events.append([{ type: 'access.requested', payload: {}, to: { groups: ['managers'] } }]);
    for (const h of [a, b]) h.clock.advance(3 * DAY + HOUR);
    const later = await Promise.all([b.services.sweep(), a.services.sweep()]);
    const pruners = later.map((report) => report.prunedEvents).filter((n) => n > 0);
    expect(pruners).toHaveLength(1);
    expect(pruners[0]).toBeGreaterThanOrEqual(1);
  });

  it('counts approvals from both instances towards min_approvals', async () => {
    const request = await a.services.access.create(oscar, { targetId: 'ledger-db', reason: 'audit' });
    await Promise.all([
      a.services.access.decide(mia, request.id, { approve: true }),
      b.services.access.decide(max, request.id, { approve: true }),
    ]);
    expect((await b.services.access.get(oscar, request.id)).state).toBe('approved');
  });
});
