/**
 * How each statement type and each expression that can carry a class is classified. The walker
 * (walker.ts) calls these handlers for the node types they name; every other known node type is
 * either classified by its rule in statement-catalog.ts or is a plain node the walker descends into.
 */
import {
  attributeCallEffects,
  castEffects,
  functionCallEffects,
  operatorEffects,
  type CallEffect,
} from './call-effects.ts';
import { isBuiltinTablesampleMethod } from './function-catalog.ts';
import {
  constantValue,
  defElems,
  isFalse,
  stringList,
  unwrapNode,
  WalkFailure,
  type Json,
} from './parse-tree.ts';
import { normalizeSettingName } from './settings-catalog.ts';
import type { Context, Handler, Walk } from './walker.ts';
import { isUnrestricted } from './where-clause.ts';

/** Fields some handlers walk themselves, skipped by the generic descent that follows. */
const WITH_CLAUSE = new Set(['withClause']);
const LOCKED_RELS = new Set(['lockedRels']);
const COPY_RELATION = new Set(['relation']);
const FUNCCALL_NAME = new Set(['funcname']);

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

function addEffects(walk: Walk, effects: readonly CallEffect[], ctx: Context): void {
  for (const { cls, reason } of effects) walk.add(cls, reason, ctx, true);
}

/** An operator written in the statement (prefix: it has no left operand). */
function checkOperator(walk: Walk, names: unknown, ctx: Context, prefix = false): void {
  const parts = stringList(names);
  if (parts === undefined || parts.length === 0) throw new WalkFailure('operator without a name');
  const op = parts[parts.length - 1] as string;
  const schema = parts.length > 1 ? parts[parts.length - 2] : undefined;
  if (walk.extraSafe(schema, op)) return;
  addEffects(walk, operatorEffects(walk.routines, schema, op, prefix), ctx);
}

/** An operator the server looks up by name although the statement does not write it (BETWEEN, CASE x WHEN). */
function impliedOperator(walk: Walk, op: string, ctx: Context): void {
  if (walk.extraSafe(undefined, op)) return;
  addEffects(walk, operatorEffects(walk.routines, undefined, op, false), ctx);
}

/** BETWEEN is `a >= b AND a <= c`, NOT BETWEEN `a < b OR a > c` (symmetric forms alike). */
const BETWEEN_OPERATORS = new Map([
  ['AEXPR_BETWEEN', ['>=', '<=']],
  ['AEXPR_BETWEEN_SYM', ['>=', '<=']],
  ['AEXPR_NOT_BETWEEN', ['<', '>']],
  ['AEXPR_NOT_BETWEEN_SYM', ['<', '>']],
]);

/** Names in attribute position (a.f, (expr).f): PostgreSQL calls f(a) when a has no field f. */
function attributeCalls(walk: Walk, names: unknown, from: number, ctx: Context): void {
  if (!Array.isArray(names)) return;
  for (let i = from; i < names.length; i++) {
    const node = unwrapNode(names[i]);
    if (node?.[0] !== 'String' || typeof node[1].sval !== 'string') continue;
    const name = node[1].sval;
    const effects = attributeCallEffects(walk.routines, name);
    addEffects(
      walk,
      walk.extraSafe(undefined, name) ? effects.filter((e) => e.cls !== 'dynamic') : effects,
      ctx,
    );
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

export const HANDLERS: ReadonlyMap<string, Handler> = new Map<string, Handler>([
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
      if ((schema === undefined || schema === 'pg_catalog') && name === 'set_config') {
        setConfig(walk, args, ctx);
      } else {
        const call = {
          schema,
          name,
          written,
          argumentCount: args.length,
          // An ordered-set aggregate's WITHIN GROUP arguments are arguments of the function too.
          arity: body.agg_within_group === true ? undefined : args.length,
          declaredSafe: walk.extraSafe(schema, name),
        };
        addEffects(walk, functionCallEffects(walk.routines, call), ctx);
      }
      walk.walkFields('FuncCall', body, ctx, FUNCCALL_NAME);
    },
  ],
  [
    'ColumnRef',
    (walk, body, ctx) => {
      // a.f may be f(a) in attribute notation: the first name is a relation or column, the others
      // may be functions.
      attributeCalls(walk, body.fields, 1, ctx);
      walk.walkFields('ColumnRef', body, ctx);
    },
  ],
  [
    'A_Indirection',
    (walk, body, ctx) => {
      // (expr).f is f(expr) when f is not a field of expr: SELECT ('postgresql.conf'::text).pg_read_file
      // reads a server file without a function call in sight.
      attributeCalls(walk, body.indirection, 0, ctx);
      walk.walkFields('A_Indirection', body, ctx);
    },
  ],
  [
    'TypeCast',
    (walk, body, ctx) => {
      // A cast may run a user-defined cast function (or a domain's checks, or a type's input function).
      const target = (body.typeName ?? {}) as Json;
      const names = stringList(target.names);
      const type = names?.[names.length - 1];
      if (type !== undefined) addEffects(walk, castEffects(walk.routines, type), ctx);
      walk.walkFields('TypeCast', body, ctx);
    },
  ],
  [
    'A_Expr',
    (walk, body, ctx) => {
      const implied = BETWEEN_OPERATORS.get(String(body.kind));
      if (implied !== undefined) {
        for (const op of implied) impliedOperator(walk, op, ctx);
      } else {
        checkOperator(walk, body.name, ctx, body.lexpr === undefined);
      }
      walk.walkFields('A_Expr', body, ctx);
    },
  ],
  [
    'CaseExpr',
    (walk, body, ctx) => {
      // CASE x WHEN y compares with the operator = found by name, as x = y would.
      if (body.arg !== undefined) impliedOperator(walk, '=', ctx);
      walk.walkFields('CaseExpr', body, ctx);
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
    'DeallocateStmt',
    (walk, body, ctx) => {
      walk.add('session', 'DEALLOCATE', ctx);
      walk.deallocate(body.isall === true || typeof body.name !== 'string' ? undefined : body.name);
      walk.walkFields('DeallocateStmt', body, ctx);
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
    'FetchStmt',
    (walk, body, ctx) => {
      walk.add('session', body.ismove === true ? 'MOVE' : 'FETCH', ctx);
      if (typeof body.portalname === 'string' && !walk.cursors.includes(body.portalname)) {
        walk.cursors.push(body.portalname);
      }
      walk.walkFields('FetchStmt', body, ctx);
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
      // DISCARD ALL includes SET SESSION AUTHORIZATION DEFAULT and RESET ALL: it only returns the
      // session to how the tunnel opened it (poolers send it), so it stays `session`.
      if (body.target === 'DISCARD_ALL' && ctx.live && walk.isTop(body)) {
        walk.settings.push(Object.freeze({ name: 'all' }));
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
    if (!stored && ctx.live) walk.settings.push(Object.freeze({ name: 'all' }));
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
    walk.add('session', `SET ${rawName}`, ctx);
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
