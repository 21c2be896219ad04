/**
 * The SQL classifier of the policy engine: what a SQL text would do if it reached the server, worked
 * out from PostgreSQL's own grammar (libpg-query) by walking the whole parse tree — every statement,
 * CTE, subquery, expression and function call, and the SQL bodies of functions it defines. Nothing
 * here matches patterns over the SQL text.
 *
 * It fails closed: a text that does not parse, or whose tree holds a node the walker does not know,
 * comes back with `failure` set (and the class `unknown`), and must be denied.
 *
 * Classes nest: `truncate`, `delete-without-where` and `update-without-where` always come with
 * `write`, and `drop` with `ddl`, so a rule about the general class also covers the specific one.
 *
 * Decisions (the rest are in statement-catalog.ts, settings-catalog.ts and function-catalog.ts):
 * - Row locks (SELECT ... FOR UPDATE/SHARE) and LOCK TABLE in any mode above ACCESS SHARE are
 *   `write`: PostgreSQL requires write privileges for them, refuses them in read-only transactions,
 *   and they block the application's writers.
 * - A plain EXPLAIN plans without running: it is `read`, plus the classes of the functions its
 *   statement calls (planning may evaluate them). EXPLAIN ANALYZE runs: the statement's classes.
 * - PREPARE is `session`; what it prepares is classified separately (`prepared`). EXECUTE of a name
 *   prepared earlier in the same text carries what was prepared; otherwise EXECUTE itself is
 *   `session` and its name is in `executes`, for the caller to judge what it runs (resolveExecutes()
 *   does that, and makes an unknown name `unknown`).
 * - A WHERE that refers to no column of the target (only constants, parameters, and columns
 *   qualified with another table's name, as in USING or a subquery) counts as no WHERE; an
 *   unqualified column gets the benefit of the doubt. So do `x = x`, `x LIKE '%'`,
 *   `x IS NULL OR x IS NOT NULL` and an OR with any such disjunct. MERGE deletes/updates every row
 *   when its join condition is like that, and WHEN NOT MATCHED BY SOURCE without a condition does.
 * - A failure always adds the class `unknown`, so a caller that only looks at classes still denies.
 * - Tables are relations (tables, views, sequences, ...) as written; `writes` holds the targets of
 *   DML and the relations DDL creates, alters or drops. CTE names are not tables.
 */
import { hasSqlDetails, loadModule, parseSync, type ParseResult } from 'libpg-query';
import './parser-compilation.ts';
import { RecentlyUsed } from './recently-used.ts';
import { StatementShapes, watchConstants, type ConstantWatch, type ShapeStats } from './statement-shapes.ts';
import type { RoutineCatalog } from './routine-catalog.ts';
import type { Classification, TableRef } from './classification.ts';
import { HANDLERS } from './statement-handlers.ts';
import { FrozenSet, INTERNALS, Walk } from './walker.ts';

export {
  STATEMENT_CLASSES,
  type Classification,
  type StatementClass,
  type TableRef,
} from './classification.ts';

export interface ClassifierOptions {
  /** How many distinct texts, and as many statement shapes, to remember (see RecentlyUsed). 0 disables both. Default 2048. */
  cacheSize?: number;
  /** Texts longer than this are classified but not cached. Default 65536 characters. */
  maxCachedLength?: number;
  /**
   * Functions and operators to treat as side-effect free in addition to PostgreSQL's built-ins, for
   * a deployment's extensions (e.g. PostGIS's st_* functions). `name` matches an unqualified call or
   * one qualified with pg_catalog; `schema.name` matches a call qualified with that schema.
   */
  safeFunctions?: Iterable<string>;
  /**
   * What the target database defines beyond the built-ins — functions, operators, casts and domains,
   * each judged by who made it — as readRoutineCatalog() reads it. A call, an operator or a cast is
   * then as safe as every overload the server could pick for it (see routine-catalog.ts). Without it,
   * built-in names are trusted to be the built-ins and every other name is `dynamic`.
   */
  routines?: RoutineCatalog;
}

export interface Classifier {
  classify(sql: string): Classification;
  /** How often texts were served by their shape (see statement-shapes.ts). */
  shapeStats(): ShapeStats;
}

let loading: Promise<void> | undefined;
let loaded = false;

/** Loads libpg-query's WASM parser; call (and await) once before classify(). Idempotent. */
export async function loadClassifier(): Promise<void> {
  loading ??= loadModule().then(
    () => {
      loaded = true;
    },
    (error: unknown) => {
      loading = undefined; // let a later call try again
      throw error;
    },
  );
  await loading;
}

export function createClassifier(options: ClassifierOptions = {}): Classifier {
  const cacheSize = Math.max(0, Math.floor(options.cacheSize ?? 2048));
  const maxCachedLength = options.maxCachedLength ?? 65_536;
  const unqualified = new Set<string>();
  const qualified = new Set<string>();
  for (const name of options.safeFunctions ?? []) {
    (name.includes('.') ? qualified : unqualified).add(name);
  }
  const walkerOptions = {
    parse: parseSync,
    handlers: HANDLERS,
    ...(options.routines === undefined ? {} : { routines: options.routines }),
    isExtraSafeFunction(schema: string | undefined, name: string): boolean {
      if (schema === undefined || schema === 'pg_catalog') return unqualified.has(name);
      return qualified.has(`${schema}.${name}`);
    },
  };
  const cache = new RecentlyUsed<string, Classification>(cacheSize);
  const shapes = new StatementShapes(cacheSize);

  /** By the text's shape where that is safe (see statement-shapes.ts), else by its own parse. */
  const classifyNew = (sql: string): Classification => {
    const shape = typeof sql === 'string' && sql.length <= maxCachedLength ? shapes.lookup(sql) : undefined;
    if (shape === undefined) return classifyText(sql, walkerOptions);
    if ('classification' in shape) return shape.classification;
    let watch: ConstantWatch | undefined;
    const classification = classifyText(sql, walkerOptions, (tree) => (watch = watchConstants(tree)));
    shapes.learn(shape.key, sql, classification, watch);
    return classification;
  };

  return {
    classify(sql: string): Classification {
      const cached = cache.get(sql);
      if (cached !== undefined) return cached;
      if (!loaded) throw new Error('call await loadClassifier() before classify()');
      const classification = classifyNew(sql);
      if (sql.length <= maxCachedLength) cache.set(sql, classification);
      return classification;
    },
    shapeStats: () => ({ ...shapes.stats }),
  };
}

const defaultClassifier = createClassifier();

/** Classifies a SQL text (one or more statements). Synchronous; call loadClassifier() first. */
export function classify(sql: string): Classification {
  return defaultClassifier.classify(sql);
}

function classifyText(
  sql: string,
  options: ConstructorParameters<typeof Walk>[1],
  /** Sees the parse tree before it is walked. */
  beforeWalk?: (tree: ParseResult) => void,
): Classification {
  const walk = new Walk(sql, options);
  if (typeof sql !== 'string') return failed(walk, 'could not parse: the SQL text is not a string');
  // The wire protocol ends a query at its first NUL byte, and so does the parser's C string: refuse
  // rather than guess which of the two views the server would act on.
  if (sql.includes('\u0000')) return failed(walk, 'could not parse: the SQL text contains a NUL character');
  if (sql.trim() === '') return walk.build([]);
  let tree;
  try {
    tree = parseSync(sql);
  } catch (error) {
    const classification = failed(
      walk,
      `could not parse: ${error instanceof Error ? error.message : String(error)}`,
    );
    const syntaxError = syntaxErrorOf(error);
    return syntaxError ? Object.freeze({ ...classification, syntaxError }) : classification;
  }
  beforeWalk?.(tree);
  try {
    return walk.run(tree);
  } catch (error) {
    // A stack overflow on an absurdly nested text, or anything else unforeseen: fail closed.
    return failed(walk, `could not classify: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The parser's message and position, as the server's ErrorResponse gives them (P is 1-based). */
function syntaxErrorOf(error: unknown): Classification['syntaxError'] {
  if (!hasSqlDetails(error)) return undefined;
  const { message, cursorPosition } = error.sqlDetails!;
  if (typeof cursorPosition !== 'number' || !message) return undefined;
  return { message, position: cursorPosition + 1 };
}

function failed(walk: Walk, message: string): Classification {
  walk.failure = message;
  return walk.build([]);
}

/**
 * Completes a classification whose text EXECUTEs statements prepared earlier in the session:
 * `lookup` returns what each name was prepared as (a `prepared` entry of an earlier text, or the
 * classification of an extended-protocol Parse of that name — both live in one namespace on the
 * server). Each EXECUTE statement then carries the classes, tables and reasons of what it runs. An
 * EXECUTE of a name `lookup` does not know gets the class `unknown` and stays in `executes`.
 * Returns the classification itself when there is nothing to resolve.
 */
export function resolveExecutes(
  classification: Classification,
  lookup: (name: string) => Classification | undefined,
): Classification {
  const internals = INTERNALS.get(classification);
  if (internals === undefined) return classification;
  const reasons = new Set(classification.reasons);
  const settings = [...classification.settings];
  const executes: string[] = [];
  let failure = classification.failure;
  const statements = classification.statements.map((statement, i) => {
    const unresolved = internals[i];
    if (unresolved === undefined || unresolved.length === 0) return statement;
    const classes = new Set(statement.classes);
    const tables = new TableSet(statement.tables);
    const writes = new TableSet(statement.writes);
    for (const name of unresolved) {
      const prepared = lookup(name);
      if (prepared === undefined) {
        classes.add('unknown');
        reasons.add(`EXECUTE ${name}: no statement of that name was prepared`);
        if (!executes.includes(name)) executes.push(name);
        continue;
      }
      for (const cls of prepared.classes) classes.add(cls);
      for (const reason of prepared.reasons) reasons.add(`EXECUTE ${name}: ${reason}`);
      tables.addAll(prepared.tables);
      for (const s of prepared.statements) writes.addAll(s.writes);
      settings.push(...prepared.settings);
      failure ??= prepared.failure;
    }
    return Object.freeze({
      classes: new FrozenSet(classes),
      tables: tables.values(),
      writes: writes.values(),
      text: statement.text,
    });
  });
  const classes = new Set(statements.flatMap((s) => [...s.classes]));
  const tables = new TableSet([]);
  for (const s of statements) tables.addAll(s.tables);
  if (failure !== undefined) {
    classes.add('unknown');
    reasons.add(failure);
  }
  return Object.freeze({
    classes: new FrozenSet(classes),
    statements: Object.freeze(statements),
    tables: tables.values(),
    reasons: Object.freeze([...reasons]),
    ...(failure === undefined ? {} : { failure }),
    prepared: classification.prepared,
    executes: Object.freeze(executes),
    settings: Object.freeze(settings),
    cursors: classification.cursors,
  });
}

/** Table references without duplicates, in first-seen order. */
class TableSet {
  private readonly refs = new Map<string, TableRef>();
  constructor(refs: readonly TableRef[]) {
    this.addAll(refs);
  }
  addAll(refs: readonly TableRef[]): void {
    for (const ref of refs) {
      const key = `${ref.schema ?? ''}\u0000${ref.name}`;
      if (!this.refs.has(key)) this.refs.set(key, ref);
    }
  }
  values(): readonly TableRef[] {
    return Object.freeze([...this.refs.values()]);
  }
}
