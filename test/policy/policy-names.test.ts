/**
 * A mask or table rule that names nothing is refused, not silently ignored: against a real database,
 * every table, column, extension and function a policy file names must exist, and the refusal names
 * the file, line and field with the closest name the database has. A table created after the tunnel
 * started is masked within a second.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { loadClassifier } from '../../tunnel/policy/classifier.ts';
import { PolicyEngine } from '../../tunnel/policy/engine.ts';
import type { QueryRunner } from '../../tunnel/policy/masking/catalog.ts';
import { checkPolicyCatalog, PolicyCatalogError } from '../../tunnel/policy/policy-catalog-check.ts';
import { loadPolicyFile } from '../../tunnel/policy/policy-file.ts';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { sharedSideConnection } from '../../tunnel/postgres/side-connection.ts';
import { PostgresTunnel } from '../../tunnel/postgres/tunnel.ts';
import { runCli } from '../support/guard-process.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { exitedWithOutput } from '../support/commands.ts';

const SETUP = `
CREATE EXTENSION citext;
CREATE SCHEMA sales;
CREATE TABLE customers (id int PRIMARY KEY, email text, card_number text, ssn text);
CREATE TABLE sales.orders (id int PRIMARY KEY, customer_id int, total numeric);
CREATE TABLE "Mixed" ("Email" text, plain text);
CREATE TABLE staff (id int PRIMARY KEY, name text);
INSERT INTO customers VALUES (1, 'ada@example.com', '4111111111111111', '123-45-6789');
INSERT INTO staff VALUES (1, 'grace');
CREATE SCHEMA app;
CREATE FUNCTION app.similarity_score(text) RETURNS int LANGUAGE sql AS 'SELECT 1';
`;

let server: TestPostgres;
let direct: pg.Client;
let dir: string;
const closers: (() => Promise<void>)[] = [];

function runner(): QueryRunner {
  return {
    async query(sql, parameters = []) {
      const result = await direct.query({
        text: sql,
        values: parameters,
        rowMode: 'array',
        types: { getTypeParser: () => (value: string) => value },
      });
      return result.rows as (string | null)[][];
    },
  };
}

function policyFile(name: string, yaml: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

/** The problems checkPolicyCatalog reports for a policy file, one line each. */
async function problems(yaml: string): Promise<string[]> {
  const file = policyFile('policy.yaml', yaml);
  try {
    await checkPolicyCatalog(loadPolicyFile(file), runner());
    return [];
  } catch (error) {
    if (!(error instanceof PolicyCatalogError)) throw error;
    return error.message
      .split('\n')
      .slice(1)
      .map((line) => line.trim().replace(`${file}:`, 'policy.yaml:'));
  }
}

beforeAll(async () => {
  await loadClassifier();
  dir = mkdtempSync(path.join(tmpdir(), 'portcullis-policy-names-'));
  server = await startPostgres();
  direct = await server.connect();
  await direct.query(SETUP);
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await direct?.end();
  await server?.stop();
});

describe('names a policy gives are checked against the database', () => {
  it('accepts a policy whose names all exist, however they are written', async () => {
    expect(
      await problems(`
extends: read-only
block: [{ class: read, table: sales.orders }, { class: read, table: '"Mixed"' }]
mask:
  - { column: customers.email, strategy: email }
  - { column: Public.Customers.Card_Number, strategy: partial, keep: 4 }
  - { column: '*.ssn', strategy: redact }
  - { column: 'sales.*.total', strategy: 'null' }
  - { column: '"Mixed"."Email"', strategy: email }
trusted_extensions: [citext]
trusted_functions: [app.similarity_score, similarity_score]
`),
    ).toEqual([]);
  });

  it('refuses a misspelled column, naming file:line:field and the closest column', async () => {
    expect(
      await problems(`
mask:
  - { column: customers.emial, strategy: email }
`),
    ).toEqual([
      'policy.yaml:3: mask[0].column: customers.emial: no such column; did you mean customers.email?',
    ]);
  });

  it('refuses a misspelled table, a wrong schema and a schema that does not exist', async () => {
    expect(
      await problems(`
mask:
  - { column: customer.email, strategy: email }
  - { column: public.orders.total, strategy: redact }
  - { column: slaes.orders.total, strategy: redact }
approve: [{ class: write, table: custmers }]
`),
    ).toEqual([
      'policy.yaml:3: mask[0].column: customer: no such table or view; did you mean customers?',
      'policy.yaml:4: mask[1].column: public.orders: no such table or view; did you mean sales.orders?',
      'policy.yaml:5: mask[2].column: slaes.orders: no such schema slaes; did you mean sales.orders?',
      'policy.yaml:6: approve[0].table: custmers: no such table or view; did you mean customers?',
    ]);
  });

  it('refuses a * rule that matches no column', async () => {
    expect(
      await problems(`
mask:
  - { column: '*.snn', strategy: redact }
  - { column: 'sales.*.email', strategy: redact }
`),
    ).toEqual([
      'policy.yaml:3: mask[0].column: *.snn: no table has a column snn; did you mean *.ssn?',
      'policy.yaml:4: mask[1].column: sales.*.email: no table in schema sales has a column email',
    ]);
  });

  it('folds unquoted names as PostgreSQL does and suggests the quoted spelling', async () => {
    expect(
      await problems(`
mask:
  - { column: Mixed.Email, strategy: email }
  - { column: '"Mixed".email', strategy: email }
`),
    ).toEqual([
      'policy.yaml:3: mask[0].column: mixed: no such table or view; did you mean "Mixed"?',
      'policy.yaml:4: mask[1].column: "Mixed".email: no such column; did you mean "Mixed"."Email"?',
    ]);
  });

  it('refuses trusted extensions that are not installed and trusted functions that do not exist', async () => {
    expect(
      await problems(`
trusted_extensions: [citex, hstore]
trusted_functions: [app.similarity_scor, nosuch]
`),
    ).toEqual([
      'policy.yaml:2: trusted_extensions[0]: citex: no such extension is installed; did you mean citext?',
      'policy.yaml:2: trusted_extensions[1]: hstore: no such extension is installed (it is available but not installed)',
      'policy.yaml:3: trusted_functions[0]: app.similarity_scor: no such function outside pg_catalog; did you mean app.similarity_score?',
      'policy.yaml:3: trusted_functions[1]: nosuch: no such function outside pg_catalog',
    ]);
  });
});

describe('portcullis guard', () => {
  it('does not start with a policy that names what the database lacks (exit 2, file:line:field)', async () => {
    const file = policyFile(
      'bad.yaml',
      'extends: guarded\nmask:\n  - { column: customers.emial, strategy: email }\n',
    );
    const child = runCli([
      'guard',
      'postgres',
      '--upstream',
      server.url({ sslmode: 'disable' }),
      '--policy',
      file,
    ]);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    expect(await exitedWithOutput(child)).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(
      `${file}:3: mask[0].column: customers.emial: no such column; did you mean customers.email?`,
    );
  });
});

describe('relations created or changed after the tunnel started', () => {
  it('are masked within a second', async () => {
    const file = policyFile(
      'later.yaml',
      "extends: read-only\nmask:\n  - { column: '*.ssn', strategy: redact }\n",
    );
    const upstream = parseUpstreamUrl(server.url({ sslmode: 'disable' }));
    const side = sharedSideConnection(upstream);
    const engine = new PolicyEngine(loadPolicyFile(file), { sideConnection: side.get });
    const tunnel = new PostgresTunnel({ upstream, decisions: engine });
    closers.push(() => tunnel.close().then(() => side.close()));
    const endpoint = await tunnel.listen();
    const client = new pg.Client({ connectionString: endpoint.url });
    client.on('error', () => {});
    await client.connect();
    closers.push(() => client.end());

    expect((await client.query('SELECT ssn FROM customers')).rows).toEqual([{ ssn: '[redacted]' }]);
    // A table this session has already read gains the column the rule names.
    expect((await client.query('SELECT * FROM staff')).rows).toEqual([{ id: 1, name: 'grace' }]);
    await direct.query("ALTER TABLE staff ADD COLUMN ssn text; UPDATE staff SET ssn = '987-65-4321'");
    // A table created after the tunnel started.
    await direct.query(
      "CREATE TABLE contractors (id int, ssn text); INSERT INTO contractors VALUES (1, '555-44-3333')",
    );
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await client.query('SELECT * FROM staff')).rows).toEqual([
      { id: 1, name: 'grace', ssn: '[redacted]' },
    ]);
    expect((await client.query('SELECT ssn FROM contractors')).rows).toEqual([{ ssn: '[redacted]' }]);
    // The extended protocol, which describes on the side connection.
    expect((await client.query({ text: 'SELECT ssn FROM staff WHERE id = $1', values: [1] })).rows).toEqual([
      { ssn: '[redacted]' },
    ]);
  });
});
