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
import type { Classification, StatementClass, TableRef } from './classifier.ts';
import {
  dangerousFunction,
  isBuiltinOperator,
  isBuiltinTablesampleMethod,
  isSideEffectFree,
} from './function-catalog.ts';
import { PLAIN_NODES, UNWRAPPED_FIELDS } from './node-catalog.ts';
import { normalizeSettingName, settingClass, settingFailure } from './settings-catalog.ts';
import { DEFINITIONS, STATEMENT_RULES } from './statement-catalog.ts';
import { isUnrestricted } from './where-clause.ts';

type Json = Record<string, unknown>;

export interface WalkerOptions {
  /** Parses SQL (function bodies); throws on a syntax error. */
  parse(sql: string): ParseResult;
  /** Extra functions the deployment declares side-effect free (e.g. an extension's). */
  isExtraSafeFunction(schema: string | undefined, name: string): boolean;
}

interface Context {
  /** CTE names in scope: an unqualified relation name among them is not a table. */
  readonly ctes: ReadonlySet<string> | undefined;
  /** Inside a plain EXPLAIN: planned, not run; only what planning itself may call counts. */
  readonly planOnly: boolean;
  /** False inside definitions of things that run later (function bodies, views, rules, ...). */
  readonly live: boolean;
}

const TOP: Context = { ctes: undefined, planOnly: false, live: true };

/** A structural problem: the walk stops and the text fails closed. */
class WalkFailure extends Error {}

interface StatementState {
  classes: Set<StatementClass>;
  reasons: Set<string>;
  tables: Map<string, TableRef>;
  writes: Map<string, TableRef>;
  /** EXECUTE names not prepared earlier in this text. */
  unresolved: string[];
  /** Whether 'unknown' was added for something other than an unresolved EXECUTE. */
  unknownOtherwise: boolean;
}

/** Per-statement facts kept beside a Classification for resolveExecutes(). */
export interface StatementInternals {
  readonly unresolved: readonly string[];
  readonly unknownOtherwise: boolean;
}

export const INTERNALS = new WeakMap<Classification, readonly StatementInternals[]>();

/** Nesting of function bodies parsed out of strings (a body defining a function with a body ...). */
const MAX_BODY_DEPTH = 8;

/** Anything outside 7-bit ASCII (offsets into such a text are UTF-8 byte offsets). */
const NON_ASCII = /[\u0080-\uffff]/;

const WITH_CLAUSE = new Set(['withClause']);
const LOCKED_RELS = new Set(['lockedRels']);
const COPY_RELATION = new Set(['relation']);
const FUNCCALL_NAME = new Set(['funcname']);

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

/** Relation kinds whose DROP destroys a table-like object (reported in tables and writes). */
const RELATION_OBJECTS = new Set([
  'OBJECT_TABLE',
  'OBJECT_VIEW',
  'OBJECT_MATVIEW',
  'OBJECT_FOREIGN_TABLE',
  'OBJECT_SEQUENCE',
]);

const OBJECT_NAMES = new Map([
  ['OBJECT_MATVIEW', 'MATERIALIZED VIEW'],
  ['OBJECT_FDW', 'FOREIGN DATA WRAPPER'],
  ['OBJECT_FOREIGN_SERVER', 'SERVER'],
  ['OBJECT_TSCONFIGURATION', 'TEXT SEARCH CONFIGURATION'],
  ['OBJECT_TSDICTIONARY', 'TEXT SEARCH DICTIONARY'],
  ['OBJECT_TSPARSER', 'TEXT SEARCH PARSER'],
  ['OBJECT_TSTEMPLATE', 'TEXT SEARCH TEMPLATE'],
  ['OBJECT_TABCONSTRAINT', 'CONSTRAINT'],
  ['OBJECT_DOMCONSTRAINT', 'CONSTRAINT'],
  ['OBJECT_STATISTIC_EXT', 'STATISTICS'],
  ['OBJECT_OPCLASS', 'OPERATOR CLASS'],
  ['OBJECT_OPFAMILY', 'OPERATOR FAMILY'],
  ['OBJECT_AMOP', 'OPERATOR (of a family)'],
  ['OBJECT_AMPROC', 'FUNCTION (of a family)'],
  ['OBJECT_DEFACL', 'DEFAULT PRIVILEGES'],
  ['OBJECT_PUBLICATION_NAMESPACE', 'PUBLICATION SCHEMA'],
  ['OBJECT_PUBLICATION_REL', 'PUBLICATION TABLE'],
  ['OBJECT_PARAMETER_ACL', 'PARAMETER'],
]);

function objectName(type: unknown): string {
  if (typeof type !== 'string') return 'OBJECT';
  return OBJECT_NAMES.get(type) ?? type.replace(/^OBJECT_/, '').replace(/_/g, ' ');
}

type Handler = (walk: Walk, body: Json, ctx: Context) => void;

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
      unknownOtherwise: false,
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
        this.top = wrapperBody(wrapper);
        this.visitWrapper(wrapper, TOP);
      } catch (error) {
        this.fail(error instanceof WalkFailure ? error.message : `could not classify: ${describe(error)}`);
      }
      statements.push({ ...this.statement, text: this.text });
    }
    return this.build(statements);
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
    const json = body as Json;
    const handler = HANDLERS.get(type);
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
    this.statement.unknownOtherwise = true;
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
      this.settings.push(typeof value === 'string' ? { name, value } : { name });
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
    this.prepared.push({ name, classification });
    this.preparedHere.set(name, classification);
  }

  /** EXECUTE name: resolved against a PREPARE earlier in this text, or left to the caller. */
  execute(name: string, ctx: Context): void {
    const prepared = this.preparedHere.get(name);
    if (prepared === undefined) {
      this.statement.classes.add('unknown');
      this.statement.reasons.add(`EXECUTE ${name}: prepared outside this text`);
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

  private statementText(raw: Json): string {
    const location = typeof raw.stmt_location === 'number' ? raw.stmt_location : 0;
    const length = typeof raw.stmt_len === 'number' && raw.stmt_len > 0 ? raw.stmt_len : undefined;
    let text: string;
    if (!NON_ASCII.test(this.sql)) {
      text = this.sql.slice(location, length === undefined ? undefined : location + length);
    } else {
      // libpg-query reports byte offsets into the UTF-8 text.
      const bytes = Buffer.from(this.sql, 'utf8');
      text = bytes.toString('utf8', location, length === undefined ? undefined : location + length);
    }
    return text.trim();
  }

  build(statements: readonly (StatementState & { text: string })[]): Classification {
    const classes = new Set<StatementClass>();
    const reasons = new Set<string>();
    const tables = new Map<string, TableRef>();
    const built = statements.map((statement) => {
      for (const cls of statement.classes) classes.add(cls);
      for (const reason of statement.reasons) reasons.add(reason);
      for (const [key, ref] of statement.tables) if (!tables.has(key)) tables.set(key, ref);
      return Object.freeze({
        classes: new FrozenSet(statement.classes),
        tables: Object.freeze([...statement.tables.values()]),
        writes: Object.freeze([...statement.writes.values()]),
        text: statement.text,
      });
    });
    if (this.failure !== undefined) {
      classes.add('unknown');
      reasons.add(this.failure);
    }
    const classification: Classification = Object.freeze({
      classes: new FrozenSet(classes),
      statements: Object.freeze(built),
      tables: Object.freeze([...tables.values()]),
      reasons: Object.freeze([...reasons]),
      ...(this.failure === undefined ? {} : { failure: this.failure }),
      prepared: Object.freeze([...this.prepared]),
      executes: Object.freeze([...this.executes]),
      settings: Object.freeze([...this.settings]),
    });
    INTERNALS.set(
      classification,
      statements.map((s) => ({ unresolved: s.unresolved, unknownOtherwise: s.unknownOtherwise })),
    );
    return classification;
  }

  // ---- accessors for handlers ------------------------------------------------------------------

  get extraSafe(): WalkerOptions['isExtraSafeFunction'] {
    return this.options.isExtraSafeFunction;
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

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function wrapperBody(wrapper: unknown): Json | undefined {
  if (typeof wrapper !== 'object' || wrapper === null) return undefined;
  for (const key in wrapper) {
    const body = (wrapper as Json)[key];
    return typeof body === 'object' && body !== null ? (body as Json) : undefined;
  }
  return undefined;
}

/** The single [type, body] of a wrapper, or undefined. */
function unwrapNode(node: unknown): [string, Json] | undefined {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
  let result: [string, Json] | undefined;
  let count = 0;
  for (const key in node) {
    count++;
    const body = (node as Json)[key];
    if (typeof body === 'object' && body !== null) result = [key, body as Json];
  }
  return count === 1 ? result : undefined;
}

/** The strings of a list of String nodes (names), or undefined if it is anything else. */
function stringList(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const names: string[] = [];
  for (const item of value) {
    const node = unwrapNode(item);
    if (node === undefined || node[0] !== 'String') return undefined;
    names.push(typeof node[1].sval === 'string' ? node[1].sval : '');
  }
  return names;
}

/**
 * The value of a constant as PostgreSQL would see it in SET or a function argument: a string,
 * undefined for NULL, null for anything that is not a constant.
 */
function constantValue(node: unknown): string | null | undefined {
  const wrapped = unwrapNode(node);
  if (wrapped === undefined) return null;
  const [type, body] = wrapped;
  switch (type) {
    case 'A_Const': {
      if (body.isnull === true) return undefined;
      if (body.sval !== undefined) return String((body.sval as Json).sval ?? '');
      if (body.ival !== undefined) return String((body.ival as Json).ival ?? 0);
      if (body.fval !== undefined) return String((body.fval as Json).fval ?? '0');
      if (body.boolval !== undefined) return (body.boolval as Json).boolval === true ? 'true' : 'false';
      if (body.bsval !== undefined) return String((body.bsval as Json).bsval ?? '');
      return undefined;
    }
    case 'String':
      return typeof body.sval === 'string' ? body.sval : '';
    case 'Integer':
      return String(body.ival ?? 0);
    case 'Float':
      return String(body.fval ?? '0');
    case 'Boolean':
      return body.boolval === true ? 'true' : 'false';
    case 'TypeCast':
      return constantValue(body.arg);
    default:
      return null;
  }
}

/** PostgreSQL's parse_bool for "false". */
function isFalse(value: string): boolean {
  const v = value.toLowerCase();
  if (v === '') return false;
  return 'false'.startsWith(v) || 'no'.startsWith(v) || v === 'off' || v === 'of' || v === '0';
}

/** DefElem options as name → arg node. */
function defElems(list: unknown): Map<string, unknown> {
  const options = new Map<string, unknown>();
  if (!Array.isArray(list)) return options;
  for (const item of list) {
    const node = unwrapNode(item);
    if (node?.[0] === 'DefElem' && typeof node[1].defname === 'string') {
      options.set(node[1].defname, node[1].arg);
    }
  }
  return options;
}

/** The relation name and alias a DML statement's WHERE may qualify columns with. */
function targetNames(relation: unknown): Set<string> {
  const names = new Set<string>();
  if (typeof relation === 'object' && relation !== null) {
    const rel = relation as Json;
    if (typeof rel.relname === 'string') names.add(rel.relname);
    const alias = rel.alias as Json | undefined;
    if (alias && typeof alias.aliasname === 'string') names.add(alias.aliasname);
  }
  return names;
}

/** Walks a statement's WITH clause, returning the context in which its CTE names are in scope. */
function enterWith(walk: Walk, body: Json, ctx: Context): Context {
  const withClause = body.withClause as Json | undefined;
  if (withClause === undefined || typeof withClause !== 'object' || withClause === null) return ctx;
  const ctes = Array.isArray(withClause.ctes) ? withClause.ctes : [];
  const names = new Set(ctx.ctes ?? []);
  const recursive = withClause.recursive === true;
  if (recursive) {
    for (const cte of ctes) {
      const name = unwrapNode(cte)?.[1].ctename;
      if (typeof name === 'string') names.add(name);
    }
  }
  for (const cte of ctes) {
    walk.visitWrapper(cte, { ...ctx, ctes: new Set(names) });
    const name = unwrapNode(cte)?.[1].ctename;
    if (typeof name === 'string') names.add(name);
  }
  return { ...ctx, ctes: names };
}

function checkOperator(walk: Walk, names: unknown, ctx: Context): void {
  const parts = stringList(names);
  if (parts === undefined || parts.length === 0) throw new WalkFailure('operator without a name');
  const op = parts[parts.length - 1] as string;
  const schema = parts.length > 1 ? parts[parts.length - 2] : undefined;
  if (!isBuiltinOperator(schema, op) && !walk.extraSafe(schema, op)) {
    walk.add('dynamic', `operator ${parts.join('.')}`, ctx, true);
  }
}

const ROW_LOCKS = new Map([
  ['LCS_FORKEYSHARE', 'SELECT ... FOR KEY SHARE'],
  ['LCS_FORSHARE', 'SELECT ... FOR SHARE'],
  ['LCS_FORNOKEYUPDATE', 'SELECT ... FOR NO KEY UPDATE'],
  ['LCS_FORUPDATE', 'SELECT ... FOR UPDATE'],
]);

const UNTRUSTED_LANGUAGE = /^(c|internal|pl[a-z0-9]*u|plsh)$/;

function languageEffects(walk: Walk, language: string, ctx: Context, what: string): void {
  walk.add('dynamic', `${what} in ${language}`, ctx);
  if (UNTRUSTED_LANGUAGE.test(language)) {
    walk.add('server-access', `${what} in untrusted language ${language}`, ctx);
  }
}

// ---- handlers -----------------------------------------------------------------------------------

const HANDLERS: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  [
    'RangeVar',
    (walk, body, ctx) => {
      walk.rangeVar(body, ctx, false);
    },
  ],
  [
    'FuncCall',
    (walk, body, ctx) => {
      const parts = stringList(body.funcname);
      if (parts === undefined || parts.length === 0) throw new WalkFailure('function call without a name');
      const name = parts[parts.length - 1] as string;
      const schema = parts.length > 1 ? parts[parts.length - 2] : undefined;
      const args = Array.isArray(body.args) ? body.args : [];
      const written = parts.join('.');
      const builtinSchema = schema === undefined || schema === 'pg_catalog';
      if (builtinSchema && name === 'set_config') {
        setConfig(walk, args, ctx);
      } else {
        const effect = dangerousFunction(name, args.length);
        if (effect !== undefined) walk.add(effect, `call of ${written}()`, ctx, true);
        const safe = isSideEffectFree(schema, name) || walk.extraSafe(schema, name);
        if (!safe && (effect === undefined || !builtinSchema)) {
          walk.add('dynamic', `call of ${written}()`, ctx, true);
        }
      }
      walk.walkFields('FuncCall', body, ctx, FUNCCALL_NAME);
    },
  ],
  [
    'A_Expr',
    (walk, body, ctx) => {
      const kind = body.kind;
      if (
        kind !== 'AEXPR_BETWEEN' &&
        kind !== 'AEXPR_NOT_BETWEEN' &&
        kind !== 'AEXPR_BETWEEN_SYM' &&
        kind !== 'AEXPR_NOT_BETWEEN_SYM'
      ) {
        checkOperator(walk, body.name, ctx);
      }
      walk.walkFields('A_Expr', body, ctx);
    },
  ],
  [
    'SubLink',
    (walk, body, ctx) => {
      if (body.operName !== undefined) checkOperator(walk, body.operName, ctx);
      walk.walkFields('SubLink', body, ctx);
    },
  ],
  [
    'SortBy',
    (walk, body, ctx) => {
      if (body.useOp !== undefined) checkOperator(walk, body.useOp, ctx);
      walk.walkFields('SortBy', body, ctx);
    },
  ],
  [
    'RangeTableSample',
    (walk, body, ctx) => {
      const parts = stringList(body.method) ?? [];
      const name = parts[parts.length - 1] ?? '';
      const schema = parts.length > 1 ? parts[parts.length - 2] : undefined;
      if (!isBuiltinTablesampleMethod(schema, name) && !walk.extraSafe(schema, name)) {
        walk.add('dynamic', `TABLESAMPLE ${parts.join('.')}`, ctx, true);
      }
      walk.walkFields('RangeTableSample', body, ctx);
    },
  ],
  [
    'LockingClause',
    (walk, body, ctx) => {
      // Row locks need UPDATE privilege in PostgreSQL, are refused in read-only transactions, and
      // block writers: they are writes. (lockedRels names FROM items, not tables.)
      const reason = ROW_LOCKS.get(String(body.strength));
      if (reason === undefined) throw new WalkFailure(`unknown row lock ${String(body.strength)}`);
      walk.add('write', reason, ctx);
      walk.walkFields('LockingClause', body, ctx, LOCKED_RELS);
    },
  ],
  [
    'IntoClause',
    (walk, body, ctx) => {
      walk.walkFields('IntoClause', body, ctx);
    },
  ],

  // ---- queries and DML ----
  [
    'SelectStmt',
    (walk, body, ctx) => {
      walk.add('read', undefined, ctx);
      if (body.intoClause !== undefined) {
        walk.add('ddl', 'SELECT ... INTO (creates a table)', ctx);
        walk.add('write', 'SELECT ... INTO (fills a table)', ctx);
      }
      walk.walkFields('SelectStmt', body, enterWith(walk, body, ctx), WITH_CLAUSE);
    },
  ],
  [
    'InsertStmt',
    (walk, body, ctx) => {
      walk.add('write', 'INSERT', ctx);
      walk.walkFields('InsertStmt', body, enterWith(walk, body, ctx), WITH_CLAUSE);
    },
  ],
  [
    'UpdateStmt',
    (walk, body, ctx) => {
      walk.add('write', 'UPDATE', ctx);
      const relation = (body.relation ?? {}) as Json;
      if (
        relation.relname === 'pg_settings' &&
        (relation.schemaname === undefined || relation.schemaname === 'pg_catalog')
      ) {
        // The pg_settings view's update rule calls set_config() with values we cannot see here.
        walk.add('privilege', 'UPDATE of pg_settings (changes settings)', ctx);
        walk.fail('UPDATE of pg_settings is not allowed: use SET');
      }
      if (isUnrestricted(body.whereClause, targetNames(body.relation))) {
        walk.add('update-without-where', 'UPDATE without WHERE', ctx);
      }
      walk.walkFields('UpdateStmt', body, enterWith(walk, body, ctx), WITH_CLAUSE);
    },
  ],
  [
    'DeleteStmt',
    (walk, body, ctx) => {
      walk.add('write', 'DELETE', ctx);
      if (isUnrestricted(body.whereClause, targetNames(body.relation))) {
        walk.add('delete-without-where', 'DELETE without WHERE', ctx);
      }
      walk.walkFields('DeleteStmt', body, enterWith(walk, body, ctx), WITH_CLAUSE);
    },
  ],
  [
    'MergeStmt',
    (walk, body, ctx) => {
      walk.add('write', 'MERGE', ctx);
      mergeWithoutWhere(walk, body, ctx);
      walk.walkFields('MergeStmt', body, enterWith(walk, body, ctx), WITH_CLAUSE);
    },
  ],
  [
    'CopyStmt',
    (walk, body, ctx) => {
      const from = body.is_from === true;
      if (body.is_program === true) {
        walk.add('server-access', `COPY ... ${from ? 'FROM' : 'TO'} PROGRAM`, ctx);
      } else if (typeof body.filename === 'string') {
        walk.add('server-access', `COPY ... ${from ? 'FROM' : 'TO'} a server file`, ctx);
      }
      if (from) {
        walk.add('write', 'COPY ... FROM', ctx);
      } else {
        walk.add('read', undefined, ctx);
      }
      if (body.relation !== undefined) walk.rangeVar(body.relation as Json, ctx, from);
      walk.walkFields('CopyStmt', body, ctx, COPY_RELATION);
    },
  ],
  [
    'ExplainStmt',
    (walk, body, ctx) => {
      walk.add('read', undefined, ctx);
      // EXPLAIN ANALYZE runs the statement; a plain EXPLAIN only plans it.
      let runs = false;
      for (const item of Array.isArray(body.options) ? body.options : []) {
        const option = unwrapNode(item);
        if (option?.[0] !== 'DefElem' || option[1].defname !== 'analyze') continue;
        const value = option[1].arg === undefined ? 'true' : constantValue(option[1].arg);
        if (typeof value !== 'string' || !isFalse(value)) runs = true;
      }
      walk.visitValue(body.query, runs ? ctx : { ...ctx, planOnly: true, live: false });
      walk.walkFields('ExplainStmt', body, ctx, new Set(['query']));
    },
  ],
  [
    'DeclareCursorStmt',
    (walk, body, ctx) => {
      walk.add('session', 'DECLARE CURSOR', ctx);
      walk.walkFields('DeclareCursorStmt', body, ctx);
    },
  ],
  [
    'PrepareStmt',
    (walk, body, ctx) => {
      walk.add('session', 'PREPARE', ctx);
      if (typeof body.name !== 'string') throw new WalkFailure('PREPARE without a name');
      walk.prepare(body.name, body.query);
      walk.walkFields('PrepareStmt', body, ctx, new Set(['query']));
    },
  ],
  [
    'ExecuteStmt',
    (walk, body, ctx) => {
      if (typeof body.name !== 'string') throw new WalkFailure('EXECUTE without a name');
      walk.walkFields('ExecuteStmt', body, ctx);
      walk.execute(body.name, ctx);
    },
  ],
  [
    'CreateTableAsStmt',
    (walk, body, ctx) => {
      const into = (body.into ?? {}) as Json;
      const what =
        body.objtype === 'OBJECT_MATVIEW'
          ? 'CREATE MATERIALIZED VIEW'
          : body.is_select_into === true
            ? 'SELECT ... INTO'
            : 'CREATE TABLE AS';
      walk.add('ddl', what, ctx);
      if (into.skipData !== true) walk.add('write', `${what} (fills a table)`, ctx);
      walk.walkFields('CreateTableAsStmt', body, ctx);
    },
  ],
  [
    'CallStmt',
    (walk, body, ctx) => {
      const call = (body.funccall ?? {}) as Json;
      const name = stringList(call.funcname)?.join('.') ?? '?';
      walk.add('dynamic', `CALL ${name}`, ctx);
      walk.walkFields('FuncCall', call, ctx, FUNCCALL_NAME);
      walk.walkFields('CallStmt', body, ctx, new Set(['funccall']));
    },
  ],
  [
    'DoStmt',
    (walk, body, ctx) => {
      const language = constantValue(defElems(body.args).get('language')) ?? 'plpgsql';
      languageEffects(walk, language.toLowerCase(), ctx, 'DO block');
      walk.walkFields('DoStmt', body, ctx);
    },
  ],
  [
    'CreateFunctionStmt',
    (walk, body, ctx) => {
      const what = body.is_procedure === true ? 'PROCEDURE' : 'FUNCTION';
      walk.add('ddl', `CREATE ${body.replace === true ? 'OR REPLACE ' : ''}${what}`, ctx);
      const definition = { ...ctx, live: false };
      const options = defElems(body.options);
      if (constantValue(options.get('security')) === 'true') {
        walk.add('privilege', `CREATE ${what} ... SECURITY DEFINER`, ctx);
      }
      const language = constantValue(options.get('language'));
      const as = options.get('as');
      if (as !== undefined) {
        const lang = typeof language === 'string' ? language.toLowerCase() : undefined;
        const source = unwrapNode(as);
        const strings = source?.[0] === 'List' ? stringList(source[1].items) : undefined;
        if (lang === 'sql' && strings !== undefined && strings.length === 1) {
          walk.walkBody(strings[0] as string, definition, `${what.toLowerCase()} body`);
        } else {
          languageEffects(walk, lang ?? 'an unspecified language', ctx, `${what.toLowerCase()} body`);
        }
      }
      walk.walkFields('CreateFunctionStmt', body, definition);
    },
  ],
  [
    'AlterFunctionStmt',
    (walk, body, ctx) => {
      walk.add('ddl', 'ALTER FUNCTION', ctx);
      if (constantValue(defElems(body.actions).get('security')) === 'true') {
        walk.add('privilege', 'ALTER FUNCTION ... SECURITY DEFINER', ctx);
      }
      walk.walkFields('AlterFunctionStmt', body, { ...ctx, live: false });
    },
  ],

  // ---- DDL with contents that matter ----
  [
    'AlterTableStmt',
    (walk, body, ctx) => {
      const what = `ALTER ${objectName(body.objtype)}`;
      walk.add('ddl', what, ctx);
      for (const item of Array.isArray(body.cmds) ? body.cmds : []) {
        const cmd = unwrapNode(item);
        if (cmd?.[0] !== 'AlterTableCmd') continue;
        switch (cmd[1].subtype) {
          case 'AT_DropColumn':
            walk.add('drop', `${what} ... DROP COLUMN`, ctx);
            break;
          case 'AT_ChangeOwner':
            walk.add('privilege', `${what} ... OWNER TO`, ctx);
            break;
          case 'AT_EnableRowSecurity':
          case 'AT_DisableRowSecurity':
          case 'AT_ForceRowSecurity':
          case 'AT_NoForceRowSecurity':
            walk.add('privilege', `${what} ... ROW LEVEL SECURITY`, ctx);
            break;
          default:
            break;
        }
      }
      walk.walkFields('AlterTableStmt', body, { ...ctx, live: false });
    },
  ],
  [
    'RenameStmt',
    (walk, body, ctx) => {
      walk.add('ddl', `ALTER ${objectName(body.renameType)} ... RENAME`, ctx);
      if (body.renameType === 'OBJECT_ROLE') walk.add('privilege', 'ALTER ROLE ... RENAME', ctx);
      walk.walkFields('RenameStmt', body, ctx);
    },
  ],
  [
    'DropStmt',
    (walk, body, ctx) => {
      const what = `DROP ${objectName(body.removeType)}${body.behavior === 'DROP_CASCADE' ? ' ... CASCADE' : ''}`;
      walk.add('drop', what, ctx);
      walk.add('ddl', what, ctx);
      if (RELATION_OBJECTS.has(String(body.removeType))) {
        for (const object of Array.isArray(body.objects) ? body.objects : []) {
          const list = unwrapNode(object);
          const names = list?.[0] === 'List' ? stringList(list[1].items) : undefined;
          if (names === undefined || names.length === 0) continue;
          const name = names[names.length - 1] as string;
          const schema = names.length > 1 ? names[names.length - 2] : undefined;
          walk.table(schema === undefined ? { name } : { schema, name }, true, ctx);
        }
      }
      walk.walkFields('DropStmt', body, ctx);
    },
  ],
  [
    'TruncateStmt',
    (walk, body, ctx) => {
      walk.add('truncate', 'TRUNCATE', ctx);
      walk.add('write', 'TRUNCATE', ctx);
      for (const item of Array.isArray(body.relations) ? body.relations : []) {
        const relation = unwrapNode(item);
        if (relation?.[0] === 'RangeVar') walk.rangeVar(relation[1], ctx, true);
      }
      walk.walkFields('TruncateStmt', body, ctx, new Set(['relations']));
    },
  ],
  [
    'LockStmt',
    (walk, body, ctx) => {
      // Mode 1 (ACCESS SHARE) is what any SELECT takes and needs only SELECT privilege; every
      // stronger mode needs write privileges in PostgreSQL and blocks writers: a write.
      const mode = typeof body.mode === 'number' ? body.mode : 8;
      if (mode <= 1) walk.add('read', undefined, ctx);
      else walk.add('write', 'LOCK TABLE', ctx);
      walk.walkFields('LockStmt', body, ctx);
    },
  ],

  // ---- privileges ----
  [
    'GrantStmt',
    (walk, body, ctx) => {
      walk.add('privilege', body.is_grant === true ? 'GRANT' : 'REVOKE', ctx);
      walk.walkFields('GrantStmt', body, ctx);
    },
  ],
  [
    'GrantRoleStmt',
    (walk, body, ctx) => {
      walk.add('privilege', body.is_grant === true ? 'GRANT role' : 'REVOKE role', ctx);
      walk.walkFields('GrantRoleStmt', body, ctx);
    },
  ],
  [
    'CreateRoleStmt',
    (walk, body, ctx) => {
      const kind = String(body.stmt_type ?? 'ROLESTMT_ROLE').replace('ROLESTMT_', '');
      walk.add('privilege', `CREATE ${kind}`, ctx);
      walk.walkFields('CreateRoleStmt', body, ctx);
    },
  ],

  // ---- settings and session ----
  [
    'VariableSetStmt',
    (walk, body, ctx) => {
      variableSet(walk, body, ctx, !walk.isTop(body));
      walk.walkFields('VariableSetStmt', body, ctx);
    },
  ],
  [
    'TransactionStmt',
    (walk, body, ctx) => {
      switch (body.kind) {
        case 'TRANS_STMT_PREPARE':
          walk.add('write', 'PREPARE TRANSACTION', ctx);
          break;
        case 'TRANS_STMT_COMMIT_PREPARED':
          walk.add('write', 'COMMIT PREPARED', ctx);
          break;
        case 'TRANS_STMT_ROLLBACK_PREPARED':
          walk.add('write', 'ROLLBACK PREPARED', ctx);
          break;
        default:
          walk.add('session', String(body.kind).replace('TRANS_STMT_', '').replace('_', ' '), ctx);
      }
      walk.walkFields('TransactionStmt', body, ctx);
    },
  ],
  [
    'DiscardStmt',
    (walk, body, ctx) => {
      walk.add('session', 'DISCARD', ctx);
      if (body.target === 'DISCARD_ALL') {
        // DISCARD ALL includes SET SESSION AUTHORIZATION DEFAULT and RESET ALL.
        walk.add('privilege', 'DISCARD ALL (resets the role)', ctx);
        if (ctx.live && walk.isTop(body)) walk.settings.push({ name: 'all' });
      }
      walk.walkFields('DiscardStmt', body, ctx);
    },
  ],
]);

function mergeWithoutWhere(walk: Walk, body: Json, ctx: Context): void {
  const target = targetNames(body.relation);
  const joinOpen = isUnrestricted(body.joinCondition, target);
  for (const item of Array.isArray(body.mergeWhenClauses) ? body.mergeWhenClauses : []) {
    const clause = unwrapNode(item)?.[1];
    if (clause === undefined) continue;
    const command = clause.commandType;
    if (command !== 'CMD_DELETE' && command !== 'CMD_UPDATE') continue;
    const everyRow =
      (clause.matchKind === 'MERGE_WHEN_MATCHED' && joinOpen) ||
      clause.matchKind === 'MERGE_WHEN_NOT_MATCHED_BY_SOURCE';
    if (everyRow && isUnrestricted(clause.condition, target)) {
      if (command === 'CMD_DELETE') {
        walk.add('delete-without-where', 'MERGE ... DELETE without a condition on the target', ctx);
      } else {
        walk.add('update-without-where', 'MERGE ... UPDATE without a condition on the target', ctx);
      }
    }
  }
}

const TRANSACTION_SETTINGS = new Map([
  ['TRANSACTION', ''],
  ['SESSION CHARACTERISTICS', 'default_'],
]);

function variableSet(walk: Walk, body: Json, ctx: Context, stored: boolean): void {
  const kind = body.kind;
  const rawName = typeof body.name === 'string' ? body.name : '';
  if (kind === 'VAR_RESET_ALL') {
    walk.add('session', 'RESET ALL', ctx);
    if (!stored && ctx.live) walk.settings.push({ name: 'all' });
    return;
  }
  if (kind === 'VAR_SET_MULTI') {
    if (rawName === 'TRANSACTION SNAPSHOT') {
      const args = Array.isArray(body.args) ? body.args : [];
      walk.setting('transaction_snapshot', constantValue(args[0]), 'SET TRANSACTION SNAPSHOT', ctx, stored);
      return;
    }
    const prefix = TRANSACTION_SETTINGS.get(rawName);
    if (prefix === undefined) throw new WalkFailure(`unknown SET ${rawName}`);
    for (const [name, arg] of defElems(body.args)) {
      walk.setting(`${prefix}${name}`, constantValue(arg), `SET ${rawName}`, ctx, stored);
    }
    return;
  }
  const name = normalizeSettingName(rawName);
  if (name === '') throw new WalkFailure('SET without a setting name');
  let value: string | null | undefined;
  if (kind === 'VAR_SET_VALUE') {
    const values = (Array.isArray(body.args) ? body.args : []).map(constantValue);
    value = values.some((v) => typeof v !== 'string') ? null : values.join(', ');
  } else if (kind === 'VAR_SET_DEFAULT' || kind === 'VAR_RESET') {
    value = undefined;
  } else {
    // SET ... FROM CURRENT (function definitions): a value we cannot see.
    value = null;
  }
  const verb = kind === 'VAR_RESET' ? 'RESET' : 'SET';
  const reason =
    name === 'role'
      ? `${verb} ROLE`
      : name === 'session_authorization'
        ? `${verb} SESSION AUTHORIZATION`
        : `${verb} ${name}`;
  walk.setting(name, value, reason, ctx, stored);
}

function setConfig(walk: Walk, args: unknown[], ctx: Context): void {
  const positional: unknown[] = [];
  const named = new Map<string, unknown>();
  for (const arg of args) {
    const node = unwrapNode(arg);
    if (node?.[0] === 'NamedArgExpr' && typeof node[1].name === 'string')
      named.set(node[1].name, node[1].arg);
    else positional.push(arg);
  }
  const nameArg = positional[0] ?? named.get('setting_name');
  const valueArg = positional.length > 1 ? positional[1] : named.get('new_value');
  const name = constantValue(nameArg);
  if (typeof name !== 'string') {
    walk.add('privilege', 'set_config() of a setting named by an expression', ctx, true);
    walk.fail('set_config() must name its setting with a constant');
    return;
  }
  const setting = normalizeSettingName(name);
  walk.setting(setting, constantValue(valueArg), `set_config('${setting}')`, ctx, false);
}

/** Node types with a handler of their own (statements and expressions whose class depends on them). */
export const HANDLED_NODE_TYPES: ReadonlySet<string> = new Set(HANDLERS.keys());
