/**
 * The tunnel's own catalog connection (the side connection masking and the classifier read through) is
 * there only while it is needed: opened by the first statement, kept while a client is connected, and
 * closed once no client has been connected for a while, so that `DROP DATABASE` (dropdb) on the target
 * works when nobody is using the tunnel. pg_stat_activity names it for what it is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { loadClassifier } from '../../tunnel/policy/classifier.ts';
import { CATALOG_TTL_MS, PolicyEngine } from '../../tunnel/policy/engine.ts';
import { presetPolicy } from '../../tunnel/policy/policy.ts';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { sharedSideConnection } from '../../tunnel/postgres/side-connection.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { until } from '../support/waiting.ts';

const IDLE_MS = 400;
const NAME = 'portcullis catalog for test tunnel';
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let server: TestPostgres;
let direct: pg.Client;

beforeAll(async () => {
  await loadClassifier();
  server = await startPostgres();
  direct = await server.connect();
});

afterAll(async () => {
  await direct?.end();
  await server?.stop();
});

/** A guarded tunnel to `database`, wired as `portcullis guard` wires it, with a short idle time. */
async function guardedTunnel(
  database: string,
): Promise<{ endpoint: TunnelEndpoint; close(): Promise<void> }> {
  const upstream = parseUpstreamUrl(`${await server.createDatabase(database)}?sslmode=disable`);
  const side = sharedSideConnection(upstream, undefined, {
    applicationName: NAME,
    idleMs: IDLE_MS,
    // Asked only once the tunnel below is listening.
    inUse: () => tunnel.sessionCount > 0,
  });
  const tunnel = new PostgresTunnel({
    upstream,
    decisions: new PolicyEngine(presetPolicy('guarded'), { sideConnection: side.get }),
  });
  const endpoint = await tunnel.listen();
  return {
    endpoint,
    async close() {
      await tunnel.close();
      side.close();
    },
  };
}

/** The tunnel's catalog connections to `database` the server sees now. */
async function catalogConnections(database: string): Promise<{ application_name: string }[]> {
  const { rows } = await direct.query<{ application_name: string }>(
    `SELECT application_name FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'portcullis catalog%'`,
    [database],
  );
  return rows;
}

async function clientOf(endpoint: TunnelEndpoint): Promise<pg.Client> {
  const { host, port, user, password, database } = endpoint;
  const client = new pg.Client({ host, port, user, password, database });
  // A test that fails leaves its client to the tunnel's shutdown FATAL.
  client.on('error', () => {});
  await client.connect();
  return client;
}

describe('the catalog connection', () => {
  it('opens with the first statement, under a name that says whose it is', async () => {
    const tunnel = await guardedTunnel('catalog_named');
    try {
      expect(await catalogConnections('catalog_named')).toEqual([]);
      const client = await clientOf(tunnel.endpoint);
      await client.query('SELECT 1');
      expect(await catalogConnections('catalog_named')).toEqual([{ application_name: NAME }]);
      await client.end();
    } finally {
      await tunnel.close();
    }
  });

  it('stays open however idle while a client is connected', async () => {
    const tunnel = await guardedTunnel('catalog_kept');
    try {
      const client = await clientOf(tunnel.endpoint);
      await client.query('SELECT 1');
      const [before] = (
        await direct.query(
          `SELECT pid FROM pg_stat_activity WHERE datname = 'catalog_kept' AND application_name = $1`,
          [NAME],
        )
      ).rows as { pid: number }[];
      await sleep(IDLE_MS * 4);
      const { rows } = await direct.query(
        `SELECT pid FROM pg_stat_activity WHERE datname = 'catalog_kept' AND application_name = $1`,
        [NAME],
      );
      // The same connection: not closed and opened again.
      expect(rows).toEqual([before]);
      await client.end();
    } finally {
      await tunnel.close();
    }
  });

  it('closes once no client is connected, so DROP DATABASE works, and opens again for the next client', async () => {
    const tunnel = await guardedTunnel('catalog_dropped');
    try {
      const first = await clientOf(tunnel.endpoint);
      await first.query('SELECT 1');
      await first.end();
      await until('the idle catalog connection to close', async () =>
        (await catalogConnections('catalog_dropped')).length === 0 ? true : undefined,
      );

      const second = await clientOf(tunnel.endpoint);
      // Past the classifier's cache of the catalog, so the next statement must read it again.
      await sleep(CATALOG_TTL_MS);
      // Still guarded: the classifier reads the catalog through a connection opened again.
      await expect(second.query('DROP TABLE IF EXISTS nothing_here')).rejects.toMatchObject({
        code: '42501',
      });
      expect((await second.query('SELECT 41 + 1 AS n')).rows).toEqual([{ n: 42 }]);
      expect(await catalogConnections('catalog_dropped')).toHaveLength(1);
      await second.end();
      await until('the idle catalog connection to close again', async () =>
        (await catalogConnections('catalog_dropped')).length === 0 ? true : undefined,
      );
      // What dropdb runs: it fails while any other session is connected to the database.
      await direct.query('DROP DATABASE catalog_dropped');
    } finally {
      await tunnel.close();
    }
  });
});
