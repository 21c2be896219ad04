/**
 * The connected product end to end, everything real: the development IdP, the hub, PostgreSQL, the
 * `portcullis` CLI as child processes, node-postgres and postgres.js as the clients.
 */
import { createServer } from 'node:net';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../hub/api/types.ts';
import { signInOverHttp } from '../../hub/dev-idp/index.ts';
import { demoUser } from '../identity/browser-driver.ts';
import { runCli } from '../support/guard-process.ts';
import { AUDITOR, startConnectedWorld, type ConnectedWorld } from '../support/connected-world.ts';
import { until } from '../support/waiting.ts';
import { exitedWithOutput } from '../support/commands.ts';

let world: ConnectedWorld;

beforeAll(async () => {
  world = await startConnectedWorld();
}, 120_000);

afterAll(async () => {
  await world?.close();
});

const sessionAtHub = (sessionId: string) => world.hub.services.audit.getSession(sessionId, AUDITOR);

async function eventsAtHub(sessionId: string): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (;;) {
    const page = await world.hub.services.audit.sessionEvents(sessionId, AUDITOR, {
      afterSeq: events.at(-1)?.seq ?? 0,
      limit: 1000,
    });
    events.push(...page);
    if (page.length < 1000) return events;
  }
}

describe('a person, signed in through the browser', () => {
  it('signs in with --no-browser by opening the printed URL', async () => {
    const home = { ...process.env, PORTCULLIS_HOME: `${world.hub.config.file}.priya-cli` };
    const child = runCli(['login', '--hub', world.hubUrl, '--no-browser', '--json'], home);
    const exited = exitedWithOutput(child);
    let stdout = '';
    const firstLine = new Promise<string>((resolve) =>
      child.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('\n')) resolve(stdout.split('\n')[0]!);
      }),
    );
    const authorize = JSON.parse(await firstLine) as { event: string; url: string };
    expect(authorize.event).toBe('authorize');
    const user = demoUser('priya');
    const redirect = await signInOverHttp(new URL(authorize.url), {
      username: user.username,
      password: user.password,
    });
    expect(redirect.hostname).toBe('127.0.0.1');
    expect((await fetch(redirect)).status).toBe(200);
    expect(await exited).toBe(0);
    const signedIn = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(signedIn).toMatchObject({
      event: 'signed-in',
      subject: 'priya',
      kind: 'person',
      groups: ['engineering'],
    });

    const whoami = await world.cli(['whoami'], home);
    expect(whoami.code).toBe(0);
    expect(whoami.stdout).toContain('Priya Shah (priya)');
  });

  it('connects, reads masked data, and a held write commits once a manager approves it from the CLI', async () => {
    const priya = await world.signIn('priya');
    const elena = await world.signIn('elena');
    const targets = await world.cli(['targets', '--json'], priya.env);
    expect(targets.code).toBe(0);
    const listed = JSON.parse(targets.stdout) as { id: string; usable: boolean }[];
    expect(listed.find((t) => t.id === 'app-db')?.usable).toBe(true);

    const tunnel = await world.connect('app-db', priya.env);
    expect(tunnel.ready).toMatchObject({ target: 'app-db', user: 'app_user' });
    expect(tunnel.ready.listen).toMatch(/^127\.0\.0\.1:\d+$/);
    const client = new pg.Client({ connectionString: tunnel.ready.url });
    const notices: string[] = [];
    client.on('notice', (notice) => notices.push(notice.message ?? ''));
    await client.connect();
    try {
      const customers = await client.query('select id, name, email from customers order by id');
      expect(customers.rows[0]).toMatchObject({ id: 1, name: 'Ada Lovelace' });
      expect(customers.rows[0].email).not.toBe('ada@example.com');
      expect(customers.rows[0].email).toMatch(/example\.com$/);

      await expect(client.query('drop table payments')).rejects.toMatchObject({ code: '42501' });

      const update = client.query(`update payments set status = 'refunded' where id = 1`);
      const approvalId = await until('the hold notice', async () => {
        const notice = notices.find((n) => n.startsWith('waiting for approval'));
        return notice ? /request (\S+)/.exec(notice)![1] : undefined;
      });
      const pending = await world.cli(['approvals', '--json'], elena.env);
      expect(pending.code).toBe(0);
      expect(JSON.parse(pending.stdout)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ id: approvalId, sql: expect.stringContaining('refunded') }),
        ]),
      );
      const approve = await world.cli(['approve', approvalId, '--comment', 'refund ticket 42'], elena.env);
      expect(approve.code, approve.stderr).toBe(0);
      const result = await update;
      expect(result.rowCount).toBe(1);
      // The person running the tunnel sees the hold and its outcome too (on stderr, a stream of its own
      // that this process may read after the client's result).
      const approvedLine = `request ${approvalId} approved by Elena Garcia: refund ticket 42`;
      await until('the approval on the tunnel’s stderr', () =>
        tunnel.stderr().includes(approvedLine) ? true : undefined,
      );
      expect(tunnel.stderr()).toContain(`held for approval as request ${approvalId}`);
    } finally {
      await client.end();
    }
    // Behind the tunnel's back: the write really committed.
    const shop = new pg.Client({ connectionString: world.shopUrl });
    await shop.connect();
    expect((await shop.query('select status from payments where id = 1')).rows[0].status).toBe('refunded');
    await shop.end();

    expect(await tunnel.stop('SIGINT')).toBe(0);
    const session = await until('the recording at the hub', async () => {
      const s = await sessionAtHub(tunnel.ready.session);
      return s.status === 'closed' && s.lastSeq > 0 && s.lastSeq === s.maxSeq ? s : undefined;
    });
    expect(session.chainStatus).toBe('ok');
    const events = await eventsAtHub(tunnel.ready.session);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('tunnel.open');
    expect(types.at(-1)).toBe('tunnel.close');
    expect(types).toEqual(
      expect.arrayContaining(['session.start', 'statement', 'hold', 'hold.resolved', 'result']),
    );
    const resolved = events.find((e) => e.type === 'hold.resolved')!.payload as Record<string, unknown>;
    expect(resolved).toMatchObject({ outcome: 'approved', by: 'Elena Garcia', comment: 'refund ticket 42' });
    // Unmasked result data is never recorded.
    expect(JSON.stringify(events)).not.toContain('ada@example.com');

    // The requester reads the same story back from the hub.
    const replay = await world.cli(['replay', tunnel.ready.session], priya.env);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toContain('tunnel open: Priya Shah (priya, person) to App database (app-db)');
    expect(replay.stdout).toMatch(/\[1\] HELD for approval \(request \S+/);
    expect(replay.stdout).toContain('approved by Elena Garcia ("refund ticket 42")');
    expect(replay.stdout).toMatch(/tunnel closed \(the tunnel was stopped \(SIGINT\)\): 1 connection/);
    expect(replay.stdout).toContain('chain: ok');

    // The hub authenticated both of the tunnel's connections and kept a record of each, numbered as
    // the recording numbers them: the client's (1) and the tunnel's own catalog connection (0), which
    // is opened again if it closed while no client was connected (a slow machine between steps).
    const start = events.find((e) => e.type === 'session.start')!.payload as { connection: number };
    const proofs = await world.hub.services.proofs.list(AUDITOR, tunnel.ready.session);
    const kinds = proofs.map((p) => JSON.stringify([p.purpose, p.connection, p.user, p.requester.subject]));
    expect([...new Set(kinds)].sort()).toEqual([
      JSON.stringify(['catalog', 0, 'app_user', 'priya']),
      JSON.stringify(['client', start.connection, 'app_user', 'priya']),
    ]);
    expect(proofs.filter((p) => p.purpose === 'client')).toHaveLength(1);
  });
});

describe('an agent with client credentials', () => {
  it('connects headless and its session reaches the hub with an intact chain', async () => {
    const env = await world.agentEnv();
    const tunnel = await world.connect('reports-db', env, ['--stats', '0.2']);
    const sql = postgres(tunnel.ready.url, { max: 1 });
    try {
      const rows = await sql`select count(*)::int as n from payments`;
      expect(rows[0]!.n).toBe(2);
      await expect(sql`delete from payments`).rejects.toMatchObject({ code: '42501' });
      // A supervisor reading stdout sees the live counts as JSON lines.
      const stats = await until('a stats line counting the blocked delete', async () =>
        tunnel
          .stdout()
          .split('\n')
          .filter((line) => line.includes('"event":"stats"'))
          .map((line) => JSON.parse(line) as Record<string, unknown>)
          .find((line) => line.blocked === 1),
      );
      expect(stats).toMatchObject({ target: 'reports-db', open: 1, connections: 1, held: 0 });
      expect(stats.statements).toBeGreaterThanOrEqual(2);
    } finally {
      await sql.end();
    }
    expect(await tunnel.stop('SIGTERM')).toBe(0);
    const session = await until('the agent session at the hub', async () => {
      const s = await sessionAtHub(tunnel.ready.session);
      return s.status === 'closed' && s.lastSeq === s.maxSeq && s.lastSeq > 3 ? s : undefined;
    });
    expect(session).toMatchObject({
      kind: 'agent',
      subject: 'nightly-report-agent',
      chainStatus: 'ok',
      deniedCount: 1,
    });
  });
});

describe('a stable port per target', () => {
  it('keeps the port across runs, and says so when it is taken instead of picking another', async () => {
    const marcus = await world.signIn('marcus');
    const first = await world.connect('reports-db', marcus.env);
    const port = first.ready.listen.split(':')[1];
    // Closing the terminal (SIGHUP) closes the tunnel cleanly too.
    expect(await first.stop('SIGHUP')).toBe(0);
    const again = await world.connect('reports-db', marcus.env);
    expect(again.ready.listen.split(':')[1]).toBe(port);
    const clash = await world.cli(['connect', 'reports-db'], marcus.env);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toContain(`port ${port}`);
    expect(clash.stderr).toContain('--port');
    expect(await again.stop()).toBe(0);

    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as { port: number }).port;
    const refused = await world.cli(['connect', 'reports-db', '--port', String(taken)], marcus.env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`port ${taken}`);
    squatter.close();
  });
});

describe('just-in-time access', () => {
  it('ends the tunnel with exit code 3 and tells the connected client why when the grant is revoked', async () => {
    const priya = await world.signIn('priya');
    const elena = await world.signIn('elena');
    const before = await world.cli(['connect', 'admin-db'], priya.env);
    expect(before.code).toBe(1);
    expect(before.stderr).toContain('portcullis request admin-db');

    const request = await priya.account.hub.requestAccess({
      targetId: 'admin-db',
      reason: 'incident 7',
      duration: '30m',
    });
    await elena.account.hub.decideAccess(request.id, { approve: true, comment: 'go ahead' });
    const tunnel = await world.connect('admin-db', priya.env);
    const client = new pg.Client({ connectionString: tunnel.ready.url });
    await client.connect();
    const ended = new Promise<Error>((resolve) => client.on('error', resolve));
    expect((await client.query('select count(*)::int as n from customers')).rows[0].n).toBe(2);

    await elena.account.hub.revokeAccess(request.id, 'incident closed');
    expect(await tunnel.exited).toBe(3);
    expect((await ended).message).toContain('revoked');
    expect(tunnel.stderr()).toContain('your access to admin-db was revoked');
    await client.end().catch(() => undefined);
  });
});
