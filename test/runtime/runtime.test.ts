/**
 * The use cases the CLI and the desktop app share (tunnel/runtime), in process against the real IdP, hub
 * and PostgreSQL: the engine opens tunnels and, stopped, closes them all with tunnel.close recorded and
 * the spool delivered; decisions find a held statement or an access request by id and say who decided
 * first; a session replays as a timeline with its chain's verdict.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../hub/api/types.ts';
import { portcullisHome } from '../../tunnel/account/home.ts';
import { RecordingSpool } from '../../tunnel/recorder/spool.ts';
import { decide, decideAs, DecisionRefused, NothingToDecide } from '../../tunnel/runtime/decisions.ts';
import { startEngine } from '../../tunnel/runtime/engine.ts';
import { replaySession, timelineEntry } from '../../tunnel/runtime/transcript.ts';
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

async function eventsAtHub(sessionId: string): Promise<RecordedEvent[]> {
  return world.hub.services.audit.sessionEvents(sessionId, AUDITOR, { afterSeq: 0, limit: 1000 });
}

async function engineFor(username: string) {
  const { env, account } = await world.signIn(username);
  const logs: string[] = [];
  const engine = await startEngine({
    hub: account.hub,
    tokens: account.tokens,
    identity: await account.hub.me(),
    paths: portcullisHome(env),
    log: (line) => logs.push(line),
  });
  return { engine, account, env, logs };
}

describe('the engine', () => {
  it('stops by closing every tunnel, recording tunnel.close, and delivering the spool to the hub', async () => {
    const { engine } = await engineFor('priya');
    const app = await engine.open('app-db');
    const reports = await engine.open('reports-db');
    expect(engine.manager.list()).toHaveLength(2);
    const client = new pg.Client({ connectionString: app.endpoint.url });
    await client.connect();
    await client.query('select 1');
    await client.end();

    const stopped = await engine.stop({ reason: 'the app quit' });
    expect(stopped.pending).toBe(0);
    expect(engine.manager.list()).toHaveLength(0);
    for (const tunnel of [app, reports]) {
      expect((await tunnel.closed).reason).toBe('the app quit');
      const events = await eventsAtHub(tunnel.sessionId);
      expect(events.at(-1)).toMatchObject({ type: 'tunnel.close', payload: { reason: 'the app quit' } });
      const session = await world.hub.services.audit.getSession(tunnel.sessionId, AUDITOR);
      expect(session.status).toBe('closed');
    }
    // Stopping twice is harmless.
    await expect(engine.stop()).resolves.toEqual(stopped);
  });

  it('ends, on start, the sessions a dead tunnel process left open', async () => {
    const { env, account } = await world.signIn('priya');
    const paths = portcullisHome(env);
    const opened = await account.hub.openSession('app-db');
    const spool = new RecordingSpool(paths.spool);
    spool.record(opened.sessionId, {
      type: 'tunnel.open',
      identity: { subject: 'priya', name: 'Priya Shah', kind: 'person' },
      target: { id: 'app-db', name: 'App database' },
      listen: '127.0.0.1:1',
      policy: 'app-policy.yaml',
      grantExpiresAt: null,
      process: { pid: 2 ** 22 + 17, host: (await import('node:os')).hostname() },
    });
    await spool.close();

    const logs: string[] = [];
    const engine = await startEngine({
      hub: account.hub,
      tokens: account.tokens,
      identity: await account.hub.me(),
      paths,
      log: (line) => logs.push(line),
    });
    expect(engine.abandoned).toEqual([opened.sessionId]);
    expect(logs.join('\n')).toContain('ended 1 session(s) whose tunnel process had died');
    await engine.stop();
    const events = await eventsAtHub(opened.sessionId);
    expect(events.map((e) => e.type)).toEqual(['tunnel.open', 'tunnel.abandoned']);
  });
});

describe('deciding and replaying', () => {
  it('decides a held statement by id, refuses a second decision naming who decided first, and replays it', async () => {
    const priya = await engineFor('priya');
    const elena = await world.signIn('elena');
    const marcus = await world.signIn('marcus');
    const tunnel = await priya.engine.open('app-db');
    const client = new pg.Client({ connectionString: tunnel.endpoint.url });
    const notices: string[] = [];
    client.on('notice', (n) => notices.push(n.message ?? ''));
    await client.connect();
    try {
      const update = client.query(`update payments set status = 'refunded' where id = 2`);
      const id = await until('the hold', () => /request (\S+)/.exec(notices.join('\n'))?.[1]);

      // With the hold came what it touches: the table, and the planner's estimate of the rows.
      expect((await elena.account.hub.approval(id)).context).toEqual({
        tables: ['payments'],
        writes: ['payments'],
        estimatedRows: 1,
      });

      // Marcus is not an approver of app-db.
      const refused = await rejectionOf(decide(marcus.account.hub, id, { approve: true }), DecisionRefused);
      expect(refused.status).toBe(403);

      const decided = await decide(elena.account.hub, id, { approve: true, comment: 'ticket 7', via: 'app' });
      expect(decided).toMatchObject({
        kind: 'statement',
        approval: { id, state: 'approved', decidedVia: 'app' },
      });
      expect((await update).rowCount).toBe(1);

      const again = await rejectionOf(
        decideAs(elena.account.hub, 'statement', id, { approve: false, comment: 'no' }),
        DecisionRefused,
      );
      expect(again.message).toMatch(new RegExp(`held statement ${id} was already approved by Elena Garcia`));
      await rejectionOf(decide(elena.account.hub, 'no-such-id', { approve: true }), NothingToDecide);
    } finally {
      await client.end();
    }
    await priya.engine.stop();

    const replay = await replaySession(priya.account.hub, tunnel.sessionId);
    expect(replay.session.id).toBe(tunnel.sessionId);
    expect(replay.chain).toMatch(/^chain: ok, events 1–\d+ verified$/);
    const kinds = replay.entries.map((e) => e.kind);
    expect(kinds[0]).toBe('tunnel');
    expect(kinds).toContain('hold');
    const decision = replay.entries.find((e) => e.kind === 'decision')!;
    expect(decision.text).toMatch(/approved by Elena Garcia \("ticket 7"\)$/);
    expect(replay.entries.every((e) => e.chain === 'ok')).toBe(true);
    expect(replay.truncated).toBe(false);
  });

  it('decides an access request by the same id lookup', async () => {
    const priya = await world.signIn('priya');
    const elena = await world.signIn('elena');
    const request = await priya.account.hub.requestAccess({ targetId: 'admin-db', reason: 'incident 9' });
    const decided = await decide(elena.account.hub, request.id, { approve: true });
    expect(decided).toMatchObject({ kind: 'access', request: { id: request.id, state: 'approved' } });
  });
});

describe('timelineEntry', () => {
  const base = { seq: 3, at: '2025-01-01T09:00:00.000Z', prevHash: '', hash: '', receivedAt: '' };
  it('marks denied statements, results with masked cells, and chain trouble', () => {
    expect(
      timelineEntry({
        ...base,
        type: 'statement',
        payload: { connection: 2, sql: 'drop table t', decision: 'deny', rule: 'preset guarded: drop' },
        chainOk: false,
      }),
    ).toMatchObject({ kind: 'denied', connection: 2, sql: 'drop table t', chain: 'tampered' });
    expect(
      timelineEntry({
        ...base,
        type: 'result',
        payload: { command: 'SELECT', rows: 2, maskedCells: 4, durationMs: 1 },
        chainOk: null,
      }),
    ).toMatchObject({ kind: 'result', maskedCells: 4, chain: 'unverified', connection: null });
  });
});
