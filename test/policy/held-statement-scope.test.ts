/**
 * What a held statement touches, for the approver: the tables the engine hands the approver with the
 * hold, and the planner's estimate of the rows it writes — EXPLAIN without ANALYZE on the side
 * connection, which plans and runs nothing, and only for statements of plain reads and writes.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadClassifier } from '../../tunnel/policy/classifier.ts';
import { PolicyEngine } from '../../tunnel/policy/engine.ts';
import { estimateRows, plannedRows } from '../../tunnel/policy/held-statement-scope.ts';
import { parsePolicy } from '../../tunnel/policy/policy-file.ts';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { sharedSideConnection, type SideConnection } from '../../tunnel/postgres/side-connection.ts';
import { PostgresTunnel } from '../../tunnel/postgres/tunnel.ts';
import { MemoryApprover } from '../support/memory-approver.ts';
import { MemoryRecorder } from '../support/memory-recorder.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

let server: TestPostgres;
let direct: pg.Client;
let side: { get(): Promise<SideConnection>; close(): void };

beforeAll(async () => {
  await loadClassifier();
  server = await startPostgres();
  direct = await server.connect();
  await direct.query(`CREATE TABLE payments (id int PRIMARY KEY, status text NOT NULL);
    INSERT INTO payments SELECT g, 'paid' FROM generate_series(1, 1203) g;
    CREATE TABLE audit_log (id serial PRIMARY KEY, note text);
    ANALYZE payments;`);
  side = sharedSideConnection(parseUpstreamUrl(server.url({ sslmode: 'disable' })));
});

afterAll(async () => {
  side?.close();
  await direct?.end();
  await server?.stop();
});

const estimable = { tables: [], writes: [], estimable: true } as const;

describe('estimateRows', () => {
  it('plans an UPDATE without running it: the rows it would write, the table untouched', async () => {
    const rows = await estimateRows(await side.get(), `update payments set status = 'refunded'`, estimable);
    expect(rows).toBe(1203);
    const filtered = await estimateRows(
      await side.get(),
      `update payments set status = 'refunded' where id <= 100;`,
      estimable,
    );
    expect(filtered).toBeGreaterThan(50);
    expect(filtered).toBeLessThan(200);
    const { rows: still } = await direct.query(
      `select count(*)::int as n from payments where status = 'paid'`,
    );
    expect(still[0].n).toBe(1203);
  });

  it('plans with the Execute’s text parameters, and gives up on binary ones', async () => {
    const sql = 'delete from payments where id = $1';
    expect(await estimateRows(await side.get(), sql, { ...estimable, parameters: ['7'] })).toBe(1);
    expect(await estimateRows(await side.get(), sql, { ...estimable, parameters: 'binary' })).toBeNull();
    expect((await direct.query('select 1 from payments where id = 7')).rowCount).toBe(1);
  });

  it('does not plan what is not estimable, and answers null when the server refuses', async () => {
    const runner = { query: () => Promise.reject(new Error('must not be asked')) };
    expect(
      await estimateRows(runner, 'update payments set status = 1', { ...estimable, estimable: false }),
    ).toBe(null);
    expect(await estimateRows(await side.get(), 'update no_such_table set x = 1', estimable)).toBeNull();
  });

  it('answers null when the side connection is slower than the deadline', async () => {
    const slow = { query: () => new Promise<(string | null)[][]>(() => {}) };
    expect(await estimateRows(slow, 'select 1', estimable, 20)).toBeNull();
  });
});

describe('plannedRows', () => {
  it('reads a ModifyTable’s input rows, a read’s top node, and nothing from garbage', () => {
    const modify = JSON.stringify([
      {
        Plan: {
          'Node Type': 'ModifyTable',
          'Plan Rows': 0,
          Plans: [{ 'Node Type': 'Seq Scan', 'Plan Rows': 42 }],
        },
      },
    ]);
    expect(plannedRows(modify)).toBe(42);
    expect(plannedRows(JSON.stringify([{ Plan: { 'Node Type': 'Seq Scan', 'Plan Rows': 7 } }]))).toBe(7);
    expect(plannedRows('not json')).toBeNull();
    expect(plannedRows('[]')).toBeNull();
  });
});

describe('the engine hands the approver what a held statement touches', () => {
  async function holdOf(sql: string, values?: unknown[]) {
    const approver = new MemoryApprover();
    const policy = parsePolicy(
      `extends: guarded\napprove: [{ class: write, table: payments }, { class: update-without-where }]\n`,
      'test.yaml',
    );
    const upstream = parseUpstreamUrl(server.url({ sslmode: 'disable' }));
    const tunnel = new PostgresTunnel({
      upstream,
      recorder: new MemoryRecorder(),
      decisions: new PolicyEngine(policy, { approver, sideConnection: side.get }),
    });
    const endpoint = await tunnel.listen();
    const client = new pg.Client({ connectionString: endpoint.url });
    await client.connect();
    const running = client.query(sql, values).catch((error: Error) => error);
    const waiting = await approver.nextRequest();
    waiting.decide({ approved: false, comment: 'test' });
    await running;
    await client.end();
    await tunnel.close();
    return waiting.request;
  }

  it('names the tables and the written ones, and marks a single plain write estimable', async () => {
    const request = await holdOf(
      `update payments set status = 'refunded' where id in (select id from payments where status = 'paid') `,
    );
    expect(request.scope).toMatchObject({
      tables: [{ name: 'payments' }],
      writes: [{ name: 'payments' }],
      estimable: true,
    });
  });

  it('passes an Execute’s parameters along', async () => {
    const request = await holdOf('update payments set status = $1 where id = $2', ['refunded', 3]);
    expect(request.scope).toMatchObject({ estimable: true, parameters: ['refunded', '3'] });
  });

  it('does not mark two statements in one string estimable', async () => {
    const request = await holdOf(`update payments set status = 'a' where id = 1; select 1`);
    expect(request.scope?.estimable).toBe(false);
  });
});
