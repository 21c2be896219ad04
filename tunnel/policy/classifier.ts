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
 */
import { loadModule, parseSync } from 'libpg-query';
import { INTERNALS, Walk } from './walker.ts';

export type StatementClass =
  | 'read'
  | 'write'
  | 'ddl'
  | 'drop'
  | 'truncate'
  | 'delete-without-where'
  | 'update-without-where'
  | 'privilege'
  | 'server-access'
  | 'dynamic'
  | 'session'
  | 'unknown';

export const STATEMENT_CLASSES: readonly StatementClass[] = Object.freeze([
  'read',
  'write',
  'ddl',
  'drop',
  'truncate',
  'delete-without-where',
  'update-without-where',
  'privilege',
  'server-access',
  'dynamic',
  'session',
  'unknown',
] as const);

/** A relation, named as PostgreSQL folds identifiers (unquoted → lower case, quoted as written). */
export interface TableRef {
  schema?: string;
  name: string;
}

export interface Classification {
  /** Every class found anywhere in the text (all statements, CTEs, subqueries, function bodies we can see). */
  classes: ReadonlySet<StatementClass>;
  /** Per top-level statement, its classes and the tables it reads/writes, in order. */
  statements: readonly {
    classes: ReadonlySet<StatementClass>;
    tables: readonly TableRef[];
    writes: readonly TableRef[];
    text: string;
  }[];
  /** All tables referenced anywhere (FROM, JOIN, DML targets, COPY, LOCK, ...). */
  tables: readonly TableRef[];
  /** Why each non-read class was assigned, human readable, for error messages. */
  reasons: readonly string[];
  /** Set when classification failed closed. The statement must be denied with this message. */
  failure?: string;
  /** PREPARE name AS <stmt> in this text: the class of what was prepared, so a later EXECUTE name is judged by it. */
  prepared: readonly { name: string; classification: Classification }[];
  /** EXECUTE name(...) in this text whose PREPARE is not earlier in this text (see resolveExecutes). */
  executes: readonly string[];
  /** SET/RESET/set_config of GUC names (lower case) that take effect in this session. */
  settings: readonly { name: string; value?: string }[];
}

export interface ClassifierOptions {
  /** How many distinct texts to remember (LRU). 0 disables the cache. Default 2048. */
  cacheSize?: number;
  /** Texts longer than this are classified but not cached. Default 65536 characters. */
  maxCachedLength?: number;
  /**
   * Functions and operators to treat as side-effect free in addition to PostgreSQL's built-ins, for
   * a deployment's extensions (e.g. PostGIS's st_* functions). `name` matches an unqualified call or
   * one qualified with pg_catalog; `schema.name` matches a call qualified with that schema.
   */
  safeFunctions?: Iterable<string>;
}

export interface Classifier {
  classify(sql: string): Classification;
}

let loading: Promise<void> | undefined;
let loaded = false;

/** Loads libpg-query's WASM parser; call (and await) once before classify(). Idempotent. */
export async function loadClassifier(): Promise<void> {
  loading ??= loadModule().then(() => {
    loaded = true;
  });
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
    isExtraSafeFunction(schema: string | undefined, name: string): boolean {
      if (schema === undefined || schema === 'pg_catalog') return unqualified.has(name);
      return qualified.has(`${schema}.${name}`);
    },
  };
  const cache = new Map<string, Classification>();

  return {
    classify(sql: string): Classification {
      const cached = cache.get(sql);
      if (cached !== undefined) {
        // Refresh its place in the LRU order.
        cache.delete(sql);
        cache.set(sql, cached);
        return cached;
      }
      if (!loaded) throw new Error('call await loadClassifier() before classify()');
      const classification = classifyText(sql, walkerOptions);
      if (cacheSize > 0 && sql.length <= maxCachedLength) {
        if (cache.size >= cacheSize) {
          const oldest = cache.keys().next();
          if (oldest.done !== true) cache.delete(oldest.value);
        }
        cache.set(sql, classification);
      }
      return classification;
    },
  };
}

const defaultClassifier = createClassifier();

/** Classifies a SQL text (one or more statements). Synchronous; call loadClassifier() first. */
export function classify(sql: string): Classification {
  return defaultClassifier.classify(sql);
}

function classifyText(sql: string, options: ConstructorParameters<typeof Walk>[1]): Classification {
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
    return failed(walk, `could not parse: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return walk.run(tree);
  } catch (error) {
    // A stack overflow on an absurdly nested text, or anything else unforeseen: fail closed.
    return failed(walk, `could not classify: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function failed(walk: Walk, message: string): Classification {
  walk.failure = message;
  return walk.build([]);
}

/**
 * Completes a classification whose text EXECUTEs statements prepared earlier in the session:
 * `lookup` returns what each name was prepared as (a `prepared` entry of an earlier text, or the
 * classification of an extended-protocol Parse of that name). An EXECUTE of a name `lookup` does not
 * know keeps the class `unknown`. Returns the classification itself when there is nothing to resolve.
 */
export function resolveExecutes(
  classification: Classification,
  lookup: (name: string) => Classification | undefined,
): Classification {
  const internals = INTERNALS.get(classification);
  if (classification.executes.length === 0 || internals === undefined) return classification;
  const reasons = new Set(classification.reasons);
  const settings = [...classification.settings];
  const executes: string[] = [];
  let failure = classification.failure;
  const statements = classification.statements.map((statement, i) => {
    const unresolved = internals[i]?.unresolved ?? [];
    if (unresolved.length === 0) return statement;
    const classes = new Set(statement.classes);
    const tables = new Map(statement.tables.map((t) => [`${t.schema ?? ''}\u0000${t.name}`, t]));
    const writes = new Map(statement.writes.map((t) => [`${t.schema ?? ''}\u0000${t.name}`, t]));
    let allResolved = true;
    for (const name of unresolved) {
      const prepared = lookup(name);
      if (prepared === undefined) {
        allResolved = false;
        if (!executes.includes(name)) executes.push(name);
        continue;
      }
      reasons.delete(`EXECUTE ${name}: prepared outside this text`);
      for (const cls of prepared.classes) classes.add(cls);
      for (const reason of prepared.reasons) reasons.add(`EXECUTE ${name}: ${reason}`);
      for (const t of prepared.tables) tables.set(`${t.schema ?? ''}\u0000${t.name}`, t);
      for (const s of prepared.statements) {
        for (const t of s.writes) writes.set(`${t.schema ?? ''}\u0000${t.name}`, t);
      }
      settings.push(...prepared.settings);
      failure ??= prepared.failure;
    }
    if (
      allResolved &&
      internals[i]?.unknownOtherwise !== true &&
      !anyFailure(prepareds(unresolved, lookup))
    ) {
      classes.delete('unknown');
    }
    return { classes, tables: [...tables.values()], writes: [...writes.values()], text: statement.text };
  });
  const classes = new Set(statements.flatMap((s) => [...s.classes]));
  if (failure !== undefined) classes.add('unknown');
  const tables = new Map<string, { schema?: string; name: string }>();
  for (const s of statements) for (const t of s.tables) tables.set(`${t.schema ?? ''}\u0000${t.name}`, t);
  return Object.freeze({
    classes,
    statements,
    tables: [...tables.values()],
    reasons: [...reasons],
    ...(failure === undefined ? {} : { failure }),
    prepared: classification.prepared,
    executes,
    settings,
  });
}

function prepareds(
  names: readonly string[],
  lookup: (name: string) => Classification | undefined,
): Classification[] {
  return names.map(lookup).filter((c): c is Classification => c !== undefined);
}

function anyFailure(classifications: readonly Classification[]): boolean {
  return classifications.some((c) => c.failure !== undefined);
}
