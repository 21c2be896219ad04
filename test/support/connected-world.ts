/**
 * Everything a connected tunnel talks to, real and on loopback: a PostgreSQL server with a small shop
 * schema, the development IdP, and a hub on SQLite whose catalogue points at that server. People sign in
 * through the real browser flow (driven over HTTP), each with their own PORTCULLIS_HOME; the CLI runs as
 * a child process the way a user or a script runs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseHubConfig } from '../../hub/config/index.ts';
import { DEMO_AGENT, startDevIdp, type DevIdp, type DevIdpOptions } from '../../hub/dev-idp/index.ts';
import { startHub, type RunningHub } from '../../hub/server.ts';
import { signInPerson, type Account } from '../../tunnel/account/account.ts';
import { portcullisHome } from '../../tunnel/account/home.ts';
import { demoUser, fakeBrowser } from '../identity/browser-driver.ts';
import { exitedWithOutput } from './commands.ts';
import { CLI, runCliToEnd } from './guard-process.ts';
import { keepPortsApart } from './ports.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';

/** Tom, of the auditors: how the tests read any session at the hub. */
export const AUDITOR = { subject: 'tom', name: 'Tom Okafor', groups: ['auditors'], kind: 'person' as const };

export const SECRETS = { APP_DB_PASSWORD: 'app-user-secret', REPORTER_DB_PASSWORD: 'reporter-secret' };

/** What the policy of `app-db` does: reads pass with emails masked; writes to payments wait for a manager. */
export const APP_POLICY = `extends: guarded
approve: [{ class: write, table: payments }]
allow: [{ class: write, table: notes }]
mask:
  - { column: customers.email, strategy: email }
detect: [card]
hold_timeout: 2m
`;

/** What the policy of `strict-db` does: reads only, and no session may run unrecorded. */
export const STRICT_POLICY = `extends: read-only
recording: strict
`;

const SCHEMA = `
  CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL);
  CREATE TABLE payments (id int PRIMARY KEY, customer_id int REFERENCES customers, amount numeric NOT NULL,
                         status text NOT NULL);
  CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);
  INSERT INTO customers VALUES (1, 'Ada Lovelace', 'ada@example.com'), (2, 'Alan Turing', 'alan@example.org');
  INSERT INTO payments VALUES (1, 1, 120.50, 'paid'), (2, 2, 99.00, 'paid');
  CREATE ROLE app_user LOGIN PASSWORD '${SECRETS.APP_DB_PASSWORD}';
  GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO app_user;
  GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO app_user;
  CREATE ROLE reporter LOGIN PASSWORD '${SECRETS.REPORTER_DB_PASSWORD}';
  GRANT SELECT ON ALL TABLES IN SCHEMA public TO reporter;
`;

function hubYaml(issuer: string, pg: TestPostgres, extraTargets = '', relays: string[] = []): string {
  const server = `address: '127.0.0.1:${pg.port}', database: shop, tls: { sslmode: disable }`;
  return `identity: { issuer: '${issuer}', audience: portcullis-hub }
auditors: [auditors]
relays: [${relays.join(', ')}]
targets:
  - { id: app-db, name: App database, kind: postgres, ${server},
      credentials: { user: app_user, password_env: APP_DB_PASSWORD },
      policy: app-policy.yaml, access: [engineering], approvers: [managers] }
  - { id: reports-db, name: Reports, kind: postgres, ${server},
      credentials: { user: reporter, password_env: REPORTER_DB_PASSWORD },
      policy: read-only, access: [agents, engineering] }
  - { id: admin-db, name: Admin (just in time), kind: postgres, ${server},
      credentials: { user: app_user, password_env: APP_DB_PASSWORD },
      policy: guarded, access: [], approvers: [managers],
      jit: { requesters: [engineering], approvers: [managers], max_duration: 1h } }
  - { id: strict-db, name: Strictly recorded, kind: postgres, ${server},
      credentials: { user: reporter, password_env: REPORTER_DB_PASSWORD },
      policy: strict-policy.yaml, access: [engineering] }
${extraTargets}`;
}

export interface ConnectProcess {
  child: ChildProcess;
  ready: {
    listen: string;
    user: string;
    password: string;
    url: string;
    target: string;
    session: string;
    /** SSH targets: the ssh_config include file and block. */
    includeFile?: string;
    sshConfig?: string;
  };
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs `portcullis connect TARGET --json ARGS` with `env` (the person's home, their hub) and resolves once
 * it printed its ready line.
 */
export async function startConnect(
  target: string,
  env: NodeJS.ProcessEnv,
  args: string[] = [],
): Promise<ConnectProcess> {
  const child = spawn(process.execPath, [CLI, 'connect', target, '--json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = exitedWithOutput(child);
  const lines = createInterface({ input: child.stdout! });
  const first = new Promise<string>((resolve) => {
    lines.on('line', (line) => {
      stdout += `${line}\n`;
      resolve(line);
    });
  });
  const line = await Promise.race([first, exited.then(() => undefined)]);
  if (line === undefined) throw new Error(`connect ${target} exited before it was ready: ${stderr}`);
  return {
    child,
    ready: JSON.parse(line) as ConnectProcess['ready'],
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async stop(signal = 'SIGINT') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface ConnectedWorld {
  pg: TestPostgres;
  /** The superuser's URI of the shop database the targets point at (to check behind the tunnel's back). */
  shopUrl: string;
  idp: DevIdp;
  hub: RunningHub;
  hubUrl: string;
  /** Signs a demo person in (real browser flow over HTTP) into a fresh home; returns its environment. */
  signIn(username: string): Promise<{ env: NodeJS.ProcessEnv; account: Account }>;
  /** The environment an agent runs with: hub and client credentials, its own home. */
  agentEnv(): Promise<NodeJS.ProcessEnv>;
  cli(
    args: string[],
    env: NodeJS.ProcessEnv,
  ): Promise<{ code: number | null; stdout: string; stderr: string }>;
  connect(target: string, env: NodeJS.ProcessEnv, args?: string[]): Promise<ConnectProcess>;
  stopHub(): Promise<void>;
  /** Starts the hub again on the same port and database. */
  startHub(): Promise<void>;
  close(): Promise<void>;
}

export interface WorldOptions {
  idp?: Partial<DevIdpOptions>;
  /** More targets for hub.yaml (the list's YAML items), given the world's PostgreSQL. */
  extraTargets?: (pg: TestPostgres) => string;
  /** hub.yaml's `relays`: the groups of relays' own identities. */
  relays?: string[];
}

export async function startConnectedWorld(options: WorldOptions = {}): Promise<ConnectedWorld> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-world-'));
  const pg = await startPostgres();
  const shopUrl = await pg.createDatabase('shop');
  const shop = new (await import('pg')).default.Client({ connectionString: shopUrl });
  await shop.connect();
  await shop.query(SCHEMA);
  await shop.end();

  const idp = await startDevIdp({ audience: 'portcullis-hub', ...options.idp });
  await writeFile(path.join(dir, 'app-policy.yaml'), APP_POLICY);
  await writeFile(path.join(dir, 'strict-policy.yaml'), STRICT_POLICY);
  const configFile = path.join(dir, 'hub.yaml');
  const yaml = hubYaml(idp.issuer, pg, options.extraTargets?.(pg), options.relays);
  await writeFile(configFile, yaml);
  const database = path.join(dir, 'hub.db');
  const config = parseHubConfig(yaml, configFile);
  let hub = await startHub({ config, database, env: SECRETS, sweepIntervalMs: 500 });
  const port = new URL(hub.url).port;
  const homes: string[] = [];

  const newHome = async (): Promise<string> => {
    const home = await mkdtemp(path.join(dir, 'home-'));
    homes.push(home);
    await keepPortsApart(
      home,
      config.targets.map((target) => target.id),
    );
    return home;
  };
  const baseEnv = (): NodeJS.ProcessEnv => {
    const env = { ...process.env };
    delete env.PORTCULLIS_HUB;
    delete env.PORTCULLIS_CLIENT_ID;
    delete env.PORTCULLIS_CLIENT_SECRET;
    return env;
  };

  const world: ConnectedWorld = {
    pg,
    shopUrl,
    idp,
    hub,
    hubUrl: hub.url,
    async signIn(username) {
      const home = await newHome();
      const env = { ...baseEnv(), PORTCULLIS_HOME: home };
      const browser = fakeBrowser(demoUser(username));
      const account = await signInPerson({
        hubUrl: world.hubUrl,
        paths: portcullisHome(env),
        openBrowser: browser.openBrowser,
      });
      return { env, account };
    },
    async agentEnv() {
      return {
        ...baseEnv(),
        PORTCULLIS_HOME: await newHome(),
        PORTCULLIS_HUB: world.hubUrl,
        PORTCULLIS_CLIENT_ID: DEMO_AGENT.clientId,
        PORTCULLIS_CLIENT_SECRET: DEMO_AGENT.clientSecret,
      };
    },
    cli: (args, env) => runCliToEnd(args, env),
    connect: startConnect,
    async stopHub() {
      await hub.close();
    },
    async startHub() {
      hub = await startHub({
        config,
        database,
        env: SECRETS,
        listen: `127.0.0.1:${port}`,
        sweepIntervalMs: 500,
      });
      world.hub = hub;
    },
    async close() {
      await hub.close().catch(() => undefined);
      await idp.close().catch(() => undefined);
      await pg.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return world;
}
