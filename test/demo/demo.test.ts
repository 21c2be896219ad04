/**
 * The embedded demo (startDemo) as people, the agent and the tunnel meet it: the real development IdP,
 * the real hub on SQLite and a real PostgreSQL seeded with the demo shop, all in one data directory that
 * a second start reuses.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenedSession } from '../../hub/api/types.ts';
import { signInOverHttp } from '../../hub/dev-idp/index.ts';
import {
  DEMO_RESOURCES,
  DemoError,
  resetDemoDataDir,
  startDemo,
  type RunningDemo,
} from '../../hub/demo/index.ts';
import { createHubClient, type HubClient } from '../../tunnel/hub-client/index.ts';
import {
  clientCredentialsLogin,
  discoverIssuer,
  loginWithBrowser,
  refreshTokens,
  type TokenSet,
} from '../../tunnel/identity/index.ts';
import { HubApprover } from '../../tunnel/manager/hub-approver.ts';
import { loadClassifier } from '../../tunnel/policy/classifier.ts';
import { PolicyEngine } from '../../tunnel/policy/engine.ts';
import { createDetector, type DetectorName } from '../../tunnel/policy/masking/detectors.ts';
import { parsePolicy } from '../../tunnel/policy/policy-file.ts';
import { judgeStatement } from '../../tunnel/policy/policy.ts';
import { hubProver } from '../../tunnel/manager/hub-prover.ts';
import { upstreamFromMaterial } from '../../tunnel/manager/session-material.ts';
import { sharedSideConnection } from '../../tunnel/postgres/side-connection.ts';
import { delegatedCredentials } from '../../tunnel/postgres/upstream-credentials.ts';
import { connectionNumbering, openDelegatedTunnel } from '../support/delegated-tunnel.ts';
import { run } from '../support/commands.ts';
import { sshdMissing } from '../../hub/demo/sshd.ts';
import { signInPerson } from '../../tunnel/account/account.ts';
import { portcullisHome } from '../../tunnel/account/home.ts';
import { demoRelayLauncher } from '../../tunnel/relay/demo-relay.ts';
import { startEngine } from '../../tunnel/runtime/engine.ts';
import { demoUser, fakeBrowser } from '../identity/browser-driver.ts';
import { freeRange } from '../support/waiting.ts';

let scratch: string;
let dataDir: string;
let demo: RunningDemo;

beforeAll(async () => {
  await loadClassifier();
  scratch = await mkdtemp(path.join(tmpdir(), 'portcullis-demo-'));
  await chmod(scratch, 0o755); // as root, PostgreSQL runs as the postgres user, who must pass through it
  dataDir = path.join(scratch, 'demo');
  demo = await startDemo({ dataDir, relay: demoRelayLauncher() });
});

afterAll(async () => {
  await demo?.close();
  await rm(scratch, { recursive: true, force: true });
});

async function signInTokens(username: string): Promise<TokenSet> {
  const user = demo.users.find((u) => u.username === username)!;
  const config = await discoverIssuer({ issuer: demo.issuer, clientId: demo.publicClientId });
  return loginWithBrowser(config, {
    openBrowser: async (url) => {
      const redirect = await signInOverHttp(url, { username: user.username, password: user.password });
      await fetch(redirect);
    },
  });
}

async function signIn(username: string): Promise<HubClient> {
  const tokens = await signInTokens(username);
  return createHubClient({ url: demo.hubUrl, token: () => tokens.accessToken });
}

async function signInAgent(): Promise<HubClient> {
  const agent = await clientCredentialsLogin({
    issuer: demo.issuer,
    clientId: demo.agent.clientId,
    clientSecret: demo.agent.clientSecret,
  });
  return createHubClient({ url: demo.hubUrl, token: () => agent.getAccessToken() });
}

async function superuser(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: demo.postgres.superuserUrl });
  await client.connect();
  return client;
}

/** A client as the session's role: through a tunnel without a policy, each connection proven by the hub. */
async function connectAs(hub: HubClient, session: OpenedSession) {
  const tunnel = await openDelegatedTunnel(hub, session);
  const client = new pg.Client({ connectionString: tunnel.endpoint.url });
  await client.connect();
  const end = client.end.bind(client);
  return Object.assign(client, {
    end: async () => {
      await end();
      await tunnel.close();
    },
  });
}

async function rowCounts(client: pg.Client): Promise<Record<string, number>> {
  const { rows } = await client.query<Record<string, string>>(
    `SELECT (SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM orders) AS orders,
            (SELECT count(*) FROM payments) AS payments`,
  );
  return Object.fromEntries(Object.entries(rows[0]!).map(([table, count]) => [table, Number(count)]));
}

function luhnValid(cardNumber: string): boolean {
  const digits = cardNumber.replace(/ /g, '');
  if (!/^\d{13,19}$/.test(digits)) return false;
  let sum = 0;
  [...digits].reverse().forEach((ch, index) => {
    let digit = Number(ch);
    if (index % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
    sum += digit;
  });
  return sum % 10 === 0;
}

function ibanValid(iban: string): boolean {
  const compact = iban.replace(/ /g, '');
  const numeric = (compact.slice(4) + compact.slice(0, 4)).replace(/[A-Z]/g, (c) =>
    String(c.charCodeAt(0) - 55),
  );
  return [...numeric].reduce((remainder, ch) => (remainder * 10 + Number(ch)) % 97, 0) === 1;
}

describe('what the demo offers', () => {
  it('names the four demo people, the agent and the targets (shop-web where OpenSSH is installed), on loopback', () => {
    expect(demo.hubUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(demo.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(demo.users.map((u) => [u.username, u.groups])).toEqual([
      ['priya', ['engineering']],
      ['marcus', ['engineering', 'oncall']],
      ['elena', ['engineering', 'managers']],
      ['tom', ['auditors']],
    ]);
    expect(demo.agent).toMatchObject({ clientId: 'nightly-report-agent', groups: ['agents'] });
    expect(demo.targets.map((t) => [t.id, t.database, t.policy])).toEqual([
      ['shop-db', 'shop', 'policies/shop.yaml'],
      ['shop-reporting', 'shop', 'policies/reporting.yaml'],
      ['shop-admin', 'shop', 'guarded'],
      ...(sshdMissing() ? [] : [['shop-web', null, 'policies/web.yaml']]),
    ]);
    expect('leftOut' in demo.ssh).toBe(sshdMissing() !== undefined);
    for (const target of demo.targets) expect(target.description).not.toBe('');
    expect(demo.postgres.host).toBe('127.0.0.1');
  });

  it('lets the agent, signed in with client credentials, use the reporting target only', async () => {
    const agent = await signInAgent();
    expect(await agent.me()).toMatchObject({
      subject: 'nightly-report-agent',
      kind: 'agent',
      groups: ['agents'],
    });
    const targets = await agent.targets();
    expect(targets.map((t) => [t.id, t.status])).toEqual([['shop-reporting', 'standing']]);
  });

  it('gives engineers standing access to shop-db and reporting, shop-admin on request, and managers the decisions', async () => {
    const status = async (hub: HubClient) => Object.fromEntries((await hub.targets()).map((t) => [t.id, t]));

    const priya = await status(await signIn('priya'));
    expect(priya['shop-db']).toMatchObject({ status: 'standing', canApproveStatements: false });
    expect(priya['shop-reporting']).toMatchObject({ status: 'standing' });
    expect(priya['shop-admin']).toMatchObject({ status: 'requestable', jit: { maxDurationSeconds: 3600 } });

    const elena = await status(await signIn('elena'));
    expect(elena['shop-db']).toMatchObject({ status: 'standing', canApproveStatements: true });
    expect(elena['shop-admin']).toMatchObject({ canApproveAccess: true });

    const tom = await signIn('tom');
    expect(await tom.me()).toMatchObject({ subject: 'tom', auditor: true, admin: false });
    expect(await tom.targets()).toEqual([]);
  });
});

describe('the demo database', () => {
  it('hands tunnels of shop-db the shop_app role: it reads and writes the shop, and is no superuser', async () => {
    const priya = await signIn('priya');
    const session = await priya.openSession('shop-db');
    try {
      expect(session.connection).toMatchObject({
        database: 'shop',
        user: 'shop_app',
        tls: { sslmode: 'disable' },
      });
      const app = await connectAs(priya, session);
      try {
        const role = await app.query(
          'SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user',
        );
        expect(role.rows).toEqual([{ rolsuper: false, rolcreatedb: false, rolcreaterole: false }]);
        expect((await app.query('SELECT count(*)::int AS n FROM customers')).rows[0].n).toBeGreaterThan(0);
        await app.query('BEGIN');
        await app.query(
          `INSERT INTO orders (customer_id, reference, status, total, currency) VALUES (1, 'SO-TEST', 'pending', 9.99, 'USD')`,
        );
        expect((await app.query(`UPDATE payments SET status = 'refunded' WHERE id = 1`)).rowCount).toBe(1);
        await app.query('ROLLBACK');
        // Past the guard the role still cannot change the schema: the tables belong to the superuser.
        await expect(app.query('DROP TABLE orders')).rejects.toMatchObject({ code: '42501' });
        await expect(app.query('CREATE TABLE scratch (id int)')).rejects.toMatchObject({ code: '42501' });
      } finally {
        await app.end();
      }
    } finally {
      await priya.closeSession(session.sessionId);
    }
  });

  it('gives the agent a role of its own in shop_reporting, which reads but cannot write, dropped at the end', async () => {
    const agent = await signInAgent();
    const session = await agent.openSession('shop-reporting');
    const role = session.provisioned?.role;
    try {
      expect(role).toMatch(/^pc_/);
      expect(session.connection).toMatchObject({ database: 'shop', user: role });
      const reporting = await connectAs(agent, session);
      try {
        expect((await reporting.query('SELECT count(*)::int AS n FROM payments')).rows[0].n).toBeGreaterThan(
          0,
        );
        await expect(
          reporting.query(`UPDATE payments SET status = 'refunded' WHERE id = 1`),
        ).rejects.toMatchObject({
          code: '42501',
        });
        await expect(
          reporting.query(
            `INSERT INTO orders (customer_id, reference, status, total, currency) VALUES (1, 'X', 'pending', 1, 'USD')`,
          ),
        ).rejects.toMatchObject({ code: '42501' });
      } finally {
        await reporting.end();
      }
    } finally {
      await agent.closeSession(session.sessionId);
    }
    const admin = await superuser();
    try {
      expect((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount).toBe(0);
    } finally {
      await admin.end();
    }
  });

  it('holds a few hundred rows per table of well-formed fake PII: Luhn-valid cards, mod-97 IBANs, detectable values', async () => {
    const client = await superuser();
    try {
      const counts = await rowCounts(client);
      for (const table of ['customers', 'orders', 'payments'])
        expect(counts[table]).toBeGreaterThanOrEqual(200);

      const customers = (await client.query('SELECT email, phone, ssn, card_number, iban FROM customers'))
        .rows;
      const payments = (await client.query('SELECT card_number FROM payments')).rows;
      const cards = [...customers, ...payments].map((row) => row.card_number as string);
      expect(cards.filter((card) => !luhnValid(card))).toEqual([]);
      const ibans = customers.map((c) => c.iban as string | null).filter((iban) => iban !== null);
      expect(ibans.length).toBeGreaterThan(50);
      expect(ibans.filter((iban) => !ibanValid(iban))).toEqual([]);
      expect(customers.filter((c) => c.ssn !== null).length).toBeGreaterThan(100);

      // The policies' value detectors recognise every value, so detection shows where provenance cannot.
      const column: Record<string, DetectorName> = {
        email: 'email',
        phone: 'phone',
        ssn: 'ssn',
        card_number: 'card',
        iban: 'iban',
      };
      const missed: string[] = [];
      for (const [name, detectorName] of Object.entries(column)) {
        const detector = createDetector([detectorName]);
        for (const row of customers) {
          const value = row[name] as string | null;
          if (value === null) continue;
          const found = detector.scan(Buffer.from(value));
          if (found.length !== 1 || found[0]!.start !== 0 || found[0]!.end !== Buffer.byteLength(value)) {
            missed.push(`${name}: ${value}`);
          }
        }
      }
      expect(missed).toEqual([]);
    } finally {
      await client.end();
    }
  });
});

describe('the demo policies', () => {
  const judge = (policy: ReturnType<typeof parsePolicy>, classes: string[], table: string) =>
    judgeStatement(policy, {
      classes: new Set(classes) as never,
      tables: [{ name: table }],
      writes: classes.includes('read') ? [] : [{ name: table }],
    }).verdict;

  it('parse, and say what the guide promises: PII masked, payments writes held, destructive statements blocked', async () => {
    const shop = parsePolicy(
      await readFile(path.join(DEMO_RESOURCES, 'policies/shop.yaml'), 'utf8'),
      'shop.yaml',
    );
    const reporting = parsePolicy(
      await readFile(path.join(DEMO_RESOURCES, 'policies/reporting.yaml'), 'utf8'),
      'reporting.yaml',
    );
    const masked = (policy: typeof shop) =>
      policy.mask.map((m) => `${m.table}.${m.column}:${m.strategy.kind}`);
    const expectedMasks = [
      'customers.email:email',
      'customers.phone:partial',
      'customers.ssn:redact',
      'customers.card_number:partial',
      'customers.iban:redact',
      'payments.card_number:partial',
    ];
    expect(masked(shop)).toEqual(expectedMasks);
    expect(masked(reporting)).toEqual(expectedMasks);
    expect(shop.detect).toEqual(['card', 'email', 'ssn', 'iban', 'phone', 'secret']);
    expect(reporting.detect).toEqual(shop.detect);

    expect(shop.preset).toBe('guarded');
    expect(judge(shop, ['read'], 'customers')).toBe('allow');
    expect(judge(shop, ['write'], 'payments')).toBe('approve');
    expect(judge(shop, ['write'], 'orders')).toBe('approve');
    expect(judge(shop, ['drop'], 'orders')).toBe('block');
    expect(reporting.preset).toBe('read-only');
    expect(judge(reporting, ['read'], 'payments')).toBe('allow');
    expect(judge(reporting, ['write'], 'payments')).toBe('block');
  });

  it('run as the guide says through a tunnel on shop-db: PII masked, drop blocked, a payment refund held until Elena approves', async () => {
    const priya = await signIn('priya');
    const session = await priya.openSession('shop-db');
    expect(session.policy).toMatchObject({ kind: 'file', name: 'policies/shop.yaml' });
    const policy = parsePolicy((session.policy as { yaml: string }).yaml, 'policies/shop.yaml');
    const side = sharedSideConnection(upstreamFromMaterial(session), () =>
      delegatedCredentials(
        hubProver({ hub: priya, sessionId: session.sessionId, purpose: 'catalog', connection: () => 0 }),
      ),
    );
    const numbering = connectionNumbering();
    const { endpoint, close } = await openDelegatedTunnel(priya, session, {
      numbering,
      decisions: new PolicyEngine(policy, {
        approver: new HubApprover(priya, {
          sessionId: session.sessionId,
          connection: numbering,
          pollSeconds: 5,
        }),
        sideConnection: side.get,
      }),
    });
    const tunnel = { close };
    const psql = new pg.Client({ connectionString: endpoint.url });
    await psql.connect();
    const direct = await superuser();
    try {
      const raw = (await direct.query('SELECT email, ssn, card_number FROM customers WHERE id = 1')).rows[0];
      const shown = (await psql.query('SELECT email, ssn, card_number FROM customers WHERE id = 1')).rows[0];
      expect(shown.email).not.toBe(raw.email);
      expect(shown.email.endsWith(raw.email.slice(raw.email.indexOf('@')))).toBe(true);
      expect(shown.ssn).not.toBe(raw.ssn);
      expect(shown.card_number).not.toBe(raw.card_number);
      expect(shown.card_number.slice(-4)).toBe(raw.card_number.slice(-4));

      await expect(psql.query('DROP TABLE orders')).rejects.toMatchObject({ code: '42501' });

      const refund = psql.query(`UPDATE payments SET status = 'refunded' WHERE id = 1`);
      const elena = await signIn('elena');
      let pending = await elena.approvals('pending');
      for (let tries = 0; pending.length === 0 && tries < 100; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        pending = await elena.approvals('pending');
      }
      expect(pending).toHaveLength(1);
      expect(pending[0]).toMatchObject({ targetId: 'shop-db', requester: { subject: 'priya' } });
      expect(pending[0]!.sql).toMatch(/UPDATE payments/);
      expect((await direct.query('SELECT status FROM payments WHERE id = 1')).rows[0].status).toBe(
        'captured',
      );

      await elena.decideApproval(pending[0]!.id, { approve: true, comment: 'customer called' });
      expect((await refund).rowCount).toBe(1);
      expect((await direct.query('SELECT status FROM payments WHERE id = 1')).rows[0].status).toBe(
        'refunded',
      );
    } finally {
      await direct.end();
      await psql.end();
      await tunnel.close();
      side.close();
      await priya.closeSession(session.sessionId);
    }
  });
});

describe.skipIf(sshdMissing())('shop-web', () => {
  it('is an OpenSSH server running unprivileged, whose pinned host key and hub-held key are what the hub hands out', async () => {
    const ssh = demo.ssh as Exclude<RunningDemo['ssh'], { leftOut: string }>;
    const priya = await signIn('priya');
    const session = await priya.openSession('shop-web');
    try {
      expect(session.connection).toMatchObject({
        kind: 'ssh',
        host: ssh.host,
        port: ssh.port,
        user: ssh.user,
      });
      if (session.connection.kind !== 'ssh') throw new Error('not an SSH session');
      const knownHosts = path.join(scratch, 'shop-web-known-hosts');
      await writeFile(
        knownHosts,
        session.connection.hostKeys.map((key) => `[${ssh.host}]:${ssh.port} ${key}\n`).join(''),
      );
      const direct = await run('/usr/bin/ssh', [
        ...[
          '-F',
          '/dev/null',
          '-o',
          'BatchMode=yes',
          '-o',
          'StrictHostKeyChecking=yes',
          '-o',
          'IdentitiesOnly=yes',
        ],
        ...['-o', `UserKnownHostsFile=${knownHosts}`, '-i', path.join(dataDir, 'sshd', 'shop_web_key')],
        ...['-p', String(ssh.port), `${ssh.user}@${ssh.host}`, 'id -u; ps -o user= -p $PPID'],
      ]);
      expect(direct.code, direct.stderr).toBe(0);
      const [uid, sshdUser] = direct.stdout.trim().split('\n');
      expect(Number(uid)).not.toBe(0);
      // The sshd process serving the session runs as the account it signs in, not as root.
      expect(sshdUser?.trim()).toBe(ssh.user);
    } finally {
      await priya.closeSession(session.sessionId);
    }
  });
});

describe('shop-admin', () => {
  it('runs through the relay the demo starts, as a role of its own: asked for, granted, unmasked, served by the relay', async () => {
    expect(demo.relay).toEqual({ host: '127.0.0.1', port: expect.any(Number) });
    const home = await mkdtemp(path.join(scratch, 'priya-'));
    const priya = await signInPerson({
      hubUrl: demo.hubUrl,
      paths: portcullisHome({ PORTCULLIS_HOME: home }),
      openBrowser: fakeBrowser(demoUser('priya')).openBrowser,
    });
    const request = await priya.hub.requestAccess({
      targetId: 'shop-admin',
      reason: 'fix order 42',
      durationSeconds: 1800,
    });
    const elena = await signIn('elena');
    await elena.decideAccess(request.id, { approve: true, comment: 'go ahead' });
    const opened = await priya.hub.openSession('shop-admin');
    // The user's side learns where the relay is and how to verify it, nothing about the database.
    expect(opened.connection).toMatchObject({ kind: 'relay', port: (demo.relay as { port: number }).port });
    expect(JSON.stringify(opened)).not.toContain('shop_admin');
    await priya.hub.closeSession(opened.sessionId);

    const engine = await startEngine({
      hub: priya.hub,
      tokens: priya.tokens,
      identity: await priya.hub.me(),
      paths: { spool: path.join(home, 'spool.db'), ports: path.join(home, 'ports.json') },
      portRange: await freeRange(2),
    });
    const direct = await superuser();
    try {
      const tunnel = await engine.open('shop-admin');
      const client = new pg.Client({ connectionString: tunnel.endpoint.url });
      await client.connect();
      const shown = await client.query('SELECT current_user AS who, ssn FROM customers WHERE id = 1');
      await client.end();
      const raw = await direct.query('SELECT ssn FROM customers WHERE id = 1');
      expect(shown.rows[0]).toEqual({ who: 'shop_admin', ssn: raw.rows[0].ssn }); // guarded: unmasked
      // The relay served the connection: a session of its own under Priya's, whose sign-in the hub proved.
      const tom = await signIn('tom');
      const served = (await tom.searchSessions({ subject: 'priya' })).filter(
        (s) => s.parentId === tunnel.sessionId,
      );
      expect(served).toHaveLength(1);
      expect((await tom.proofs(served[0]!.id)).map((p) => p.user)).toContain('shop_admin');
    } finally {
      await direct.end();
      await engine.stop();
      await elena.revokeAccess(request.id, 'order 42 fixed'); // later tests ask for shop-admin afresh
    }
  });
});

describe('the data directory', () => {
  it('keeps what it writes owner-only: directories 0700, files 0600, the hub store and its WAL included', async () => {
    // Some activity, so that the hub's store has its -wal and -shm files.
    const priya = await signIn('priya');
    await priya.closeSession((await priya.openSession('shop-db')).sessionId);
    const found: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (full === path.join(dataDir, 'postgres')) continue; // PostgreSQL's own, 0700 by initdb
        // The identity provider rewrites its state through a temporary file that may be renamed meanwhile.
        const status = await stat(full).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT' && entry.name.endsWith('.tmp')) return undefined;
          throw error;
        });
        if (!status) continue;
        found.push(path.relative(dataDir, full));
        const mode = status.mode & 0o777;
        if (entry.isDirectory()) {
          expect(mode, full).toBe(0o700);
          await walk(full);
        } else {
          expect(mode, full).toBe(0o600);
        }
      }
    };
    await walk(dataDir);
    expect(found).toEqual(
      expect.arrayContaining([
        'hub.db',
        'hub.db-wal',
        'hub.db-shm',
        'hub.yaml',
        'secrets.json',
        'idp-state.json',
        'policies/shop.yaml',
        'relay/ca.pem',
        'relay/ca.key',
        'relay/relay.key',
      ]),
    );
    const top = await stat(dataDir);
    if (process.getuid?.() === 0) {
      // PostgreSQL runs as the postgres user inside it: that user's group may pass through, nobody else.
      expect(top.mode & 0o777).toBe(0o710);
      expect(top.gid).toBe((await stat(path.join(dataDir, 'postgres'))).gid);
    } else {
      expect(top.mode & 0o777).toBe(0o700);
    }
    expect((await stat(path.join(dataDir, 'postgres'))).mode & 0o077).toBe(0);
  });

  it('is reused by the next start: the same rows, no second seed, the same generated passwords, the hub remembers', async () => {
    const secretsFile = path.join(dataDir, 'secrets.json');
    expect((await stat(secretsFile)).mode & 0o777).toBe(0o600);
    const secrets = await readFile(secretsFile, 'utf8');
    const client = await superuser();
    const before = await rowCounts(client);
    await client.end();
    const tokens = await signInTokens('priya');
    const priya = createHubClient({ url: demo.hubUrl, token: () => tokens.accessToken });
    const request = await priya.requestAccess({
      targetId: 'shop-admin',
      reason: 'fix order 42',
      durationSeconds: 1800,
    });

    await demo.close();
    await demo.close(); // idempotent
    await expect(fetch(demo.hubUrl)).rejects.toThrow();

    // Restarted on the same ports (as `npm start` does): Priya's sign-in outlives it.
    const ports = { hubPort: Number(new URL(demo.hubUrl).port), idpPort: Number(new URL(demo.issuer).port) };
    demo = await startDemo({ dataDir, ...ports, relay: demoRelayLauncher() });
    expect((await stat(path.join(dataDir, 'idp-state.json'))).mode & 0o777).toBe(0o600);
    expect((await priya.targets()).find((t) => t.id === 'shop-admin')).toMatchObject({ status: 'pending' });
    const config = await discoverIssuer({ issuer: demo.issuer, clientId: demo.publicClientId });
    const renewed = await refreshTokens(config, tokens);
    expect(renewed.accessToken).not.toBe(tokens.accessToken);
    expect((await createHubClient({ url: demo.hubUrl, token: () => renewed.accessToken }).me()).subject).toBe(
      'priya',
    );
    expect(await readFile(secretsFile, 'utf8')).toBe(secrets);
    const again = await superuser();
    try {
      expect(await rowCounts(again)).toEqual(before);
      expect((await again.query('SELECT count(*)::int AS n FROM portcullis_demo.seed')).rows[0].n).toBe(1);
    } finally {
      await again.end();
    }
    // The hub's store is kept too: Priya's request is still waiting, and shop_app still logs in.
    const priyaAgain = await signIn('priya');
    const admin = (await priyaAgain.targets()).find((t) => t.id === 'shop-admin');
    expect(admin).toMatchObject({ status: 'pending', pendingRequestId: request.id });
    const session = await priyaAgain.openSession('shop-db');
    const app = await connectAs(priyaAgain, session);
    await app.end();
    await priyaAgain.closeSession(session.sessionId);
  });

  it('is refused when it holds something that is not the demo’s, and only a demo directory is reset', async () => {
    const foreign = path.join(scratch, 'foreign');
    await mkdir(foreign);
    await writeFile(path.join(foreign, 'notes.txt'), 'mine');

    await expect(startDemo({ dataDir: foreign, relay: demoRelayLauncher() })).rejects.toThrow(
      /is not a Portcullis demo directory/,
    );
    await expect(resetDemoDataDir(foreign)).rejects.toThrow(DemoError);
    expect(await readFile(path.join(foreign, 'notes.txt'), 'utf8')).toBe('mine');

    // A demo directory whose PostgreSQL is running is not reset either.
    await expect(resetDemoDataDir(dataDir)).rejects.toThrow(/is running/);
    await demo.close();
    await resetDemoDataDir(dataDir);
    await expect(stat(dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
