/**
 * The hub checks the policies it serves against each target's real database: a policy whose rules
 * name tables, columns, extensions or functions the database lacks is reported to admins (API and
 * log) and no session opens on its target until it is fixed; a target the hub cannot reach is
 * reported unchecked and left to the tunnel's own check. The hub finds the same names, at the same
 * lines, as the tunnel's policy parser.
 */
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { PolicyCheck } from '../../hub/api/types.ts';
import { parseHubConfig } from '../../hub/config/index.ts';
import { startDevIdp, type DevIdp } from '../../hub/dev-idp/index.ts';
import { startHub, type RunningHub } from '../../hub/server.ts';
import { policyReferences } from '../../hub/services/policy-references.ts';
import { policyNameRefs } from '../../tunnel/policy/policy-catalog-check.ts';
import { parsePolicy } from '../../tunnel/policy/policy-file.ts';
import { runCli } from '../support/guard-process.ts';
import { signIn } from '../support/hub-tokens.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

const ENV = { SHOP_PASSWORD: 'shop-secret' };

const GOOD = `extends: guarded
mask:
  - { column: customers.email, strategy: email }
  - { column: '*.ssn', strategy: redact }
trusted_extensions: [citext]
`;

const TYPO = `extends: guarded
mask:
  - { column: customers.emial, strategy: email }
`;

const WORSE = `extends: read-only
block: [{ class: read, table: secret }]
mask:
  - { column: customer.email, strategy: email }
  - { column: '*.snn', strategy: redact }
trusted_extensions: [citex]
trusted_functions: [app.scor]
`;

let dir: string;
let server: TestPostgres;
let shopUrl: string;
let idp: DevIdp;
let hub: RunningHub;
let configFile: string;
const tokens: Record<'engineer' | 'admin', string> = { engineer: '', admin: '' };

function hubYaml(issuer: string): string {
  const db = (policy: string, address = `127.0.0.1:${server.port}`) =>
    `kind: postgres, address: '${address}', database: shop, tls: { sslmode: disable },
      credentials: { user: shop, password_env: SHOP_PASSWORD }, policy: ${policy}, access: [engineering]`;
  return `identity: { issuer: '${issuer}', audience: portcullis-hub }
admins: [managers]
targets:
  - { id: good-db, ${db('good.yaml')} }
  - { id: typo-db, ${db('typo.yaml')} }
  - { id: worse-db, ${db('worse.yaml')} }
  - { id: preset-db, ${db('read-only')} }
  - { id: far-db, ${db('typo.yaml', '127.0.0.1:1')} }
`;
}

async function call(method: 'GET' | 'POST', route: string, token: string, body?: unknown): Promise<Response> {
  return fetch(`${hub.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'portcullis-policy-checks-'));
  server = await startPostgres();
  shopUrl = await server.createDatabase('shop');
  const shop = new pg.Client({ connectionString: shopUrl });
  await shop.connect();
  await shop.query(`CREATE EXTENSION citext;
    CREATE TABLE customers (id int PRIMARY KEY, email citext, ssn text);
    CREATE ROLE shop LOGIN PASSWORD '${ENV.SHOP_PASSWORD}'`);
  await shop.end();
  await writeFile(path.join(dir, 'good.yaml'), GOOD);
  await writeFile(path.join(dir, 'typo.yaml'), TYPO);
  await writeFile(path.join(dir, 'worse.yaml'), WORSE);
  idp = await startDevIdp({ audience: 'portcullis-hub' });
  tokens.engineer = (await signIn(idp, 'priya')).accessToken;
  tokens.admin = (await signIn(idp, 'elena')).accessToken;
  configFile = path.join(dir, 'hub.yaml');
  await writeFile(configFile, hubYaml(idp.issuer));
  hub = await startHub({
    config: parseHubConfig(hubYaml(idp.issuer), configFile),
    database: path.join(dir, 'hub.db'),
    env: ENV,
  });
}, 120_000);

afterAll(async () => {
  await hub?.close();
  await idp?.close();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('the hub checks the policies it serves', () => {
  it('reports to admins, per target, what each policy names that the database lacks', async () => {
    expect((await call('GET', '/v1/policy-checks', tokens.engineer)).status).toBe(403);
    const response = await call('GET', '/v1/policy-checks', tokens.admin);
    expect(response.status).toBe(200);
    const checks = Object.fromEntries(((await response.json()) as PolicyCheck[]).map((c) => [c.targetId, c]));
    expect(checks['good-db']).toMatchObject({ status: 'ok', policy: 'good.yaml', problems: [], error: null });
    expect(checks['preset-db']).toMatchObject({ status: 'ok', policy: 'read-only', problems: [] });
    expect(checks['typo-db']).toMatchObject({
      status: 'problems',
      problems: [
        {
          source: 'typo.yaml:3',
          field: 'mask[0].column',
          problem: 'customers.emial: no such column; did you mean customers.email?',
        },
      ],
    });
    expect(checks['worse-db']!.problems.map((p) => `${p.source}: ${p.field}: ${p.problem}`)).toEqual([
      'worse.yaml:4: mask[0].column: customer: no such table or view; did you mean customers?',
      'worse.yaml:5: mask[1].column: *.snn: no table has a column snn; did you mean *.ssn?',
      'worse.yaml:2: block[0].table: secret: no such table or view',
      'worse.yaml:6: trusted_extensions[0]: citex: no such extension is installed; did you mean citext?',
      'worse.yaml:7: trusted_functions[0]: app.scor: no such function outside pg_catalog',
    ]);
    expect(checks['far-db']).toMatchObject({ status: 'unchecked', problems: [], error: expect.any(String) });
  });

  it('opens no session on a target whose policy names what its database lacks, until it is fixed', async () => {
    const refused = await call('POST', '/v1/sessions', tokens.engineer, { targetId: 'typo-db' });
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { message: string }).message).toContain(
      'typo.yaml:3: mask[0].column: customers.emial: no such column; did you mean customers.email?',
    );
    expect((await call('POST', '/v1/sessions', tokens.engineer, { targetId: 'good-db' })).status).toBe(201);
    // The hub could not check far-db: the tunnel checks for itself when it opens.
    expect((await call('POST', '/v1/sessions', tokens.engineer, { targetId: 'far-db' })).status).toBe(201);

    // The database catches up with the policy (a migration renames the column): the admin re-checks.
    const shop = new pg.Client({ connectionString: shopUrl });
    await shop.connect();
    try {
      await shop.query('ALTER TABLE customers RENAME COLUMN email TO emial');
      const recheck = await call('POST', '/v1/policy-checks/typo-db', tokens.admin);
      expect(await recheck.json()).toMatchObject({ targetId: 'typo-db', status: 'ok', problems: [] });
      expect((await call('POST', '/v1/sessions', tokens.engineer, { targetId: 'typo-db' })).status).toBe(201);
    } finally {
      await shop.query('ALTER TABLE customers RENAME COLUMN emial TO email');
      await shop.end();
    }
    expect((await call('POST', '/v1/policy-checks/typo-db', tokens.engineer)).status).toBe(403);
    expect((await call('POST', '/v1/policy-checks/nope', tokens.admin)).status).toBe(404);
  });

  it('logs the problems when it starts', async () => {
    const child = runCli(['hub', '--config', configFile, '--database', path.join(dir, 'cli-hub.db')], {
      ...process.env,
      ...ENV,
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await once(createInterface({ input: child.stdout! }), 'line');
      const deadline = Date.now() + 20_000;
      while (!/typo-db/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const line = stderr.split('\n').find((l) => l.includes('"target":"typo-db"'));
      expect(line, stderr).toBeDefined();
      expect(JSON.parse(line!)).toMatchObject({
        msg: 'policy names what the target database does not have; sessions on it are refused',
        problems: [{ source: 'typo.yaml:3', field: 'mask[0].column' }],
      });
    } finally {
      child.kill('SIGINT');
      await once(child, 'exit');
    }
  });
});

describe('the hub and the tunnel read the same names from a policy file', () => {
  it.each([GOOD, TYPO, WORSE])('%s', (yaml) => {
    expect(policyReferences(yaml, 'p.yaml')).toEqual({
      refs: policyNameRefs(parsePolicy(yaml, 'p.yaml')),
      problems: [],
    });
  });
});
