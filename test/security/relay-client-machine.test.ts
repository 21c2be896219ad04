/**
 * With a target enforced at a relay, what the user's machine holds is worthless without the relay: the
 * memory of the running `portcullis connect` (read as a debugger would), its home directory and spool hold
 * no target secret, and nothing found there opens the database directly or gets past the relay's policy.
 * Everything real: the development IdP, the hub, a relay, PostgreSQL and `portcullis connect` in its own
 * process.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_AGENT, type DevAgent } from '../../hub/dev-idp/index.ts';
import { portcullisHome } from '../../tunnel/account/home.ts';
import { createHubClient } from '../../tunnel/hub-client/index.ts';
import { startRelay, type RunningRelay } from '../../tunnel/relay/index.ts';
import { createAuthority, type Pem } from '../support/certs.ts';
import {
  SECRETS,
  startConnectedWorld,
  type ConnectedWorld,
  type ConnectProcess,
} from '../support/connected-world.ts';
import { agentToken } from '../support/hub-tokens.ts';
import { freePort } from '../support/postgres.ts';
import { findInMemory, memoryUnreadable } from '../support/process-memory.ts';

const RELAY_AGENT: DevAgent = {
  clientId: 'vault-relay',
  clientSecret: 'vault-relay-agent-secret',
  name: 'Vault relay',
  groups: ['relays'],
};

let scratch: string;
let world: ConnectedWorld;
let relay: RunningRelay;
let relayTls: Pem;
let ca: string;
let connect: ConnectProcess;
let home: string;
let accessToken: string;

beforeAll(async () => {
  const authority = await createAuthority();
  ca = authority.cert;
  relayTls = await authority.sign('relay.test', { dns: ['relay.test'] });
  const relayPort = await freePort();
  scratch = await mkdtemp(path.join(tmpdir(), 'portcullis-relay-client-'));
  const caFile = path.join(scratch, 'relay-ca.pem');
  await writeFile(caFile, ca);
  world = await startConnectedWorld({
    idp: { agents: [DEMO_AGENT, RELAY_AGENT] },
    relays: ['relays'],
    extraTargets: (server) =>
      `  - { id: vault-db, name: Vault, kind: postgres, address: '127.0.0.1:${server.port}', database: shop,
      tls: { sslmode: disable }, credentials: { user: app_user, password_env: APP_DB_PASSWORD },
      policy: app-policy.yaml, access: [engineering], enforcement: relay,
      relay: { address: '127.0.0.1:${relayPort}', sslrootcert: '${caFile}', sslservername: relay.test } }
`,
  });
  const relayToken = await agentToken(world.idp, RELAY_AGENT);
  relay = await startRelay({
    hub: createHubClient({ url: world.hubUrl, token: () => relayToken }),
    tls: relayTls,
    host: '127.0.0.1',
    port: relayPort,
    spoolPath: path.join(scratch, 'relay-spool.db'),
    revocationPollMs: 600_000,
  });
  const priya = await world.signIn('priya');
  home = priya.env.PORTCULLIS_HOME!;
  accessToken = await priya.account.tokens.getAccessToken();
  connect = await world.connect('vault-db', priya.env);
}, 180_000);

afterAll(async () => {
  await connect?.stop();
  await relay?.stop();
  await world?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** What no part of the user's machine may hold: the target's password, the relay's key and its secret. */
const NEVER_ON_THE_CLIENT = (): Record<string, string> => ({
  'the target password': SECRETS.APP_DB_PASSWORD,
  "the relay's TLS key": keyBody(relayTls.key),
  "the relay's client secret": RELAY_AGENT.clientSecret,
});

/** A line of the PEM key's base64: the key in memory as text, whatever its line breaks. */
function keyBody(pem: string): string {
  return pem.split('\n').filter((line) => line && !line.startsWith('-----'))[1]!;
}

async function filesUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) files.push(path.join(entry.parentPath, entry.name));
  }
  return files;
}

/** Every string value of every JSON file in the home: tokens, secrets, whatever a file there keeps. */
async function credentialsFoundIn(dir: string): Promise<string[]> {
  const found = new Set<string>();
  const collect = (value: unknown): void => {
    if (typeof value === 'string' && value.length >= 8) found.add(value);
    else if (value && typeof value === 'object') Object.values(value).forEach(collect);
  };
  for (const file of await filesUnder(dir)) {
    try {
      collect(JSON.parse(await readFile(file, 'utf8')));
    } catch {
      // not JSON: the spool, a database, a PEM
    }
  }
  return [...found];
}

async function query(config: pg.ClientConfig, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionTimeoutMillis: 10_000, ...config });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('a relay target, seen from the user’s machine', () => {
  it('is used through the relay: its policy masks and blocks there', async () => {
    const { rows } = await query(
      { connectionString: connect.ready.url },
      'SELECT email FROM customers WHERE id = 1',
    );
    expect(rows[0].email).not.toBe('ada@example.com');
    await expect(query({ connectionString: connect.ready.url }, 'DROP TABLE notes')).rejects.toMatchObject({
      code: '42501',
    });
  });

  it.skipIf(memoryUnreadable(process.pid))(
    'leaves no target secret in the memory of `portcullis connect`, which holds its own tunnel secret',
    async () => {
      const why = memoryUnreadable(connect.child.pid!);
      if (why) return void console.log(`skipping the memory scan: ${why}`);
      // Used: a connection signed in through the relay, so the tunnel has done all it ever does.
      await query({ connectionString: connect.ready.url }, 'SELECT 1');
      const secrets = NEVER_ON_THE_CLIENT();
      const found = findInMemory(connect.child.pid!, [connect.ready.password, ...Object.values(secrets)]);
      // The scan sees the process's memory: the per-tunnel secret it holds is there; and in this process,
      // which runs the hub, it finds the target password.
      expect(found.has(connect.ready.password)).toBe(true);
      expect(findInMemory(process.pid, [SECRETS.APP_DB_PASSWORD]).has(SECRETS.APP_DB_PASSWORD)).toBe(true);
      for (const [what, secret] of Object.entries(secrets)) expect(found.has(secret), what).toBe(false);
    },
    120_000,
  );

  it('leaves no target secret in the home directory or the spool', async () => {
    const files = await filesUnder(home);
    // The spool holds what the tunnel carried: the statements of the tests above.
    const spool = portcullisHome({ PORTCULLIS_HOME: home }).spool;
    expect(files).toContain(spool);
    const everything = Buffer.concat(await Promise.all(files.map((file) => readFile(file))));
    expect(everything.includes(Buffer.from('DROP TABLE notes'))).toBe(true);
    for (const file of files) {
      const bytes = await readFile(file);
      for (const [what, secret] of Object.entries(NEVER_ON_THE_CLIENT())) {
        expect(bytes.includes(Buffer.from(secret)), `${what} in ${file}`).toBe(false);
      }
    }
  });

  it('has nothing that signs in to the database directly, and the relay only with its policy', async () => {
    const found = [...(await credentialsFoundIn(home)), connect.ready.password, accessToken];
    for (const password of found) {
      await expect(
        query(
          { host: '127.0.0.1', port: world.pg.port, user: 'app_user', database: 'shop', password },
          'SELECT 1',
        ),
      ).rejects.toMatchObject({ code: '28P01' });
    }
    // Straight to the relay with the user's own session and token: the relay's policy still applies.
    const straight = {
      host: '127.0.0.1',
      port: relay.port,
      user: connect.ready.session,
      password: accessToken,
      database: 'shop',
      ssl: { ca, servername: 'relay.test' },
    };
    expect((await query(straight, 'SELECT email FROM customers WHERE id = 1')).rows[0].email).not.toBe(
      'ada@example.com',
    );
    await expect(query(straight, 'DROP TABLE notes')).rejects.toMatchObject({ code: '42501' });
  });
});
