/**
 * A world for outage scenarios, every part its own real thing: PostgreSQL with a small table, the
 * development IdP, the hub in a child process of its own (`portcullis hub`, SQLite store on disk, so it can
 * be stopped and SIGKILLed and started again on the same port and store), and `portcullis connect` child
 * processes for the people who sign in. The auditor reads the hub over HTTP, as an auditor would.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startDevIdp, type DevIdp } from '../hub/dev-idp/index.ts';
import { signInPerson } from '../tunnel/account/account.ts';
import { portcullisHome } from '../tunnel/account/home.ts';
import type { HubClient } from '../tunnel/hub-client/index.ts';
import { demoUser, fakeBrowser } from '../test/identity/browser-driver.ts';
import { startConnect, type ConnectProcess } from '../test/support/connected-world.ts';
import { startHubProcess, type HubProcess } from '../test/support/hub-process.ts';
import { keptPort } from '../test/support/ports.ts';
import { startPostgres, type TestPostgres } from '../test/support/postgres.ts';

/** The one target: reads pass under the guarded preset, through a role of its own. */
export const TARGET = 'items-db';
const ROLE = { user: 'items_reader', password: 'items-reader-secret' };

export interface OutageWorld {
  pg: TestPostgres;
  idp: DevIdp;
  hub: HubProcess;
  /** Signs a demo person in (the browser flow over HTTP) into a fresh home; returns its environment. */
  signIn(username: string): Promise<{ env: NodeJS.ProcessEnv; hub: HubClient }>;
  connect(env: NodeJS.ProcessEnv): Promise<ConnectProcess>;
  close(): Promise<void>;
}

async function seed(pg: TestPostgres): Promise<number> {
  const url = await pg.createDatabase('items');
  const client = new (await import('pg')).default.Client({ connectionString: url });
  await client.connect();
  await client.query(`CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g;
    CREATE ROLE ${ROLE.user} LOGIN PASSWORD '${ROLE.password}';
    GRANT SELECT ON items TO ${ROLE.user};`);
  await client.end();
  return pg.port;
}

function hubYaml(issuer: string, port: number): string {
  return `identity: { issuer: '${issuer}', audience: portcullis-hub }
auditors: [auditors]
targets:
  - { id: ${TARGET}, name: Items, kind: postgres,
      address: '127.0.0.1:${port}', database: items, tls: { sslmode: disable },
      credentials: { user: ${ROLE.user}, password_env: ITEMS_DB_PASSWORD },
      policy: guarded, access: [engineering] }
`;
}

export async function startOutageWorld(): Promise<OutageWorld> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-outage-'));
  const pg = await startPostgres();
  const idp = await startDevIdp({ audience: 'portcullis-hub' });
  const config = path.join(dir, 'hub.yaml');
  await writeFile(config, hubYaml(idp.issuer, await seed(pg)), { mode: 0o600 });
  const env = { ...process.env, ITEMS_DB_PASSWORD: ROLE.password };
  const hub = await startHubProcess({
    config,
    database: path.join(dir, 'hub.db'),
    listen: '127.0.0.1:0',
    env,
  });
  let homes = 0;
  const world: OutageWorld = {
    pg,
    idp,
    hub,
    async signIn(username) {
      const base = { ...process.env };
      for (const name of ['PORTCULLIS_HUB', 'PORTCULLIS_CLIENT_ID', 'PORTCULLIS_CLIENT_SECRET'])
        delete base[name];
      const personal = { ...base, PORTCULLIS_HOME: path.join(dir, `home-${++homes}`) };
      await mkdir(personal.PORTCULLIS_HOME, { mode: 0o700 });
      const account = await signInPerson({
        hubUrl: hub.url,
        paths: portcullisHome(personal),
        openBrowser: fakeBrowser(demoUser(username)).openBrowser,
      });
      return { env: personal, hub: account.hub };
    },
    // A port of its own: the default range is what other tests' tunnels take first, maybe at this moment.
    connect: async (personal) => startConnect(TARGET, personal, ['--port', String(await keptPort())]),
    async close() {
      await hub.stop('SIGTERM').catch(() => undefined);
      await idp.close().catch(() => undefined);
      await pg.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return world;
}
