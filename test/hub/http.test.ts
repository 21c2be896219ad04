/**
 * The hub's HTTP API end to end: a real hub (startHub) on SQLite or PostgreSQL, real access tokens from
 * the development IdP (people signed in with authorization code + PKCE, agents by client credentials),
 * and the typed client the tunnel and the app use (tunnel/hub-client).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { base64url, decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainHash, GENESIS_HASH } from '../../hub/api/recording-chain.ts';
import type { Approval, ExportLine, HubEvent, Identity, RecordingEventInput } from '../../hub/api/types.ts';
import { parseHubConfig, type HubConfig } from '../../hub/config/index.ts';
import { openHubDatabase } from '../../hub/db/index.ts';
import { DEMO_AGENT, startDevIdp, type DevAgent, type DevIdp } from '../../hub/dev-idp/index.ts';
import { ROUTES } from '../../hub/http/index.ts';
import { startHub, type RunningHub } from '../../hub/server.ts';
import { createHubServices, ManualClock } from '../../hub/services/index.ts';
import {
  createHubClient,
  HubError,
  parseEventStream,
  type HubClient,
  type SseMessage,
  type SseState,
} from '../../tunnel/hub-client/index.ts';
import { generateKeyPair } from '../../tunnel/ssh/keys.ts';
import { agentToken, signIn, type PersonTokens } from '../support/hub-tokens.ts';
import { heldWrite, holdingSession } from '../support/held-statements.ts';
import { freePort, startPostgres, type TestPostgres } from '../support/postgres.ts';
import { until } from '../support/waiting.ts';

const AUDIENCE = 'portcullis-hub';
const MINUTE = 60_000;
/** An SSH target's host key (pinned) and sign-in key (a secret, like the passwords). */
const WEB_HOST_KEY = generateKeyPair('web host key').publicKey;
const ENV = {
  APP_DB_PASSWORD: 'app-secret',
  PAYMENTS_DB_PASSWORD: 'payments-secret',
  LEDGER_DB_PASSWORD: 'ledger-secret',
  ANALYTICS_DB_PASSWORD: 'analytics-secret',
  ADMIN_DB_PASSWORD: 'admin-secret',
  WEB_SSH_KEY: generateKeyPair('web deploy key').privateKey,
};

/** An agent in the approvers' group: it still may not decide anything. */
const APPROVER_BOT: DevAgent = {
  clientId: 'ci-approver-bot',
  clientSecret: 'ci-approver-bot-demo-secret',
  name: 'CI approver bot',
  groups: ['managers'],
};

/** The relay's own identity: an agent in the hub's `relays` group. */
const RELAY_AGENT: DevAgent = {
  clientId: 'matrix-relay',
  clientSecret: 'matrix-relay-demo-secret',
  name: 'Matrix relay',
  groups: ['relays'],
};

const ROLES = ['engineer', 'oncall', 'manager', 'auditor', 'agent', 'relay', 'anonymous'] as const;
type Role = (typeof ROLES)[number];

/** priya: engineering; marcus: engineering + oncall; elena: engineering + managers; tom: auditors. */
const PEOPLE = { engineer: 'priya', oncall: 'marcus', manager: 'elena', auditor: 'tom' } as const;

function hubConfig(issuer: string, file: string): HubConfig {
  return parseHubConfig(
    `identity: { issuer: ${issuer}, audience: ${AUDIENCE} }
admins: [platform-admins]
auditors: [auditors]
relays: [relays]
approvals: { per_session_per_minute: 1000, per_requester_per_minute: 1000, max_pending_per_requester: 1000 }
targets:
  - id: app-db
    kind: postgres
    address: 127.0.0.1:5432
    database: app
    tls: { sslmode: disable }
    credentials: { user: app, password_env: APP_DB_PASSWORD }
    policy: guarded
    access: [engineering]
    approvers: [managers]
  - id: payments-db
    kind: postgres
    address: 127.0.0.1:5433
    database: payments
    tls: { sslmode: disable }
    credentials: { user: payments, password_env: PAYMENTS_DB_PASSWORD }
    policy: read-only
    jit: { requesters: [oncall], approvers: [managers], max_duration: 1h }
    approvers: [managers]
  - id: ledger-db
    kind: postgres
    address: 127.0.0.1:5434
    database: ledger
    tls: { sslmode: disable }
    credentials: { user: ledger, password_env: LEDGER_DB_PASSWORD }
    jit: { requesters: [oncall, managers], approvers: [managers], max_duration: 2h }
  - id: analytics-db
    kind: postgres
    address: 127.0.0.1:5435
    database: analytics
    tls: { sslmode: disable }
    credentials: { user: reporter, password_env: ANALYTICS_DB_PASSWORD }
    policy: read-only
    access: [agents]
  - id: admin-db
    kind: postgres
    address: 127.0.0.1:5436
    database: app
    tls: { sslmode: disable }
    credentials: { user: app_admin, password_env: ADMIN_DB_PASSWORD }
    access: [engineering]
    enforcement: relay
    relay: { address: 127.0.0.1:6433, sslrootcert: system }
  - id: web
    kind: ssh
    address: 127.0.0.1:2222
    host_key: '${WEB_HOST_KEY}'
    credentials: { user: deploy, private_key_env: WEB_SSH_KEY }
    access: [engineering]
`,
    file,
  );
}

// ---------------------------------------------------------------------------------------------------
// The cast: one IdP for the whole file, tokens signed in once

let idp: DevIdp;
/** Another issuer, with 2-second access tokens. */
let shortIdp: DevIdp;
let scratch: string;
let people: Record<keyof typeof PEOPLE, PersonTokens>;
let tokens: Record<Role, string | null>;
let botToken: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'portcullis-hub-http-'));
  [idp, shortIdp] = await Promise.all([
    startDevIdp({ audience: AUDIENCE, agents: [DEMO_AGENT, APPROVER_BOT, RELAY_AGENT] }),
    startDevIdp({ audience: AUDIENCE, accessTokenTtlSeconds: 2 }),
  ]);
  const [engineer, oncall, manager, auditor] = await Promise.all(
    Object.values(PEOPLE).map((username) => signIn(idp, username)),
  );
  people = { engineer: engineer!, oncall: oncall!, manager: manager!, auditor: auditor! };
  tokens = {
    engineer: engineer!.accessToken,
    oncall: oncall!.accessToken,
    manager: manager!.accessToken,
    auditor: auditor!.accessToken,
    agent: await agentToken(idp, DEMO_AGENT),
    relay: await agentToken(idp, RELAY_AGENT),
    anonymous: null,
  };
  botToken = await agentToken(idp, APPROVER_BOT);
});

afterAll(async () => {
  await Promise.all([idp?.close(), shortIdp?.close()]);
  await rm(scratch, { recursive: true, force: true });
});

let hubs = 0;
async function sqliteHub(
  options: { clock?: ManualClock; issuer?: string; port?: number } = {},
): Promise<RunningHub> {
  hubs++;
  const dir = path.join(scratch, `hub-${hubs}`);
  return startHub({
    config: hubConfig(options.issuer ?? idp.issuer, path.join(dir, 'hub.yaml')),
    database: path.join(dir, 'hub.db'),
    listen: `127.0.0.1:${options.port ?? 0}`,
    clock: options.clock,
    env: ENV,
    heartbeatMs: 300,
    sweepIntervalMs: 60_000,
  });
}

/** A typed client that also remembers the status of its last response (for the matrix). */
interface Caller {
  client: HubClient;
  lastStatus(): number;
}

/** Every response body any caller read, as it arrived: searched for the target secrets. */
const answered: string[] = [];

/** The response, its body copied into `answered` while the client reads it (event streams included). */
function tapped(response: Response): Response {
  if (!response.body) return response;
  const decoder = new TextDecoder();
  const copy = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      answered.push(decoder.decode(chunk, { stream: true }));
      controller.enqueue(chunk);
    },
  });
  return new Response(response.body.pipeThrough(copy), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

function caller(hub: RunningHub, token: string | null): Caller {
  let status = 0;
  const client = createHubClient({
    url: hub.url,
    token: () => token,
    fetch: async (input, init) => {
      status = 0;
      const response = await fetch(input, init);
      status = response.status;
      return tapped(response);
    },
  });
  return { client, lastStatus: () => status };
}

const as = (hub: RunningHub, role: Role): HubClient => caller(hub, tokens[role]).client;

async function statusOf(who: Caller, call: (client: HubClient) => Promise<unknown>): Promise<number> {
  try {
    await call(who.client);
    return who.lastStatus();
  } catch (error) {
    if (error instanceof HubError) return error.status;
    throw error;
  }
}

/** Listens to a caller's events in the background; `next` waits for a matching one. */
interface EventTap {
  received: HubEvent[];
  /** The last event id the stream reported (from events or the opening `id:` line). */
  lastId(): number | undefined;
  next(match: (event: HubEvent) => boolean, timeoutMs?: number): Promise<HubEvent>;
  close(): Promise<void>;
}

async function tap(client: HubClient, options: { after?: number; retryMs?: number } = {}): Promise<EventTap> {
  const controller = new AbortController();
  const received: HubEvent[] = [];
  const waiters = new Set<() => void>();
  let opened!: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  let last = options.after;
  let failure: unknown;
  const done = (async () => {
    try {
      for await (const event of client.events({
        after: options.after,
        signal: controller.signal,
        retryMs: options.retryMs ?? 100,
        onOpen: () => opened(),
      })) {
        received.push(event);
        last = event.id;
        for (const wake of [...waiters]) wake();
      }
    } catch (error) {
      failure = error;
      opened();
      for (const wake of [...waiters]) wake();
    }
  })();
  await open;
  if (failure) throw failure;
  return {
    received,
    lastId: () => last,
    async next(match, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = received.find(match);
        if (found) return found;
        if (failure) throw failure;
        const left = deadline - Date.now();
        if (left <= 0)
          throw new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(received)}`);
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            clearTimeout(timer);
            waiters.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, left);
          waiters.add(wake);
        });
      }
    },
    async close() {
      controller.abort();
      await done;
    },
  };
}

const approvalOf = (event: HubEvent): Approval => event.payload['approval'] as Approval;

/** A raw SSE connection, to look at the wire. */
async function rawStream(
  url: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<{
  response: Response;
  readUntil(pattern: RegExp, timeoutMs?: number): Promise<string>;
  ended(timeoutMs?: number): Promise<number>;
  cancel(): Promise<void>;
}> {
  const response = await fetch(`${url}/v1/events`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...headers },
  });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  const read = async (timeoutMs: number): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>(
      (resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)),
    );
    const result = await Promise.race([reader.read(), timeout]);
    clearTimeout(timer);
    if (result === 'timeout') throw new Error(`stream silent for ${timeoutMs} ms; so far: ${text}`);
    if (result.done) return false;
    text += result.value;
    return true;
  };
  return {
    response,
    async readUntil(pattern, timeoutMs = 10_000) {
      while (!pattern.test(text)) {
        if (!(await read(timeoutMs))) throw new Error(`stream ended before ${pattern}; got: ${text}`);
      }
      return text;
    },
    async ended(timeoutMs = 10_000) {
      const started = Date.now();
      while (await read(timeoutMs)) {
        /* drain */
      }
      return Date.now() - started;
    },
    cancel: () => reader.cancel(),
  };
}

function chain(count: number, start = Date.UTC(2025, 2, 1, 9)): RecordingEventInput[] {
  const events: RecordingEventInput[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= count; seq++) {
    const content = {
      seq,
      at: new Date(start + seq * 1000).toISOString(),
      type: seq === 1 ? 'session.start' : 'statement',
      payload: { sql: `select ${seq}`, decision: 'allow' },
    };
    const hash = chainHash(prev, content);
    events.push({ ...content, prevHash: prev, hash });
    prev = hash;
  }
  return events;
}

/** Each held statement differs unless the test says otherwise: identical pending ones join the first. */
let holdsMade = 0;
const hold = (sessionId: string, sql = `delete from orders where id = ${++holdsMade}`) =>
  heldWrite(sessionId, sql);

// ---------------------------------------------------------------------------------------------------

describe('the hub HTTP API on SQLite', () => {
  let hub: RunningHub;
  const fx = { session: '', approval: '', ledgerRequest: '' };
  const recording = chain(3);

  beforeAll(async () => {
    hub = await sqliteHub();
    const priya = as(hub, 'engineer');
    fx.session = await holdingSession(priya, 'app-db');
    fx.approval = (await priya.holdStatement(hold(fx.session))).id;
    fx.ledgerRequest = (
      await as(hub, 'oncall').requestAccess({ targetId: 'ledger-db', reason: 'shared fixture' })
    ).id;
    await priya.ingestRecording(fx.session, recording);
  });
  afterAll(async () => {
    await hub?.close();
  });

  /** Cancels or revokes whatever marcus asked for on payments-db, so the next cell starts clean. */
  async function resetMarcus(): Promise<void> {
    const marcus = as(hub, 'oncall');
    for (const request of await marcus.accessRequests('mine')) {
      if (
        request.targetId === 'payments-db' &&
        (request.state === 'pending' || request.state === 'approved')
      ) {
        await marcus.revokeAccess(request.id, 'test cleanup');
      }
    }
  }
  const freshRequest = async (): Promise<string> =>
    (await as(hub, 'oncall').requestAccess({ targetId: 'payments-db', reason: 'matrix', duration: '30m' }))
      .id;
  const freshApproval = async (): Promise<string> =>
    (await as(hub, 'engineer').holdStatement(hold(fx.session))).id;
  const freshSession = async (): Promise<string> => holdingSession(as(hub, 'engineer'), 'app-db');
  /** Priya's session on the relay-enforced admin-db. */
  const freshRelayed = async (): Promise<string> =>
    (await as(hub, 'engineer').openSession('admin-db')).sessionId;
  /** A connection the relay serves for a fresh session of Priya's on admin-db: its own session's id. */
  const freshRelayConnection = async (): Promise<string> =>
    (
      await as(hub, 'relay').admitRelayConnection({
        sessionId: await freshRelayed(),
        accessToken: tokens.engineer!,
      })
    ).connectionSessionId;
  const scram = {
    method: 'postgres-scram-sha-256' as const,
    connection: 1,
    clientFirst: 'n,,n=,r=matrix',
    serverFirst: 'r=matrix-server,s=c2FsdA==,i=4096',
  };

  interface Row {
    route: string;
    /** engineer, oncall, manager, auditor, agent, relay, anonymous */
    expect: [number, number, number, number, number, number, number];
    /** Makes a fresh object for each role's attempt (for calls that change what they touch). */
    fresh?: () => Promise<string>;
    call(client: HubClient, id: string): Promise<unknown>;
    after?: () => Promise<void>;
  }

  const since = '2000-01-01T00:00:00.000Z';
  const ROWS: Row[] = [
    { route: 'GET /healthz', expect: [200, 200, 200, 200, 200, 200, 200], call: (c) => c.health() },
    {
      route: 'GET /v1/identity',
      expect: [200, 200, 200, 200, 200, 200, 200],
      call: async (c) => {
        const identity = await c.identity();
        expect(identity).toEqual({
          issuer: hub.config.identity.issuer,
          audience: AUDIENCE,
          clientId: 'portcullis-desktop',
          groupsClaim: 'groups',
        });
      },
    },
    { route: 'GET /v1/me', expect: [200, 200, 200, 200, 200, 200, 401], call: (c) => c.me() },
    { route: 'GET /v1/targets', expect: [200, 200, 200, 200, 200, 200, 401], call: (c) => c.targets() },
    // Admins only (nobody here is one: test/hub/policy-checks.test.ts has admins).
    {
      route: 'GET /v1/policy-checks',
      expect: [403, 403, 403, 403, 403, 403, 401],
      call: (c) => c.policyChecks(),
    },
    {
      route: 'POST /v1/policy-checks/:id',
      expect: [403, 403, 403, 403, 403, 403, 401],
      call: (c) => c.recheckPolicy('app-db'),
    },
    {
      route: 'POST /v1/sessions (standing access: app-db)',
      expect: [201, 201, 201, 403, 403, 403, 401],
      call: (c) => c.openSession('app-db'),
    },
    {
      route: 'POST /v1/sessions (JIT target without a grant: payments-db)',
      expect: [403, 403, 403, 403, 403, 403, 401],
      call: (c) => c.openSession('payments-db'),
    },
    {
      route: "POST /v1/sessions (the agent's target: analytics-db)",
      expect: [403, 403, 403, 403, 201, 403, 401],
      call: (c) => c.openSession('analytics-db'),
    },
    {
      route: 'POST /v1/sessions (no such target)',
      expect: [404, 404, 404, 404, 404, 404, 401],
      call: (c) => c.openSession('no-such-db'),
    },
    {
      route: 'GET /v1/sessions',
      expect: [200, 200, 200, 200, 200, 200, 401],
      call: (c) => c.searchSessions(),
    },
    {
      route: "GET /v1/sessions?subject=priya (someone else's)",
      expect: [200, 403, 403, 200, 403, 403, 401],
      call: (c) => c.searchSessions({ subject: 'priya' }),
    },
    {
      route: 'GET /v1/sessions/to-close',
      expect: [200, 200, 200, 200, 200, 200, 401],
      call: (c) => c.sessionsToClose(),
    },
    {
      route: "GET /v1/sessions/:id (priya's)",
      expect: [200, 403, 403, 200, 403, 403, 401],
      call: (c) => c.session(fx.session),
    },
    {
      route: 'GET /v1/sessions/:id (no such session)',
      expect: [404, 404, 404, 404, 404, 404, 401],
      call: (c) => c.session('00000000-0000-0000-0000-000000000000'),
    },
    {
      route: "POST /v1/sessions/:id/close (priya's)",
      expect: [200, 403, 403, 403, 403, 403, 401],
      fresh: freshSession,
      call: (c, id) => c.closeSession(id, 'done'),
    },
    {
      route: "POST /v1/sessions/:id/proofs (priya's)",
      expect: [200, 403, 403, 403, 403, 403, 401],
      call: (c) =>
        c.prove(fx.session, {
          method: 'postgres-scram-sha-256',
          connection: 1,
          clientFirst: 'n,,n=,r=matrix',
          serverFirst: 'r=matrix-server,s=c2FsdA==,i=4096',
        }),
    },
    {
      route: "GET /v1/sessions/:id/proofs (priya's)",
      expect: [200, 403, 403, 200, 403, 403, 401],
      call: (c) => c.proofs(fx.session),
    },
    {
      route: "GET /v1/sessions/:id/events (priya's)",
      expect: [200, 403, 403, 200, 403, 403, 401],
      call: (c) => c.sessionEvents(fx.session),
    },
    {
      route: "GET /v1/sessions/:id/anomalies (priya's)",
      expect: [200, 403, 403, 200, 403, 403, 401],
      call: (c) => c.sessionAnomalies(fx.session),
    },
    {
      route: "POST /v1/sessions/:id/recordings (priya's)",
      expect: [200, 403, 403, 403, 403, 403, 401],
      call: (c) => c.ingestRecording(fx.session, recording),
    },
    {
      route: 'POST /v1/sessions (relay-enforced: admin-db)',
      expect: [201, 201, 201, 403, 403, 403, 401],
      call: (c) => c.openSession('admin-db'),
    },
    {
      route: "POST /v1/sessions/:id/proofs (priya's on admin-db: the relay's alone)",
      expect: [403, 403, 403, 403, 403, 403, 401],
      fresh: freshRelayed,
      call: (c, id) => c.prove(id, scram),
    },
    {
      route: "POST /v1/sessions/:id/proofs (a relay's connection of priya's)",
      expect: [403, 403, 403, 403, 403, 200, 401],
      fresh: freshRelayConnection,
      call: (c, id) => c.prove(id, { ...scram, purpose: 'client' }),
    },
    {
      route: "POST /v1/relay/connections (priya's session on admin-db)",
      expect: [403, 403, 403, 403, 403, 201, 401],
      fresh: freshRelayed,
      call: (c, id) => c.admitRelayConnection({ sessionId: id, accessToken: tokens.engineer! }),
    },
    {
      route: 'POST /v1/relay/leases (a connection the relay serves)',
      expect: [403, 403, 403, 403, 403, 200, 401],
      fresh: freshRelayConnection,
      call: (c, id) => c.renewRelayLeases({ sessionIds: [id] }),
    },
    {
      route: 'POST /v1/relay/connections (only relays admit connections)',
      expect: [403, 403, 403, 403, 403, 403, 401],
      call: (c) => c.admitRelayConnection({ sessionId: fx.session, accessToken: tokens.engineer! }),
    },
    {
      route: 'POST /v1/relay/leases (only relays hold leases)',
      expect: [403, 403, 403, 403, 403, 200, 401],
      call: (c) => c.renewRelayLeases({ sessionIds: [fx.session] }),
    },
    {
      route: 'GET /v1/audit/export',
      expect: [200, 200, 200, 200, 200, 200, 401],
      call: async (c) => {
        for await (const _line of c.exportAudit(since)) {
          /* drain */
        }
      },
    },
    {
      route: 'POST /v1/access-requests (payments-db)',
      expect: [403, 201, 403, 403, 403, 403, 401],
      call: (c) => c.requestAccess({ targetId: 'payments-db', reason: 'incident 7' }),
      after: resetMarcus,
    },
    {
      route: 'GET /v1/access-requests?scope=mine',
      expect: [200, 200, 200, 200, 200, 200, 401],
      call: (c) => c.accessRequests('mine'),
    },
    {
      route: 'GET /v1/access-requests?scope=pending',
      expect: [200, 200, 200, 200, 200, 200, 401],
      call: (c) => c.accessRequests('pending'),
    },
    {
      route: "GET /v1/access-requests/:id (marcus's)",
      expect: [403, 200, 200, 200, 403, 403, 401],
      call: (c) => c.accessRequest(fx.ledgerRequest),
    },
    {
      route: "POST /v1/access-requests/:id/decision (marcus's: not his own to decide)",
      expect: [403, 403, 200, 403, 403, 403, 401],
      fresh: freshRequest,
      call: (c, id) => c.decideAccess(id, { approve: true, comment: 'ok' }),
      after: resetMarcus,
    },
    {
      route: "POST /v1/access-requests/:id/revoke (marcus's pending request)",
      expect: [403, 200, 403, 403, 403, 403, 401],
      fresh: freshRequest,
      call: (c, id) => c.revokeAccess(id, 'never mind'),
      after: resetMarcus,
    },
    {
      route: "POST /v1/approvals (on priya's session)",
      expect: [201, 403, 403, 403, 403, 403, 401],
      call: (c) => c.holdStatement(hold(fx.session)),
    },
    {
      route: 'GET /v1/approvals?scope=pending',
      expect: [200, 200, 200, 200, 200, 200, 401],
      call: (c) => c.approvals('pending'),
    },
    {
      route: 'GET /v1/approvals?scope=mine',
      expect: [200, 200, 200, 200, 200, 200, 401],
      call: (c) => c.approvals('mine'),
    },
    {
      route: "GET /v1/approvals/:id (priya's)",
      expect: [200, 403, 200, 200, 403, 403, 401],
      call: (c) => c.approval(fx.approval),
    },
    {
      route: "GET /v1/approvals/:id/wait?timeout=0 (priya's, pending)",
      expect: [204, 403, 204, 204, 403, 403, 401],
      call: (c) => c.waitForApproval(fx.approval, { timeoutSeconds: 0 }),
    },
    {
      route: "POST /v1/approvals/:id/decision (priya's: not her own to decide)",
      expect: [403, 403, 200, 403, 403, 403, 401],
      fresh: freshApproval,
      call: (c, id) => c.decideApproval(id, { approve: false, comment: 'not now' }),
    },
    {
      route: "POST /v1/approvals/:id/withdraw (priya's)",
      expect: [200, 403, 403, 403, 403, 403, 401],
      fresh: freshApproval,
      call: (c, id) => c.withdrawApproval(id, 'client cancelled'),
    },
    {
      route: 'GET /v1/events',
      expect: [200, 200, 200, 200, 200, 200, 401],
      call: async (c) => {
        const controller = new AbortController();
        for await (const _event of c.events({
          signal: controller.signal,
          maxRetries: 0,
          onOpen: () => controller.abort(),
        })) {
          /* none expected */
        }
      },
    },
  ];

  it('covers every route of the API', () => {
    const covered = new Set(ROWS.map((row) => row.route.split(' (')[0]!.split('?')[0]));
    const missing = ROUTES.map(([method, route]) => `${method} ${route}`).filter((r) => !covered.has(r));
    expect(missing).toEqual([]);
  });

  it.each(ROWS)('authorization matrix: $route', async (row) => {
    const actual: Record<string, number> = {};
    answered.length = 0;
    for (const role of ROLES) {
      const id = row.fresh ? await row.fresh() : '';
      actual[role] = await statusOf(caller(hub, tokens[role]), (c) => row.call(c, id));
      await row.after?.();
    }
    expect(actual).toEqual(Object.fromEntries(ROLES.map((role, i) => [role, row.expect[i]])));
    // No answer of this route, for any role, carries a secret the hub was configured with.
    expect(answered.length).toBeGreaterThan(0);
    const everything = answered.join('');
    for (const secret of Object.values(ENV)) expect(everything).not.toContain(secret);
  });

  it('answers errors as {error, message} with the service codes', async () => {
    const marcus = as(hub, 'oncall');
    const refusal = (await marcus.session(fx.session).catch((e: unknown) => e)) as HubError;
    expect(refusal).toBeInstanceOf(HubError);
    expect(refusal).toMatchObject({ status: 403, code: 'forbidden' });
    expect(refusal.message).toMatch(/auditors/);

    const requestId = await freshRequest();
    const notApprover = (await marcus
      .decideAccess(requestId, { approve: true })
      .catch((e: unknown) => e)) as HubError;
    expect(notApprover).toMatchObject({
      status: 403,
      code: 'forbidden',
      message: expect.stringMatching(/not an approver/),
    });
    // Elena approves ledger-db requests and may request it too: never her own.
    const elena = as(hub, 'manager');
    const hers = await elena.requestAccess({ targetId: 'ledger-db', reason: 'reconciliation' });
    await expect(elena.decideAccess(hers.id, { approve: true })).rejects.toMatchObject({
      status: 403,
      message: expect.stringMatching(/your own request/),
    });
    await elena.revokeAccess(hers.id);
    const sessionId = await holdingSession(elena, 'app-db');
    const held = await elena.holdStatement(hold(sessionId));
    await expect(elena.decideApproval(held.id, { approve: true })).rejects.toMatchObject({
      status: 403,
      message: expect.stringMatching(/your own statement/),
    });
    const twice = (await marcus
      .requestAccess({ targetId: 'payments-db', reason: 'again' })
      .catch((e: unknown) => e)) as HubError;
    expect(twice).toMatchObject({ status: 409, code: 'conflict' });
    await resetMarcus();

    const missing = (await as(hub, 'engineer')
      .openSession('nope')
      .catch((e: unknown) => e)) as HubError;
    expect(missing).toMatchObject({ status: 404, code: 'not_found' });

    const anonymous = (await caller(hub, null)
      .client.me()
      .catch((e: unknown) => e)) as HubError;
    expect(anonymous).toMatchObject({ status: 401, code: 'missing_token' });
  });

  it('refuses an agent even in the approvers group, and people outside it', async () => {
    const bot = caller(hub, botToken).client;
    expect((await bot.me()).kind).toBe('agent');
    const approval = await freshApproval();
    await expect(bot.decideApproval(approval, { approve: true })).rejects.toMatchObject({
      status: 403,
      message: expect.stringMatching(/only people/),
    });
    const request = await freshRequest();
    await expect(bot.decideAccess(request, { approve: true })).rejects.toMatchObject({
      status: 403,
      message: expect.stringMatching(/only people/),
    });
    await resetMarcus();
  });

  it('opens a session with where and as whom to connect, never a secret, and nothing cached', async () => {
    const priya = as(hub, 'engineer');
    const opened = await priya.openSession('app-db');
    expect(opened.enforcement).toBe('local');
    expect(opened.connection).toEqual({
      kind: 'postgres',
      host: '127.0.0.1',
      port: 5432,
      database: 'app',
      user: 'app',
      tls: { sslmode: 'disable', sslrootcert: null, ca: null, sslservername: null },
      authentication: { kind: 'delegated', methods: ['postgres-scram-sha-256', 'postgres-md5'] },
      via: null,
    });
    expect(JSON.stringify(opened)).not.toContain('app-secret');
    const web = await priya.openSession('web');
    expect(web.connection).toMatchObject({
      kind: 'ssh',
      user: 'deploy',
      hostKeys: [WEB_HOST_KEY.split(' ').slice(0, 2).join(' ')],
    });
    expect(JSON.stringify(web)).not.toContain('PRIVATE KEY');
    expect(opened.policy).toEqual({ kind: 'preset', name: 'guarded' });
    const raw = await fetch(`${hub.url}/v1/targets`, {
      headers: { authorization: `Bearer ${tokens.engineer}` },
    });
    expect(raw.headers.get('cache-control')).toBe('no-store');
    expect(await raw.text()).not.toContain('app-secret');
    const me = await priya.me();
    expect(me).toEqual({
      subject: 'priya',
      name: 'Priya Shah',
      groups: ['engineering'],
      kind: 'person',
      admin: false,
      auditor: false,
    });
    expect((await as(hub, 'auditor').me()).auditor).toBe(true);
  });

  it('validates bodies and queries with clear 400s, and limits body size', async () => {
    const post = (route: string, body: string, type = 'application/json') =>
      fetch(`${hub.url}${route}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.engineer}`, 'content-type': type },
        body,
      });
    const get = (route: string, headers: Record<string, string> = {}) =>
      fetch(`${hub.url}${route}`, { headers: { authorization: `Bearer ${tokens.engineer}`, ...headers } });
    const answer = async (response: Response) => ({ status: response.status, body: await response.json() });

    expect(await answer(await post('/v1/sessions', '{}'))).toEqual({
      status: 400,
      body: { error: 'invalid', message: 'targetId: is required', field: 'targetId' },
    });
    expect(await answer(await post('/v1/sessions', ''))).toMatchObject({
      status: 400,
      body: { error: 'invalid_json' },
    });
    expect(await answer(await post('/v1/sessions', '{"targetId":"app-db","extra":1}'))).toEqual({
      status: 400,
      body: { error: 'invalid', message: 'extra: is not a known field', field: 'extra' },
    });
    expect(await answer(await post('/v1/sessions', '{"targetId": 42}'))).toMatchObject({
      status: 400,
      body: { error: 'invalid', field: 'targetId', message: 'targetId: must be string' },
    });
    expect(
      await answer(await post(`/v1/approvals/${fx.approval}/decision`, '{"approve":"yes"}')),
    ).toMatchObject({
      status: 400,
      body: { field: 'approve', message: 'approve: must be boolean' },
    });
    expect(await answer(await post('/v1/sessions', '{"targetId":'))).toMatchObject({
      status: 400,
      body: { error: 'invalid_json' },
    });
    expect(
      await answer(await post('/v1/sessions', 'targetId=app-db', 'application/x-www-form-urlencoded')),
    ).toMatchObject({
      status: 415,
      body: { error: 'unsupported_media_type' },
    });
    const huge = JSON.stringify({ targetId: 'app-db', padding: 'x'.repeat(100 * 1024) });
    expect(await answer(await post('/v1/sessions', huge))).toMatchObject({
      status: 413,
      body: { error: 'too_large' },
    });
    const badEvent = { ...recording[0]!, hash: 'not-a-hash' };
    expect(
      await answer(
        await post(`/v1/sessions/${fx.session}/recordings`, JSON.stringify({ events: [badEvent] })),
      ),
    ).toMatchObject({
      status: 400,
      body: { field: 'events[0].hash', message: 'events[0].hash: must be 64 lowercase hex digits' },
    });
    // A payload nested 100,000 levels deep (1.2 MB of brackets) is refused as such, not a 500.
    const deep = JSON.stringify({ events: [{ ...recording[0]!, payload: 'DEEP' }] }).replace(
      '"DEEP"',
      '['.repeat(100_000) + ']'.repeat(100_000),
    );
    expect(await answer(await post(`/v1/sessions/${fx.session}/recordings`, deep))).toMatchObject({
      status: 400,
      body: { field: 'events[0].payload', message: 'events[0].payload: must not nest deeper than 64 levels' },
    });
    // A recording batch may be far larger than other bodies.
    const big = chain(2000);
    expect(
      (await post(`/v1/sessions/${await freshSession()}/recordings`, JSON.stringify({ events: big }))).status,
    ).toBe(200);

    expect(await answer(await get('/v1/sessions?limit=ten'))).toMatchObject({
      status: 400,
      body: { field: 'limit', message: 'limit: must be a whole number' },
    });
    expect(await answer(await get('/v1/sessions?decision=maybe'))).toMatchObject({
      status: 400,
      body: { field: 'decision', message: 'decision: must be one of denied, held' },
    });
    expect(await answer(await get('/v1/sessions?from=yesterday'))).toMatchObject({
      status: 400,
      body: { field: 'from' },
    });
    expect(await answer(await get('/v1/access-requests?scope=everyone'))).toMatchObject({
      status: 400,
      body: { field: 'scope' },
    });
    expect(await answer(await get('/v1/audit/export'))).toMatchObject({
      status: 400,
      body: { field: 'since' },
    });
    expect(await answer(await get('/v1/audit/export?since=soon'))).toMatchObject({
      status: 400,
      body: { field: 'since' },
    });
    expect(await answer(await get(`/v1/approvals/${fx.approval}/wait?timeout=9999`))).toMatchObject({
      status: 400,
      body: { field: 'timeout' },
    });
    expect(await answer(await get('/v1/events', { 'last-event-id': 'yesterday' }))).toMatchObject({
      status: 400,
      body: { field: 'Last-Event-ID' },
    });
    expect(await answer(await get('/v1/nothing-here'))).toMatchObject({
      status: 404,
      body: { error: 'not_found' },
    });
  });

  it('refuses bad tokens with 401: wrong audience, wrong issuer, bad signature, alg none, garbage', async () => {
    const statusFor = async (header: string | undefined) => {
      const response = await fetch(`${hub.url}/v1/me`, { headers: header ? { authorization: header } : {} });
      const body = (await response.json()) as { error: string };
      return {
        status: response.status,
        error: body.error,
        challenge: response.headers.get('www-authenticate'),
      };
    };
    // The ID token is signed by the same IdP but addressed to the desktop client.
    expect(await statusFor(`Bearer ${people.engineer.idToken}`)).toMatchObject({
      status: 401,
      error: 'wrong_audience',
    });
    const foreign = await agentToken(shortIdp, DEMO_AGENT);
    expect(await statusFor(`Bearer ${foreign}`)).toMatchObject({ status: 401, error: 'wrong_issuer' });

    const [header, payload, signature] = tokens.manager!.split('.') as [string, string, string];
    const bytes = base64url.decode(signature);
    bytes[5] = bytes[5]! ^ 0xff;
    expect(await statusFor(`Bearer ${header}.${payload}.${base64url.encode(bytes)}`)).toMatchObject({
      status: 401,
      error: 'invalid_token',
    });
    const escalated = base64url.encode(
      JSON.stringify({ ...decodeJwt(tokens.engineer!), groups: ['auditors'] }),
    );
    expect(await statusFor(`Bearer ${header}.${escalated}.${signature}`)).toMatchObject({
      status: 401,
      error: 'invalid_token',
    });
    const none = base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }));
    expect(await statusFor(`Bearer ${none}.${payload}.`)).toMatchObject({
      status: 401,
      error: 'invalid_token',
    });
    expect(await statusFor('Bearer garbage')).toMatchObject({ status: 401, error: 'invalid_token' });
    expect(await statusFor(`Basic ${btoa('priya:priya-demo-password')}`)).toMatchObject({
      status: 401,
      error: 'missing_token',
      challenge: 'Bearer realm="portcullis"',
    });
    const missing = await statusFor(undefined);
    expect(missing).toMatchObject({ status: 401, error: 'missing_token' });
    // A 401 never reads the body: an unauthenticated caller cannot make the hub parse anything.
    const unauthenticatedBig = await fetch(`${hub.url}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{'.repeat(200_000),
    });
    expect(unauthenticatedBig.status).toBe(401);
  });

  /**
   * A 2 s token the hub took, for a call and for an event stream. Tokens carry whole seconds, so it is
   * asked for at the start of one; a machine too slow to use it within those two seconds tries again
   * with a new one rather than failing for its slowness.
   */
  async function freshTokenInUse(hub: RunningHub) {
    for (let attempt = 1; ; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5));
      const token = await agentToken(shortIdp, DEMO_AGENT);
      const agent = caller(hub, token).client;
      const me = await agent.me().catch((error: unknown) => error);
      const stream = await rawStream(hub.url, token);
      const expiredMeanwhile = me instanceof HubError && me.code === 'expired';
      if (attempt < 3 && (expiredMeanwhile || stream.response.status === 401)) {
        await stream.cancel().catch(() => undefined);
        continue;
      }
      expect(me).toMatchObject({ subject: DEMO_AGENT.clientId, kind: 'agent' });
      expect(stream.response.status).toBe(200);
      return { token, agent, stream };
    }
  }

  it('refuses an expired token, and ends an event stream when its token expires', async () => {
    const shortHub = await startHub({
      config: hubConfig(shortIdp.issuer, path.join(scratch, 'short', 'hub.yaml')),
      database: path.join(scratch, 'short', 'hub.db'),
      env: ENV,
      clockToleranceSeconds: 0,
    });
    try {
      const { token, agent, stream } = await freshTokenInUse(shortHub);
      // It ends with the 2 s token, well before a heartbeat (15 s) could say anything.
      const lasted = await stream.ended(15_000);
      expect(lasted).toBeLessThan(10_000);

      const { exp } = decodeJwt(token);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp! * 1000 - Date.now()) + 50));
      await expect(agent.me()).rejects.toMatchObject({ status: 401, code: 'expired' });
    } finally {
      await shortHub.close();
    }
  });

  it('ingests recordings idempotently over HTTP', async () => {
    const priya = as(hub, 'engineer');
    const sessionId = await freshSession();
    const events = chain(5);
    expect(await priya.ingestRecording(sessionId, events.slice(0, 3))).toEqual({
      stored: 3,
      duplicates: 0,
      conflicts: 0,
      chainStatus: 'ok',
      lastSeq: 3,
    });
    // The outbox resends after a lost answer: nothing changes.
    expect(await priya.ingestRecording(sessionId, events.slice(0, 3))).toEqual({
      stored: 0,
      duplicates: 3,
      conflicts: 0,
      chainStatus: 'ok',
      lastSeq: 3,
    });
    // Out of order: 5 before 4.
    expect(await priya.ingestRecording(sessionId, [events[4]!])).toMatchObject({
      stored: 1,
      chainStatus: 'incomplete',
      lastSeq: 3,
    });
    expect(await priya.ingestRecording(sessionId, events.slice(2))).toMatchObject({
      stored: 1,
      duplicates: 2,
      chainStatus: 'ok',
      lastSeq: 5,
    });
    const stored = await priya.sessionEvents(sessionId);
    expect(stored.map((e) => [e.seq, e.hash, e.chainOk])).toEqual(events.map((e) => [e.seq, e.hash, true]));
    expect((await priya.sessionEvents(sessionId, { afterSeq: 3, limit: 1 })).map((e) => e.seq)).toEqual([4]);

    // A resent event with other content is kept aside, never overwrites.
    const forged = { ...events[1]!, payload: { sql: 'drop table audit' } };
    forged.hash = chainHash(forged.prevHash, forged);
    expect(await priya.ingestRecording(sessionId, [forged])).toMatchObject({
      conflicts: 1,
      chainStatus: 'broken',
    });
    expect((await priya.sessionEvents(sessionId))[1]!.payload).toEqual(events[1]!.payload);
    expect((await priya.sessionAnomalies(sessionId)).map((a) => a.kind)).toEqual(['conflict']);

    // The auditor's export has the session, its events and the anomaly, as JSON lines.
    const lines: ExportLine[] = [];
    for await (const line of as(hub, 'auditor').exportAudit(new Date(0))) lines.push(line);
    const mine = lines.filter(
      (l) =>
        (l.kind === 'session' && l.session.id === sessionId) ||
        (l.kind === 'event' && l.sessionId === sessionId) ||
        (l.kind === 'anomaly' && l.anomaly.sessionId === sessionId),
    );
    expect(mine.map((l) => l.kind)).toEqual([
      'session',
      'event',
      'event',
      'event',
      'event',
      'event',
      'anomaly',
    ]);
    const raw = await fetch(`${hub.url}/v1/audit/export?since=2000-01-01T00:00:00Z`, {
      headers: { authorization: `Bearer ${tokens.auditor}` },
    });
    expect(raw.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const text = await raw.text();
    expect(text.endsWith('\n')).toBe(true);
    expect(
      text
        .trim()
        .split('\n')
        .every((line) => JSON.parse(line) !== null),
    ).toBe(true);
    // Marcus's export holds only his own sessions.
    for await (const line of as(hub, 'oncall').exportAudit(new Date(0))) {
      if (line.kind === 'session') expect(line.session.subject).toBe('marcus');
    }
  });

  it('holds a statement: the manager hears of it over SSE and decides; the engineer’s wait returns', async () => {
    const priya = as(hub, 'engineer');
    const elena = as(hub, 'manager');
    const sessionId = await freshSession();
    const events = await tap(elena);
    try {
      const created = await priya.holdStatement({
        ...hold(sessionId, 'update accounts set frozen = true'),
        timeoutSeconds: 120,
      });
      expect(created).toMatchObject({
        state: 'pending',
        requester: { subject: 'priya' },
        targetId: 'app-db',
      });
      const waiting = priya.waitForApproval(created.id, { timeoutSeconds: 30 });

      const heard = await events.next(
        (e) => e.type === 'approval.requested' && approvalOf(e).id === created.id,
      );
      expect(approvalOf(heard)).toMatchObject({ sql: 'update accounts set frozen = true', state: 'pending' });
      expect((await elena.approvals('pending')).map((a) => a.id)).toContain(created.id);

      const decided = await elena.decideApproval(created.id, { approve: true, comment: 'go ahead' });
      expect(decided).toMatchObject({
        state: 'approved',
        decidedBy: { subject: 'elena' },
        comment: 'go ahead',
      });
      expect(await waiting).toMatchObject({
        id: created.id,
        state: 'approved',
        decidedBy: { subject: 'elena' },
      });
      await events.next((e) => e.type === 'approval.updated' && approvalOf(e).id === created.id);
      expect((await elena.approvals('pending')).map((a) => a.id)).not.toContain(created.id);
      expect((await priya.approvals('mine')).find((a) => a.id === created.id)?.state).toBe('approved');
      // Decided already: the wait answers at once.
      expect(await priya.waitForApproval(created.id, { timeoutSeconds: 30 })).toMatchObject({
        state: 'approved',
      });
      await expect(elena.decideApproval(created.id, { approve: false })).rejects.toMatchObject({
        status: 409,
      });
    } finally {
      await events.close();
    }
    // Nobody decides: the wait ends with 204 after its timeout.
    const pending = await priya.holdStatement(hold(sessionId));
    const started = Date.now();
    expect(await priya.waitForApproval(pending.id, { timeoutSeconds: 1 })).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('keeps what a held statement touches and where each decision was taken, and refuses malformed ones', async () => {
    const priya = as(hub, 'engineer');
    const elena = as(hub, 'manager');
    const sessionId = await freshSession();
    const context = {
      tables: ['public.payments', 'customers'],
      writes: ['public.payments'],
      estimatedRows: 1203,
    };
    const created = await priya.holdStatement({ ...hold(sessionId, 'update payments set x = 1'), context });
    expect(created).toMatchObject({ context, decidedVia: null });
    expect((await elena.approvals('pending')).find((a) => a.id === created.id)?.context).toEqual(context);
    const decided = await elena.decideApproval(created.id, {
      approve: false,
      comment: 'no',
      via: 'notification',
    });
    expect(decided).toMatchObject({ state: 'denied', decidedVia: 'notification', context });
    expect(await priya.approval(created.id)).toMatchObject({ decidedVia: 'notification' });

    const bare = await priya.holdStatement(hold(sessionId));
    expect(bare.context).toBeNull();
    expect((await elena.decideApproval(bare.id, { approve: true })).decidedVia).toBeNull();

    await expect(
      priya.holdStatement({ ...hold(sessionId), context: { ...context, estimatedRows: -1 } }),
    ).rejects.toMatchObject({ status: 400, field: 'context.estimatedRows' });
    const third = await priya.holdStatement(hold(sessionId));
    await expect(
      elena.decideApproval(third.id, { approve: true, via: 'carrier-pigeon' as never }),
    ).rejects.toMatchObject({ status: 400 });
  });

  it('resumes the event stream after Last-Event-ID with only the later events, and sends heartbeats', async () => {
    const priya = as(hub, 'engineer');
    const elena = as(hub, 'manager');
    const sessionId = await freshSession();
    const first = await tap(elena);
    const a1 = await priya.holdStatement(hold(sessionId, 'delete from t where id = 1'));
    const a2 = await priya.holdStatement(hold(sessionId, 'delete from t where id = 2'));
    const e1 = await first.next((e) => e.type === 'approval.requested' && approvalOf(e).id === a1.id);
    const e2 = await first.next((e) => e.type === 'approval.requested' && approvalOf(e).id === a2.id);
    expect(e2.id).toBeGreaterThan(e1.id);
    await first.close();

    // Created while elena was away.
    const a3 = await priya.holdStatement(hold(sessionId, 'delete from t where id = 3'));
    const resumed = await tap(elena, { after: e1.id });
    const e3 = await resumed.next((e) => e.type === 'approval.requested' && approvalOf(e).id === a3.id);
    await resumed.close();
    expect(resumed.received[0]!.id).toBe(e2.id);
    expect(resumed.received.some((e) => e.id <= e1.id)).toBe(false);
    expect(resumed.received.map((e) => e.id)).toEqual(
      [...resumed.received.map((e) => e.id)].sort((x, y) => x - y),
    );

    // On the wire: the Last-Event-ID header, the first id line, the event fields, and heartbeats.
    const stream = await rawStream(hub.url, tokens.manager!, { 'last-event-id': String(e2.id) });
    expect(stream.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const text = await stream.readUntil(/: heartbeat\n\n/);
    await stream.cancel();
    expect(text.startsWith(`retry: 2000\nid: ${e2.id}\n\n`)).toBe(true);
    expect(text).toContain(`id: ${e3.id}\nevent: approval.requested\ndata: ${JSON.stringify(e3)}\n\n`);
    expect(text).not.toContain(`id: ${e2.id}\nevent:`);
    // ?after= works the same for clients that cannot set headers.
    const query = await fetch(`${hub.url}/v1/events?after=${e2.id}`, {
      headers: { authorization: `Bearer ${tokens.manager}` },
    });
    const reader = query.body!.pipeThrough(new TextDecoderStream()).getReader();
    let seen = '';
    while (!seen.includes(`id: ${e3.id}\nevent:`)) seen += (await reader.read()).value ?? '';
    await reader.cancel();
    expect(seen).not.toContain(`id: ${e2.id}\nevent:`);
  });
});

// ---------------------------------------------------------------------------------------------------

describe('just-in-time access over HTTP with a manual clock', () => {
  it('oncall requests, the manager approves, oncall opens a session, the grant expires', async () => {
    const clock = new ManualClock('2025-06-02T08:00:00.000Z');
    const hub = await sqliteHub({ clock });
    const marcus = as(hub, 'oncall');
    const elena = as(hub, 'manager');
    const marcusEvents = await tap(marcus);
    const elenaEvents = await tap(elena);
    try {
      const before = (await marcus.targets()).find((t) => t.id === 'payments-db');
      expect(before).toMatchObject({
        status: 'requestable',
        usable: false,
        jit: { maxDurationSeconds: 3600 },
      });
      await expect(marcus.openSession('payments-db')).rejects.toMatchObject({ status: 403 });

      const request = await marcus.requestAccess({
        targetId: 'payments-db',
        reason: 'INC-1234: refunds stuck',
        duration: '30m',
      });
      expect(request).toMatchObject({
        state: 'pending',
        durationSeconds: 1800,
        requester: { subject: 'marcus' },
      });
      const asked = await elenaEvents.next((e) => e.type === 'access.requested');
      expect(asked.payload['request']).toMatchObject({ id: request.id, reason: 'INC-1234: refunds stuck' });
      expect((await elena.accessRequests('pending')).map((r) => r.id)).toEqual([request.id]);
      expect((await marcus.targets()).find((t) => t.id === 'payments-db')).toMatchObject({
        status: 'pending',
        pendingRequestId: request.id,
      });

      clock.advance(2 * MINUTE);
      const approved = await elena.decideAccess(request.id, { approve: true, comment: 'go' });
      expect(approved).toMatchObject({
        state: 'approved',
        decidedAt: '2025-06-02T08:02:00.000Z',
        expiresAt: '2025-06-02T08:32:00.000Z',
      });
      const decided = await marcusEvents.next((e) => e.type === 'access.decided');
      expect(decided.payload['request']).toMatchObject({ id: request.id, state: 'approved' });

      expect((await marcus.targets()).find((t) => t.id === 'payments-db')).toMatchObject({
        status: 'granted',
        usable: true,
        grant: { requestId: request.id, expiresAt: '2025-06-02T08:32:00.000Z' },
      });
      const session = await marcus.openSession('payments-db');
      expect(session).toMatchObject({
        targetId: 'payments-db',
        grant: { requestId: request.id },
        connection: { user: 'payments', database: 'payments' },
        policy: { kind: 'preset', name: 'read-only' },
      });
      expect(await marcus.sessionsToClose()).toEqual([]);

      // Ten minutes before the end, the sweep warns him.
      clock.advance(21 * MINUTE);
      expect(await hub.services.sweep()).toMatchObject({ warned: 1, expiredGrants: 0 });
      await marcusEvents.next((e) => e.type === 'access.expiring');

      const challenge = {
        method: 'postgres-scram-sha-256' as const,
        connection: 1,
        clientFirst: 'n,,n=,r=jit',
        serverFirst: 'r=jit-server,s=c2FsdA==,i=4096',
      };
      expect((await marcus.prove(session.sessionId, challenge)).method).toBe('postgres-scram-sha-256');
      clock.advance(10 * MINUTE);
      // Past the grant's end no connection opens, even before the sweep has marked anything.
      await expect(marcus.prove(session.sessionId, challenge)).rejects.toMatchObject({
        status: 403,
        message: expect.stringMatching(/grant .* has ended/),
      });
      expect(await hub.services.sweep()).toMatchObject({ expiredGrants: 1 });
      await expect(marcus.prove(session.sessionId, challenge)).rejects.toMatchObject({ status: 409 });
      const revoked = await marcusEvents.next((e) => e.type === 'session.revoked');
      expect(revoked.payload).toEqual({
        sessionId: session.sessionId,
        targetId: 'payments-db',
        reason: 'grant-expired',
      });
      await marcusEvents.next((e) => e.type === 'access.expired');
      expect(await marcus.sessionsToClose()).toEqual([
        {
          sessionId: session.sessionId,
          subject: 'marcus',
          targetId: 'payments-db',
          grantId: request.id,
          reason: 'grant-expired',
        },
      ]);
      await expect(marcus.openSession('payments-db')).rejects.toMatchObject({
        status: 403,
        code: 'forbidden',
      });
      expect((await marcus.targets()).find((t) => t.id === 'payments-db')).toMatchObject({
        status: 'requestable',
      });
      expect(await marcus.closeSession(session.sessionId)).toMatchObject({
        status: 'closed',
        closeReason: 'grant-expired',
      });
      expect(await marcus.sessionsToClose()).toEqual([]);
      await expect(marcus.revokeAccess(request.id)).rejects.toMatchObject({ status: 409 });
      // Elena never heard marcus's own notices.
      expect(
        elenaEvents.received.some((e) => e.type === 'session.revoked' || e.type === 'access.expiring'),
      ).toBe(false);
    } finally {
      await marcusEvents.close();
      await elenaEvents.close();
      await hub.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------

describe('event stream lifecycle', () => {
  it('ends streams cleanly when the hub closes, and the client resumes after a restart', async () => {
    let hub = await sqliteHub();
    const port = Number(new URL(hub.url).port);
    const store = path.join(scratch, `hub-${hubs}`, 'hub.db');
    const priya = as(hub, 'engineer');
    const sessionId = await holdingSession(priya, 'app-db');
    const before = await priya.holdStatement(hold(sessionId, 'delete from t where id = 10'));

    const wire = await rawStream(hub.url, tokens.manager!);
    const errors: HubError[] = [];
    const controller = new AbortController();
    const received: HubEvent[] = [];
    let opens = 0;
    const elena = createHubClient({ url: hub.url, token: () => tokens.manager });
    let notify: () => void = () => {};
    const consuming = (async () => {
      for await (const event of elena.events({
        signal: controller.signal,
        retryMs: 50,
        onOpen: () => opens++,
        onError: (error) => errors.push(error),
      })) {
        received.push(event);
        notify();
      }
    })();
    while (opens === 0) await new Promise((resolve) => setTimeout(resolve, 10));

    // Closing ends the open streams rather than waiting on them (a deadline for a loaded machine, far
    // short of the tokens' 15 minutes).
    const closing = Date.now();
    await hub.close();
    expect(Date.now() - closing).toBeLessThan(15_000);
    await wire.ended(15_000); // the stream ended; it did not break

    // While the hub is down, another statement is held (straight through the services on the same store).
    const database = await openHubDatabase(store);
    const services = await createHubServices({ database, config: hub.config, env: ENV });
    const priyaIdentity: Identity = {
      subject: 'priya',
      name: 'Priya Shah',
      groups: ['engineering'],
      kind: 'person',
    };
    const during = await services.approvals.create(
      priyaIdentity,
      hold(sessionId, 'delete from t where id = 11'),
    );
    await services.close();
    await database.close();
    await until('the client to find the hub gone', () => errors[0]);
    expect(errors[0]).toMatchObject({
      status: 0,
      code: 'unreachable',
      message: expect.stringContaining('cannot reach the hub'),
    });

    hub = await startHub({ config: hub.config, database: store, listen: `127.0.0.1:${port}`, env: ENV });
    try {
      const deadline = Date.now() + 10_000;
      while (!received.some((e) => approvalOf(e).id === during.id) && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          notify = resolve;
          setTimeout(resolve, 100);
        });
      }
      expect(received.map((e) => approvalOf(e).id)).toEqual([during.id]);
      expect(received.some((e) => approvalOf(e).id === before.id)).toBe(false);
      expect(opens).toBeGreaterThanOrEqual(2);
    } finally {
      controller.abort();
      await consuming;
      await hub.close();
    }
  });

  it('reports an unreachable hub as HubError status 0', async () => {
    const port = await freePort();
    const client = createHubClient({ url: `http://127.0.0.1:${port}`, token: () => 'x' });
    const error = (await client.me().catch((e: unknown) => e)) as HubError;
    expect(error).toBeInstanceOf(HubError);
    expect(error).toMatchObject({ status: 0, code: 'unreachable' });
    expect(error.message).toBe(`cannot reach the hub at http://127.0.0.1:${port}: ECONNREFUSED`);
    await expect(client.events({ maxRetries: 1, retryMs: 10 }).next()).rejects.toMatchObject({ status: 0 });
  });
});

// ---------------------------------------------------------------------------------------------------

describe('two hub instances on one PostgreSQL database', () => {
  let postgres: TestPostgres;
  let a: RunningHub;
  let b: RunningHub;

  beforeAll(async () => {
    postgres = await startPostgres();
    const url = await postgres.createDatabase('hub_http');
    const config = hubConfig(idp.issuer, path.join(scratch, 'pg', 'hub.yaml'));
    a = await startHub({ config, database: url, env: ENV });
    b = await startHub({ config, database: url, env: ENV });
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await postgres?.stop();
  });

  it('delivers an approval created on A to an SSE subscriber on B, and B’s decision to a wait on A', async () => {
    expect(a.url).not.toBe(b.url);
    const priyaOnA = as(a, 'engineer');
    const elenaOnB = as(b, 'manager');
    const events = await tap(elenaOnB);
    try {
      const sessionId = await holdingSession(priyaOnA, 'app-db');
      const created = await priyaOnA.holdStatement(hold(sessionId, 'truncate table sessions_cache'));
      const waiting = priyaOnA.waitForApproval(created.id, { timeoutSeconds: 30 });
      const heard = await events.next(
        (e) => e.type === 'approval.requested' && approvalOf(e).id === created.id,
      );
      expect(approvalOf(heard)).toMatchObject({
        sql: 'truncate table sessions_cache',
        requester: { subject: 'priya' },
      });
      // B reads A's session too: one store.
      expect((await as(b, 'engineer').session(sessionId)).targetId).toBe('app-db');
      await elenaOnB.decideApproval(created.id, { approve: false, comment: 'not during business hours' });
      expect(await waiting).toMatchObject({ state: 'denied', decidedBy: { subject: 'elena' } });
    } finally {
      await events.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------

describe("the client's event stream parser", () => {
  it('follows the SSE rules: any line ending, split chunks, comments, multi-line data, id without data', async () => {
    const chunks = [
      'retry: 1500\r',
      '\nid: 7\r\n\r\n: heartbeat\n\nid: 8\nevent: a',
      'pproval.requested\ndata: {"x":\n',
      'data: 1}\r\rdata:plain\n\n',
      'id: 9\n',
    ];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
        controller.close();
      },
    });
    const state: SseState = { lastEventId: '', retryMs: undefined };
    const messages: SseMessage[] = [];
    for await (const message of parseEventStream(body, state)) messages.push(message);
    expect(messages).toEqual([
      { id: '8', event: 'approval.requested', data: '{"x":\n1}' },
      { id: '8', event: 'message', data: 'plain' },
    ]);
    // An id whose event never finished does not count.
    expect(state).toEqual({ lastEventId: '8', retryMs: 1500 });
  });
});
