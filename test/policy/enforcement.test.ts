import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import postgres from 'postgres';
import { loadClassifier } from '../../tunnel/policy/classifier.ts';
import { PolicyEngine } from '../../tunnel/policy/engine.ts';
import { parsePolicy } from '../../tunnel/policy/policy-file.ts';
import { presetPolicy, type Policy } from '../../tunnel/policy/policy.ts';
import type { Approver } from '../../tunnel/policy/approver.ts';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { sharedSideConnection } from '../../tunnel/postgres/side-connection.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import { MemoryApprover } from '../support/memory-approver.ts';
import { MemoryRecorder } from '../support/memory-recorder.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { errorField, errorMessage, RawClient } from '../support/raw-client.ts';

let server: TestPostgres;
let direct: pg.Client;

beforeAll(async () => {
  await loadClassifier();
  server = await startPostgres();
  direct = await server.connect();
  await direct.query(`CREATE TABLE canary (id int PRIMARY KEY, note text);
    INSERT INTO canary VALUES (1, 'alive');
    CREATE TABLE payments (id serial PRIMARY KEY, amount numeric);
    CREATE TABLE scratch (id int);`);
});

afterAll(async () => {
  await direct?.end();
  await server?.stop();
});

async function guarded(policy: Policy, approver?: Approver) {
  const upstream = parseUpstreamUrl(server.url({ sslmode: 'disable' }));
  const side = sharedSideConnection(upstream);
  const recorder = new MemoryRecorder();
  const tunnel = new PostgresTunnel({
    upstream,
    recorder,
    decisions: new PolicyEngine(policy, { approver, sideConnection: side.get }),
  });
  const endpoint = await tunnel.listen();
  return {
    tunnel,
    endpoint,
    recorder,
    async close() {
      await tunnel.close();
      side.close();
    },
  };
}

function client(endpoint: TunnelEndpoint): pg.Client {
  return new pg.Client({ connectionString: endpoint.url });
}

async function canaryIntact(): Promise<void> {
  const { rows } = await direct.query('SELECT id, note FROM canary ORDER BY id');
  expect(rows).toEqual([{ id: 1, note: 'alive' }]);
}

describe('the guarded preset', () => {
  it('allows reads and blocks a DROP with 42501 naming the rule, leaving the table in place', async () => {
    const g = await guarded(presetPolicy('guarded'));
    const c = client(g.endpoint);
    await c.connect();
    expect((await c.query('SELECT note FROM canary')).rows).toEqual([{ note: 'alive' }]);
    await expect(c.query('DROP TABLE canary')).rejects.toMatchObject({
      code: '42501',
      message: expect.stringMatching(/rule: preset guarded: drop/),
    });
    await canaryIntact();
    const denied = g.recorder.ofType('statement').find((s) => s.sql === 'DROP TABLE canary')!;
    expect(denied).toMatchObject({ decision: 'deny', classes: expect.arrayContaining(['drop']) });
    await c.end();
    await g.close();
  });

  it('denies a multi-statement query whole when any part is denied', async () => {
    const g = await guarded(presetPolicy('guarded'));
    const c = client(g.endpoint);
    await c.connect();
    await expect(c.query("UPDATE canary SET note = 'x'; SELECT 1; DROP TABLE canary")).rejects.toMatchObject({
      code: '42501',
    });
    await canaryIntact();
    await c.end();
    await g.close();
  });

  it('denies a write that needs approval at once when no approver is configured', async () => {
    const g = await guarded(presetPolicy('guarded'));
    const c = client(g.endpoint);
    await c.connect();
    await expect(c.query("UPDATE canary SET note = 'x' WHERE id = 1")).rejects.toThrow(
      /no approver is configured/,
    );
    await canaryIntact();
    await c.end();
    await g.close();
  });

  it('judges extended-protocol statements at Execute and discards the rest of the batch', async () => {
    const g = await guarded(presetPolicy('guarded'));
    const c = client(g.endpoint);
    await c.connect();
    await expect(c.query({ text: 'DELETE FROM canary WHERE id = $1', values: [1] })).rejects.toMatchObject({
      code: '42501',
    });
    expect((await c.query({ text: 'SELECT note FROM canary WHERE id = $1', values: [1] })).rows).toEqual([
      { note: 'alive' },
    ]);
    await canaryIntact();
    await c.end();
    await g.close();
  });

  it('aborts the transaction around a denied statement so COMMIT cannot keep earlier work', async () => {
    const policy = parsePolicy('extends: guarded\nallow: [{class: write, table: scratch}]\n', 'p.yaml');
    const g = await guarded(policy);
    const c = client(g.endpoint);
    await c.connect();
    await c.query('BEGIN');
    await c.query('INSERT INTO scratch VALUES (7)');
    await expect(c.query('TRUNCATE canary')).rejects.toMatchObject({ code: '42501' });
    await c.query('COMMIT');
    expect((await direct.query('SELECT count(*)::int AS n FROM scratch WHERE id = 7')).rows[0].n).toBe(0);
    await canaryIntact();
    await c.end();
    await g.close();
  });

  it('refuses FunctionCall messages', async () => {
    const g = await guarded(presetPolicy('guarded'));
    const raw = await RawClient.login(g.endpoint.port, g.endpoint.user, g.endpoint.password);
    // FunctionCall of pg_terminate_backend-like OID 2096 with one int4 argument.
    const body = Buffer.alloc(4 + 2 + 2 + 2 + 4 + 4 + 2);
    let o = 0;
    o = body.writeInt32BE(2096, o);
    o = body.writeInt16BE(1, o);
    o = body.writeInt16BE(1, o);
    o = body.writeInt16BE(1, o);
    o = body.writeInt32BE(4, o);
    o = body.writeInt32BE(process.pid, o);
    body.writeInt16BE(1, o);
    const header = Buffer.from([0x46, 0, 0, 0, 0]);
    header.writeUInt32BE(body.length + 4, 1);
    raw.write(Buffer.concat([header, body]));
    const answer = await raw.until('Z');
    expect(answer.map((m) => m.type).join('')).toBe('EZ');
    expect(errorField(answer[0]!.bytes, 'C')).toBe('42501');
    expect(errorMessage(answer[0]!.bytes)).toMatch(/FunctionCall/);
    raw.end();
    await g.close();
  });

  it('refuses every statement once the server reports standard_conforming_strings off', async () => {
    const g = await guarded(presetPolicy('guarded'));
    await direct.query('ALTER DATABASE postgres SET standard_conforming_strings = off');
    try {
      const c = client(g.endpoint);
      await c.connect();
      await expect(c.query('SELECT 1')).rejects.toThrow(/standard_conforming_strings/);
      await c.end();
    } finally {
      await direct.query('ALTER DATABASE postgres RESET standard_conforming_strings');
    }
    const c = client(g.endpoint);
    await c.connect();
    await expect(c.query('SET standard_conforming_strings = off')).rejects.toMatchObject({ code: '42501' });
    expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    await c.end();
    await g.close();
  });
});

describe('holding statements for approval', () => {
  const holdPolicy = (timeout = '5m') =>
    parsePolicy(
      `extends: guarded\napprove: [{class: write, table: payments}]\nhold_timeout: ${timeout}\n`,
      'p.yaml',
    );

  it('tells the client it waits, runs the statement once approved, and records who decided', async () => {
    const approver = new MemoryApprover();
    const g = await guarded(holdPolicy(), approver);
    const c = client(g.endpoint);
    await c.connect();
    const notices: string[] = [];
    c.on('notice', (n) => notices.push(n.message ?? ''));
    const insert = c.query('INSERT INTO payments (amount) VALUES (42) RETURNING amount');
    const request = await approver.nextRequest();
    expect(request.request.sql).toContain('INSERT INTO payments');
    request.decide({ approved: true, by: 'manager@example.com' });
    expect((await insert).rows).toEqual([{ amount: '42' }]);
    expect(notices).toEqual([`waiting for approval: request ${request.id}`]);
    expect(g.recorder.ofType('hold.resolved')).toEqual([
      expect.objectContaining({ request: request.id, outcome: 'approved', by: 'manager@example.com' }),
    ]);
    await c.end();
    await g.close();
  });

  it('denies the statement when the approver says no', async () => {
    const approver = new MemoryApprover();
    const g = await guarded(holdPolicy(), approver);
    const c = client(g.endpoint);
    await c.connect();
    const insert = c.query('INSERT INTO payments (amount) VALUES (13)');
    const request = await approver.nextRequest();
    request.decide({ approved: false, by: 'manager', comment: 'not today' });
    await expect(insert).rejects.toMatchObject({
      code: '42501',
      message: expect.stringMatching(/denied by manager: not today/),
    });
    expect((await direct.query('SELECT count(*)::int AS n FROM payments WHERE amount = 13')).rows[0].n).toBe(
      0,
    );
    await c.end();
    await g.close();
  });

  it('ends a hold as cancelled (57014) when the client cancels, and keeps later messages in order', async () => {
    const approver = new MemoryApprover();
    const g = await guarded(holdPolicy(), approver);
    const sql = postgres(g.endpoint.url, { max: 1, onnotice: () => {} });
    // postgres.js sends a query only once it is awaited or executed.
    const held = sql`INSERT INTO payments (amount) VALUES (99)`.execute();
    const after = sql`SELECT 'after' AS v`.execute();
    const request = await approver.nextRequest();
    await held.cancel();
    await expect(held).rejects.toMatchObject({ code: '57014' });
    expect([...(await after)]).toEqual([{ v: 'after' }]);
    expect(request.withdrawn).toBe('cancelled by the client');
    expect((await direct.query('SELECT count(*)::int AS n FROM payments WHERE amount = 99')).rows[0].n).toBe(
      0,
    );
    await sql.end();
    await g.close();
  });

  it('ends a hold as timed out (57014) when nobody decides in time', async () => {
    const approver = new MemoryApprover();
    const g = await guarded(holdPolicy('200ms'), approver);
    const c = client(g.endpoint);
    await c.connect();
    await expect(c.query('INSERT INTO payments (amount) VALUES (5)')).rejects.toMatchObject({
      code: '57014',
      message: expect.stringMatching(/not decided in time/),
    });
    await c.end();
    await g.close();
  });
});

describe('the observe preset', () => {
  it('lets everything through and records what guarded would have done', async () => {
    const g = await guarded(presetPolicy('observe'));
    const c = client(g.endpoint);
    await c.connect();
    await c.query('CREATE TABLE observed (id int)');
    await c.query('DROP TABLE observed');
    await c.query('INSERT INTO scratch VALUES (1)');
    const statements = g.recorder.ofType('statement');
    expect(statements.find((s) => s.sql === 'DROP TABLE observed')).toMatchObject({
      decision: 'allow',
      wouldHave: 'deny',
    });
    expect(statements.find((s) => s.sql.startsWith('INSERT'))).toMatchObject({
      decision: 'allow',
      wouldHave: 'hold',
    });
    await c.end();
    await g.close();
  });
});
