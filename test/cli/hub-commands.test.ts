/**
 * The hub-facing `portcullis` commands as people and scripts use them: the real CLI as a child process,
 * each person signed in at the development IdP with their own PORTCULLIS_HOME, against a real hub.
 *
 * Cast (hub/dev-idp/demo.ts): priya (engineering), marcus (engineering + oncall), elena (engineering +
 * managers: approves), tom (auditors), and the nightly report agent (agents).
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainHash, GENESIS_HASH } from '../../hub/api/recording-chain.ts';
import type {
  AccessRequest,
  ExportLine,
  RecordedEvent,
  RecordingEventInput,
  TargetEntitlement,
} from '../../hub/api/types.ts';
import { parseHubConfig } from '../../hub/config/index.ts';
import { DEMO_AGENT, startDevIdp, type DevIdp } from '../../hub/dev-idp/index.ts';
import { startHub, type RunningHub } from '../../hub/server.ts';
import { signInPerson, type Account } from '../../tunnel/account/account.ts';
import { portcullisHome } from '../../tunnel/account/home.ts';
import type { HubClient } from '../../tunnel/hub-client/index.ts';
import type { SessionEvent } from '../../tunnel/recorder/recording-point.ts';
import { demoUser, fakeBrowser } from '../identity/browser-driver.ts';
import { runCli, runCliToEnd } from '../support/guard-process.ts';
import { heldWrite, holdingSession } from '../support/held-statements.ts';
import { exitedWithOutput } from '../support/commands.ts';

const AUDIENCE = 'portcullis-hub';
const PEOPLE = ['priya', 'marcus', 'elena', 'tom'] as const;
type Person = (typeof PEOPLE)[number];
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

let scratch: string;
let idp: DevIdp;
let hub: RunningHub;
/** A port nothing listens on: the targets' databases, and a hub that is not running. */
let closedPort: number;
const homes = {} as Record<Person, string>;
const accounts = {} as Record<Person, Account>;

/** This process's environment without the caller's own Portcullis settings. */
const baseEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith('PORTCULLIS_')),
);
const envOf = (who: Person): NodeJS.ProcessEnv => ({ ...baseEnv, PORTCULLIS_HOME: homes[who] });
const agentEnv = (hubUrl: string): NodeJS.ProcessEnv => ({
  ...baseEnv,
  PORTCULLIS_HOME: path.join(scratch, 'agent-home'),
  PORTCULLIS_HUB: hubUrl,
  PORTCULLIS_CLIENT_ID: DEMO_AGENT.clientId,
  PORTCULLIS_CLIENT_SECRET: DEMO_AGENT.clientSecret,
});

const portcullis = (who: Person, ...args: string[]) => runCliToEnd(args, envOf(who));
const hubOf = (who: Person): HubClient => accounts[who].hub;

function hubYaml(): string {
  const target = (id: string, extra: string): string => `  - id: ${id}
    kind: postgres
    address: 127.0.0.1:${closedPort}
    database: ${id.replace('-db', '')}
    tls: { sslmode: disable }
    credentials: { user: app, password_env: DB_PASSWORD }
${extra}`;
  return `identity: { issuer: ${idp.issuer}, audience: ${AUDIENCE} }
auditors: [auditors]
targets:
${target('app-db', '    policy: guarded\n    access: [engineering]\n    approvers: [managers]\n')}
${target('payments-db', '    policy: read-only\n    jit: { requesters: [oncall], approvers: [managers], max_duration: 1h }\n')}
${target('ledger-db', '    jit: { requesters: [oncall], approvers: [managers], max_duration: 2h }\n')}
${target('analytics-db', '    policy: read-only\n    access: [agents]\n')}`;
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'portcullis-cli-hub-'));
  closedPort = await freePort();
  idp = await startDevIdp({ audience: AUDIENCE });
  hub = await startHub({
    config: parseHubConfig(hubYaml(), path.join(scratch, 'hub.yaml')),
    database: path.join(scratch, 'hub.db'),
    env: { DB_PASSWORD: 'not-used-here' },
  });
  await Promise.all(
    PEOPLE.map(async (who) => {
      homes[who] = path.join(scratch, who);
      accounts[who] = await signInPerson({
        hubUrl: hub.url,
        paths: portcullisHome({ PORTCULLIS_HOME: homes[who] }),
        openBrowser: fakeBrowser(demoUser(who)).openBrowser,
      });
    }),
  );
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await hub?.close();
  await idp?.close();
  await rm(scratch, { recursive: true, force: true });
});

/** A command left running in the background (e.g. `request --wait`), watched as it goes. */
interface Running {
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` on stderr; rejects if the command exits first. */
  waitForStderr(pattern: RegExp): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
  /** Ctrl-C. */
  interrupt(): void;
}

const children = new Set<ChildProcess>();

function start(who: Person | NodeJS.ProcessEnv, ...args: string[]): Running {
  const child = runCli(args, typeof who === 'string' ? envOf(who) : who);
  children.add(child);
  child.once('exit', () => children.delete(child));
  let stdout = '';
  let stderr = '';
  const exited = exitedWithOutput(child);
  const watchers = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const watcher of watchers) watcher();
  });
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    interrupt: () => child.kill('SIGINT'),
    waitForStderr: (pattern) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(stderr);
          if (match) {
            watchers.delete(check);
            resolve(match);
          }
        };
        watchers.add(check);
        check();
        void exited.then((code) =>
          reject(new Error(`exited ${code} before printing ${pattern}: ${stdout}${stderr}`)),
        );
      }),
  };
}

/** A reverse proxy to the hub that refuses its event stream, as some corporate proxies do. */
async function startProxyWithoutEventStream(
  upstream: string,
): Promise<{ url: string; refusedStreams(): number; close(): Promise<void> }> {
  let refused = 0;
  const server = createHttpServer((request, response) => {
    void (async () => {
      if (request.url?.startsWith('/v1/events')) {
        refused++;
        response.writeHead(503, { 'content-type': 'text/plain' }).end('streaming is not allowed here');
        return;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const headers = new Headers();
      for (const name of ['accept', 'authorization', 'content-type']) {
        const value = request.headers[name];
        if (typeof value === 'string') headers.set(name, value);
      }
      const answer = await fetch(upstream + request.url, {
        method: request.method,
        headers,
        ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
      });
      response
        .writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' })
        .end(Buffer.from(await answer.arrayBuffer()));
    })().catch(() => response.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    refusedStreams: () => refused,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('portcullis targets', () => {
  it('lists the targets each person may use or request, with the command to run next', async () => {
    const [priya, marcus] = await Promise.all([
      portcullis('priya', 'targets'),
      portcullis('marcus', 'targets', '--json'),
    ]);

    expect(priya).toMatchObject({ code: 0, stderr: '' });
    const [header, ...rows] = priya.stdout.trim().split('\n');
    expect(header).toMatch(/^ID\s+NAME\s+STATUS\s+POLICY\s+NEXT$/);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatch(/^app-db\s+app-db\s+standing\s+guarded\s+portcullis connect app-db$/);

    expect(marcus.code).toBe(0);
    const entitlements = JSON.parse(marcus.stdout) as TargetEntitlement[];
    expect(entitlements).toEqual(await hubOf('marcus').targets());
    expect(entitlements.map((t) => [t.id, t.status])).toEqual([
      ['app-db', 'standing'],
      ['payments-db', 'requestable'],
      ['ledger-db', 'requestable'],
    ]);
  });
});

describe('just-in-time access', () => {
  it('a request waited on with --wait exits 0 once a manager approves it', async () => {
    const waiting = start(
      'marcus',
      'request',
      'payments-db',
      '--reason',
      'incident 4711',
      '--duration',
      '30m',
      '--wait',
    );
    const [, requestId] = (await waiting.waitForStderr(
      new RegExp(`waiting for an approver of payments-db to decide request (${UUID.source})`),
    ))!;
    expect(waiting.stderr()).toContain(`Requested access to payments-db for 30m: request ${requestId}.`);
    expect(waiting.stderr()).toContain('Ctrl-C to stop waiting');

    const pending = await portcullis('elena', 'requests', '--pending');
    expect(pending.code).toBe(0);
    const row = pending.stdout.split('\n').find((line) => line.startsWith(requestId!));
    expect(row).toMatch(/payments-db\s+Marcus Reed\s+30m\s+incident 4711\s+less than a minute ago/);
    expect(pending.stdout).toContain('portcullis approve ID');

    const approved = await portcullis('elena', 'approve', requestId!, '--comment', 'go ahead');
    expect(approved).toMatchObject({ code: 0, stderr: '' });
    expect(approved.stdout).toContain(
      `Approved access request ${requestId}: Marcus Reed may use payments-db for 30m (until `,
    );

    expect(await waiting.exited).toBe(0);
    expect(waiting.stdout()).toContain(
      `access request ${requestId} was approved by Elena Garcia ("go ahead"): you may use payments-db until `,
    );
    expect(waiting.stdout()).toContain('Connect with `portcullis connect payments-db`.');
    const payments = (await hubOf('marcus').targets()).find((t) => t.id === 'payments-db');
    expect(payments).toMatchObject({ status: 'granted', grant: { requestId } });
  });

  it('deny needs a reason (exit 2); a denied request makes --wait exit 1 with the reason', async () => {
    const waiting = start('marcus', 'request', 'ledger-db', '--reason', 'check balances', '--wait', '--json');
    const [, requestId] = (await waiting.waitForStderr(new RegExp(`decide request (${UUID.source})`)))!;

    const noReason = await portcullis('elena', 'deny', requestId!);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toBe(
      'portcullis: deny needs --reason TEXT: the requester sees why, e.g. --reason "use the replica"\n',
    );
    expect((await hubOf('marcus').accessRequest(requestId!)).state).toBe('pending');

    const denied = await portcullis('elena', 'deny', requestId!, '--reason', 'use the replica', '--json');
    expect(denied.code).toBe(0);
    expect(JSON.parse(denied.stdout)).toMatchObject({
      kind: 'access',
      request: { id: requestId, state: 'denied' },
    });

    expect(await waiting.exited).toBe(1);
    expect(waiting.stderr()).toContain(
      `portcullis: access request ${requestId} was denied by Elena Garcia ("use the replica")\n`,
    );
    const final = JSON.parse(waiting.stdout()) as AccessRequest;
    expect(final).toMatchObject({ id: requestId, state: 'denied', targetId: 'ledger-db' });
    expect(final.decisions).toMatchObject([{ approve: false, comment: 'use the replica' }]);

    const mine = await portcullis('marcus', 'requests');
    expect(mine.code).toBe(0);
    expect(mine.stdout).toMatch(new RegExp(`${requestId}\\s+ledger-db\\s+denied by Elena Garcia`));
    expect(mine.stdout).toMatch(/payments-db\s+approved, ends in 30 min/);
  });

  it('--wait still learns the decision when the event stream is unavailable, by asking the hub', async () => {
    const proxy = await startProxyWithoutEventStream(hub.url);
    try {
      const home = path.join(scratch, 'marcus-via-proxy');
      await signInPerson({
        hubUrl: proxy.url,
        paths: portcullisHome({ PORTCULLIS_HOME: home }),
        openBrowser: fakeBrowser(demoUser('marcus')).openBrowser,
      });
      const waiting = start(
        { ...baseEnv, PORTCULLIS_HOME: home },
        'request',
        'ledger-db',
        '--reason',
        'second try',
        '--wait',
      );
      const [, requestId] = (await waiting.waitForStderr(new RegExp(`decide request (${UUID.source})`)))!;
      await hubOf('elena').decideAccess(requestId!, { approve: true });

      expect(await waiting.exited).toBe(0);
      expect(waiting.stdout()).toContain(`access request ${requestId} was approved by Elena Garcia`);
      expect(proxy.refusedStreams()).toBeGreaterThan(0);
    } finally {
      await proxy.close();
    }
  });

  it('Ctrl-C stops waiting (exit 1) and leaves the request pending; --wait without a reason waits for it again', async () => {
    const first = start('marcus', 'request', 'payments-db', '--reason', 'more time', '--wait');
    const [, requestId] = (await first.waitForStderr(new RegExp(`decide request (${UUID.source})`)))!;
    first.interrupt();
    expect(await first.exited).toBe(1);
    expect(first.stderr()).toContain(
      `portcullis: stopped waiting; request ${requestId} is still pending (\`portcullis requests\` shows it; \`portcullis request payments-db --wait\` waits again)`,
    );
    expect((await hubOf('marcus').accessRequest(requestId!)).state).toBe('pending');

    const again = start('marcus', 'request', 'payments-db', '--wait');
    await again.waitForStderr(new RegExp(`decide request ${requestId}`));
    await hubOf('elena').decideAccess(requestId!, { approve: false, comment: 'you still have 30 min' });
    expect(await again.exited).toBe(1);
    expect(again.stderr()).toContain(
      `access request ${requestId} was denied by Elena Garcia ("you still have 30 min")`,
    );
  });

  it('says what is missing or not allowed: no reason (exit 2), a bad duration (exit 2), not a requester (exit 1)', async () => {
    const [noReason, badDuration, tooLong, notRequester] = await Promise.all([
      portcullis('priya', 'request', 'payments-db'),
      portcullis('marcus', 'request', 'ledger-db', '--reason', 'x', '--duration', 'soon'),
      portcullis('marcus', 'request', 'ledger-db', '--reason', 'x', '--duration', '3h'),
      portcullis('priya', 'request', 'payments-db', '--reason', 'curious'),
    ]);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain('--reason TEXT is required: say why you need payments-db');
    expect(badDuration.code).toBe(2);
    expect(badDuration.stderr).toContain('--duration must be a duration such as 30m');
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toContain('duration: must be at most 2h (max_duration of ledger-db)');
    expect(notRequester.code).toBe(1);
    expect(notRequester.stderr).toBe(
      'portcullis: cannot request payments-db: only members of oncall may request access to payments-db\n',
    );
  });
});

const hold = heldWrite;

describe('held statements', () => {
  it('wait in `approvals` for an approver; approve resolves them, once, and never your own', async () => {
    const priyaSession = await holdingSession(hubOf('priya'), 'app-db');
    const elenaSession = await holdingSession(hubOf('elena'), 'app-db');
    const priyas = await hubOf('priya').holdStatement(
      hold(priyaSession, 'delete from orders\n  where id = 42'),
    );
    const elenas = await hubOf('elena').holdStatement(hold(elenaSession, 'update orders set paid = true'));

    const listed = await portcullis('elena', 'approvals');
    expect(listed.code).toBe(0);
    const [header, ...rows] = listed.stdout.trim().split('\n');
    expect(header).toMatch(/^ID\s+TARGET\s+REQUESTER\s+SQL\s+RULE\s+EXPIRES$/);
    expect(rows[0]).toMatch(
      new RegExp(
        `^${priyas.id}\\s+app-db\\s+Priya Shah\\s+delete from orders where id = 42\\s+writes need approval\\s+in 5 min$`,
      ),
    );
    expect(listed.stdout).not.toContain(elenas.id);

    const [approved, own, notApprover, unknown] = await Promise.all([
      portcullis('elena', 'approve', priyas.id, '--comment', 'once'),
      portcullis('elena', 'approve', elenas.id),
      portcullis('marcus', 'approve', elenas.id),
      portcullis('elena', 'approve', randomUUID()),
    ]);
    expect(approved).toMatchObject({ code: 0, stderr: '' });
    expect(approved.stdout).toBe(
      `Approved held statement ${priyas.id}: Priya Shah's statement on app-db (delete from orders where id = 42) runs now.\n`,
    );
    expect(await hubOf('priya').approval(priyas.id)).toMatchObject({
      state: 'approved',
      decidedBy: { subject: 'elena', name: 'Elena Garcia' },
      comment: 'once',
    });

    expect(own.code).toBe(1);
    expect(own.stderr).toBe(
      `portcullis: cannot approve held statement ${elenas.id}: you cannot approve or deny your own statement\n`,
    );
    expect(notApprover.code).toBe(1);
    expect(notApprover.stderr).toBe(
      `portcullis: cannot approve held statement ${elenas.id}: you do not decide held statements on app-db\n`,
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no held statement or access request .*`portcullis approvals`/);
    expect((await hubOf('elena').approval(elenas.id)).state).toBe('pending');

    const again = await portcullis('elena', 'deny', priyas.id, '--reason', 'changed my mind');
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(
      `portcullis: held statement ${priyas.id} was already approved by Elena Garcia less than a minute ago ("once")\n`,
    );
  });
});

/** A recording as the tunnel's spool chains it: payload = the SessionEvent without its type. */
function chained(events: readonly SessionEvent[], start: number): RecordingEventInput[] {
  let prevHash = GENESIS_HASH;
  return events.map(({ type, ...payload }, i) => {
    const content = { seq: i + 1, at: new Date(start + i * 250).toISOString(), type, payload };
    const hash = chainHash(prevHash, content);
    const event = { ...content, prevHash, hash };
    prevHash = hash;
    return event;
  });
}

describe('recordings', () => {
  let sessionId: string;
  let tamperedId: string;
  const heldId = randomUUID();
  const startedAt = Date.now();

  beforeAll(async () => {
    const priya = hubOf('priya');
    sessionId = (await priya.openSession('app-db')).sessionId;
    const events: SessionEvent[] = [
      {
        type: 'session.start',
        client: {
          address: '127.0.0.1',
          port: 50123,
          user: 'priya',
          database: 'app',
          applicationName: 'psql',
        },
        upstream: {
          host: '127.0.0.1',
          port: closedPort,
          database: 'app',
          user: 'app',
          tls: false,
          authMechanism: 'SCRAM-SHA-256',
        },
      },
      {
        type: 'statement',
        protocol: 'simple',
        sql: 'select email from customers limit 3',
        decision: 'allow',
        classes: ['read'],
      },
      { type: 'result', command: 'SELECT', rows: 3, maskedCells: 3, durationMs: 4 },
      {
        type: 'statement',
        protocol: 'simple',
        sql: 'drop table customers',
        decision: 'deny',
        rule: 'guarded: drop',
        classes: ['drop'],
      },
      {
        type: 'hold',
        request: heldId,
        sql: 'delete from orders where id = 42',
        rule: 'writes need approval',
      },
      { type: 'hold.resolved', request: heldId, outcome: 'approved', by: 'Elena Garcia', comment: 'once' },
      {
        type: 'statement',
        protocol: 'simple',
        sql: 'delete from orders where id = 42',
        decision: 'allow',
        classes: ['write'],
      },
      { type: 'result', command: 'DELETE', rows: 1, maskedCells: 0, durationMs: 2 },
      {
        type: 'session.end',
        reason: 'client closed',
        bytesFromClient: 420,
        bytesToClient: 1337,
        statements: 3,
      },
    ];
    await priya.ingestRecording(sessionId, chained(events, startedAt));

    tamperedId = (await priya.openSession('app-db')).sessionId;
    const tampered = chained(events.slice(0, 3), startedAt);
    tampered[1]!.payload = { ...(tampered[1]!.payload as object), sql: 'select 1' };
    await priya.ingestRecording(tamperedId, tampered);
  });

  it('sessions lists them for an auditor, filtered by target, person and time', async () => {
    const [listed, none, notAuditor] = await Promise.all([
      portcullis('tom', 'sessions', '--target', 'app-db', '--user', 'priya', '--since', '1h'),
      portcullis('tom', 'sessions', '--since', new Date(Date.now() + 60_000).toISOString()),
      portcullis('priya', 'sessions', '--user', 'tom'),
    ]);
    expect(listed.code).toBe(0);
    const row = listed.stdout.split('\n').find((line) => line.startsWith(sessionId));
    expect(row).toMatch(/app-db\s+Priya Shah\s+less than a minute ago\s+open\s+3\s+1\s+1\s+ok$/);
    const tamperedRow = listed.stdout.split('\n').find((line) => line.startsWith(tamperedId));
    expect(tamperedRow).toMatch(/broken \(1 anomaly\)$/);
    expect(listed.stdout).toContain('Replay one with `portcullis replay ID`.');

    expect(none).toMatchObject({ code: 0, stdout: 'No recorded sessions match.\n' });
    expect(notAuditor.code).toBe(1);
    expect(notAuditor.stderr).toBe("portcullis: only auditors read other people's sessions\n");
  });

  it('replay prints the transcript in order, with the chain status and anomalies', async () => {
    const [replay, json, broken] = await Promise.all([
      portcullis('tom', 'replay', sessionId),
      portcullis('tom', 'replay', sessionId, '--json'),
      portcullis('priya', 'replay', tamperedId),
    ]);
    expect(replay).toMatchObject({ code: 0, stderr: '' });
    const lines = replay.stdout.trim().split('\n');
    expect(lines[0]).toBe(`Session ${sessionId} on app-db by Priya Shah (priya)`);
    const body = lines.filter((line) => /^\d{2}:\d{2}:\d{2}\.\d{3} {2}#\d+ {2}/.test(line));
    expect(body.map((line) => line.replace(/^\S+ {2}/, ''))).toEqual([
      `#1  session start: priya@app from 127.0.0.1, psql → app@127.0.0.1:${closedPort}/app`,
      '#2  allowed [read]: select email from customers limit 3',
      '#3  result SELECT: 3 rows, 3 masked cells, 4 ms',
      '#4  DENIED by guarded: drop [drop]: drop table customers',
      `#5  HELD for approval (request ${heldId}, writes need approval): delete from orders where id = 42`,
      `#6  hold ${heldId} approved by Elena Garcia ("once")`,
      '#7  allowed [write]: delete from orders where id = 42',
      '#8  result DELETE: 1 row, 0 masked cells, 2 ms',
      '#9  session end (client closed): 3 statements, 420 bytes in, 1337 bytes out',
    ]);
    expect(lines.at(-2)).toBe('chain: ok, events 1–9 verified');
    expect(lines.at(-1)).toBe('3 statements, 1 denied, 1 held');
    expect(broken.stdout).toContain('1 statement, 0 denied, 0 held');

    expect(json.code).toBe(0);
    const events = json.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as RecordedEvent);
    expect(events).toEqual(await hubOf('tom').sessionEvents(sessionId));

    expect(broken.code).toBe(0);
    expect(broken.stdout).toMatch(/#2 {2}allowed \[read\]: select 1 {2}\[TAMPERED OR MISLINKED\]/);
    expect(broken.stdout).toContain('chain: BROKEN, the recording was altered or lost events');
    expect(broken.stdout).toMatch(/anomalies:\n {2}#2 {2}tampered/);
  });

  it('export streams the JSON lines exactly as the hub sends them, with the count on stderr', async () => {
    const [exported, noSince, before] = await Promise.all([
      portcullis('priya', 'export', '--since', '1h'),
      portcullis('priya', 'export'),
      portcullis('tom', 'export', '--since', '1h', '--until', new Date(startedAt - 60_000).toISOString()),
    ]);
    expect(exported.code).toBe(0);
    const lines = exported.stdout.trim().split('\n');
    const expected: ExportLine[] = [];
    for await (const line of hubOf('priya').exportAudit(new Date(startedAt - 3_600_000))) expected.push(line);
    expect(lines).toEqual(expected.map((line) => JSON.stringify(line)));
    const sessions = expected.filter((line) => line.kind === 'session').length;
    expect(expected.map((line) => line.kind)).toContain('anomaly');
    expect(exported.stderr).toMatch(
      new RegExp(`exported ${sessions} sessions, ${expected.length - sessions - 1} events, 1 anomaly since `),
    );

    expect(noSince.code).toBe(2);
    expect(noSince.stderr).toContain('export needs --since TIME');
    expect(before).toMatchObject({ code: 0, stdout: '' });
    expect(before.stderr).toContain('exported 0 sessions, 0 events, 0 anomalies');
  });
});

describe('when the command cannot act for you', () => {
  it('not signed in: says to run `portcullis login`, exit 1', async () => {
    const result = await runCliToEnd(['approvals'], {
      ...baseEnv,
      PORTCULLIS_HOME: path.join(scratch, 'nobody'),
    });
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toBe(
      'portcullis: not signed in; run `portcullis login --hub URL` (agents: set PORTCULLIS_HUB, PORTCULLIS_CLIENT_ID and PORTCULLIS_CLIENT_SECRET)\n',
    );
  });

  it('the hub unreachable: names it and suggests starting one, exit 1, for people and agents', async () => {
    const gone = `http://127.0.0.1:${closedPort}`;
    const home = path.join(scratch, 'priya-hub-gone');
    await mkdir(home, { recursive: true });
    await copyFile(path.join(homes.priya, 'tokens.json'), path.join(home, 'tokens.json'));
    await writeFile(
      path.join(home, 'profile.json'),
      JSON.stringify({ ...accounts.priya.profile, hub: gone }),
    );

    const [person, agent, agentOk] = await Promise.all([
      runCliToEnd(['targets'], { ...baseEnv, PORTCULLIS_HOME: home }),
      runCliToEnd(['sessions'], agentEnv(gone)),
      runCliToEnd(['targets', '--json'], agentEnv(hub.url)),
    ]);
    const message = `portcullis: cannot reach the hub at ${gone}: ECONNREFUSED — is it running? (\`portcullis demo\` starts one locally)\n`;
    expect(person).toMatchObject({ code: 1, stdout: '', stderr: message });
    expect(agent).toMatchObject({ code: 1, stdout: '', stderr: message });

    expect(agentOk.code).toBe(0);
    expect((JSON.parse(agentOk.stdout) as TargetEntitlement[]).map((t) => [t.id, t.status])).toEqual([
      ['analytics-db', 'standing'],
    ]);
  });
});
