/**
 * The tunnel re-reads the database's functions, operators and casts within CATALOG_TTL_MS on its own;
 * forgetCatalog() makes the very next statement meet the catalog as it is now, and a read begun before
 * the change never stands in for one begun after it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { loadClassifier } from '../../tunnel/policy/classifier.ts';
import { PolicyEngine } from '../../tunnel/policy/engine.ts';
import type { QueryRunner } from '../../tunnel/policy/masking/catalog.ts';
import { FreshRoutineNames } from '../../tunnel/policy/masking/routine-names.ts';
import { presetPolicy } from '../../tunnel/policy/policy.ts';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { sharedSideConnection } from '../../tunnel/postgres/side-connection.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

let server: TestPostgres;
let direct: pg.Client;
let engine: PolicyEngine;
let tunnel: PostgresTunnel;
let endpoint: TunnelEndpoint;
let closeSide: () => void;

beforeAll(async () => {
  await loadClassifier();
  server = await startPostgres();
  direct = await server.connect();
  const upstream = parseUpstreamUrl(server.url({ sslmode: 'disable' }));
  const side = sharedSideConnection(upstream);
  closeSide = () => side.close();
  engine = new PolicyEngine(presetPolicy('guarded'), { sideConnection: side.get });
  tunnel = new PostgresTunnel({ upstream, decisions: engine });
  endpoint = await tunnel.listen();
});

afterAll(async () => {
  await tunnel?.close();
  closeSide?.();
  await direct?.end();
  await server?.stop();
});

describe('PolicyEngine.forgetCatalog', () => {
  it('judges the next statement by an operator created a moment ago, and by its removal', async () => {
    const client = new pg.Client({ connectionString: endpoint.url });
    await client.connect();
    try {
      expect((await client.query('SELECT 2 - 1 AS n')).rows).toEqual([{ n: 1 }]);
      await direct.query(`CREATE FUNCTION sneaky_minus(int, text) RETURNS int LANGUAGE sql AS 'SELECT 0';
                          CREATE OPERATOR public.- (LEFTARG = int, RIGHTARG = text, FUNCTION = sneaky_minus)`);
      engine.forgetCatalog();
      // Denied by the tunnel (42501), not run: the operator is a user's function now.
      await expect(client.query("SELECT 2 - 'a'::text")).rejects.toMatchObject({ code: '42501' });
      await direct.query('DROP FUNCTION sneaky_minus(int, text) CASCADE');
      engine.forgetCatalog();
      // Passed to the server again, which knows no such operator any more (42883).
      await expect(client.query("SELECT 2 - 'a'::text")).rejects.toMatchObject({ code: '42883' });
      expect((await client.query('SELECT 2 - 1 AS n')).rows).toEqual([{ n: 1 }]);
    } finally {
      await client.end();
    }
  });
});

describe('FreshRoutineNames.forget', () => {
  it('does not let a read begun before it serve a call made after it', async () => {
    const answers: ((rows: (string | null)[][]) => void)[] = [];
    const runner: QueryRunner = {
      query: () => new Promise((resolve) => answers.push(resolve)),
    };
    const names = new FreshRoutineNames(() => Promise.resolve(runner), 60_000);
    const before = names.current();
    await until(() => answers.length === 1);
    names.forget();
    const after = names.current();
    await until(() => answers.length === 2);
    answers[0]!([['function', 'public', 'stale']]);
    answers[1]!([['function', 'public', 'fresh']]);
    expect([...(await before).userFunctions]).toContain('stale');
    expect([...(await after).userFunctions]).toEqual(['fresh', 'public.fresh']);
    // What later calls get is the read begun after forget(), not the older one that finished first.
    expect([...names.fresh()!.userFunctions]).toEqual(['fresh', 'public.fresh']);
  });
});

async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 1));
}
