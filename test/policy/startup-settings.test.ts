/**
 * Settings a tool asks for when it connects (`options`, search_path, custom settings, application_name …)
 * are applied when the policy allows the SET that would make them and refused with a FATAL that names
 * them and says why when it does not — never dropped in silence.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import postgres from 'postgres';
import { loadClassifier } from '../../tunnel/policy/classifier.ts';
import { PolicyEngine } from '../../tunnel/policy/engine.ts';
import { presetPolicy, type Preset } from '../../tunnel/policy/policy.ts';
import { judgeStartupSetting } from '../../tunnel/policy/startup-settings.ts';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { sharedSideConnection } from '../../tunnel/postgres/side-connection.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import { driverMissing, runScenario, type Driver } from '../support/drivers.ts';
import { MemoryRecorder } from '../support/memory-recorder.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

let server: TestPostgres;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  await loadClassifier();
  server = await startPostgres();
});

afterAll(async () => {
  for (const close of closers) await close();
  await server?.stop();
});

async function guard(preset: Preset): Promise<{ endpoint: TunnelEndpoint; recorder: MemoryRecorder }> {
  const upstream = parseUpstreamUrl(server.url({ sslmode: 'disable' }));
  const side = sharedSideConnection(upstream);
  const recorder = new MemoryRecorder();
  const tunnel = new PostgresTunnel({
    upstream,
    recorder,
    decisions: new PolicyEngine(presetPolicy(preset), { sideConnection: side.get }),
  });
  const endpoint = await tunnel.listen();
  closers.push(async () => {
    await tunnel.close();
    side.close();
  });
  return { endpoint, recorder };
}

const SHOW = `SELECT current_setting('statement_timeout') AS statement_timeout,
  current_setting('default_transaction_isolation') AS isolation,
  current_setting('application_name') AS app,
  current_setting('some.var', true) AS custom,
  current_setting('search_path') AS search_path,
  current_setting('DateStyle') AS datestyle`;

/** What a node-postgres client sees of its settings, or the error its connection fails with. */
async function settingsSeen(config: pg.ClientConfig): Promise<Record<string, unknown>> {
  const client = new pg.Client(config);
  try {
    await client.connect();
  } catch (error) {
    const e = error as pg.DatabaseError;
    return { error: { code: e.code, severity: e.severity, message: e.message, hint: e.hint } };
  }
  try {
    return (await client.query(SHOW)).rows[0] as Record<string, unknown>;
  } finally {
    await client.end();
  }
}

function through(endpoint: TunnelEndpoint, extra: pg.ClientConfig): pg.ClientConfig {
  return { connectionString: endpoint.url, ...extra };
}

const direct = (extra: pg.ClientConfig): pg.ClientConfig => ({ connectionString: server.url(), ...extra });

describe('settings every preset passes, as the server applies them', () => {
  const ASKED: [string, pg.ClientConfig][] = [
    ['options -c', { options: '-c statement_timeout=4321 -c default_transaction_isolation=serializable' }],
    ['options --name=value', { options: '--statement-timeout=1234 --application-name=dbeaver' }],
    ['escaped spaces in options', { options: '-c application_name=my\\ tool' }],
    ['a custom setting', { options: '-c some.var=tenant-42' }],
    ['application_name', { application_name: 'psql-like' }],
    ['an empty search_path (as pg_dump sets it)', { options: '-c search_path=' }],
    [
      'a parameter beating an option',
      { options: '-c application_name=from-options', application_name: 'param' },
    ],
  ];

  for (const preset of ['guarded', 'read-only', 'observe'] as Preset[]) {
    it.each(ASKED)(`${preset}: %s`, async (_what, asked) => {
      const { endpoint } = await guard(preset);
      const expected = await settingsSeen(direct(asked));
      expect(expected.error).toBeUndefined();
      expect(await settingsSeen(through(endpoint, asked))).toEqual(expected);
    });
  }

  it('postgres.js: connection parameters reach the server', async () => {
    const { endpoint } = await guard('guarded');
    const sql = postgres(endpoint.url, {
      max: 1,
      connection: { application_name: 'postgres-js', statement_timeout: 2500, 'some.var': 'x' } as Record<
        string,
        string | number
      >,
    });
    const [row] = await sql.unsafe(SHOW);
    expect(row).toMatchObject({ app: 'postgres-js', statement_timeout: '2500ms', custom: 'x' });
    await sql.end();
  });
});

describe('settings a blocking preset refuses, with a FATAL that names them and why', () => {
  it('refuses search_path under guarded, explaining how it would mislead the tunnel', async () => {
    const { endpoint, recorder } = await guard('guarded');
    const seen = await settingsSeen(through(endpoint, { options: '-c search_path=app,public' }));
    expect(seen.error).toMatchObject({
      code: '42501',
      severity: 'FATAL',
      message: expect.stringMatching(
        /^Portcullis refused the startup setting search_path=app,public \(rule: preset guarded: privilege\): .*unqualified name could reach a table or function other than the one it checked/,
      ),
    });
    expect(recorder.ofType('statement')).toContainEqual(
      expect.objectContaining({
        protocol: 'startup',
        sql: "SET search_path = 'app,public'",
        decision: 'deny',
        classes: ['privilege'],
      }),
    );
    expect(recorder.ofType('session.start')).toEqual([]);
  });

  it.each([
    [{ options: '-c session_replication_role=replica' }, /session_replication_role=replica .*triggers/],
    [{ options: '-c role=pg_read_server_files' }, /startup setting role=pg_read_server_files/],
    [{ options: '-c local_preload_libraries=evil' }, /loads code into the server/],
  ])('guarded refuses %j', async (asked, message) => {
    const { endpoint } = await guard('guarded');
    expect((await settingsSeen(through(endpoint, asked))).error).toMatchObject({ code: '42501', message });
  });

  it.each(['guarded', 'observe'] as Preset[])(
    '%s refuses what would desynchronise its parser: standard_conforming_strings off, client_encoding SJIS',
    async (preset) => {
      const { endpoint } = await guard(preset);
      for (const options of ['-c standard_conforming_strings=off', '-c client_encoding=SJIS']) {
        expect((await settingsSeen(through(endpoint, { options }))).error, options).toMatchObject({
          code: '42501',
          severity: 'FATAL',
        });
      }
    },
  );

  it('observe passes search_path and records that guarded would have refused it', async () => {
    const { endpoint, recorder } = await guard('observe');
    const seen = await settingsSeen(through(endpoint, { options: '-c search_path=app,public' }));
    expect(seen.search_path).toBe('app,public');
    const start = recorder.ofType('session.start')[0]!;
    expect(start.client.settings).toMatchObject({ search_path: 'app,public' });
    expect(recorder.ofType('statement')).toContainEqual(
      expect.objectContaining({ protocol: 'startup', decision: 'allow', wouldHave: 'deny' }),
    );
  });

  it('answers options the server could not read with 42601, as the server would', async () => {
    const { endpoint } = await guard('observe');
    for (const options of ['-c statement_timeout', 'stray-argument']) {
      const directly = (await settingsSeen(direct({ options }))).error as { code: string };
      const tunnelled = (await settingsSeen(through(endpoint, { options }))).error as { code: string };
      expect(tunnelled.code, options).toBe(directly.code);
    }
  });

  it("passes on the server's own refusal of a setting it does not know", async () => {
    const { endpoint } = await guard('observe');
    const directly = (await settingsSeen(direct({ options: '-c no_such_setting=1' })))
      .error as pg.DatabaseError;
    const tunnelled = (await settingsSeen(through(endpoint, { options: '-c no_such_setting=1' })))
      .error as pg.DatabaseError;
    // The tunnel says the refusal came from the upstream, and keeps the server's SQLSTATE and words.
    expect(tunnelled.code).toBe(directly.code);
    expect(tunnelled.message).toContain(directly.message);
  });
});

describe('judging one startup setting', () => {
  it('follows the rules of SET: session settings pass, privilege ones are refused or, under observe, noted', () => {
    const setting = (name: string, value: string) => ({ name, value });
    expect(judgeStartupSetting(presetPolicy('read-only'), setting('statement_timeout', '1s'))).toMatchObject({
      action: 'allow',
    });
    expect(judgeStartupSetting(presetPolicy('guarded'), setting('Search_Path', 'x'))).toMatchObject({
      action: 'deny',
      rule: 'preset guarded: privilege',
    });
    expect(judgeStartupSetting(presetPolicy('guarded'), setting('search_path', 'pg_catalog'))).toMatchObject({
      action: 'allow',
    });
    expect(judgeStartupSetting(presetPolicy('observe'), setting('search_path', 'x'))).toMatchObject({
      action: 'allow',
      wouldHave: 'deny',
    });
  });
});

describe.each(['psycopg', 'pgjdbc'] as Driver[])('%s', (driver) => {
  const reason = driverMissing(driver);
  if (reason) console.warn(`skipping ${driver} startup-settings tests: ${reason}`);
  const target = (endpoint: TunnelEndpoint) => ({ ...endpoint, dbname: endpoint.database });

  it.skipIf(reason !== undefined)(
    'passes options (-c …, escaped spaces) and application_name under guarded',
    async () => {
      const { endpoint } = await guard('guarded');
      const result = await runScenario(driver, target(endpoint), 'connect-options');
      expect(result, result.detail).toMatchObject({ ok: true });
    },
  );

  it.skipIf(reason !== undefined)(
    'a schema given at connect (JDBC currentSchema, libpq options): refused under guarded, saying why; passed under observe',
    async () => {
      const refused = await runScenario(driver, target((await guard('guarded')).endpoint), 'current-schema');
      expect(refused.ok).toBe(false);
      // pgjdbc reports the SQLSTATE; libpq reports a failed connection with the server's FATAL text.
      expect(refused.detail).toMatch(/42501|FATAL/);
      expect(refused.detail).toMatch(/startup setting search_path=public/);
      const observed = await runScenario(driver, target((await guard('observe')).endpoint), 'current-schema');
      expect(observed, observed.detail).toMatchObject({ ok: true });
    },
  );
});
