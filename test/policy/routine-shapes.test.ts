/**
 * The shape cache (statement-shapes.ts) must stay safe when calls, operators and casts are judged by
 * the target's catalog (routine-catalog.ts): overloads are picked by name, schema and argument count,
 * never by the type of a constant, so texts that differ only in their constants must be classified as
 * a full parse classifies them — with a user's overload, an extension's operator, a domain whose
 * CHECK runs a user's function, and an implicit cast through one.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createClassifier, loadClassifier, type Classification } from '../../tunnel/policy/classifier.ts';
import type { FunctionOverload, RoutineCatalog, Routine } from '../../tunnel/policy/routine-catalog.ts';

beforeAll(async () => {
  await loadClassifier();
});

const userFunction = (name: string, minArgs: number, maxArgs: number): FunctionOverload => ({
  schema: 'public',
  name,
  effects: ['dynamic'],
  origin: 'a user-defined function',
  minArgs,
  maxArgs,
});
const citextEq: Routine = { schema: 'public', name: 'citext_eq', effects: [], origin: 'of extension citext' };
const checker: Routine = {
  schema: 'public',
  name: 'is_valid',
  effects: ['dynamic'],
  origin: 'a user-defined function',
};

function catalog(implicitCasts: readonly string[]): RoutineCatalog {
  return {
    functions: new Map([
      ['lower', [userFunction('lower', 1, 1)]],
      ['score', [userFunction('score', 2, Infinity)]],
    ]),
    operators: new Map([
      ['=', [{ schema: 'public', name: '=', prefix: false, function: citextEq }]],
      ['~~', [{ schema: 'public', name: '~~', prefix: false, function: checker }]],
    ]),
    castTargets: new Map([['checked_text', checker]]),
    implicitCasts,
  };
}

function snapshot(c: Classification): unknown {
  return {
    classes: [...c.classes].sort(),
    reasons: [...c.reasons].sort(),
    statements: c.statements.map((s) => ({ classes: [...s.classes].sort(), tables: s.tables, text: s.text })),
    failure: c.failure,
  };
}

const VARIANTS: readonly (readonly string[])[] = [
  ["SELECT lower('ABC')", 'SELECT lower(1)', 'SELECT lower(1.5)', 'SELECT lower(NULL)'],
  ["SELECT score(1, 'a')", "SELECT score('a', 2, 3)", 'SELECT score(TRUE, FALSE)'],
  ["SELECT v FROM t WHERE id = 1 AND name = 'x'", "SELECT v FROM t WHERE id = 'x' AND name = 2"],
  [
    "SELECT v FROM t WHERE name LIKE 'a%'",
    "SELECT v FROM t WHERE name LIKE '%'",
    'SELECT v FROM t WHERE name LIKE 1',
  ],
  ["SELECT 'x'::checked_text", 'SELECT 1::checked_text', "SELECT 'x'::text"],
  ['SELECT pg_catalog.lower(1)', "SELECT pg_catalog.lower('a')"],
];

describe('shapes with a routine catalog', () => {
  for (const implicitCasts of [[], ['cast from int to checked_text runs public.is_valid']]) {
    it(`agree with a full parse (${implicitCasts.length} implicit casts)`, () => {
      const shaped = createClassifier({ routines: catalog(implicitCasts) });
      const reference = createClassifier({ routines: catalog(implicitCasts), cacheSize: 0 });
      for (const group of VARIANTS) {
        for (const sql of [...group, ...group]) {
          expect(snapshot(shaped.classify(sql)), sql).toEqual(snapshot(reference.classify(sql)));
        }
      }
      // The proof is worth something only if shapes were served, and the catalog was consulted.
      expect(shaped.shapeStats().hits).toBeGreaterThan(5);
      expect(shaped.classify("SELECT lower('a')").classes.has('dynamic')).toBe(true);
      expect(shaped.classify('SELECT pg_catalog.lower(2)').classes.has('dynamic')).toBe(
        implicitCasts.length > 0,
      );
    });
  }
});
