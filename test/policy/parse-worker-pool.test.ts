/**
 * The worker pool that classifies large statements off the event loop: it answers exactly what the
 * event loop's classifier answers (including what EXECUTE still has to resolve), and every way a worker
 * can fail — a crash, an exit, a hang, an error, a full queue — refuses the job, never allows it, and
 * leaves the pool able to serve the next one.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { largeInList } from '../../bench/statement-stall.ts';
import {
  classify,
  loadClassifier,
  resolveExecutes,
  type Classification,
} from '../../tunnel/policy/classifier.ts';
import { InspectionFailed, ParseWorkerPool } from '../../tunnel/policy/parse-worker-pool.ts';
import type { RoutineCatalog } from '../../tunnel/policy/routine-catalog.ts';

const MISBEHAVING = new URL('../support/misbehaving-parse-worker.mjs', import.meta.url);

let pools: ParseWorkerPool[] = [];

beforeAll(async () => {
  await loadClassifier();
});

afterEach(async () => {
  await Promise.all(pools.map((pool) => pool.close()));
  pools = [];
});

function pool(options: ConstructorParameters<typeof ParseWorkerPool>[0] = {}): ParseWorkerPool {
  const created = new ParseWorkerPool(options);
  pools.push(created);
  return created;
}

/** Everything a caller can see of a classification, as plain data. */
function seen(classification: Classification): unknown {
  return {
    classes: [...classification.classes].sort(),
    statements: classification.statements.map((s) => ({ ...s, classes: [...s.classes].sort() })),
    tables: classification.tables,
    reasons: classification.reasons,
    failure: classification.failure,
    syntaxError: classification.syntaxError,
    prepared: classification.prepared.map((p) => ({ name: p.name, classification: seen(p.classification) })),
    executes: classification.executes,
    settings: classification.settings,
    cursors: classification.cursors,
  };
}

async function rejection(promise: Promise<unknown>): Promise<InspectionFailed> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InspectionFailed);
  return error as InspectionFailed;
}

describe('classifying in a worker', () => {
  it('answers what the event loop answers, for every kind of text', async () => {
    const offThread = pool().classifierFor({});
    const texts = [
      largeInList(256 * 1024),
      `${largeInList(40_000)}; DROP TABLE accounts`,
      "PREPARE wipe AS DELETE FROM accounts; EXECUTE wipe; EXECUTE elsewhere; SET search_path = 'x'",
      'DECLARE c CURSOR FOR SELECT * FROM t; FETCH 10 FROM c; FETCH 1 FROM portal_1',
      "SELECT 'é' FROM WHERE x",
      `  \n  UPDATE accounts SET balance = 0; ${' '.repeat(40_000)} SELECT 1  `,
      '',
    ];
    for (const sql of texts) {
      const there = await offThread(sql);
      const here = classify(sql);
      expect(seen(there), sql.slice(0, 60)).toEqual(seen(here));
      expect(Object.isFrozen(there) && Object.isFrozen(there.statements)).toBe(true);
      expect(() => (there.classes as Set<string>).add('read')).toThrow(/read-only/);
    }
  });

  it('keeps what EXECUTE of a name prepared elsewhere still has to resolve', async () => {
    const sql = 'EXECUTE wipe; SELECT 1';
    const there = await pool().classifierFor({})(sql);
    const prepared = classify('DELETE FROM accounts');
    const resolved = resolveExecutes(there, (name) => (name === 'wipe' ? prepared : undefined));
    expect([...resolved.classes]).toEqual(expect.arrayContaining(['write', 'delete-without-where']));
    expect(resolved.executes).toEqual([]);
  });

  it("judges a call by the database's own definitions when the classifier is given them", async () => {
    const routines: RoutineCatalog = {
      functions: new Map([
        [
          'wipe_everything',
          [
            {
              schema: 'public',
              name: 'wipe_everything',
              effects: ['write'],
              origin: 'a user-defined function',
              minArgs: 0,
              maxArgs: Infinity,
            },
          ],
        ],
      ]),
      operators: new Map(),
      castTargets: new Map(),
      implicitCasts: [],
    };
    const workers = pool();
    const sql = 'SELECT wipe_everything()';
    const withRoutines = await workers.classifierFor({ routines })(sql);
    const builtinsOnly = await workers.classifierFor({})(sql);
    expect([...withRoutines.classes]).toContain('write');
    expect([...builtinsOnly.classes]).not.toContain('write');
  });
});

describe('a worker that fails', () => {
  for (const [word, reason] of [
    ['CRASH', /could not survive/],
    ['EXIT', /stopped \(exit code 3\)/],
    ['ERROR', /out of memory/],
  ] as const) {
    it(`refuses the statement when the worker ${word === 'ERROR' ? 'answers with an error' : word === 'EXIT' ? 'exits' : 'crashes'}, then serves the next`, async () => {
      const offThread = pool({ entry: MISBEHAVING, size: 1 }).classifierFor({});
      const failure = await rejection(offThread(`SELECT 1 -- ${word}`));
      expect(failure.message).toMatch(/^the statement could not be inspected: /);
      expect(failure.message).toMatch(reason);
      expect([...(await offThread('SELECT 1')).classes]).toEqual(['read']);
    });
  }

  it('stops a worker that hangs past the deadline and refuses its statement; the queue moves on', async () => {
    const offThread = pool({ entry: MISBEHAVING, size: 1, timeoutMs: 500 }).classifierFor({});
    const hanging = offThread('SELECT 1 -- HANG');
    const waiting = offThread('SELECT 2');
    expect((await rejection(hanging)).message).toMatch(/took longer than 0.5 s/);
    expect([...(await waiting).classes]).toEqual(['read']);
  });

  it('refuses with 53400 what does not fit in the queue, and the rest still runs', async () => {
    const offThread = pool({ entry: MISBEHAVING, size: 1, maxQueued: 2, timeoutMs: 1000 }).classifierFor({});
    const busy = offThread('SELECT 0 -- HANG');
    const queued = [offThread('SELECT 1'), offThread('SELECT 2')];
    const refused = await rejection(offThread('SELECT 3'));
    expect(refused.code).toBe('53400');
    expect(refused.message).toMatch(/2 large statements are already waiting/);
    await rejection(busy);
    for (const job of queued) expect([...(await job).classes]).toEqual(['read']);
  });

  it('refuses what is waiting when the pool closes', async () => {
    const workers = pool({ entry: MISBEHAVING, size: 1 });
    const offThread = workers.classifierFor({});
    const refusals = [offThread('SELECT 0 -- HANG'), offThread('SELECT 1')].map(rejection);
    await workers.close();
    for (const refusal of refusals) expect((await refusal).message).toMatch(/shutting down/);
    expect((await rejection(offThread('SELECT 2'))).message).toMatch(/shutting down/);
  });
});
