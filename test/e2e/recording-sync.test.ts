/**
 * Recordings survive what happens to real processes: the tunnel killed mid-session, the hub down for a
 * while. The CLI runs as a child process; the spool is read back from the user's home to know what was
 * recorded, and the hub's store says what arrived.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionSummary } from '../../hub/api/types.ts';
import { AUDITOR, startConnectedWorld, type ConnectedWorld } from '../support/connected-world.ts';
import { rejectionOf } from '../support/rejection.ts';
import { until } from '../support/waiting.ts';

let world: ConnectedWorld;

beforeAll(async () => {
  world = await startConnectedWorld();
}, 120_000);

afterAll(async () => {
  await world?.close();
});

/** The last seq the tunnel spooled for a session, read from the spool file in the user's home. */
function spooledThrough(env: NodeJS.ProcessEnv, sessionId: string): number {
  const db = new Database(path.join(env.PORTCULLIS_HOME!, 'recordings.db'), { readonly: true });
  try {
    const row = db.prepare('SELECT max(seq) AS seq FROM events WHERE session_id = ?').get(sessionId) as {
      seq: number | null;
    };
    return row.seq ?? 0;
  } finally {
    db.close();
  }
}

async function runQueries(url: string, count: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (let i = 0; i < count; i++)
      await client.query('select id, status from payments where id = $1', [1 + (i % 2)]);
  } finally {
    await client.end();
  }
}

/** Every event of the session at the hub, checked to be seq 1..n exactly once with an intact chain. */
async function expectExactlyOnce(sessionId: string, through: number): Promise<SessionSummary> {
  const session = await until(`session ${sessionId} to reach seq ${through} at the hub`, async () => {
    const s = await world.hub.services.audit.getSession(sessionId, AUDITOR);
    return s.lastSeq >= through ? s : undefined;
  });
  expect(session).toMatchObject({
    chainStatus: 'ok',
    lastSeq: through,
    maxSeq: through,
    eventCount: through,
  });
  const events = await world.hub.services.audit.sessionEvents(sessionId, AUDITOR, { limit: 10_000 });
  expect(events.map((e) => e.seq)).toEqual(Array.from({ length: through }, (_, i) => i + 1));
  expect(events.every((e) => e.chainOk === true)).toBe(true);
  expect(await world.hub.services.audit.sessionAnomalies(sessionId, AUDITOR)).toEqual([]);
  return session;
}

describe('the recording of a session', () => {
  it('reaches the hub after the tunnel process was killed mid-session, once it runs again', async () => {
    const { env } = await world.signIn('marcus');
    const first = await world.connect('reports-db', env);
    await runQueries(first.ready.url, 25);
    // Keep a client connected while the process dies, as a real crash would find it.
    const client = new pg.Client({ connectionString: first.ready.url });
    await client.connect();
    await client.query('select count(*) from customers');
    client.on('error', () => undefined);
    expect(await first.stop('SIGKILL')).toBe(null);
    const killed = first.ready.session;
    const spooled = spooledThrough(env, killed);
    expect(spooled).toBeGreaterThan(25);

    // The next run of the CLI delivers what the killed one left behind, and ends its session: the
    // recording says the process died, and the hub closes the session.
    const second = await world.connect('reports-db', env);
    const session = await expectExactlyOnce(killed, spooled + 1);
    const events = await world.hub.services.audit.sessionEvents(killed, AUDITOR, { afterSeq: spooled });
    expect(events.map((e) => e.type)).toEqual(['tunnel.abandoned']);
    expect(events[0]!.payload).toMatchObject({ process: { pid: first.child.pid } });
    expect(session.status).toBe('closed');
    expect(session.closeReason).toContain('ended without closing the session');
    expect(second.stderr()).toContain('ended 1 session(s) whose tunnel process had died');
    expect(await second.stop('SIGINT')).toBe(0);
    await expectExactlyOnce(second.ready.session, spooledThrough(env, second.ready.session));
  });

  it('arrives exactly once after the hub was down for part of the session', async () => {
    const { env } = await world.signIn('priya');
    const tunnel = await world.connect('app-db', env);
    await runQueries(tunnel.ready.url, 10);
    const sessionId = tunnel.ready.session;
    await until('the first events at the hub', async () => {
      const s = await world.hub.services.audit.getSession(sessionId, AUDITOR);
      return s.lastSeq > 0 ? s : undefined;
    });

    const open = new pg.Client({ connectionString: tunnel.ready.url });
    await open.connect();
    await world.stopHub();
    // The tunnel keeps guarding and recording what is connected while the hub is away. A new connection
    // waits for the hub: only the hub can authenticate it, and only it knows whether access still holds.
    for (let i = 0; i < 40; i++) await open.query('select id, status from payments where id = $1', [1]);
    const refused = await rejectionOf(runQueries(tunnel.ready.url, 1), Error);
    expect(refused).toMatchObject({ code: '08001' });
    expect(refused.message).toMatch(/cannot reach the hub/);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // a few failed uploads and retries
    await world.startHub();
    await runQueries(tunnel.ready.url, 5);
    await open.end();

    await runQueries(tunnel.ready.url, 5);
    expect(await tunnel.stop('SIGINT')).toBe(0);
    const through = spooledThrough(env, sessionId);
    expect(through).toBeGreaterThan(50);
    const session = await expectExactlyOnce(sessionId, through);
    expect(session.statementCount).toBeGreaterThanOrEqual(50);
    expect(tunnel.stderr()).toContain('kept here and retried');
    expect(tunnel.stderr()).toContain('the hub is reachable again');
  });

  it('closes the session at the hub once the recording of a tunnel stopped during an outage syncs', async () => {
    const { env } = await world.signIn('marcus');
    const tunnel = await world.connect('reports-db', env);
    await runQueries(tunnel.ready.url, 3);
    await world.stopHub();
    try {
      expect(await tunnel.stop('SIGINT')).toBe(0);
      expect(tunnel.stderr()).toContain('will sync the next time you connect');
    } finally {
      await world.startHub();
    }
    const sessionId = tunnel.ready.session;
    expect(await world.hub.services.audit.getSession(sessionId, AUDITOR)).toMatchObject({ status: 'open' });

    const next = await world.connect('reports-db', env);
    const session = await expectExactlyOnce(sessionId, spooledThrough(env, sessionId));
    expect(session).toMatchObject({ status: 'closed', closeReason: 'the tunnel was stopped (SIGINT)' });
    expect(await next.stop('SIGINT')).toBe(0);
  });
});
