/**
 * Walks libpg-query's JSON parse tree of a whole SQL text and works out its classification.
 *
 * Every object in the tree is placed: a wrapper `{ NodeType: {...} }` must name a node type this
 * module handles (a statement or expression with a handler, a statement in STATEMENT_RULES, or a
 * plain node in PLAIN_NODES), and a field that holds a node without its wrapper must be listed in
 * UNWRAPPED_FIELDS. Anything else — a node type from a newer grammar, an unexpected shape — stops
 * the walk and fails closed. Every field of every node is descended into, so a statement or call
 * cannot hide in a field the walker does not look at.
 */
import type { ParseResult } from 'libpg-query';
import type { Classification, StatementClass, TableRef } from './classification.ts';
import { PLAIN_NODES, UNWRAPPED_FIELDS } from './node-catalog.ts';
import type { RoutineCatalog } from './routine-catalog.ts';
import { WalkFailure, wrapperBody, wrapperType, type Json } from './parse-tree.ts';
import { settingClass, settingFailure } from './settings-catalog.ts';
import { DEFINITIONS, STATEMENT_RULES } from './statement-catalog.ts';

export interface WalkerOptions {
  /** Parses SQL (function bodies); throws on a syntax error. */
  parse(sql: string): ParseResult;
  /** Extra functions the deployment declares side-effect free (e.g. an extension's). */
  isExtraSafeFunction(schema: string | undefined, name: string): boolean;
  /** What the target database defines beyond the built-ins (see ClassifierOptions.routines). */
  routines?: RoutineCatalog;
  /** What to do for each node type that needs more than a walk of its fields (statement-handlers.ts). */
  handlers: ReadonlyMap<string, Handler>;
}

/** Judges one node of a type the generic walk cannot (a statement, a call, a relation, ...). */
export type Handler = (walk: Walk, body: Json, ctx: Context) => void;

export interface Context {
  /** CTE names in scope: an unqualified relation name among them is not a table. */
  readonly ctes: ReadonlySet<string> | undefined;
  /** Inside a plain EXPLAIN: planned, not run; only what planning itself may call counts. */
  readonly planOnly: boolean;
  /** False inside definitions of things that run later (function bodies, views, rules, ...). */
  readonly live: boolean;
}

export const TOP: Context = { ctes: undefined, planOnly: false, live: true };

interface StatementState {
  classes: Set<StatementClass>;
  reasons: Set<string>;
  tables: Map<string, TableRef>;
  writes: Map<string, TableRef>;
  /** EXECUTE names not prepared earlier in this text. */
  unresolved: string[];
}

/** Per statement, the EXECUTE names resolveExecutes() has to resolve (kept beside a Classification). */
export const INTERNALS = new WeakMap<Classification, readonly (readonly string[])[]>();

/** Nesting of function bodies parsed out of strings (a body defining a function with a body ...). */
const MAX_BODY_DEPTH = 8;

/** Anything outside 7-bit ASCII (offsets into such a text are UTF-8 byte offsets). */
const NON_ASCII = /[\u0080-\uffff]/;

/** Fields whose RangeVar is written (DML targets, and relations DDL creates or changes). */
const WRITE_TARGETS = new Set([
  'InsertStmt.relation',
  'UpdateStmt.relation',
  'DeleteStmt.relation',
  'MergeStmt.relation',
  'IntoClause.rel',
  'CreateStmt.relation',
  'AlterTableStmt.relation',
  'IndexStmt.relation',
  'RenameStmt.relation',
  'AlterObjectSchemaStmt.relation',
  'AlterOwnerStmt.relation',
  'CreateTrigStmt.relation',
  'RuleStmt.relation',
  'CreatePolicyStmt.table',
  'AlterPolicyStmt.table',
  'RefreshMatViewStmt.relation',
  'ViewStmt.view',
  'CreateSeqStmt.sequence',
  'AlterSeqStmt.sequence',
]);

/** System views that read the server's configuration files. */
const SERVER_FILE_VIEWS = new Set(['pg_file_settings', 'pg_hba_file_rules', 'pg_ident_file_mappings']);

/** The classification of one SQL text. */
export class Walk {
  private statement: StatementState = Walk.newStatement();
  private top: Json | undefined;
  /** The text of the top-level statement being walked. */
  private text = '';
  readonly settings: { name: string; value?: string }[] = [];
  readonly prepared: { name: string; classification: Classification }[] = [];
  private readonly preparedHere = new Map<string, Classification>();
  readonly executes: string[] = [];
  readonly cursors: string[] = [];
  failure: string | undefined;

  constructor(
    private readonly sql: string,
    private readonly options: WalkerOptions,
    private readonly bodyDepth = 0,
  ) {}

  private static newStatement(): StatementState {
    return {
      classes: new Set(),
      reasons: new Set(),
      tables: new Map(),
      writes: new Map(),
      unresolved: [],
    };
  }

  /** Classifies the parse tree of the whole text (one entry per top-level statement). */
  run(tree: ParseResult): Classification {
    const statements: (StatementState & { text: string })[] = [];
    const stmts = Array.isArray(tree.stmts) ? tree.stmts : [];
    for (const raw of stmts) {
      this.statement = Walk.newStatement();
      const rawJson = raw as unknown as Json;
      const wrapper = rawJson.stmt;
      this.text = this.statementText(rawJson);
      try {
        const type = wrapperType(wrapper);
        if (type === undefined || !this.isStatementType(type)) {
          throw new WalkFailure(`unexpected top-level node ${type ?? '(none)'}`);
        }
        this.top = wrapperBody(wrapper);
        this.visitWrapper(wrapper, TOP);
      } catch (error) {
        this.fail(error instanceof WalkFailure ? error.message : `could not classify: ${describe(error)}`);
      }
      // Every statement type carries a class; a statement without one was not understood.
      if (this.statement.classes.size === 0) this.fail('statement without a classification');
      this.implicitCasts();
      const statement = this.statement as StatementState & { text: string };
      statement.text = this.text;
      statements.push(statement);
    }
    return this.build(statements);
  }

  /**
   * An implicit cast whose function is not a read may run wherever a value of its source type meets
   * its target type, which the parse tree does not show: every statement that evaluates anything is
   * as dynamic as that function.
   */
  private implicitCasts(): void {
    const casts = this.options.routines?.implicitCasts ?? [];
    if (casts.length === 0 || [...this.statement.classes].every((c) => c === 'session')) return;
    for (const cast of casts) this.add('dynamic', cast, TOP, true);
  }

  // ---- the generic walk ------------------------------------------------------------------------

  visitWrapper(value: unknown, ctx: Context): void {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new WalkFailure('unexpected value in the parse tree');
    }
    let type: string | undefined;
    let count = 0;
    for (const key in value) {
      type = key;
      count++;
    }
    // {} is a NULL in a node list (e.g. the absent column definition list of a FROM function).
    if (count === 0) return;
    if (count !== 1 || type === undefined) throw new WalkFailure('unexpected object in the parse tree');
    this.visitTyped(type, (value as Json)[type], ctx);
  }

  visitTyped(type: string, body: unknown, ctx: Context): void {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new WalkFailure(`malformed ${type} node in the parse tree`);
    }
    // A constant holds a value and nothing else: nothing in it runs or names a relation. Its value is
    // read only where a rule needs it (statement-shapes.ts relies on that).
    if (type === 'A_Const') return;
    const json = body as Json;
    const handler = this.options.handlers.get(type);
    if (handler !== undefined) {
      handler(this, json, ctx);
      return;
    }
    const rule = STATEMENT_RULES.get(type);
    if (rule !== undefined) {
      for (const cls of rule.classes) this.add(cls, rule.reason, ctx);
      this.walkFields(type, json, DEFINITIONS.has(type) ? { ...ctx, live: false } : ctx);
      return;
    }
    if (PLAIN_NODES.has(type)) {
      this.walkFields(type, json, ctx);
      return;
    }
    throw new WalkFailure(`unsupported node type ${type}`);
  }

  /** Descends into every field of a node (except those in skip). */
  walkFields(type: string, body: Json, ctx: Context, skip?: ReadonlySet<string>): void {
    const unwrapped = UNWRAPPED_FIELDS.get(type);
    for (const key in body) {
      const value = body[key];
      if (typeof value !== 'object' || value === null) continue;
      if (skip !== undefined && skip.has(key)) continue;
      const childType = unwrapped?.get(key);
      if (childType === undefined) {
        this.visitValue(value, ctx);
      } else if (childType === 'RangeVar' && !Array.isArray(value)) {
        this.rangeVar(value as Json, ctx, WRITE_TARGETS.has(`${type}.${key}`));
      } else if (Array.isArray(value)) {
        for (const item of value) this.visitTyped(childType, item, ctx);
      } else {
        this.visitTyped(childType, value, ctx);
      }
    }
  }

  visitValue(value: unknown, ctx: Context): void {
    if (typeof value !== 'object' || value === null) return;
    if (Array.isArray(value)) {
      for (const item of value) this.visitValue(item, ctx);
    } else {
      this.visitWrapper(value, ctx);
    }
  }

  // ---- recording -------------------------------------------------------------------------------

  /**
   * Records a class. Statement-level classes (what a statement does when it runs) are dropped under
   * a plain EXPLAIN; classes of calls are kept there, since planning may evaluate functions.
   */
  add(cls: StatementClass, reason: string | undefined, ctx: Context, call = false): void {
    if (ctx.planOnly && !call) return;
    this.statement.classes.add(cls);
    if (reason !== undefined && cls !== 'read') this.statement.reasons.add(reason);
  }

  fail(message: string): void {
    this.failure ??= message;
    this.statement.classes.add('unknown');
    this.statement.reasons.add(message);
  }

  table(ref: TableRef, write: boolean, ctx: Context): void {
    const key = `${ref.schema ?? ''}\u0000${ref.name}`;
    if (!this.statement.tables.has(key)) this.statement.tables.set(key, ref);
    if (write && !ctx.planOnly && !this.statement.writes.has(key)) this.statement.writes.set(key, ref);
  }

  rangeVar(body: Json, ctx: Context, write: boolean): void {
    const name = body.relname;
    if (typeof name !== 'string') throw new WalkFailure('relation without a name');
    const schema = typeof body.schemaname === 'string' ? body.schemaname : undefined;
    if (schema === undefined && !write && ctx.ctes?.has(name)) return;
    this.table(schema === undefined ? { name } : { schema, name }, write, ctx);
    if ((schema === undefined || schema === 'pg_catalog') && SERVER_FILE_VIEWS.has(name)) {
      this.add('server-access', `read of ${name}`, ctx, true);
    }
  }

  /** Records a setting change (and refuses the ones that would desynchronise the parser). */
  setting(
    name: string,
    value: string | null | undefined,
    reason: string,
    ctx: Context,
    stored: boolean,
  ): void {
    const failure = settingFailure(name, value);
    if (failure !== undefined) this.fail(failure);
    const cls = settingClass(name, value);
    if (stored) {
      if (cls !== 'session') this.add(cls, `${reason} (stored for later sessions)`, ctx, true);
      return;
    }
    this.add(cls, reason, ctx, true);
    if (ctx.live && !ctx.planOnly) {
      this.settings.push(Object.freeze(typeof value === 'string' ? { name, value } : { name }));
    }
  }

  isTop(body: Json): boolean {
    return body === this.top;
  }

  // ---- nested texts ----------------------------------------------------------------------------

  /** Classifies SQL found in a string (a SQL function body) into the current statement. */
  walkBody(sql: string, ctx: Context, what: string): void {
    if (this.bodyDepth >= MAX_BODY_DEPTH) throw new WalkFailure(`${what} nested too deeply`);
    let tree: ParseResult;
    try {
      tree = this.options.parse(sql);
    } catch (error) {
      throw new WalkFailure(`could not parse ${what}: ${describe(error)}`);
    }
    const inner = new Walk(sql, this.options, this.bodyDepth + 1);
    const result = inner.run(tree);
    if (result.failure !== undefined) this.fail(result.failure);
    for (const cls of result.classes) this.add(cls, undefined, ctx, true);
    for (const reason of result.reasons) this.statement.reasons.add(`${what}: ${reason}`);
    for (const ref of result.tables) this.table(ref, false, ctx);
    for (const statement of result.statements) {
      for (const ref of statement.writes) this.table(ref, true, ctx);
    }
  }

  /** PREPARE name AS query: classified on its own, judged when executed. */
  prepare(name: string, query: unknown): void {
    // A second PREPARE of a name prepared earlier in this text fails on the server (and ends the
    // text): what stays prepared is the first, so the second must not replace it.
    if (this.preparedHere.has(name)) return;
    const inner = new Walk(this.sql, this.options, this.bodyDepth);
    inner.statement = Walk.newStatement();
    try {
      inner.top = wrapperBody(query);
      inner.visitWrapper(query, TOP);
    } catch (error) {
      inner.fail(error instanceof WalkFailure ? error.message : `could not classify: ${describe(error)}`);
    }
    const classification = inner.build([{ ...inner.statement, text: this.text }]);
    if (classification.failure !== undefined) this.fail(classification.failure);
    this.prepared.push(Object.freeze({ name, classification }));
    this.preparedHere.set(name, classification);
  }

  /** DEALLOCATE name (or ALL, name undefined): a later PREPARE of the name in this text takes. */
  deallocate(name: string | undefined): void {
    if (name === undefined) this.preparedHere.clear();
    else this.preparedHere.delete(name);
  }

  /**
   * EXECUTE name: resolved against a PREPARE earlier in this text, or left to the caller through
   * `executes` (EXECUTE itself is then `session`: what it runs is judged by what was prepared).
   */
  execute(name: string, ctx: Context): void {
    const prepared = this.preparedHere.get(name);
    if (prepared === undefined) {
      this.add('session', `EXECUTE ${name}`, ctx);
      this.statement.unresolved.push(name);
      if (!this.executes.includes(name)) this.executes.push(name);
      return;
    }
    if (prepared.failure !== undefined) this.fail(prepared.failure);
    for (const cls of prepared.classes) this.add(cls, undefined, ctx);
    for (const reason of prepared.reasons) this.statement.reasons.add(`EXECUTE ${name}: ${reason}`);
    for (const ref of prepared.tables) this.table(ref, false, ctx);
    for (const statement of prepared.statements) {
      for (const ref of statement.writes) this.table(ref, true, ctx);
    }
    for (const setting of prepared.settings) if (ctx.live) this.settings.push(setting);
  }

  // ---- results ---------------------------------------------------------------------------------

  /** The UTF-8 bytes of a non-ASCII text (libpg-query's offsets count bytes); null for ASCII. */
  private utf8: Buffer | null | undefined;

  private statementText(raw: Json): string {
    const location = typeof raw.stmt_location === 'number' ? raw.stmt_location : 0;
    const length = typeof raw.stmt_len === 'number' && raw.stmt_len > 0 ? raw.stmt_len : undefined;
    const end = length === undefined ? undefined : location + length;
    this.utf8 ??= NON_ASCII.test(this.sql) ? Buffer.from(this.sql, 'utf8') : null;
    const text =
      this.utf8 === null ? this.sql.slice(location, end) : this.utf8.toString('utf8', location, end);
    return text.trim();
  }

  build(statements: readonly (StatementState & { text: string })[]): Classification {
    const built = statements.map((statement) =>
      Object.freeze({
        classes: new FrozenSet(statement.classes),
        tables: frozenValues(statement.tables),
        writes: frozenValues(statement.writes),
        text: statement.text,
      }),
    );
    let classes: FrozenSet<StatementClass>;
    let tables: readonly TableRef[];
    let reasons: readonly string[];
    const only = statements.length === 1 ? statements[0] : undefined;
    if (
      only !== undefined &&
      built[0] !== undefined &&
      (this.failure === undefined || only.classes.has('unknown'))
    ) {
      // One statement (the usual case): the text's classes and tables are the statement's.
      classes = built[0].classes;
      tables = built[0].tables;
      const all = new Set(only.reasons);
      if (this.failure !== undefined) all.add(this.failure);
      reasons = frozenArray([...all]);
    } else {
      const classSet = new Set<StatementClass>();
      const reasonSet = new Set<string>();
      const tableMap = new Map<string, TableRef>();
      for (const statement of statements) {
        for (const cls of statement.classes) classSet.add(cls);
        for (const reason of statement.reasons) reasonSet.add(reason);
        for (const [key, ref] of statement.tables) if (!tableMap.has(key)) tableMap.set(key, ref);
      }
      if (this.failure !== undefined) {
        classSet.add('unknown');
        reasonSet.add(this.failure);
      }
      classes = new FrozenSet(classSet);
      tables = frozenValues(tableMap);
      reasons = frozenArray([...reasonSet]);
    }
    const classification: Classification = Object.freeze({
      classes,
      statements: frozenArray(built),
      tables,
      reasons,
      ...(this.failure === undefined ? {} : { failure: this.failure }),
      prepared: frozenArray(this.prepared),
      executes: frozenArray(this.executes),
      cursors: frozenArray(this.cursors),
      settings: frozenArray(this.settings),
    });
    if (statements.some((s) => s.unresolved.length > 0)) {
      INTERNALS.set(
        classification,
        statements.map((s) => s.unresolved),
      );
    }
    return classification;
  }

  // ---- accessors for handlers ------------------------------------------------------------------

  private isStatementType(type: string): boolean {
    return type.endsWith('Stmt') && (this.options.handlers.has(type) || STATEMENT_RULES.has(type));
  }

  get extraSafe(): WalkerOptions['isExtraSafeFunction'] {
    return this.options.isExtraSafeFunction;
  }

  get routines(): RoutineCatalog | undefined {
    return this.options.routines;
  }
}

/** A Set that refuses changes once built (classifications are cached and shared). */
export class FrozenSet<T> extends Set<T> {
  private readonly frozen: boolean;
  constructor(items?: Iterable<T>) {
    super(items);
    this.frozen = true;
  }
  override add(value: T): this {
    if (this.frozen) throw new TypeError('a classification is read-only');
    return super.add(value);
  }
  override delete(): boolean {
    throw new TypeError('a classification is read-only');
  }
  override clear(): void {
    throw new TypeError('a classification is read-only');
  }
}

// ---- helpers ------------------------------------------------------------------------------------

const EMPTY: readonly never[] = Object.freeze([]);

function frozenArray<T>(items: readonly T[]): readonly T[] {
  return items.length === 0 ? EMPTY : Object.freeze([...items]);
}

function frozenValues<T>(map: ReadonlyMap<string, T>): readonly T[] {
  return map.size === 0 ? EMPTY : Object.freeze([...map.values()]);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
