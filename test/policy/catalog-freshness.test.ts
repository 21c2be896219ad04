/**
 * What the tunnel reads of the catalog is read once per target, for all its client connections, and
 * never outlives a change: a statement that may change the catalog, run through any connection of the
 * target, makes every connection meet the catalog as it is now (once the change is committed), and a
 * change made elsewhere is seen within the TTL. Masking plans are made of those answers and age with
 * them — a column renamed under a masked name is masked at its new place, not at its old one.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { loadClassifier, classify } from '../../tunnel/policy/classifier.ts';
import { mayChangeCatalog } from '../../tunnel/policy/catalog-changes.ts';
import { PolicyEngine } from '../../tunnel/policy/engine.ts';
import { RELATION_TTL_MS, type QueryRunner } from '../../tunnel/policy/masking/catalog.ts';
import type { Describer } from '../../tunnel/policy/masking/result-masks.ts';
import { parsePolicy } from '../../tunnel/policy/policy-file.ts';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { sharedSideConnection } from '../../tunnel/postgres/side-connection.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

const POLICY = `extends: guarded
allow: [{class: ddl}]
mask:
  - {column: people.email, strategy: redact}
`;
const EMAIL = 'quentin.zabriskie@mailhost.test';
const NOTE = 'prefers the phone';

let server: TestPostgres;
let direct: pg.Client;
let tunnel: PostgresTunnel;
let endpoint: TunnelEndpoint;
/** A tunnel whose catalog never gets old in a test's time: what it sees anew, it was told of. */
let patient: PostgresTunnel;
let patientEndpoint: TunnelEndpoint;
let closeSide: () => void;
/** Relations the tunnel read over its catalog connection. */
let relationReads = 0;
const open: pg.Client[] = [];

beforeAll(async () => {
  await loadClassifier();
  server = await startPostgres();
  direct = await server.connect();
  const upstream = parseUpstreamUrl(server.url({ sslmode: 'disable' }));
  const side = sharedSideConnection(upstream);
  closeSide = () => side.close();
  const counting = async (): Promise<QueryRunner & Describer> => {
    const connection = await side.get();
    return {
      query(sql, parameters) {
        if (sql.includes('FROM pg_catalog.pg_class c')) relationReads++;
        return connection.query(sql, parameters);
      },
      describe: (sql, types) => connection.describe(sql, types),
    };
  };
  const policy = parsePolicy(POLICY, 'mask.yaml', { maskKey: Buffer.alloc(32, 7) });
  tunnel = new PostgresTunnel({
    upstream,
    decisions: new PolicyEngine(policy, { sideConnection: counting }),
  });
  endpoint = await tunnel.listen();
  patient = new PostgresTunnel({
    upstream,
    decisions: new PolicyEngine(policy, { sideConnection: side.get, catalogTtlMs: 600_000 }),
  });
  patientEndpoint = await patient.listen();
});

beforeEach(async () => {
  await direct.query(`DROP TABLE IF EXISTS people; DROP FUNCTION IF EXISTS sneaky_minus(int, text) CASCADE;
    CREATE TABLE people (id int, email text, note text);
    INSERT INTO people VALUES (1, '${EMAIL}', '${NOTE}')`);
});

afterAll(async () => {
  for (const client of open) await client.end().catch(() => {});
  await tunnel?.close();
  await patient?.close();
  closeSide?.();
  await direct?.end();
  await server?.stop();
});

async function connect(to = endpoint): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: to.url });
  client.on('error', () => {});
  await client.connect();
  open.push(client);
  return client;
}

/** The one row of `SELECT * FROM people` as the client sees it. */
async function person(client: pg.Client): Promise<Record<string, unknown>> {
  const { rows } = await client.query('SELECT * FROM people');
  expect(rows).toHaveLength(1);
  return rows[0] as Record<string, unknown>;
}

/** The address goes to a column named `contact`, the note to one named `email`: same places, same types. */
const SWAP = `ALTER TABLE people RENAME COLUMN email TO contact;
  ALTER TABLE people RENAME COLUMN note TO email`;

describe('the catalog a target reads', () => {
  it('masks a column renamed under a masked name at its new place, in the connection that renamed it', async () => {
    const client = await connect();
    expect(await person(client)).toEqual({ id: 1, email: '[redacted]', note: NOTE });
    await client.query(SWAP);
    expect(await person(client)).toEqual({ id: 1, contact: EMAIL, email: '[redacted]' });
  });

  it('masks by a change made through another connection of the target at once', async () => {
    const reader = await connect();
    const changer = await connect();
    expect(await person(reader)).toEqual({ id: 1, email: '[redacted]', note: NOTE });
    await changer.query(SWAP);
    expect(await person(reader)).toEqual({ id: 1, contact: EMAIL, email: '[redacted]' });
  });

  it('meets a change made in a transaction once it commits, not the catalog read while it was open', async () => {
    const reader = await connect();
    const changer = await connect();
    await changer.query('BEGIN');
    await changer.query(SWAP);
    // The catalog connection cannot see the uncommitted names: it reads, and plans by, the old ones —
    // which still mask the address by where it is.
    expect(await person(changer)).toEqual({ id: 1, contact: '[redacted]', email: NOTE });
    await changer.query('COMMIT');
    expect(await person(reader)).toEqual({ id: 1, contact: EMAIL, email: '[redacted]' });
  });

  it('meets a change made outside the tunnel within twice the TTL', async () => {
    const reader = await connect();
    expect(await person(reader)).toEqual({ id: 1, email: '[redacted]', note: NOTE });
    await direct.query(SWAP);
    await new Promise((resolve) => setTimeout(resolve, 2 * RELATION_TTL_MS + 100));
    expect(await person(reader)).toEqual({ id: 1, contact: EMAIL, email: '[redacted]' });
  });

  it('judges the next statement of every connection by a function created through one of them', async () => {
    // Through a tunnel whose catalog lasts ten minutes: only the change seen through `creator` can tell.
    const other = await connect(patientEndpoint);
    const creator = await connect(patientEndpoint);
    expect((await other.query('SELECT 2 - 1 AS n')).rows).toEqual([{ n: 1 }]);
    await creator.query(`CREATE FUNCTION sneaky_minus(int, text) RETURNS int LANGUAGE sql AS 'SELECT 0';
      CREATE OPERATOR public.- (LEFTARG = int, RIGHTARG = text, FUNCTION = sneaky_minus)`);
    await expect(other.query("SELECT 2 - 'a'::text")).rejects.toMatchObject({ code: '42501' });
  });

  it('is read once for the connections that ask together, not once per connection', async () => {
    const clients = await Promise.all(Array.from({ length: 6 }, () => connect()));
    const before = relationReads;
    const rows = await Promise.all(clients.map((client) => person(client)));
    for (const row of rows) expect(row).toEqual({ id: 1, email: '[redacted]', note: NOTE });
    // One read; two if the machine is slow enough for the TTL to run out between the connections.
    expect(relationReads - before).toBeGreaterThanOrEqual(1);
    expect(relationReads - before).toBeLessThanOrEqual(2);
  });
});

describe('mayChangeCatalog', () => {
  const changes = [
    'ALTER TABLE people RENAME COLUMN email TO contact',
    'CREATE TEMP TABLE scratch (a int)',
    'DROP VIEW v',
    'COMMENT ON TABLE people IS $$x$$',
    'CREATE EXTENSION citext',
    'GRANT SELECT ON people TO PUBLIC',
    "DO $$ BEGIN EXECUTE 'ALTER TABLE people ADD COLUMN x int'; END $$",
    'CALL rebuild()',
    'SELECT my_function()',
    "UPDATE pg_attribute SET attname = 'x' WHERE false",
    'UPDATE pg_catalog.pg_class SET relname = relname',
    "SELECT set_config('search_path', 'elsewhere', false)",
    'SELECT * FROM people; ALTER TABLE people ADD COLUMN y int',
    'SELEC 1',
  ];
  const plain = [
    'SELECT * FROM people WHERE id = 1',
    "INSERT INTO people VALUES (2, 'a', 'b')",
    'UPDATE people SET note = $1 WHERE id = 1',
    'DELETE FROM people',
    'SELECT * FROM pg_catalog.pg_class',
    'BEGIN',
    'COMMIT',
    'SHOW search_path',
  ];
  it.each(changes)('says %s may change the catalog', (sql) => {
    expect(mayChangeCatalog(classify(sql))).toBe(true);
  });
  it.each(plain)('says %s does not', (sql) => {
    expect(mayChangeCatalog(classify(sql))).toBe(false);
  });
});
