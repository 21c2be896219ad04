/**
 * The embedded demo: on loopback, the development IdP, a hub on SQLite and a PostgreSQL with the demo
 * shop (customers, orders, payments full of fake PII) behind three targets, all kept in one data
 * directory. `portcullis demo` and `npm start` run it; tests start it on ephemeral ports.
 *
 *   const demo = await startDemo({ dataDir: '/tmp/portcullis-demo' });
 *   console.log(demo.hubUrl, demo.users, demo.targets);
 *   await demo.close();
 *
 * The data directory survives restarts: the cluster, its generated passwords, the seeded data and the
 * hub's store (grants, approvals, recordings) are reused; hub.yaml and the policies are rewritten from
 * resources/demo at every start.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDuration, type TargetConfig } from '../config/index.ts';
import { DEMO_AGENT, startDevIdp, type DevIdp } from '../dev-idp/index.ts';
import { startHub, type RunningHub } from '../server.ts';
import {
  demoPaths,
  loadOrCreateSecrets,
  openDataDir,
  protectDataDir,
  saveState,
  writePrivateFile,
  type DemoSecrets,
  type DemoState,
} from './data-dir.ts';
import { DemoError, DemoPortInUseError, type DemoService } from './errors.ts';
import {
  assertReachableByPostgresUser,
  POSTGRES_HOST,
  startDemoPostgres,
  SUPERUSER,
  type DemoPostgres,
} from './postgres.ts';
import { prepareShop, SHOP_DATABASE } from './seed.ts';
import { startDemoSshd, type DemoSshd } from './sshd.ts';
import { DEMO_RELAY_AGENT_ID, DEMO_RELAYS_GROUP, type DemoRelayLauncher } from './relay.ts';

export { DemoDataDirError, DemoError, DemoPortInUseError, type DemoService } from './errors.ts';
export { resetDemoDataDir } from './data-dir.ts';
export type { DemoRelayLauncher, DemoRelayStart } from './relay.ts';

export const DEMO_AUDIENCE = 'portcullis-hub';

/** Everything the demo serves listens here only. */
const LOOPBACK = '127.0.0.1';

/**
 * resources/demo: the hub.yaml template, the policies and the shop's schema. Found by walking up from this
 * module, so it is the same folder whether the demo runs from the sources or from the compiled CLI.
 */
export const DEMO_RESOURCES = findResources(path.dirname(fileURLToPath(import.meta.url)));

function findResources(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'resources', 'demo');
    if (existsSync(path.join(candidate, 'hub.yaml'))) return candidate + path.sep;
    if (path.dirname(dir) === dir) throw new Error(`resources/demo not found above ${from}`);
  }
}

/** The environment variables hub.yaml names for the database passwords; the hub gets them from startDemo. */
const PASSWORD_ENV = {
  shopApp: 'PORTCULLIS_DEMO_SHOP_APP_PASSWORD',
  shopReporting: 'PORTCULLIS_DEMO_SHOP_REPORTING_PASSWORD',
  shopProvisioner: 'PORTCULLIS_DEMO_SHOP_PROVISIONER_PASSWORD',
  shopAdmin: 'PORTCULLIS_DEMO_SHOP_ADMIN_PASSWORD',
} as const;

const TARGET_DESCRIPTIONS: Record<string, string> = {
  'shop-db':
    "The shop's production database as the app's role: PII masked, destructive statements blocked, " +
    'and every write held until a manager approves it.',
  'shop-reporting':
    'The same data for the nightly report agent and engineers: reads only, PII masked, each session ' +
    'signed in as a database role of its own that the hub drops when the session ends.',
  'shop-admin':
    'An admin role of its own, unmasked under the guarded preset, enforced at the relay the demo runs (the ' +
    "user's tunnel only carries the connection there); nobody holds it: on-call and engineers ask, a " +
    'manager grants it for up to an hour.',
  'shop-web':
    "The shop's web server over SSH (this machine's OpenSSH server): shells and commands recorded, rm and " +
    'shutdown blocked, sudo held until a manager approves, cards and emails masked in the output.',
};

export interface DemoOptions {
  dataDir: string;
  /** 0 (the default) picks a free port; so do idpPort and postgresPort. */
  hubPort?: number;
  idpPort?: number;
  postgresPort?: number;
  /** The port of shop-web's SSH server; 0 (the default) picks a free one. */
  sshPort?: number;
  /** shop-admin's relay: the command running the demo wires it (the hub's code does not import the tunnel's). */
  relay: DemoRelayLauncher;
  /** The relay's port; 0 (the default) picks a free one. */
  relayPort?: number;
  /** Progress for people (first-start creation, seeding); one line per call. */
  log?: (line: string) => void;
}

export interface DemoUser {
  username: string;
  password: string;
  name: string;
  groups: string[];
}

export interface DemoAgent {
  clientId: string;
  clientSecret: string;
  name: string;
  groups: string[];
}

export interface DemoTarget {
  id: string;
  name: string;
  kind: 'postgres' | 'ssh';
  /** The database of a Postgres target; null for an SSH target. */
  database: string | null;
  /** The preset, or the policy file as hub.yaml names it. */
  policy: string;
  /** Who may use it, for people: "standing: engineering", "just-in-time: …". */
  access: string;
  description: string;
}

export interface RunningDemo {
  hubUrl: string;
  issuer: string;
  audience: string;
  /** The public OIDC client people sign in with (the CLI and the desktop app). */
  publicClientId: string;
  users: DemoUser[];
  agent: DemoAgent;
  targets: DemoTarget[];
  /** superuserUrl is for tests and diagnostics only: people go through the hub. */
  postgres: { host: string; port: number; superuserUrl: string };
  /** shop-web's SSH server, or why the demo runs without it. */
  ssh: { host: string; port: number; user: string; siteDir: string } | { leftOut: string };
  /** shop-admin's relay. */
  relay: { host: string; port: number };
  dataDir: string;
  /** Stops the hub, the IdP and PostgreSQL; idempotent. */
  close(): Promise<void>;
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ port, host: LOOPBACK, exclusive: true }, () => {
      const { port: bound } = probe.address() as AddressInfo;
      probe.close(() => resolve(bound));
    });
  });
}

function isAddressInUse(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE';
}

async function assertPortFree(service: DemoService, port: number): Promise<void> {
  try {
    await listenOnce(port);
  } catch (error) {
    if (isAddressInUse(error)) throw new DemoPortInUseError(service, port);
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new DemoError(`cannot listen on ${LOOPBACK}:${port} for the demo ${service} (${reason})`);
  }
}

/** A listen that lost a race for its port says which port, like the check before it. */
async function onPort<T>(service: DemoService, port: number, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    if (isAddressInUse(error)) throw new DemoPortInUseError(service, port);
    throw error;
  }
}

function fillTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`demo hub.yaml template: no value for {{${name}}}`);
    return value;
  });
}

/** The shop-web target, filled in when the demo's SSH server runs; a comment saying why not otherwise. */
async function webTarget(sshd: DemoSshd | string): Promise<string> {
  if (typeof sshd === 'string') return `  # shop-web is left out: ${sshd}\n`;
  const template = await readFile(path.join(DEMO_RESOURCES, 'shop-web.yaml'), 'utf8');
  const target = fillTemplate(template, {
    ssh_address: `${sshd.host}:${sshd.port}`,
    ssh_host_key: sshd.hostKey,
    ssh_user: sshd.user,
    ssh_key_file: sshd.privateKeyFile,
  });
  // One more item of hub.yaml's `targets:` list, indented as its others are.
  return `\n${target.replace(/^(?=.)/gm, '  ')}`;
}

async function writeHubConfig(
  dataDir: string,
  values: { issuer: string; postgresAddress: string; relayPort: number },
  sshd: DemoSshd | string,
): Promise<void> {
  const paths = demoPaths(dataDir);
  const template = await readFile(path.join(DEMO_RESOURCES, 'hub.yaml'), 'utf8');
  const header =
    '# Written by `portcullis demo` at every start from resources/demo/hub.yaml: edits do not last.\n';
  const filled = fillTemplate(template, {
    issuer: values.issuer,
    postgres_address: values.postgresAddress,
    relay_address: `${LOOPBACK}:${values.relayPort}`,
  });
  await writePrivateFile(paths.hubConfig, header + filled + (await webTarget(sshd)));
  await rm(paths.policies, { recursive: true, force: true });
  await mkdir(paths.policies, { mode: 0o700 });
  const policies = path.join(DEMO_RESOURCES, 'policies');
  for (const name of await readdir(policies)) {
    await writePrivateFile(path.join(paths.policies, name), await readFile(path.join(policies, name)));
  }
}

function describeAccess(target: TargetConfig): string {
  const parts: string[] = [];
  if (target.access.length > 0) parts.push(`standing: ${target.access.join(', ')}`);
  if (target.jit) {
    parts.push(
      `just-in-time: ${target.jit.requesters.join(', ')} request, ${target.jit.approvers.join(', ')} ` +
        `approve, up to ${formatDuration(target.jit.maxDurationSeconds)}`,
    );
  }
  return parts.join('; ') || 'nobody';
}

function describeTargets(hub: RunningHub): DemoTarget[] {
  return hub.config.targets.map((target) => ({
    id: target.id,
    name: target.name,
    kind: target.kind,
    database: target.kind === 'postgres' ? target.database : null,
    policy: target.policy.name,
    access: describeAccess(target),
    description: TARGET_DESCRIPTIONS[target.id] ?? '',
  }));
}

function superuserUrl(secrets: DemoSecrets, port: number): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(secrets.superuser)}@${POSTGRES_HOST}:${port}/${SHOP_DATABASE}`;
}

interface PreparedRelay {
  port: number;
  caFile: string;
}

interface ServiceContext {
  dataDir: string;
  secrets: DemoSecrets;
  postgresAddress: string;
  sshd: DemoSshd | string;
  /** Each started service's stop, pushed as it starts. */
  started: (() => Promise<void>)[];
  log: (line: string) => void;
}

/** The relay's port and certificate authority, before the hub.yaml that names them is written. */
async function prepareRelay(options: DemoOptions, dataDir: string): Promise<PreparedRelay> {
  const port = options.relayPort || (await listenOnce(0));
  if (options.relayPort) await assertPortFree('relay', port);
  await mkdir(demoPaths(dataDir).relay, { recursive: true, mode: 0o700 });
  const { caFile } = await options.relay.prepare(demoPaths(dataDir).relay);
  return { port, caFile };
}

/** The IdP (with the relay's identity), the hub, and shop-admin's relay signed in to it. */
async function startIdpHubAndRelay(
  options: DemoOptions,
  requested: { idp: number; hub: number },
  ctx: ServiceContext,
) {
  const paths = demoPaths(ctx.dataDir);
  const relayAgent = {
    clientId: DEMO_RELAY_AGENT_ID,
    clientSecret: ctx.secrets.relayAgent,
    name: "shop-admin's relay",
    groups: [DEMO_RELAYS_GROUP],
  };
  const prepared = await prepareRelay(options, ctx.dataDir);
  const idp: DevIdp = await onPort('idp', requested.idp, () =>
    startDevIdp({
      port: requested.idp,
      audience: DEMO_AUDIENCE,
      stateFile: paths.idpState,
      agents: [DEMO_AGENT, relayAgent],
    }),
  );
  ctx.started.push(() => idp.close());
  const values = { issuer: idp.issuer, postgresAddress: ctx.postgresAddress, relayPort: prepared.port };
  await writeHubConfig(ctx.dataDir, values, ctx.sshd);
  const env = Object.fromEntries(
    Object.entries(PASSWORD_ENV).map(([name, variable]) => [
      variable,
      ctx.secrets[name as keyof typeof PASSWORD_ENV],
    ]),
  );
  const hub = await onPort('hub', requested.hub, () =>
    startHub({
      configFile: paths.hubConfig,
      database: paths.hubDatabase,
      listen: `${LOOPBACK}:${requested.hub}`,
      env,
      logLevel: 'error',
    }),
  );
  ctx.started.push(() => hub.close());
  const relay = await onPort('relay', prepared.port, () =>
    options.relay.start({
      hubUrl: hub.url,
      issuer: idp.issuer,
      host: LOOPBACK,
      port: prepared.port,
      dir: paths.relay,
      agent: relayAgent,
      log: ctx.log,
    }),
  );
  ctx.started.push(async () => void (await relay.stop()));
  return { idp, hub, relay: { host: LOOPBACK, port: prepared.port } };
}

export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  const dataDir = path.resolve(options.dataDir);
  const log = options.log ?? (() => {});
  const requested = await reservePorts(options);
  await assertReachableByPostgresUser(dataDir);
  const state = await openDataDir(dataDir);
  const secrets = await loadOrCreateSecrets(dataDir, state);

  const started: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of started.splice(0).reverse()) {
      await stop().catch((error: unknown) => log(`while stopping: ${(error as Error).message}`));
    }
  };
  try {
    const postgres = await startShopDatabase({ dataDir, state, secrets, started, log }, requested.postgres);
    const sshd = await startDemoSshd(demoPaths(dataDir).sshd, requested.ssh || (await listenOnce(0)), log);
    if (sshd.started) started.push(() => sshd.sshd.stop());
    else log(`shop-web is left out: ${sshd.reason}`);

    const { idp, hub, relay } = await startIdpHubAndRelay(options, requested, {
      dataDir,
      secrets,
      postgresAddress: `${postgres.host}:${postgres.port}`,
      sshd: sshd.started ? sshd.sshd : sshd.reason,
      started,
      log,
    });
    let closing: Promise<void> | undefined;
    return {
      ...describeDemo(idp, hub, secrets, postgres),
      ssh: sshd.started
        ? { host: sshd.sshd.host, port: sshd.sshd.port, user: sshd.sshd.user, siteDir: sshd.sshd.siteDir }
        : { leftOut: sshd.reason },
      relay,
      dataDir,
      close() {
        closing ??= stopAll();
        return closing;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * The ports asked for, each fixed one checked free before anything is created or started (a second demo
 * fails at once); PostgreSQL's chosen here, as it cannot pick its own port and say which.
 */
async function reservePorts(
  options: DemoOptions,
): Promise<{ hub: number; idp: number; postgres: number; ssh: number }> {
  const requested = {
    hub: options.hubPort ?? 0,
    idp: options.idpPort ?? 0,
    postgres: options.postgresPort ?? 0,
    ssh: options.sshPort ?? 0,
  };
  for (const service of ['hub', 'idp', 'postgres', 'ssh'] as const) {
    if (requested[service] !== 0) await assertPortFree(service, requested[service]);
  }
  return { ...requested, postgres: requested.postgres || (await listenOnce(0)) };
}

/** The demo's PostgreSQL on PORT, created on the first start, with the shop database seeded or reused. */
async function startShopDatabase(
  ctx: Pick<ServiceContext, 'dataDir' | 'secrets' | 'started' | 'log'> & { state: DemoState },
  port: number,
): Promise<DemoPostgres> {
  const { dataDir, state, secrets, started, log } = ctx;
  const paths = demoPaths(dataDir);
  if (!state.postgresCreated) {
    // Whatever a first start that failed left behind; initdb needs an empty directory.
    await rm(paths.cluster, { recursive: true, force: true });
    log(`first start: creating the demo database in ${paths.cluster} (a few seconds)`);
  }
  const postgres = await startDemoPostgres({
    clusterDir: paths.cluster,
    port,
    superuserPassword: secrets.superuser,
    create: !state.postgresCreated,
    log,
  });
  started.push(() => postgres.stop());
  if (!state.postgresCreated) await saveState(dataDir, { ...state, postgresCreated: true });
  // On the first start as root, the postgres user (and its group) may only exist from now on.
  await protectDataDir(dataDir);

  const shop = await prepareShop(
    { host: postgres.host, port: postgres.port, user: SUPERUSER, password: secrets.superuser },
    {
      shopApp: secrets.shopApp,
      shopReporting: secrets.shopReporting,
      shopProvisioner: secrets.shopProvisioner,
      shopAdmin: secrets.shopAdmin,
    },
    path.join(DEMO_RESOURCES, 'shop.sql'),
  );
  const counts = `${shop.rows.customers} customers, ${shop.rows.orders} orders, ${shop.rows.payments} payments`;
  log(`${shop.seeded ? 'seeded' : 'reusing'} the shop database: ${counts}`);
  return postgres;
}

/** Who may sign in to the running demo, what they find there, and its database as its superuser. */
function describeDemo(
  idp: DevIdp,
  hub: RunningHub,
  secrets: DemoSecrets,
  postgres: DemoPostgres,
): Omit<RunningDemo, 'ssh' | 'relay' | 'dataDir' | 'close'> {
  const agent = idp.agents[0]!;
  return {
    hubUrl: hub.url,
    issuer: idp.issuer,
    audience: DEMO_AUDIENCE,
    publicClientId: idp.publicClientId,
    users: idp.users.map(({ username, password, name, groups }) => ({ username, password, name, groups })),
    agent: {
      clientId: agent.clientId,
      clientSecret: agent.clientSecret,
      name: agent.name,
      groups: agent.groups,
    },
    targets: describeTargets(hub),
    postgres: {
      host: postgres.host,
      port: postgres.port,
      superuserUrl: superuserUrl(secrets, postgres.port),
    },
  };
}
