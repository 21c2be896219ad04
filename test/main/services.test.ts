/**
 * The desktop app's main-process services, in plain Node against the real IdP, hub and PostgreSQL (the
 * connected world), with fake notifier, tray and clipboard that record what would be shown and can
 * click. Priya connects and works through her tunnel; her held write reaches Elena as a notification
 * with the planner's estimate, whose Approve decides at once; Marcus asks for just-in-time access and is
 * told when it is granted and about to end; quitting closes every tunnel cleanly; a crashed run's
 * sessions are ended at the next start; links open the right approval.
 */
import { hostname } from 'node:os';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../hub/api/types.ts';
import { homePathsIn } from '../../tunnel/account/home.ts';
import { RecordingSpool } from '../../tunnel/recorder/spool.ts';
import { AUDITOR, SECRETS, startConnectedWorld, type ConnectedWorld } from '../support/connected-world.ts';
import { createTestDesktop, testEncryption, type TestDesktop } from '../support/desktop.ts';
import { until } from '../support/waiting.ts';

let world: ConnectedWorld;
const desktops: TestDesktop[] = [];

beforeAll(async () => {
  world = await startConnectedWorld();
}, 120_000);

afterAll(async () => {
  for (const desktop of desktops) await desktop.services.quit().catch(() => undefined);
  await world?.close();
});

async function desktopOf(username: string, home?: string): Promise<TestDesktop> {
  const desktop = await createTestDesktop({ hubUrl: world.hubUrl, ...(home ? { home } : {}) });
  desktops.push(desktop);
  await desktop.services.start();
  await desktop.signIn(username);
  return desktop;
}

async function eventsAtHub(sessionId: string): Promise<RecordedEvent[]> {
  return world.hub.services.audit.sessionEvents(sessionId, AUDITOR, { afterSeq: 0, limit: 1000 });
}

describe('signing in and the targets', () => {
  it('signs in through the browser, lists the targets with their status, and keeps no token in the state', async () => {
    const priya = await desktopOf('priya');
    const state = priya.mirror();
    expect(state.account).toMatchObject({ state: 'signed-in', me: { subject: 'priya', name: 'Priya Shah' } });
    expect(state.targets.status).toBe('ready');
    const byId = Object.fromEntries(state.targets.items.map((t) => [t.id, t]));
    expect(byId['app-db']).toMatchObject({ status: 'standing', usable: true, connected: false });
    expect(byId['admin-db']).toMatchObject({ status: 'requestable', jit: { maxDurationSeconds: 3600 } });
    expect(state.hub.status).toBe('reachable');
    expect(state.preferences.hubUrl).toBe(world.hubUrl);

    const tokens = priya.services.account.current()!.account.tokens.tokens!;
    const everything = JSON.stringify(priya.pushes);
    expect(everything).not.toContain(tokens.accessToken);
    expect(everything).not.toContain(tokens.refreshToken!);
    // The tokens are kept encrypted: not in the clear on disk.
    const sealed = await readFile(path.join(priya.home, 'tokens.sealed'), 'utf8');
    expect(sealed).not.toContain(tokens.refreshToken!);
  });

  it('restores the sign-in at the next start, and says so plainly when there is none', async () => {
    const encryption = testEncryption();
    const first = await createTestDesktop({ hubUrl: world.hubUrl, encryption });
    await first.services.start();
    expect(first.mirror().account).toEqual({ state: 'signed-out', hubUrl: world.hubUrl, error: null });
    await first.signIn('tom');
    await first.services.quit();
    const again = await createTestDesktop({ hubUrl: world.hubUrl, home: first.home, encryption });
    desktops.push(again);
    await again.services.start();
    expect(again.mirror().account).toMatchObject({ state: 'signed-in', me: { subject: 'tom' } });
    await again.services.account.signOut();
    expect(again.mirror().account).toMatchObject({ state: 'signed-out' });
    expect(again.mirror().targets.items).toEqual([]);
  });

  it('refuses a hub address that is not one, and reports a hub that does not answer', async () => {
    const desktop = await createTestDesktop({ hubUrl: world.hubUrl });
    await desktop.services.start();
    await expect(desktop.services.account.signIn('not a url')).rejects.toMatchObject({ code: 'invalid' });
    await expect(desktop.services.account.signIn('http://127.0.0.1:9')).rejects.toThrow(
      /cannot reach the hub/,
    );
    expect(desktop.mirror().account).toMatchObject({
      state: 'signed-out',
      error: expect.stringMatching(/cannot reach/),
    });
  });
});

describe('a tunnel run by the app', () => {
  it('connects with copy-ready details, counts what the client does, and routes a held write through a notification', async () => {
    const priya = await desktopOf('priya');
    const elena = await desktopOf('elena');
    const view = await priya.services.tunnels.connect('app-db');
    expect(view.connection).toMatchObject({
      host: '127.0.0.1',
      user: 'app_user',
      database: 'shop',
      password: '••••••••',
    });
    expect(view.connection.psql).toMatch(
      /^psql "postgresql:\/\/app_user:••••••••@127\.0\.0\.1:\d+\/shop\?sslmode=disable"$/,
    );
    expect(priya.mirror().targets.items.find((t) => t.id === 'app-db')?.connected).toBe(true);

    priya.services.tunnels.copy('app-db', 'uri');
    const uri = priya.clipboard.at(-1)!;
    expect(uri).toContain(priya.services.tunnels.revealSecret('app-db'));
    const client = new pg.Client({ connectionString: uri });
    await client.connect();
    try {
      await client.query('select name from customers');
      await until(
        'the counts to move',
        () => (priya.mirror().tunnels[0]?.stats.statements ?? 0) >= 1 || undefined,
      );
      const update = client.query(`update payments set status = 'refunded' where id = 1`);

      // Priya is told her statement is held; Elena is asked, with what it touches.
      const held = await priya.notifier.waitFor('Your statement on app-db is held');
      expect(held.model.actions).toEqual([]);
      const ask = await elena.notifier.waitFor('Priya Shah wants to run a write on app-db');
      expect(ask.model.body).toBe(
        `update payments set status = 'refunded' where id = 1\n≈ 1 row in payments · held by ${'app-policy.yaml'}:2 (approve write on payments)`,
      );
      expect(ask.model.actions.map((a) => a.label)).toEqual(['Approve', 'Deny']);
      expect(elena.mirror().approvals.waiting).toHaveLength(1);
      expect(elena.trays.at(-1)?.badge).toBe(1);

      elena.notifier.act(ask, 'approve');
      expect((await update).rowCount).toBe(1);
      const approvalId = ask.model.opens.screen === 'approvals' ? ask.model.opens.id! : '';
      expect(await world.hub.services.approvals.get(AUDITOR, approvalId)).toMatchObject({
        state: 'approved',
        decidedBy: { name: 'Elena Garcia' },
        decidedVia: 'notification',
      });
      // Priya's window shows who approved; she is told too.
      await until('the hold to show approved', () => {
        const hold = priya.mirror().tunnels[0]?.holds[0];
        return hold?.state === 'approved' && hold.decidedBy === 'Elena Garcia' ? hold : undefined;
      });
      expect(priya.mirror().tunnels[0]!.holds[0]!.context).toEqual({
        tables: ['payments'],
        writes: ['payments'],
        estimatedRows: 1,
      });
      await priya.notifier.waitFor('Approved by Elena Garcia: your statement on app-db runs');
      await until('Elena’s list to empty', () =>
        elena.mirror().approvals.waiting.length === 0 ? true : undefined,
      );
      expect(elena.notifier.shown.find((n) => n.model.id === ask.model.id)?.closed).toBe(true);
    } finally {
      await client.end();
    }
    // Neither the target's credentials nor the tunnel's secret ever went to the renderer unasked.
    const pushed = JSON.stringify(priya.pushes);
    expect(pushed).not.toContain(SECRETS.APP_DB_PASSWORD);
    expect(pushed).not.toContain(priya.services.tunnels.revealSecret('app-db'));
    await priya.services.tunnels.disconnect('app-db');
    expect(priya.mirror().tunnels).toEqual([]);
    // Closed from the window: no notification about it.
    expect(priya.notifier.titles().some((t) => t.includes('tunnel to app-db closed'))).toBe(false);
  });

  it('decides from the window without notifying the person who decided, recording it as decided in the app', async () => {
    const priya = await desktopOf('priya');
    const elena = await desktopOf('elena');
    await priya.services.tunnels.connect('app-db');
    priya.services.tunnels.copy('app-db', 'uri');
    const client = new pg.Client({ connectionString: priya.clipboard.at(-1)! });
    await client.connect();
    try {
      const update = client
        .query(`update payments set status = 'disputed' where id = 2`)
        .catch((e: Error) => e);
      const waiting = await until('the hold at Elena', () => elena.mirror().approvals.waiting[0]);
      const before = elena.notifier.shown.length;
      await elena.services.approvals.decide(
        { kind: 'statement', id: waiting.id, approve: false, comment: 'not today' },
        'app',
      );
      expect(await update).toMatchObject({
        message: expect.stringMatching(/denied by Elena Garcia: not today/),
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(elena.notifier.shown.slice(before).map((n) => n.model.title)).toEqual([]);
      expect(elena.notifier.shown.find((n) => n.model.id === `statement:${waiting.id}`)?.closed).toBe(true);
      const decided = await world.hub.services.approvals.get(AUDITOR, waiting.id);
      expect(decided).toMatchObject({ state: 'denied', decidedVia: 'app' });
      await priya.notifier.waitFor('Denied by Elena Garcia: your statement on app-db');
    } finally {
      await client.end();
    }
  });

  it('quits cleanly: every tunnel closed with tunnel.close recorded and the spool delivered to the hub', async () => {
    const priya = await desktopOf('priya');
    const app = await priya.services.tunnels.connect('app-db');
    const reports = await priya.services.tunnels.connect('reports-db');
    await priya.services.quit();
    for (const view of [app, reports]) {
      const events = await eventsAtHub(view.sessionId);
      expect(events.at(-1)).toMatchObject({
        type: 'tunnel.close',
        payload: { reason: 'Portcullis was quit' },
      });
      expect((await world.hub.services.audit.getSession(view.sessionId, AUDITOR)).status).toBe('closed');
    }
    expect(priya.mirror().tunnels).toEqual([]);
  });

  it('ends, at the next start, the sessions a crashed run left open', async () => {
    const first = await desktopOf('priya');
    const opened = await first.services.account.current()!.account.hub.openSession('app-db');
    const spool = new RecordingSpool(homePathsIn(first.home).spool);
    spool.record(opened.sessionId, {
      type: 'tunnel.open',
      identity: { subject: 'priya', name: 'Priya Shah', kind: 'person' },
      target: { id: 'app-db', name: 'App database' },
      listen: '127.0.0.1:1',
      policy: 'app-policy.yaml',
      grantExpiresAt: null,
      process: { pid: 2 ** 22 + 11, host: hostname() },
    });
    await spool.close();
    await first.services.quit();
    await desktopOf('priya', first.home);
    await until('the abandoned session to reach the hub', async () => {
      const types = (await eventsAtHub(opened.sessionId)).map((e) => e.type);
      return types.includes('tunnel.abandoned') ? types : undefined;
    });
  });

  it('keeps the port and the local secret of a target from one connection to the next', async () => {
    const priya = await desktopOf('priya');
    const first = await priya.services.tunnels.connect('reports-db');
    const secret = priya.services.tunnels.revealSecret('reports-db');
    await priya.services.tunnels.disconnect('reports-db');
    const again = await priya.services.tunnels.connect('reports-db');
    expect(again.connection.port).toBe(first.connection.port);
    expect(priya.services.tunnels.revealSecret('reports-db')).toBe(secret);
    await expect(priya.services.tunnels.setPort('reports-db', 80)).rejects.toMatchObject({ code: 'invalid' });
    await priya.services.tunnels.disconnect('reports-db');
  });
});

describe('just-in-time access', () => {
  it('Marcus requests, Elena is asked and approves, Marcus is told and warned before it ends, and connects', async () => {
    const marcus = await desktopOf('marcus');
    const elena = await desktopOf('elena');
    const request = await marcus.services.targets.requestAccess({
      targetId: 'admin-db',
      reason: 'incident 4711: stuck orders',
      duration: '5m',
    });
    expect(request).toMatchObject({ kind: 'access', state: 'pending', durationSeconds: 300 });
    await until('the target to show pending', () =>
      marcus.mirror().targets.items.find((t) => t.id === 'admin-db' && t.status === 'pending'),
    );
    const ask = await elena.notifier.waitFor('Marcus Reed asks for admin-db for 5 min');
    expect(ask.model.body).toBe('incident 4711: stuck orders');
    // Marcus made the request in his window: he is not notified of it.
    expect(marcus.notifier.titles().filter((t) => t.includes('admin-db'))).toEqual([]);

    await elena.services.approvals.decide({ kind: 'access', id: request.id, approve: true }, 'app');
    const granted = await marcus.notifier.waitFor('Access to admin-db granted by Elena Garcia');
    expect(granted.model.body).toMatch(/^You may connect until \d\d:\d\d \(5 min\)\.$/);
    // Five minutes is within the hub's warning window: the sweep warns at once.
    await marcus.notifier.waitFor(/^Your access to admin-db ends in [45] min$/);
    await until('the target to become usable', () =>
      marcus.mirror().targets.items.find((t) => t.id === 'admin-db' && t.status === 'granted'),
    );
    const tunnel = await marcus.services.tunnels.connect('admin-db');
    expect(tunnel.grantExpiresAt).not.toBeNull();

    // Revoked at the hub: the tunnel closes with the reason, and Marcus is told.
    await world.hub.services.access.revoke(
      { subject: 'elena', name: 'Elena Garcia', groups: ['managers'], kind: 'person' },
      request.id,
      'incident closed',
    );
    const ended = await marcus.notifier.waitFor('The tunnel to admin-db closed');
    expect(ended.model.body).toMatch(/revoked/);
    expect(marcus.mirror().tunnels[0]).toMatchObject({ state: 'closed', closed: { cause: 'grant-revoked' } });
  });
});

describe('links, navigation and preferences', () => {
  it('opens portcullis://approvals/ID on that approval, with its kind looked up', async () => {
    const elena = await desktopOf('elena');
    const marcus = await desktopOf('marcus');
    const request = await marcus.services.targets.requestAccess({
      targetId: 'admin-db',
      reason: 'link test',
    });
    try {
      expect(await elena.services.openLink(`portcullis://approvals/${request.id}`)).toBe(true);
      expect(elena.navigations.at(-1)).toEqual({ screen: 'approvals', kind: 'access', id: request.id });
      expect(elena.shown).toBeGreaterThan(0);
      expect(await elena.services.openLink('portcullis://approvals/../../etc')).toBe(false);
      expect(await elena.services.openLink('https://evil.example/approvals/1')).toBe(false);
    } finally {
      await marcus.services.targets.cancelRequest(request.id);
    }
  });

  it('clicking a notification’s body opens the approval; turned-off notifications are not shown', async () => {
    const elena = await desktopOf('elena');
    const marcus = await desktopOf('marcus');
    elena.services.preferences.update({ notifications: { approvals: false } });
    const quiet = await marcus.services.targets.requestAccess({
      targetId: 'admin-db',
      reason: 'quiet please',
    });
    await until('the request to reach Elena', () =>
      elena.mirror().approvals.waiting.find((i) => i.id === quiet.id),
    );
    expect(elena.notifier.titles().filter((t) => t.includes('quiet'))).toEqual([]);
    expect(elena.notifier.shown.filter((n) => n.model.id === `access:${quiet.id}`)).toEqual([]);
    await marcus.services.targets.cancelRequest(quiet.id);

    elena.services.preferences.update({ notifications: { approvals: true } });
    const loud = await marcus.services.targets.requestAccess({
      targetId: 'admin-db',
      reason: 'now tell her',
    });
    const ask = await until('the notification', () =>
      elena.notifier.shown.find((n) => n.model.id === `access:${loud.id}`),
    );
    elena.notifier.click(ask);
    expect(elena.navigations.at(-1)).toEqual({ screen: 'approvals', kind: 'access', id: loud.id });
    await marcus.services.targets.cancelRequest(loud.id);
    // Cancelled: it no longer waits, and its notification goes.
    await until('Elena’s notification to go', () =>
      elena.notifier.shown.find((n) => n.model.id === `access:${loud.id}` && n.closed),
    );
    expect(elena.mirror().approvals.waiting.find((i) => i.id === loud.id)).toBeUndefined();
  });

  it('checks preferences, remembers them and applies start at login', async () => {
    const desktop = await createTestDesktop({ hubUrl: world.hubUrl });
    await desktop.services.start();
    expect(() => desktop.services.preferences.update({ hubUrl: 'ftp://x' })).toThrow(/hubUrl/);
    expect(() => desktop.services.preferences.update({ unknown: true } as never)).toThrow(
      /preferences|unknown/i,
    );
    desktop.services.preferences.update({ startAtLogin: true, closeToTray: false });
    expect(desktop.startAtLogin).toEqual([true]);
    expect(desktop.services.preferences.load()).toMatchObject({ startAtLogin: true, closeToTray: false });
  });
});

describe('a hub that goes away', () => {
  it('shows the hub unreachable and the recording kept, then on wake renews the sign-in and syncs', async () => {
    const priya = await desktopOf('priya');
    await priya.services.tunnels.connect('reports-db');
    priya.services.tunnels.copy('reports-db', 'uri');
    const client = new pg.Client({ connectionString: priya.clipboard.at(-1)! });
    await client.connect();
    const before = priya.services.account.current()!.account.tokens.tokens!.accessToken;
    await world.stopHub();
    try {
      await client.query('select 1');
      await until('the hub to show unreachable', () =>
        priya.mirror().hub.status === 'unreachable' ? priya.mirror().hub : undefined,
      );
      await until('the recording to wait', () =>
        priya.mirror().hub.sync.failing && priya.mirror().hub.sync.pending > 0 ? true : undefined,
      );
    } finally {
      await world.startHub();
    }
    await priya.services.wake();
    expect(priya.services.account.current()!.account.tokens.tokens!.accessToken).not.toBe(before);
    await until('the hub to show reachable and synced', () => {
      const hub = priya.mirror().hub;
      return hub.status === 'reachable' && hub.sync.pending === 0 && !hub.sync.failing ? hub : undefined;
    });
    await client.end();
  });
});
