/**
 * A requester who floods the approvers' inbox on purpose, over raw HTTP (no typed client to behave for
 * it): bursts of concurrent held statements, on one hub on SQLite and split across two hub instances on
 * one PostgreSQL store; identical statements re-sent in a loop; holds naming a connection the hub never
 * authenticated. The limits hold exactly under concurrency, and refusals say when to come back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Approval } from '../../hub/api/types.ts';
import { parseHubConfig, type HubConfig } from '../../hub/config/index.ts';
import { startDevIdp, type DevIdp } from '../../hub/dev-idp/index.ts';
import { startHub, type RunningHub } from '../../hub/server.ts';
import { signIn } from '../support/hub-tokens.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

const AUDIENCE = 'portcullis-hub';
const ENV = { APP_DB_PASSWORD: 'app-secret' };

let idp: DevIdp;
let scratch: string;
let postgres: TestPostgres;
let priya: string;
let elena: string;

function hubConfig(file: string): HubConfig {
  // The default limits: 20 new holds per session a minute, 60 per requester, 20 waiting at once.
  return parseHubConfig(
    `identity: { issuer: ${idp.issuer}, audience: ${AUDIENCE} }
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
`,
    file,
  );
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'portcullis-hold-flood-'));
  idp = await startDevIdp({ audience: AUDIENCE });
  postgres = await startPostgres();
  [priya, elena] = await Promise.all([
    signIn(idp, 'priya').then((t) => t.accessToken),
    signIn(idp, 'elena').then((t) => t.accessToken),
  ]);
});

afterAll(async () => {
  await Promise.all([idp?.close(), postgres?.stop()]);
  await rm(scratch, { recursive: true, force: true });
});

interface Answer {
  status: number;
  retryAfter: string | null;
  body: Record<string, unknown>;
}

async function call(hub: RunningHub, token: string, method: string, route: string, body?: unknown) {
  const response = await fetch(`${hub.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: (text ? JSON.parse(text) : {}) as Record<string, unknown>,
  } satisfies Answer;
}

/** A session of priya's whose connection 1 the hub authenticated, as a tunnel's first connection is. */
async function session(hub: RunningHub): Promise<string> {
  const opened = await call(hub, priya, 'POST', '/v1/sessions', { targetId: 'app-db' });
  expect(opened.status).toBe(201);
  const id = opened.body['sessionId'] as string;
  const proof = await call(hub, priya, 'POST', `/v1/sessions/${id}/proofs`, {
    method: 'postgres-md5',
    connection: 1,
    salt: 'AAAAAA==',
  });
  expect(proof.status).toBe(200);
  return id;
}

const holdOf = (sessionId: string, sql: string, connection = 1) => ({
  sessionId,
  connection,
  sql,
  classes: ['write'],
  rule: 'writes need approval',
});

const pendingOf = async (hub: RunningHub, sessionId: string): Promise<Approval[]> =>
  ((await call(hub, elena, 'GET', '/v1/approvals?scope=pending')).body as unknown as Approval[]).filter(
    (a) => a.sessionId === sessionId,
  );

describe('a requester flooding held statements over raw HTTP', () => {
  let hub: RunningHub;
  beforeAll(async () => {
    hub = await startHub({
      config: hubConfig(path.join(scratch, 'sqlite', 'hub.yaml')),
      database: path.join(scratch, 'sqlite', 'hub.db'),
      env: ENV,
      sweepIntervalMs: 60_000,
    });
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('gets exactly 20 of 100 concurrent holds into the inbox; the rest are 429 with Retry-After', async () => {
    const id = await session(hub);
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        call(hub, priya, 'POST', '/v1/approvals', holdOf(id, `delete from orders where id = ${i}`)),
      ),
    );
    const created = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status === 429);
    expect([created.length, refused.length]).toEqual([20, 80]);
    expect(refused.every((a) => a.retryAfter === '60' && a.body['error'] === 'rate_limited')).toBe(true);
    expect(refused[0]!.body['message']).toMatch(/held 20 statements for approval in the last minute/);
    expect(await pendingOf(hub, id)).toHaveLength(20);
    // A second session of the same requester: 20 already wait, so none may join them.
    const other = await session(hub);
    const more = await call(hub, priya, 'POST', '/v1/approvals', holdOf(other, 'delete from orders'));
    expect(more).toMatchObject({ status: 429, retryAfter: '60' });
    expect(more.body['message']).toMatch(/20 of your held statements already wait for a decision/);
    // Closing the session takes its holds out of the inbox at the next sweep.
    expect((await call(hub, priya, 'POST', `/v1/sessions/${id}/close`, { reason: 'done' })).status).toBe(200);
    expect((await hub.services.sweep()).expiredApprovals).toBe(20);
    expect(await pendingOf(hub, id)).toEqual([]);
    expect(
      (await call(hub, priya, 'POST', '/v1/approvals', holdOf(other, 'delete from orders'))).status,
    ).toBe(201);
  });

  it('collapses 50 identical concurrent holds into one approval that counts them', async () => {
    const id = await session(hub);
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        call(hub, priya, 'POST', '/v1/approvals', holdOf(id, 'update accounts set frozen = true')),
      ),
    );
    expect(answers.every((a) => a.status === 201)).toBe(true);
    expect(new Set(answers.map((a) => a.body['id'])).size).toBe(1);
    expect(await pendingOf(hub, id)).toMatchObject([{ holds: 50, sql: 'update accounts set frozen = true' }]);
  });

  it('refuses holds from connections the hub never authenticated, and malformed ones', async () => {
    const id = await session(hub);
    const forged = await call(hub, priya, 'POST', '/v1/approvals', holdOf(id, 'drop table orders', 7));
    expect(forged.status).toBe(403);
    expect(forged.body['message']).toMatch(/connection 7 of session .* was not authenticated by the hub/);
    const missing = await call(hub, priya, 'POST', '/v1/approvals', {
      sessionId: id,
      sql: 'drop table orders',
      classes: ['write'],
      rule: 'r',
    });
    expect(missing).toMatchObject({ status: 400, body: { field: 'connection' } });
    const zero = await call(hub, priya, 'POST', '/v1/approvals', holdOf(id, 'drop table orders', 0));
    expect(zero.status).toBe(400);
    expect(await pendingOf(hub, id)).toEqual([]);
  });
});

describe('two hub instances on one PostgreSQL store', () => {
  let a: RunningHub;
  let b: RunningHub;
  beforeAll(async () => {
    const url = await postgres.createDatabase('hold_flood');
    const config = hubConfig(path.join(scratch, 'pg', 'hub.yaml'));
    a = await startHub({ config, database: url, env: ENV, sweepIntervalMs: 60_000 });
    b = await startHub({ config, database: url, env: ENV, sweepIntervalMs: 60_000 });
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  it('enforce one limit between them: 60 concurrent holds split across both, exactly 20 created', async () => {
    const id = await session(a);
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        call(i % 2 ? a : b, priya, 'POST', '/v1/approvals', holdOf(id, `delete from orders where id = ${i}`)),
      ),
    );
    expect(answers.filter((x) => x.status === 201)).toHaveLength(20);
    expect(answers.filter((x) => x.status === 429)).toHaveLength(40);
    expect(await pendingOf(b, id)).toHaveLength(20);
  });
});
