/**
 * The classifier's shape cache (tunnel/policy/statement-shapes.ts) must give every text the
 * classification a full parse gives it. Proven differentially: every SQL text of the classifier's
 * corpora (benign, evasion, tool queries, and every string literal of the policy tests) and variations
 * of each with other literals — every kind of constant PostgreSQL's scanner finds in it replaced by
 * randomly chosen constants of every kind — are classified by a classifier that serves shapes, in an
 * order that lets earlier texts teach it shapes, and by one that parses every text; the two must agree
 * on everything a classification holds. The engine decides from the classification alone (and the
 * text itself), so equal classifications mean equal decisions.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { scanSync } from 'libpg-query';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createClassifier,
  loadClassifier,
  type Classification,
  type Classifier,
} from '../../tunnel/policy/classifier.ts';
import { BENIGN_CORPUS } from './corpus/benign.ts';
import { EVASION_CORPUS } from './corpus/evasion.ts';
import * as tools from './tool-queries.ts';

beforeAll(async () => {
  await loadClassifier();
});

/** Everything a classification says, in a form toEqual compares (sets sorted). */
function snapshot(c: Classification): unknown {
  return {
    classes: [...c.classes].sort(),
    statements: c.statements.map((s) => ({
      classes: [...s.classes].sort(),
      tables: s.tables,
      writes: s.writes,
      text: s.text,
    })),
    tables: c.tables,
    reasons: [...c.reasons].sort(),
    failure: c.failure,
    syntaxError: c.syntaxError,
    prepared: c.prepared.map((p) => ({ name: p.name, classification: snapshot(p.classification) })),
    executes: c.executes,
    settings: c.settings,
    cursors: c.cursors,
  };
}

/** Every string literal of a TypeScript file (test cases hold their SQL in them). */
function stringLiterals(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) found.push(node.text);
    else if (ts.isTemplateExpression(node)) found.push(node.head.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function corpusTexts(): string[] {
  const texts = new Set<string>();
  const add = (sql: string | undefined): void => {
    // psql's OIDs in the benign corpus are filled in by its test; any number stands for one here.
    if (sql !== undefined && sql.length < 20_000) texts.add(sql.replace(/\{(class|proc):[^}]+\}/g, '16384'));
  };
  for (const item of BENIGN_CORPUS) {
    if ('sql' in item) add(item.sql);
    else item.steps.forEach((step) => add(step.sql));
  }
  for (const attempt of EVASION_CORPUS) {
    const record = attempt as unknown as Record<string, unknown>;
    for (const step of (record.steps as { sql?: string }[] | undefined) ?? []) add(step.sql);
    for (const message of (record.wire as Record<string, unknown>[] | undefined) ?? []) {
      if (typeof message === 'object') {
        add(typeof message.query === 'string' ? message.query : undefined);
        add(typeof message.parse === 'string' ? message.parse : undefined);
      }
    }
  }
  for (const list of Object.values(tools)) if (Array.isArray(list)) list.forEach((sql) => add(String(sql)));
  const dir = path.resolve(import.meta.dirname);
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.test.ts') && name !== 'statement-shapes.test.ts') {
      stringLiterals(path.join(dir, name)).forEach(add);
    }
  }
  return [...texts];
}

/** Constants of every kind the scanner knows, as they are written in SQL. */
const LITERALS = [
  '0',
  '1',
  '42',
  '-7',
  '2147483647',
  '2147483648',
  '99999999999999999999',
  '007',
  '0x1F',
  '1_000',
  '1.5',
  '-2.5e3',
  '.5',
  "''",
  "'%'",
  "'%%'",
  "'x%'",
  "'a'",
  "'true'",
  "'off'",
  "'on'",
  "'0'",
  "'public'",
  "'pg_catalog.pg_read_file'",
  "'/etc/passwd'",
  "'select 1'",
  "'drop table canary'",
  "'it''s'",
  "E'a\\nb'",
  "E'\\x41'",
  "U&'\\0041'",
  "U&'\\zzzz'",
  "B'101'",
  "X'1F'",
  "N'abc'",
  'TRUE',
  'FALSE',
  'NULL',
] as const;

const CONSTANT_TOKENS = new Set(['ICONST', 'FCONST', 'SCONST', 'BCONST', 'XCONST', 'USCONST']);
const CONSTANT_KEYWORDS = new Set(['true', 'false', 'null']);

/** Where the scanner finds constants in `sql`: [start, end) in characters. */
function constantSpans(sql: string): [number, number][] {
  let tokens;
  try {
    tokens = scanSync(sql).tokens;
  } catch {
    return [];
  }
  // The scanner counts bytes; the texts here are mostly ASCII, and the others are left as they are.
  if (Buffer.byteLength(sql) !== sql.length) return [];
  return tokens
    .filter((t) => CONSTANT_TOKENS.has(t.tokenName) || CONSTANT_KEYWORDS.has(t.text.toLowerCase()))
    .map((t) => [t.start, t.end]);
}

function withLiterals(sql: string, spans: [number, number][], literals: readonly string[]): string {
  let out = '';
  let at = 0;
  spans.forEach(([start, end], i) => {
    out += sql.slice(at, start) + literals[i % literals.length]!;
    at = end;
  });
  return out + sql.slice(at);
}

function agree(shaped: Classifier, reference: Classifier, sql: string): void {
  expect(snapshot(shaped.classify(sql)), sql).toEqual(snapshot(reference.classify(sql)));
}

describe('classification by statement shape', () => {
  it('serves texts that differ only in their constants from one parse', () => {
    const shaped = createClassifier();
    for (let aid = 1; aid <= 1000; aid++) {
      const sql = `SELECT abalance FROM pgbench_accounts WHERE aid = ${aid * 7919};`;
      const c = shaped.classify(sql);
      expect([...c.classes]).toEqual(['read']);
      expect(c.statements[0]!.text).toBe(sql.slice(0, -1));
    }
    expect(shaped.shapeStats()).toMatchObject({ misses: 1, hits: 999 });
  });

  it('never serves a shape whose constants the classification depends on', () => {
    const pairs: [string, string][] = [
      ["DELETE FROM t WHERE name LIKE 'a%'", "DELETE FROM t WHERE name LIKE '%'"],
      ['UPDATE t SET a = 1 WHERE 1 = 2', 'UPDATE t SET a = 1 WHERE 1 = 1'],
      ["SET search_path = 'public'", "SET search_path = 'evil, public'"],
      ["SET default_transaction_read_only = 'on'", "SET default_transaction_read_only = 'off'"],
      ["SELECT set_config('application_name', 'x', false)", "SELECT set_config('role', 'x', false)"],
      ["DO 'begin null; end'", "DO 'begin perform pg_read_file(''/etc/passwd''); end'"],
      [
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'delete from canary returning 1'",
      ],
      ['EXPLAIN (ANALYZE false) DELETE FROM t', 'EXPLAIN (ANALYZE true) DELETE FROM t'],
      ["PREPARE p AS SELECT 'a'", "PREPARE p AS SELECT 'b'"],
      ["SELECT a FROM t WHERE b = U&'\\0041'", "SELECT a FROM t WHERE b = U&'\\zzzz'"],
      ["SELECT 'a'::regclass", "SELECT 'pg_authid'::regclass"],
    ];
    for (const [first, second] of pairs) {
      const shaped = createClassifier();
      const reference = createClassifier({ cacheSize: 0 });
      agree(shaped, reference, first);
      agree(shaped, reference, second);
      agree(shaped, reference, first);
    }
  });

  it('does not take parameter symbols or dollar quotes for constants', () => {
    const shaped = createClassifier();
    const reference = createClassifier({ cacheSize: 0 });
    for (const sql of ['SELECT 1, 2', 'SELECT $1, 2', 'SELECT $$x$$, 2', 'SELECT 3, 4'])
      agree(shaped, reference, sql);
    expect(shaped.shapeStats().hits).toBe(1);
  });

  it('gives every text of the corpora, and variations of its constants, the classification a full parse gives', () => {
    const texts = corpusTexts();
    expect(texts.length).toBeGreaterThan(1000);
    const shaped = createClassifier();
    const reference = createClassifier({ cacheSize: 0 });
    const literalLists = fc.sample(fc.array(fc.constantFrom(...LITERALS), { minLength: 1, maxLength: 6 }), {
      numRuns: texts.length * 6,
      seed: 15,
    });
    let variations = 0;
    texts.forEach((sql, i) => {
      agree(shaped, reference, sql);
      const spans = constantSpans(sql);
      if (spans.length === 0) return;
      for (let v = 0; v < 6; v++) {
        agree(shaped, reference, withLiterals(sql, spans, literalLists[i * 6 + v]!));
        variations++;
      }
      // The original again, now that its variations may have taught the cache their shapes.
      agree(shaped, reference, sql);
    });
    expect(variations).toBeGreaterThan(2000);
    // The proof is worth something only if shapes were served.
    expect(shaped.shapeStats().hits).toBeGreaterThan(500);
  });
});
