/**
 * Runs the evasion corpus (corpus/evasion.ts) through real tunnels under the `guarded` preset (and a
 * subset under `read-only`). Each attempt must be refused by the tunnel itself, and a direct
 * connection then checks that nothing happened: the canary data, a fingerprint of the catalog, the
 * data directory, postgresql.auto.conf, the WAL segment in use, a bystander session, and marker paths
 * under /tmp that the attempts name are all as they were.
 */
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import postgres from 'postgres';
import { serialize } from 'pg-protocol';
import { loadClassifier } from '../../tunnel/policy/classifier.ts';
import { PolicyEngine } from '../../tunnel/policy/engine.ts';
import { presetPolicy, type Preset } from '../../tunnel/policy/policy.ts';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { ScramClient } from '../../tunnel/postgres/wire/scram.ts';
import { sharedSideConnection } from '../../tunnel/postgres/side-connection.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { errorField, errorMessage, RawClient, type RawMessage } from '../support/raw-client.ts';
import {
  EVASION_CORPUS,
  EVASION_SETUP,
  MARKER,
  type Attempt,
  type StartupAttempt,
  type Step,
  type Wire,
} from './corpus/evasion.ts';

const EXPECTED_CANARY = [
  { id: 1, note: 'alive' },
  { id: 2, note: 'still alive' },
  { id: 3, note: 'very much alive' },
];

/** Fingerprints of the catalog, each a md5 over the rows that matter (no statistics, no xids). */
const CATALOG: Record<string, string> = {
  pg_class: `SELECT md5(string_agg(concat_ws('|', oid, relname, relnamespace, relkind, relowner, relacl, relfilenode,
      relhastriggers, relhasrules, relrowsecurity, relforcerowsecurity, relpersistence, reloptions), ',' ORDER BY oid))
      FROM pg_class`,
  pg_attribute: `SELECT md5(string_agg(concat_ws('|', attrelid, attnum, attname, atttypid, attnotnull, attisdropped,
      atthasdef), ',' ORDER BY attrelid, attnum)) FROM pg_attribute WHERE attrelid >= 16384`,
  pg_attrdef: `SELECT md5(string_agg(concat_ws('|', oid, adrelid, adnum, md5(adbin::text)), ',' ORDER BY oid)) FROM pg_attrdef`,
  pg_constraint: `SELECT md5(string_agg(concat_ws('|', oid, conname, conrelid, contype, convalidated), ',' ORDER BY oid))
      FROM pg_constraint`,
  pg_index: `SELECT md5(string_agg(concat_ws('|', indexrelid, indrelid, indisvalid, indisready, indislive), ','
      ORDER BY indexrelid)) FROM pg_index`,
  pg_proc: `SELECT md5(string_agg(concat_ws('|', oid, proname, pronamespace, proowner, prokind, prosecdef, provolatile,
      proacl, proconfig, md5(prosrc)), ',' ORDER BY oid)) FROM pg_proc`,
  pg_namespace: `SELECT md5(string_agg(concat_ws('|', oid, nspname, nspowner, nspacl), ',' ORDER BY oid)) FROM pg_namespace`,
  pg_type: `SELECT md5(string_agg(concat_ws('|', oid, typname, typnamespace, typowner, typacl), ',' ORDER BY oid)) FROM pg_type`,
  pg_operator: `SELECT md5(string_agg(concat_ws('|', oid, oprname, oprnamespace, oprcode), ',' ORDER BY oid)) FROM pg_operator`,
  pg_cast: `SELECT md5(string_agg(concat_ws('|', oid, castsource, casttarget, castfunc, castcontext, castmethod), ','
      ORDER BY oid)) FROM pg_cast`,
  pg_authid: `SELECT md5(string_agg(concat_ws('|', oid, rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb,
      rolcanlogin, rolreplication, rolbypassrls, rolconnlimit, md5(coalesce(rolpassword, '')), rolvaliduntil), ','
      ORDER BY oid)) FROM pg_authid`,
  pg_auth_members: `SELECT md5(string_agg(concat_ws('|', roleid, member, grantor, admin_option, inherit_option,
      set_option), ',' ORDER BY roleid, member, grantor)) FROM pg_auth_members`,
  pg_database: `SELECT md5(string_agg(concat_ws('|', oid, datname, datdba, datallowconn, datconnlimit, datistemplate,
      datacl), ',' ORDER BY oid)) FROM pg_database`,
  pg_db_role_setting: `SELECT md5(string_agg(concat_ws('|', setdatabase, setrole, setconfig), ','
      ORDER BY setdatabase, setrole)) FROM pg_db_role_setting`,
  pg_extension: `SELECT md5(string_agg(concat_ws('|', oid, extname, extowner, extversion), ',' ORDER BY oid)) FROM pg_extension`,
  pg_language: `SELECT md5(string_agg(concat_ws('|', oid, lanname, lanpltrusted, lanacl), ',' ORDER BY oid)) FROM pg_language`,
  pg_settings: `SELECT md5(string_agg(concat_ws('|', name, setting, source), ',' ORDER BY name)) FROM pg_settings
      WHERE source <> 'default'`,
  pg_file_settings: `SELECT md5(string_agg(concat_ws('|', sourcefile, sourceline, name, setting, applied, error), ','
      ORDER BY sourcefile, sourceline)) FROM pg_file_settings`,
  pg_largeobject_metadata: `SELECT md5(string_agg(concat_ws('|', oid, lomowner, lomacl), ',' ORDER BY oid))
      FROM pg_largeobject_metadata`,
  pg_trigger: `SELECT md5(string_agg(concat_ws('|', oid, tgrelid, tgname, tgfoid, tgenabled, tgisinternal), ','
      ORDER BY oid)) FROM pg_trigger`,
  pg_event_trigger: `SELECT md5(string_agg(concat_ws('|', oid, evtname, evtevent, evtfoid, evtenabled), ',' ORDER BY oid))
      FROM pg_event_trigger`,
  pg_rewrite: `SELECT md5(string_agg(concat_ws('|', oid, rulename, ev_class, ev_type, ev_enabled, is_instead,
      md5(ev_action::text)), ',' ORDER BY oid)) FROM pg_rewrite`,
  pg_policy: `SELECT md5(string_agg(concat_ws('|', oid, polname, polrelid, md5(polqual::text)), ',' ORDER BY oid)) FROM pg_policy`,
  pg_default_acl: `SELECT md5(string_agg(concat_ws('|', oid, defaclrole, defaclnamespace, defaclobjtype, defaclacl), ','
      ORDER BY oid)) FROM pg_default_acl`,
  pg_description: `SELECT md5(string_agg(concat_ws('|', objoid, classoid, objsubid, md5(description)), ','
      ORDER BY objoid, classoid, objsubid)) FROM pg_description`,
  pg_sequence: `SELECT md5(string_agg(concat_ws('|', seqrelid, seqstart, seqincrement, seqmax, seqmin, seqcycle), ','
      ORDER BY seqrelid)) FROM pg_sequence`,
  pg_tablespace: `SELECT md5(string_agg(concat_ws('|', oid, spcname, spcacl), ',' ORDER BY oid)) FROM pg_tablespace`,
  foreign: `SELECT md5(concat_ws('|', (SELECT string_agg(fdwname, ',' ORDER BY oid) FROM pg_foreign_data_wrapper),
      (SELECT string_agg(srvname, ',' ORDER BY oid) FROM pg_foreign_server),
      (SELECT string_agg(concat_ws(':', umuser, umserver), ',' ORDER BY oid) FROM pg_user_mapping)))`,
  publications: `SELECT md5(concat_ws('|', (SELECT string_agg(pubname, ',' ORDER BY oid) FROM pg_publication),
      (SELECT string_agg(subname, ',' ORDER BY oid) FROM pg_subscription)))`,
  pg_replication_slots: `SELECT md5(string_agg(concat_ws('|', slot_name, slot_type, plugin, database), ','
      ORDER BY slot_name)) FROM pg_replication_slots`,
  pg_prepared_xacts: `SELECT md5(string_agg(gid, ',' ORDER BY gid)) FROM pg_prepared_xacts`,
};

const CATALOG_SQL = `SELECT ${Object.entries(CATALOG)
  .map(([name, query]) => `(${query}) AS ${name}`)
  .join(',\n')}`;

const DATA_SQL = `SELECT
  (SELECT json_agg(c ORDER BY id) FROM canary c) AS canary,
  (SELECT count(*)::int FROM scratch) AS scratch,
  (SELECT json_agg(m ORDER BY id) FROM canary_mv m) AS canary_mv,
  (SELECT concat_ws('|', last_value, is_called) FROM canary_seq) AS canary_seq,
  (SELECT md5(string_agg(concat_ws('|', loid, pageno, md5(data)), ',' ORDER BY loid, pageno)) FROM pg_largeobject)
    AS large_objects`;

const FILES_SQL = `SELECT
  (SELECT string_agg(f, ',' ORDER BY f) FROM pg_ls_dir('.') AS f) AS data_directory,
  md5(pg_read_file('postgresql.auto.conf')) AS auto_conf`;

/** The WAL segment being written: compared just before and after each attempt (a switch moves it). */
const WAL_SQL = 'SELECT pg_walfile_name(pg_current_wal_lsn()) AS segment';

/** What one session looks like from the inside; checked on the shared connections after each attempt. */
const SESSION_SQL = `SELECT current_user AS cu, session_user AS su, current_setting('role') AS role,
  current_setting('search_path') AS search_path, current_setting('standard_conforming_strings') AS scs,
  current_setting('session_replication_role') AS srr, current_setting('client_encoding') AS client_encoding,
  current_setting('log_statement') AS log_statement, current_setting('transaction_read_only') AS tro,
  now() = statement_timestamp() AS outside_block`;

interface Snapshot {
  data: Record<string, unknown>;
  catalog: Record<string, unknown>;
  files: Record<string, unknown>;
}

interface Guard {
  preset: Preset;
  tunnel: PostgresTunnel;
  engine: PolicyEngine;
  endpoint: TunnelEndpoint;
  closeSide(): void;
  shared?: pg.Client;
  sharedSession?: Record<string, unknown>;
  js?: postgres.Sql;
  /** What the startup checks give on a plain connection, by check expression. */
  plainChecks: Map<string, string | null>;
}

let server: TestPostgres;
let direct: pg.Client;
let bystander: pg.Client;
let bystanderPid = 0;
let baseline: Snapshot;
let baselineRoles: string[] = [];
let baselineDatabases: string[] = [];
const guards = new Map<Preset, Guard>();

async function connectDirect(applicationName?: string): Promise<pg.Client> {
  const client = new pg.Client({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database: server.database,
    ...(applicationName ? { application_name: applicationName } : {}),
  });
  client.on('error', () => {});
  await client.connect();
  return client;
}

async function connectBystander(): Promise<void> {
  bystander = await connectDirect('evasion-bystander');
  bystanderPid = (await bystander.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
}

async function ensureEvasionDb(): Promise<void> {
  const { rowCount } = await direct.query("SELECT 1 FROM pg_database WHERE datname = 'evasion_db'");
  if (!rowCount) await direct.query('CREATE DATABASE evasion_db');
}

async function snapshot(): Promise<Snapshot> {
  const data = await direct.query(DATA_SQL).then(
    (r) => r.rows[0] as Record<string, unknown>,
    (error: Error) => ({ error: error.message }),
  );
  const catalog = (await direct.query(CATALOG_SQL)).rows[0] as Record<string, unknown>;
  const files = (await direct.query(FILES_SQL)).rows[0] as Record<string, unknown>;
  return { data, catalog, files };
}

function markers(): string[] {
  const prefix = path.basename(MARKER);
  return readdirSync(path.dirname(MARKER)).filter((name) => name.startsWith(prefix));
}

async function walSegment(): Promise<string> {
  return (await direct.query(WAL_SQL)).rows[0].segment;
}

/** Everything that differs from the baseline (and the WAL segment from before the attempt), in words. */
async function inspect(walBefore: string): Promise<string[]> {
  const damage: string[] = [];
  const walAfter = await walSegment();
  if (walAfter !== walBefore) damage.push(`the server switched WAL segments: ${walBefore} → ${walAfter}`);
  const now = await snapshot();
  if ('error' in now.data) {
    damage.push(`the canary data cannot be read: ${String(now.data.error)}`);
  } else if (JSON.stringify(now.data.canary) !== JSON.stringify(EXPECTED_CANARY)) {
    damage.push(`canary rows are now ${JSON.stringify(now.data.canary ?? [])}`);
  }
  const parts =
    'error' in now.data ? (['catalog', 'files'] as const) : (['data', 'catalog', 'files'] as const);
  for (const part of parts) {
    for (const [key, value] of Object.entries({ ...baseline[part], ...now[part] })) {
      if (part === 'data' && key === 'canary') continue;
      if (JSON.stringify(value) !== JSON.stringify(baseline[part][key])) {
        const was = JSON.stringify(baseline[part][key]);
        damage.push(
          `${part} ${key} changed${part === 'catalog' ? '' : `: was ${was}, now ${JSON.stringify(value)}`}`,
        );
      }
    }
  }
  const found = markers();
  if (found.length > 0) damage.push(`the server created ${found.map((f) => `/tmp/${f}`).join(', ')}`);
  try {
    await withTimeout(bystander.query('SELECT 1'), 30_000, 'bystander query');
  } catch (error) {
    damage.push(`the bystander session was hurt: ${(error as Error).message}`);
  }
  return damage;
}

/** Best-effort repair after damage, then a new baseline so later attempts are judged on their own. */
async function repair(): Promise<void> {
  await direct.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE backend_type = 'client backend' AND pid NOT IN (pg_backend_pid(), $1)`,
    [bystanderPid],
  );
  const statements = [
    'ALTER SYSTEM RESET ALL',
    'SELECT pg_reload_conf()',
    'ALTER DATABASE postgres RESET ALL',
    'ALTER DATABASE postgres CONNECTION LIMIT -1',
    'GRANT CONNECT ON DATABASE postgres TO PUBLIC',
    'ALTER ROLE ALL RESET ALL',
    'ALTER ROLE postgres RESET ALL',
    'ALTER ROLE postgres IN DATABASE postgres RESET ALL',
    `ALTER ROLE postgres PASSWORD '${server.password}'`,
    'ALTER DEFAULT PRIVILEGES REVOKE ALL ON TABLES FROM PUBLIC',
    'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots',
    `DO $$ DECLARE r record; BEGIN
       FOR r IN SELECT evtname FROM pg_event_trigger LOOP EXECUTE format('DROP EVENT TRIGGER %I', r.evtname); END LOOP;
       FOR r IN SELECT pubname FROM pg_publication LOOP EXECUTE format('DROP PUBLICATION %I', r.pubname); END LOOP;
       FOR r IN SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' LOOP
         EXECUTE format('DROP EXTENSION %I CASCADE', r.extname); END LOOP;
       FOR r IN SELECT fdwname FROM pg_foreign_data_wrapper LOOP
         EXECUTE format('DROP FOREIGN DATA WRAPPER %I CASCADE', r.fdwname); END LOOP;
     END $$`,
    'CREATE EXTENSION IF NOT EXISTS plpgsql',
    EVASION_SETUP,
  ];
  for (const statement of statements) await direct.query(statement).catch(() => {});
  const roles = (await direct.query('SELECT rolname FROM pg_roles')).rows.map((r) => r.rolname as string);
  for (const role of roles.filter((r) => !baselineRoles.includes(r))) {
    await direct.query(`DROP OWNED BY "${role}" CASCADE`).catch(() => {});
    await direct.query(`DROP ROLE "${role}"`).catch(() => {});
  }
  const databases = (await direct.query('SELECT datname FROM pg_database')).rows.map(
    (r) => r.datname as string,
  );
  for (const database of databases.filter((d) => !baselineDatabases.includes(d))) {
    await direct.query(`DROP DATABASE "${database}" WITH (FORCE)`).catch(() => {});
  }
  for (const tablespace of (
    await direct.query("SELECT spcname FROM pg_tablespace WHERE spcname NOT LIKE 'pg\\_%'")
  ).rows) {
    await direct.query(`DROP TABLESPACE "${tablespace.spcname}"`).catch(() => {});
  }
  await ensureEvasionDb();
  for (const name of markers())
    rmSync(path.join(path.dirname(MARKER), name), { recursive: true, force: true });
  try {
    await withTimeout(bystander.query('SELECT 1'), 30_000, 'bystander query');
  } catch {
    await bystander.end().catch(() => {});
    await connectBystander();
  }
  for (const guard of guards.values()) await openShared(guard);
  baseline = await snapshot();
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---- the tunnel side ---------------------------------------------------------------------------

async function openGuard(preset: Preset): Promise<Guard> {
  const upstream = parseUpstreamUrl(server.url({ sslmode: 'disable' }));
  const side = sharedSideConnection(upstream);
  const engine = new PolicyEngine(presetPolicy(preset), { sideConnection: side.get });
  const tunnel = new PostgresTunnel({ upstream, decisions: engine });
  const endpoint = await tunnel.listen();
  const guard: Guard = {
    preset,
    tunnel,
    engine,
    endpoint,
    closeSide: () => side.close(),
    plainChecks: new Map(),
  };
  await openShared(guard);
  return guard;
}

function tunnelClient(endpoint: TunnelEndpoint, extra: pg.ClientConfig = {}, url = endpoint.url): pg.Client {
  const client = new pg.Client({ connectionString: url, query_timeout: 20_000, ...extra });
  client.on('error', () => {});
  return client;
}

/** (Re)opens the shared connections of a tunnel and records how its session looks. */
async function openShared(guard: Guard): Promise<void> {
  await guard.shared?.end().catch(() => {});
  await guard.js?.end({ timeout: 1 }).catch(() => {});
  guard.shared = tunnelClient(guard.endpoint);
  await guard.shared.connect();
  guard.sharedSession = (await guard.shared.query(SESSION_SQL)).rows[0];
  guard.js = postgres(guard.endpoint.url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
}

// ---- running attempts --------------------------------------------------------------------------

type Outcome = { kind: 'ok' } | { kind: 'denied' | 'error'; code?: string; message: string };

function outcomeOf(error: unknown): Outcome {
  const e = error as { code?: string; message?: string; detail?: string };
  const message = e.message ?? String(error);
  // SQL the parser cannot read is refused unsent, answered as the server's syntax error would be.
  const denied =
    ((e.code === '42501' || e.code === '57014') && /^Portcullis denied/.test(message)) ||
    (e.code === '42601' && /^Portcullis did not send this statement/.test(e.detail ?? ''));
  return { kind: denied ? 'denied' : 'error', ...(e.code ? { code: e.code } : {}), message };
}

async function outcome(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    await run();
    return { kind: 'ok' };
  } catch (error) {
    return outcomeOf(error);
  }
}

function describeOutcome(o: Outcome): string {
  return o.kind === 'ok'
    ? 'success'
    : `${o.kind === 'denied' ? 'a denial' : 'an error'} ${o.code ?? ''}: ${o.message}`;
}

interface Result {
  denials: number;
  problems: string[];
}

function expectStep(step: Step, index: number, got: Outcome, result: Result): void {
  if (got.kind === 'denied') result.denials++;
  const label = `step ${index + 1} (${step.sql})`;
  if (step.expect === 'denied' && got.kind !== 'denied') {
    result.problems.push(`${label}: expected the tunnel to deny it, got ${describeOutcome(got)}`);
  }
  if (step.expect === 'ok' && got.kind !== 'ok') {
    result.problems.push(`${label}: expected success, got ${describeOutcome(got)}`);
  }
}

let statementCounter = 0;

async function runStep(client: pg.Client, step: Step): Promise<Outcome> {
  if (step.via === 'direct') return outcome(() => direct.query(step.sql));
  if (step.via === 'extended') {
    const values = step.values;
    return outcome(() =>
      client.query(
        values ? { text: step.sql, values } : { text: step.sql, name: `evasion_${++statementCounter}` },
      ),
    );
  }
  return outcome(() => client.query(step.sql));
}

async function runOnShared(guard: Guard, sql: string, result: Result): Promise<void> {
  const got = await outcome(() => guard.shared!.query(sql));
  expectStep({ sql, expect: 'denied' }, 0, got, result);
  let session: Record<string, unknown> | undefined;
  try {
    session = (await guard.shared!.query(SESSION_SQL)).rows[0];
  } catch (error) {
    result.problems.push(`the shared session no longer answers: ${(error as Error).message}`);
  }
  if (session && JSON.stringify(session) !== JSON.stringify(guard.sharedSession)) {
    result.problems.push(
      `the session changed: was ${JSON.stringify(guard.sharedSession)}, now ${JSON.stringify(session)}`,
    );
  }
  if (!session || result.problems.length > 0) await openShared(guard);
}

async function runFresh(guard: Guard, list: Step[], result: Result): Promise<void> {
  const client = tunnelClient(guard.endpoint);
  await client.connect();
  try {
    for (const [index, step] of list.entries()) expectStep(step, index, await runStep(client, step), result);
  } finally {
    await client.end().catch(() => {});
  }
}

async function runPostgresJs(guard: Guard, sql: string, result: Result): Promise<void> {
  const got = await outcome(async () => guard.js!.unsafe(sql));
  expectStep({ sql, expect: 'denied' }, 0, got, result);
}

function functionCall(oid: number, args: (string | null)[]): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(4 + 2 + 2 + 2);
  head.writeUInt32BE(oid, 0);
  head.writeInt16BE(1, 4); // one format code for all arguments
  head.writeInt16BE(0, 6); // text
  head.writeInt16BE(args.length, 8);
  parts.push(head);
  for (const arg of args) {
    const length = Buffer.alloc(4);
    if (arg === null) {
      length.writeInt32BE(-1, 0);
      parts.push(length);
    } else {
      const bytes = Buffer.from(arg, 'utf8');
      length.writeInt32BE(bytes.length, 0);
      parts.push(length, bytes);
    }
  }
  parts.push(Buffer.from([0, 0])); // text result
  const body = Buffer.concat(parts);
  const header = Buffer.from([0x46, 0, 0, 0, 0]);
  header.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

async function wireFrames(list: Wire[]): Promise<{ frames: Buffer[]; syncPoints: number }> {
  const frames: Buffer[] = [];
  let syncPoints = 0;
  for (const w of list) {
    if (w === 'sync') {
      frames.push(serialize.sync());
      syncPoints++;
    } else if (w === 'flush') {
      frames.push(serialize.flush());
    } else if ('parse' in w) {
      frames.push(serialize.parse({ name: w.name ?? '', text: w.parse, types: w.types ?? [] }));
    } else if ('bind' in w) {
      frames.push(
        serialize.bind({
          statement: w.bind.statement ?? '',
          portal: w.bind.portal ?? '',
          values: w.bind.values ?? [],
        }),
      );
    } else if ('execute' in w) {
      frames.push(serialize.execute({ portal: w.execute, rows: w.rows ?? 0 }));
    } else if ('describe' in w) {
      frames.push(serialize.describe({ type: w.describe, name: w.name ?? '' }));
    } else if ('close' in w) {
      frames.push(serialize.close({ type: w.close, name: w.name ?? '' }));
    } else if ('query' in w) {
      frames.push(serialize.query(w.query));
      syncPoints++;
    } else {
      const { rows } = await direct.query('SELECT $1::regprocedure::oid AS oid', [w.functionCall]);
      const args = w.args.map((a) => (a === '{bystander}' ? String(bystanderPid) : a));
      frames.push(functionCall(Number(rows[0].oid), args));
      syncPoints++;
    }
  }
  return { frames, syncPoints };
}

function isDenial(message: RawMessage): boolean {
  const code = errorField(message.bytes, 'C');
  return (code === '42501' || code === '57014') && /^Portcullis denied/.test(errorMessage(message.bytes));
}

async function runWire(guard: Guard, list: Wire[], result: Result): Promise<void> {
  const { endpoint } = guard;
  const raw = await RawClient.login(endpoint.port, endpoint.user, endpoint.password, endpoint.database);
  try {
    const { frames, syncPoints } = await wireFrames(list);
    raw.write(Buffer.concat(frames));
    const answers: RawMessage[] = [];
    try {
      for (let i = 0; i < syncPoints; i++)
        answers.push(...(await withTimeout(raw.until('Z'), 15_000, 'ReadyForQuery')));
    } catch (error) {
      result.problems.push(`the exchange did not finish: ${(error as Error).message}`);
    }
    const errors = answers.filter((m) => m.type === 'E');
    result.denials += errors.filter(isDenial).length;
    if (result.denials === 0) {
      const seen = errors.map((m) => `${errorField(m.bytes, 'C')}: ${errorMessage(m.bytes)}`);
      result.problems.push(
        `no denial among the answers (${answers.map((m) => m.type).join('')}${seen.length ? `; errors: ${seen.join(' | ')}` : ''})`,
      );
    }
  } finally {
    raw.end();
  }
}

/** A startup packet with exactly these parameters (pg-protocol's adds client_encoding=UTF8). */
function startupPacket(params: Record<string, string>): Buffer {
  const parts = [Buffer.alloc(4), Buffer.from([0, 3, 0, 0])];
  for (const [name, value] of Object.entries(params)) parts.push(Buffer.from(`${name}\0${value}\0`, 'utf8'));
  parts.push(Buffer.from([0]));
  const packet = Buffer.concat(parts);
  packet.writeInt32BE(packet.length, 0);
  return packet;
}

interface StartupConnection {
  query(sql: string): Promise<(string | null)[]>;
  run(sql: string): Promise<void>;
  close(): Promise<void>;
}

async function rawStartup(
  endpoint: TunnelEndpoint,
  params: Record<string, string>,
): Promise<StartupConnection> {
  const raw = await RawClient.open(endpoint.port);
  raw.write(startupPacket({ user: endpoint.user, database: endpoint.database, ...params }));
  const auth = async (code: number): Promise<string> => {
    const message = await withTimeout(raw.next(), 10_000, 'authentication');
    if (message.type === 'E') throw new Error(`refused: ${errorMessage(message.bytes)}`);
    if (message.type !== 'R' || message.bytes.readInt32BE(5) !== code)
      throw new Error(`unexpected ${message.type}`);
    return message.bytes.toString('utf8', 9);
  };
  try {
    await auth(10);
    const scram = new ScramClient(endpoint.password);
    raw.write(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', scram.clientFirst()));
    raw.write(serialize.sendSCRAMClientFinalMessage(scram.handleServerFirst(await auth(11))));
    scram.verifyServerFinal(await auth(12));
    const ready = await withTimeout(raw.until('Z'), 10_000, 'ReadyForQuery');
    const refusal = ready.find((m) => m.type === 'E');
    if (refusal) throw new Error(`refused: ${errorMessage(refusal.bytes)}`);
  } catch (error) {
    raw.end();
    throw error;
  }
  const exchange = async (sql: string): Promise<RawMessage[]> => {
    raw.write(serialize.query(sql));
    const answer = await withTimeout(raw.until('Z'), 15_000, 'ReadyForQuery');
    const error = answer.find((m) => m.type === 'E');
    if (error)
      throw Object.assign(new Error(errorMessage(error.bytes)), { code: errorField(error.bytes, 'C') });
    return answer;
  };
  return {
    async query(sql) {
      const row = (await exchange(sql)).find((m) => m.type === 'D');
      if (!row) throw new Error('no row');
      const values: (string | null)[] = [];
      let offset = 7;
      for (let i = 0; i < row.bytes.readInt16BE(5); i++) {
        const length = row.bytes.readInt32BE(offset);
        offset += 4;
        values.push(length < 0 ? null : row.bytes.toString('utf8', offset, offset + length));
        offset += Math.max(length, 0);
      }
      return values;
    },
    async run(sql) {
      await exchange(sql);
    },
    async close() {
      raw.end();
    },
  };
}

async function pgStartup(
  endpoint: TunnelEndpoint,
  params: Record<string, string>,
): Promise<StartupConnection> {
  const { options, ...rest } = params;
  const query = new URLSearchParams(rest).toString();
  const client = tunnelClient(
    endpoint,
    options ? { options } : {},
    query ? `${endpoint.url}&${query}` : endpoint.url,
  );
  await client.connect();
  return {
    async query(sql) {
      const { rows } = await client.query({ text: sql, rowMode: 'array' });
      return rows[0] as (string | null)[];
    },
    async run(sql) {
      await client.query(sql);
    },
    close: () => client.end(),
  };
}

const checksSql = (checks: string[]): string =>
  `SELECT ${checks.map((c, i) => `(${c})::text AS v${i}`).join(', ')}`;

async function plainValues(guard: Guard, checks: string[]): Promise<(string | null)[]> {
  const missing = checks.filter((c) => !guard.plainChecks.has(c));
  if (missing.length > 0) {
    const values = (await guard.shared!.query({ text: checksSql(missing), rowMode: 'array' })).rows[0] as (
      string | null
    )[];
    missing.forEach((c, i) => guard.plainChecks.set(c, values[i] ?? null));
  }
  return checks.map((c) => guard.plainChecks.get(c) ?? null);
}

async function runStartup(guard: Guard, attempt: StartupAttempt, result: Result): Promise<void> {
  const expected = await plainValues(guard, attempt.checks);
  let connection: StartupConnection;
  try {
    connection = await (attempt.client === 'pg' ? pgStartup : rawStartup)(guard.endpoint, attempt.params);
  } catch {
    result.denials++; // refused at startup
    return;
  }
  try {
    const got = await connection.query(checksSql(attempt.checks));
    const changed = attempt.checks.filter((_, i) => got[i] !== expected[i]);
    if (changed.length === 0) result.denials++;
    for (const check of changed) {
      const i = attempt.checks.indexOf(check);
      result.problems.push(
        `the startup parameters took effect: ${check} is ${JSON.stringify(got[i])}, on a plain connection ${JSON.stringify(expected[i])}`,
      );
    }
    if (attempt.probe) await connection.run(attempt.probe).catch(() => {});
  } catch (error) {
    result.problems.push(`the connection did not answer its checks: ${(error as Error).message}`);
  } finally {
    await connection.close().catch(() => {});
  }
}

async function perform(guard: Guard, attempt: Attempt): Promise<Result> {
  const result: Result = { denials: 0, problems: [] };
  if ('steps' in attempt) {
    try {
      await runFresh(guard, attempt.steps, result);
    } finally {
      if (attempt.cleanup) await direct.query(attempt.cleanup);
      // The next attempt must meet the catalog as the cleanup left it, not a copy up to a second old.
      for (const each of guards.values()) each.engine.forgetCatalog();
    }
  } else if ('wire' in attempt) {
    await runWire(guard, attempt.wire, result);
  } else if ('startup' in attempt) {
    await runStartup(guard, attempt.startup, result);
    return result;
  } else if (attempt.via === 'postgres.js') {
    await runPostgresJs(guard, attempt.sql, result);
  } else if (attempt.via === 'extended') {
    await runFresh(
      guard,
      [{ sql: attempt.sql, via: 'extended', values: attempt.values, expect: 'denied' }],
      result,
    );
  } else {
    await runOnShared(guard, attempt.sql, result);
  }
  if (result.denials === 0 && !result.problems.some((p) => p.startsWith('no denial'))) {
    result.problems.push('the tunnel denied nothing');
  }
  return result;
}

async function check(preset: Preset, attempt: Attempt): Promise<void> {
  const guard = guards.get(preset)!;
  const walBefore = await walSegment();
  const { problems } = await perform(guard, attempt);
  const damage = await inspect(walBefore);
  if (damage.length > 0) await repair();
  expect({ problems, damage }, `${preset}: ${attempt.name}`).toEqual({ problems: [], damage: [] });
}

beforeAll(async () => {
  await loadClassifier();
  // No autovacuum: nothing but the attempts (and the repairs) may touch the catalog or write WAL.
  server = await startPostgres({ settings: { autovacuum: 'off' } });
  direct = await connectDirect();
  await direct.query("SET lock_timeout = '10s'");
  await direct.query(EVASION_SETUP);
  await ensureEvasionDb();
  await connectBystander();
  baselineRoles = (await direct.query('SELECT rolname FROM pg_roles')).rows.map((r) => r.rolname as string);
  baselineDatabases = (await direct.query('SELECT datname FROM pg_database')).rows.map(
    (r) => r.datname as string,
  );
  for (const preset of ['guarded', 'read-only'] as const) guards.set(preset, await openGuard(preset));
  baseline = await snapshot();
  expect(baseline.data.canary).toEqual(EXPECTED_CANARY);
});

afterAll(async () => {
  for (const guard of guards.values()) {
    await guard.shared?.end().catch(() => {});
    await guard.js?.end({ timeout: 1 }).catch(() => {});
    await guard.tunnel.close();
    guard.closeSide();
  }
  await bystander?.end().catch(() => {});
  await direct?.end().catch(() => {});
  await server?.stop();
  for (const name of markers())
    rmSync(path.join(path.dirname(MARKER), name), { recursive: true, force: true });
});

describe('the evasion corpus', () => {
  it('holds at least 150 attempts, with distinct names, each expected to be denied', () => {
    expect(EVASION_CORPUS.length).toBeGreaterThanOrEqual(150);
    expect(new Set(EVASION_CORPUS.map((a) => a.name)).size).toBe(EVASION_CORPUS.length);
    expect(EVASION_CORPUS.every((a) => a.expect === 'denied')).toBe(true);
    expect(EVASION_CORPUS.filter((a) => a.readOnly).length).toBeGreaterThanOrEqual(40);
  });
});

describe('under the guarded preset, every attempt is denied and changes nothing', () => {
  for (const attempt of EVASION_CORPUS) {
    it(`${attempt.category}: ${attempt.name}`, () => check('guarded', attempt));
  }
});

describe('under the read-only preset, every attempt is denied and changes nothing', () => {
  for (const attempt of EVASION_CORPUS.filter((a) => a.readOnly)) {
    it(`${attempt.category}: ${attempt.name}`, () => check('read-only', attempt));
  }
});
