/**
 * Common extensions must not make `read-only` and `guarded` unusable, nor open a hole: against real
 * installs (embedded PostgreSQL's contrib) ordinary queries on extension types, drivers' and GUI
 * tools' catalog queries, real psql \d commands and real pgjdbc DatabaseMetaData browsing pass
 * through the tunnel; extensions' writing and admin functions carry their classes; and users'
 * functions and operators beside the extensions' stay dynamic unless the policy trusts them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createClassifier, loadClassifier, type Classifier } from '../../tunnel/policy/classifier.ts';
import { PolicyEngine } from '../../tunnel/policy/engine.ts';
import type { QueryRunner } from '../../tunnel/policy/masking/catalog.ts';
import { parsePolicy } from '../../tunnel/policy/policy-file.ts';
import { presetPolicy, type Policy, type Preset } from '../../tunnel/policy/policy.ts';
import {
  NO_TRUST,
  readRoutineCatalog,
  type RoutineTrust,
} from '../../tunnel/policy/routine-catalog-reader.ts';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { sharedSideConnection } from '../../tunnel/postgres/side-connection.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import { installed, run } from '../support/commands.ts';
import { javaWithPgjdbc } from '../support/drivers.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import * as tools from './tool-queries.ts';

const EXTENSIONS = [
  'citext',
  'hstore',
  'pg_trgm',
  'uuid-ossp',
  'ltree',
  'cube',
  'earthdistance',
  'unaccent',
  'intarray',
  'btree_gin',
  'btree_gist',
  'pgcrypto',
  'fuzzystrmatch',
  'tablefunc',
  'dblink',
  'isn',
  'seg',
  'intagg',
];

const SETUP = `
${EXTENSIONS.map((e) => `CREATE EXTENSION "${e}" CASCADE;`).join('\n')}
CREATE TABLE people (
  id int PRIMARY KEY,
  email citext UNIQUE NOT NULL,
  attrs hstore,
  path ltree,
  tags int[],
  spot cube,
  note text
);
CREATE INDEX people_spot ON people USING gist (spot);
CREATE INDEX people_note ON people USING gin (note gin_trgm_ops);
CREATE INDEX people_tags ON people USING gin (tags gin__int_ops);
CREATE INDEX people_id_note ON people USING gist (id, note);
INSERT INTO people VALUES
  (1, 'Alice@Example.com', 'color=>blue, size=>m', 'top.science.physics', '{1,2,3}', cube(1, 2), 'Hôtel café'),
  (2, 'bob@example.com', 'color=>red', 'top.arts', '{4}', cube(5, 6), 'plain note'),
  (3, 'carol@example.com', NULL, 'top.science', '{}', cube(0), NULL);
CREATE VIEW people_view AS SELECT id, email, attrs -> 'color' AS color FROM people;
`;

/** Ordinary queries on extension types and beside them; `random` ones are compared by success only. */
const ORDINARY: readonly { sql: string; random?: boolean }[] = [
  { sql: 'SELECT email FROM people WHERE id = 1' },
  { sql: "SELECT id FROM people WHERE email = 'ALICE@EXAMPLE.COM'" },
  { sql: "SELECT id FROM people WHERE email <> 'bob@example.com' AND email LIKE '%EXAMPLE%' ORDER BY id" },
  { sql: "SELECT id FROM people WHERE email ILIKE 'a%' OR email ~* '^B'" },
  { sql: "SELECT email || '!' , 'a' || 'b', note || ' more' FROM people ORDER BY id" },
  { sql: "SELECT attrs -> 'color', attrs ? 'size', attrs @> 'color=>blue' FROM people ORDER BY id" },
  {
    sql: "SELECT attrs || hstore('extra', 'x'), akeys(attrs), delete(attrs, 'size') FROM people ORDER BY id",
  },
  { sql: 'SELECT each(attrs) FROM people WHERE attrs IS NOT NULL ORDER BY 1' },
  {
    sql: "SELECT similarity(note, 'hotel'), note % 'plain', word_similarity('café', note) FROM people ORDER BY id",
  },
  { sql: "SELECT id FROM people WHERE note ILIKE '%café%'" },
  { sql: 'SELECT show_limit()' },
  {
    sql: "SELECT path, nlevel(path), subpath(path, 0, 1) FROM people WHERE path <@ 'top.science' ORDER BY id",
  },
  { sql: "SELECT id FROM people WHERE path ~ 'top.*' ORDER BY id" },
  { sql: 'SELECT spot <-> cube(0), cube_dim(spot), spot @> cube(1) FROM people ORDER BY id' },
  { sql: 'SELECT earth_distance(ll_to_earth(48.85, 2.35), ll_to_earth(51.5, -0.12))::int' },
  { sql: 'SELECT unaccent(note) FROM people ORDER BY id' },
  { sql: "SELECT tags & '{1,4}'::int[], icount(tags), sort(tags) FROM people WHERE tags @> '{1}'" },
  { sql: "SELECT levenshtein('kitten', 'sitting'), soundex('Robert'), dmetaphone('Thompson')" },
  { sql: "SELECT encode(digest('x', 'sha256'), 'hex'), encode(hmac('x', 'k', 'sha1'), 'hex')" },
  {
    sql: "SELECT crypt('secret', gen_salt('bf', 4)) IS NOT NULL, gen_random_uuid() IS NOT NULL",
    random: true,
  },
  { sql: 'SELECT uuid_generate_v4(), uuid_generate_v1mc(), uuid_nil()', random: true },
  { sql: 'SELECT normal_rand(2, 0, 1)', random: true },
  { sql: "SELECT isbn13('978-0-393-04002-9'), seg_lower('1 .. 2'::seg)" },
  {
    sql: "SELECT replace(email, 'e', 'E'), strpos(email, '@'), split_part(email, '@', 2) FROM people ORDER BY id",
  },
  {
    sql: "SELECT regexp_replace(email, 'a', 'A'), translate(email, 'ab', 'AB'), lower(email) FROM people ORDER BY id",
  },
  { sql: 'SELECT max(email), min(email), count(DISTINCT email) FROM people' },
  { sql: "SELECT id FROM people WHERE id BETWEEN 1 AND 2 AND email NOT BETWEEN 'a' AND 'b' ORDER BY id" },
  { sql: "SELECT CASE email WHEN 'alice@example.com' THEN 'a' ELSE 'other' END FROM people ORDER BY id" },
  { sql: 'SELECT * FROM people_view ORDER BY id' },
  { sql: 'SELECT p.email, q.email FROM people p JOIN people q ON p.email = q.email ORDER BY 1' },
  { sql: "SELECT email::text, 'X'::citext = 'x', attrs::text FROM people ORDER BY id" },
  { sql: 'SELECT 1 + 1, 2 * 3, now() IS NOT NULL, array[1,2] || 3' },
];

/** Extensions' functions that are not reads, and the class each must carry. */
const CLASSED: readonly { sql: string; cls: string }[] = [
  { sql: "SELECT dblink_connect('c', 'dbname=postgres')", cls: 'server-access' },
  { sql: "SELECT * FROM dblink('dbname=postgres', 'SELECT 1') AS t(x int)", cls: 'server-access' },
  { sql: "SELECT dblink_exec('dbname=postgres', 'DELETE FROM people')", cls: 'server-access' },
  { sql: 'SELECT dblink_get_connections()', cls: 'server-access' },
  { sql: 'SELECT set_limit(0.5)', cls: 'session' },
  { sql: 'SELECT isn_weak(true)', cls: 'session' },
  { sql: "SELECT * FROM crosstab('SELECT 1::text, 2::text, 3::text') AS t(a text, b text)", cls: 'dynamic' },
  { sql: "SELECT * FROM connectby('people', 'id', 'id', '1', 0) AS t(a int, b int, c int)", cls: 'dynamic' },
  { sql: "SELECT pg_read_file('postgresql.conf')", cls: 'server-access' },
];

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

let server: TestPostgres;
let databaseUrl: string;
let direct: pg.Client;
const tunnels: { close(): Promise<void> }[] = [];

function textRunner(client: pg.Client): QueryRunner {
  return {
    async query(sql, parameters = []) {
      const result = await client.query({
        text: sql,
        values: parameters,
        rowMode: 'array',
        types: { getTypeParser: () => (value: string) => value },
      });
      return (result.rows as (string | null)[][]).map((row) =>
        row.map((v) => (v === null ? null : String(v))),
      );
    },
  };
}

async function catalogClassifier(trust: RoutineTrust = NO_TRUST): Promise<Classifier> {
  return createClassifier({ routines: await readRoutineCatalog(textRunner(direct), trust) });
}

async function openTunnel(policy: Policy): Promise<TunnelEndpoint> {
  const upstream = parseUpstreamUrl(`${databaseUrl}?sslmode=disable`);
  const side = sharedSideConnection(upstream);
  const tunnel = new PostgresTunnel({
    upstream,
    decisions: new PolicyEngine(policy, { sideConnection: side.get }),
  });
  tunnels.push({ close: () => tunnel.close().then(() => side.close()) });
  return tunnel.listen();
}

async function client(endpoint: TunnelEndpoint): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: endpoint.url, query_timeout: 20_000 });
  c.on('error', () => {});
  await c.connect();
  return c;
}

const endpoints = new Map<Preset, TunnelEndpoint>();

beforeAll(async () => {
  await loadClassifier();
  server = await startPostgres();
  databaseUrl = await server.createDatabase('extensions');
  direct = new pg.Client({ connectionString: databaseUrl });
  await direct.connect();
  await direct.query(SETUP);
  for (const preset of ['read-only', 'guarded'] as const)
    endpoints.set(preset, await openTunnel(presetPolicy(preset)));
});

afterAll(async () => {
  for (const tunnel of tunnels) await tunnel.close().catch(() => {});
  await direct?.end().catch(() => {});
  await server?.stop();
});

describe.each(['read-only', 'guarded'] as const)('ordinary queries under %s', (preset) => {
  let through: pg.Client;
  beforeAll(async () => {
    through = await client(endpoints.get(preset)!);
  });
  afterAll(async () => {
    await through?.end().catch(() => {});
  });

  it.each(ORDINARY)('$sql', async ({ sql, random }) => {
    const viaTunnel = await through.query({ text: sql, rowMode: 'array' });
    if (!random) {
      const viaServer = await direct.query({ text: sql, rowMode: 'array' });
      expect(viaTunnel.rows).toEqual(viaServer.rows);
    }
    // The extended protocol (a parameter keeps node-postgres from using the simple one).
    await through.query({ text: `SELECT * FROM (${sql}) q WHERE $1::int = 1`, values: [1] });
  });
});

describe('tools that browse a database with extensions installed', () => {
  let classifier: Classifier;
  beforeAll(async () => {
    classifier = await catalogClassifier();
  });

  const psql = readFileSync(here('./fixtures/psql-describe.sql'), 'utf8')
    .split(/^-- psql \d+ .*$/m)
    .slice(1)
    .map((text) => text.trim());
  const groups = {
    psql,
    pgjdbc: tools.pgjdbc,
    DBeaver: tools.dbeaver,
    DataGrip: tools.dataGrip,
    pgAdmin: tools.pgAdmin,
    pg_dump: tools.pgDump,
    'drivers and ORMs': tools.drivers,
  };

  it.each(Object.entries(groups))('%s catalog queries stay reads', (_group, list) => {
    for (const sql of list) {
      const c = classifier.classify(sql);
      expect(c.failure, sql).toBeUndefined();
      for (const cls of c.classes)
        expect(['read', 'session'], `${cls}: ${c.reasons.join('; ')}\n${sql}`).toContain(cls);
    }
  });

  const havePsql = installed('psql');
  it.skipIf(!havePsql)('psql \\d commands run through a read-only tunnel', async () => {
    const endpoint = endpoints.get('read-only')!;
    const commands = [
      '\\d',
      '\\d people',
      '\\d+ people',
      '\\dx',
      '\\dT',
      '\\df similarity',
      '\\do ->',
      '\\di',
      '\\dv',
    ];
    for (const command of commands) {
      const result = await run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', endpoint.url, '-c', command]);
      expect(result.stderr, command).toBe('');
      expect(result.code, command).toBe(0);
    }
  });
  if (!havePsql)
    console.warn(
      'skipping psql \\d through the tunnel: psql is not installed (apt-get install postgresql-client)',
    );

  const jar = '/usr/share/java/postgresql.jar';
  const haveJava = existsSync(jar) && installed('java');
  it.skipIf(!haveJava)(
    'pgjdbc DatabaseMetaData browsing works through read-only and guarded tunnels',
    async () => {
      for (const preset of ['read-only', 'guarded'] as const) {
        const endpoint = endpoints.get(preset)!;
        const url = `jdbc:postgresql://${endpoint.host}:${endpoint.port}/${endpoint.database}`;
        const program = await javaWithPgjdbc(here('./fixtures/JdbcMetadata.java'));
        const result = await run('java', [...program, url, endpoint.user, endpoint.password, 'people'], {
          timeoutMs: 90_000,
        });
        expect(result.stderr, preset).toBe('');
        expect(result.code).toBe(0);
        const counts = Object.fromEntries(
          result.stdout
            .trim()
            .split('\n')
            .map((line) => line.split(' ')),
        );
        expect(counts.getColumns).toBe('7');
        expect(counts.getPrimaryKeys).toBe('1');
        expect(counts.select).toBe('3');
        expect(counts['select-where']).toBe('1');
      }
    },
    120_000,
  );
  if (!haveJava)
    console.warn(
      `skipping pgjdbc browsing: java or ${jar} is missing (apt-get install default-jre-headless libpostgresql-jdbc-java)`,
    );
});

describe("extensions' writing and admin functions", () => {
  it.each(CLASSED)('$sql is $cls', async ({ sql, cls }) => {
    const classifier = await catalogClassifier();
    const c = classifier.classify(sql);
    expect([...c.classes], c.reasons.join('; ')).toContain(cls);
  });

  it('are refused under read-only', async () => {
    const through = await client(endpoints.get('read-only')!);
    try {
      for (const { sql, cls } of CLASSED) {
        if (cls === 'session') continue;
        await expect(through.query(sql), sql).rejects.toMatchObject({ code: '42501' });
      }
    } finally {
      await through.end();
    }
  });
});

describe("users' functions beside the extensions'", () => {
  const USERS = `
    CREATE SCHEMA app;
    CREATE FUNCTION app.similarity(text, text) RETURNS real LANGUAGE sql AS 'SELECT 0.5::real';
    CREATE FUNCTION public.lower(citext) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN 'mine'; END $$;
    CREATE FUNCTION app.attr(hstore, int) RETURNS text LANGUAGE sql AS 'SELECT NULL::text';
    CREATE OPERATOR app.-> (LEFTARG = hstore, RIGHTARG = int, FUNCTION = app.attr);
    CREATE FUNCTION app.soundex(text, int) RETURNS text LANGUAGE sql AS 'SELECT NULL::text';`;
  beforeAll(async () => {
    await direct.query(USERS);
  });
  afterAll(async () => {
    await direct.query('DROP SCHEMA app CASCADE; DROP FUNCTION public.lower(citext)');
  });

  it('make the names they share dynamic, and leave the others alone', async () => {
    const classifier = await catalogClassifier();
    const dynamic = (sql: string): boolean => classifier.classify(sql).classes.has('dynamic');
    expect(dynamic("SELECT similarity('a', 'b')")).toBe(true);
    expect(dynamic('SELECT lower(email) FROM people')).toBe(true);
    expect(dynamic("SELECT attrs -> 'color' FROM people")).toBe(true);
    expect(dynamic("SELECT app.similarity('a', 'b')")).toBe(true);
    // Another arity than the user's overload, another schema named, another name: not theirs.
    expect(dynamic("SELECT similarity('a', 'b', 'c')")).toBe(true); // no such overload at all
    expect(dynamic("SELECT soundex('x', 1)")).toBe(true);
    expect(dynamic("SELECT soundex('x')")).toBe(false);
    expect(dynamic('SELECT public.similarity(note, note), upper(email), 1 = 1 FROM people')).toBe(false);
    expect(dynamic("SELECT attrs ? 'color' FROM people")).toBe(false);
  });

  it('are refused by a read-only tunnel once its catalog is fresh', async () => {
    const through = await client(await openTunnel(presetPolicy('read-only')));
    try {
      await expect(through.query("SELECT similarity('a', 'b')")).rejects.toMatchObject({
        code: '42501',
        message: expect.stringMatching(/app\.similarity, a user-defined function/),
      });
      await expect(through.query("SELECT attrs -> 'color' FROM people")).rejects.toMatchObject({
        code: '42501',
      });
      expect((await through.query("SELECT attrs ? 'color' FROM people")).rowCount).toBe(3);
    } finally {
      await through.end();
    }
  });

  it('run once the policy trusts them', async () => {
    const policy = parsePolicy(
      'extends: read-only\ntrusted_functions: [app.similarity, app.attr, lower]\n',
      'trust.yaml',
    );
    const through = await client(await openTunnel(policy));
    try {
      expect((await through.query("SELECT similarity('a', 'b') AS s")).rows[0].s).toBeGreaterThanOrEqual(0);
      expect((await through.query("SELECT attrs -> 'color' FROM people")).rowCount).toBe(3);
      expect((await through.query('SELECT lower(email) FROM people ORDER BY id')).rows[0].lower).toBe('mine');
    } finally {
      await through.end();
    }
  });
});

describe('extensions that were not reviewed', () => {
  it('are dynamic until the policy trusts them', async () => {
    const sql = 'SELECT int_array_enum(tags) FROM people';
    const untrusted = await catalogClassifier();
    expect(untrusted.classify(sql).reasons.join()).toMatch(/extension intagg, which is not reviewed/);
    const trusted = await catalogClassifier({ extensions: ['intagg'], functions: [] });
    expect([...trusted.classify(sql).classes]).toEqual(['read']);
    // A trusted extension's names on the built-in danger lists keep their class.
    const dblink = await catalogClassifier({ extensions: ['dblink'], functions: [] });
    expect(dblink.classify("SELECT dblink_exec('x', 'y')").classes.has('server-access')).toBe(true);
  });
});
