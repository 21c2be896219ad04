/**
 * Large statements under `guarded`, through a real tunnel to a real server: they are classified in a
 * worker thread, so another session's queries go on while one is judged; they are judged exactly as on
 * the event loop (simple and extended protocol, reads, blocked DDL, syntax errors at the server's
 * position); and when the worker fails the statement is denied, never run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { largeInList } from '../../bench/statement-stall.ts';
import { loadClassifier } from '../../tunnel/policy/classifier.ts';
import type { Decision, DecisionPoint, StatementContext } from '../../tunnel/policy/decision-point.ts';
import { PolicyEngine } from '../../tunnel/policy/engine.ts';
import { OFF_THREAD_MIN_LENGTH, ParseWorkerPool } from '../../tunnel/policy/parse-worker-pool.ts';
import { presetPolicy } from '../../tunnel/policy/policy.ts';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { sharedSideConnection } from '../../tunnel/postgres/side-connection.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import { MemoryRecorder } from '../support/memory-recorder.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

const MISBEHAVING = new URL('../support/misbehaving-parse-worker.mjs', import.meta.url);

let server: TestPostgres;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  await loadClassifier();
  server = await startPostgres();
  const setup = await server.connect();
  await setup.query('CREATE TABLE marker (id int)');
  await setup.end();
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await server?.stop();
});

/** When each decision about a large statement began and settled, in performance.now() time. */
interface Judging {
  started: number;
  settled?: number;
}

/** Wraps a decision point so the test sees when large statements are being judged. */
function watching(decisions: DecisionPoint, judgings: Judging[]): DecisionPoint {
  return {
    openSession(info) {
      const inner = decisions.openSession(info);
      const decide = (context: StatementContext): Decision | Promise<Decision> => {
        const { route } = context;
        if (!('sql' in route) || route.sql.length < OFF_THREAD_MIN_LENGTH) return inner.decide(context);
        const judging: Judging = { started: performance.now() };
        judgings.push(judging);
        const decision = inner.decide(context);
        if (!(decision instanceof Promise)) {
          judging.settled = performance.now();
          return decision;
        }
        return decision.finally(() => (judging.settled = performance.now()));
      };
      return new Proxy(inner, {
        get(target, property) {
          if (property === 'decide') return decide;
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    },
  };
}

async function guarded(
  pool?: ParseWorkerPool,
): Promise<{ endpoint: TunnelEndpoint; judgings: Judging[]; recorder: MemoryRecorder }> {
  const upstream = parseUpstreamUrl(server.url({ sslmode: 'disable' }));
  const side = sharedSideConnection(upstream);
  const judgings: Judging[] = [];
  const recorder = new MemoryRecorder();
  const engine = new PolicyEngine(presetPolicy('guarded'), {
    sideConnection: side.get,
    ...(pool ? { parsePool: pool } : {}),
  });
  const tunnel = new PostgresTunnel({ upstream, recorder, decisions: watching(engine, judgings) });
  const endpoint = await tunnel.listen();
  closers.push(async () => {
    await tunnel.close();
    side.close();
    await pool?.close();
  });
  return { endpoint, judgings, recorder };
}

async function client(endpoint: TunnelEndpoint): Promise<pg.Client> {
  const connected = new pg.Client({ ...endpoint, database: server.database, ssl: false });
  connected.on('error', () => {}); // the tunnel's goodbye at the end
  await connected.connect();
  closers.push(() => connected.end());
  return connected;
}

async function failure(promise: Promise<unknown>): Promise<pg.DatabaseError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(pg.DatabaseError);
  return error as pg.DatabaseError;
}

describe('a large statement is judged off the event loop', () => {
  it("lets another session's SELECT 1 run to completion while a 1 MiB statement is being judged", async () => {
    const { endpoint, judgings } = await guarded();
    const [large, other] = [await client(endpoint), await client(endpoint)];
    const sql = largeInList(1024 * 1024 - 1024);
    const rounds: { sent: number; done: number }[] = [];
    let finished = false;
    const judged = (async () => {
      for (let i = 0; i < 2; i++) expect((await large.query(sql)).rows).toEqual([{ count: '0' }]);
    })().finally(() => (finished = true));
    while (!finished) {
      const sent = performance.now();
      await other.query('SELECT 1');
      rounds.push({ sent, done: performance.now() });
    }
    await judged;
    expect(judgings).toHaveLength(2);
    // On the event loop a judgement is one synchronous stretch: nothing sent after it began could
    // come back before it ended. Off it, the other session's queries go round meanwhile.
    const during = rounds.filter((r) => judgings.some((j) => r.sent > j.started && r.done < j.settled!));
    expect(during.length).toBeGreaterThan(0);
  });

  it('judges large statements as small ones are judged: reads run, DDL is blocked, syntax errors are the server’s', async () => {
    const { endpoint, recorder } = await guarded();
    const session = await client(endpoint);
    const read = largeInList(200 * 1024);
    expect((await session.query(read)).rows).toEqual([{ count: '0' }]);
    // Extended protocol: Parse carries the large text.
    expect((await session.query({ text: `${read} AND $1::int = 1`, values: [1] })).rows).toEqual([
      { count: '0' },
    ]);

    const blocked = await failure(session.query(`${read}; DROP TABLE marker`));
    expect(blocked.code).toBe('42501');
    expect(blocked.message).toMatch(/drop/);

    const broken = `${read} FRM marker`;
    const direct = await server.connect();
    const fromServer = await failure(direct.query(broken));
    await direct.end();
    const fromTunnel = await failure(session.query(broken));
    expect({ code: fromTunnel.code, message: fromTunnel.message, position: fromTunnel.position }).toEqual({
      code: fromServer.code,
      message: fromServer.message,
      position: fromServer.position,
    });
    const rules = recorder.ofType('statement').map((event) => event.rule);
    expect(rules.filter((rule) => rule === 'fail-closed')).toHaveLength(1);
  });
});

describe('a worker that fails', () => {
  it('denies the statement, which never reaches the server, and the session goes on', async () => {
    const { endpoint, recorder } = await guarded(new ParseWorkerPool({ entry: MISBEHAVING, size: 1 }));
    const session = await client(endpoint);
    const padding = ' '.repeat(OFF_THREAD_MIN_LENGTH);
    for (const [sql, reason] of [
      [`INSERT INTO marker VALUES (1) -- CRASH${padding}`, /could not survive/],
      [`INSERT INTO marker VALUES (2) -- EXIT${padding}`, /stopped/],
    ] as const) {
      const denied = await failure(session.query(sql));
      expect(denied.message).toMatch(/the statement could not be inspected/);
      expect(denied.message).toMatch(reason);
    }
    expect((await session.query('SELECT 1 AS still')).rows).toEqual([{ still: 1 }]);
    const direct = await server.connect();
    expect((await direct.query('SELECT count(*)::int AS n FROM marker')).rows).toEqual([{ n: 0 }]);
    await direct.end();
    const denials = recorder.ofType('statement').filter((event) => event.rule === 'fail-closed');
    expect(denials).toHaveLength(2);
  });
});
