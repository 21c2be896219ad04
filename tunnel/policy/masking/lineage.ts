import { parseSync } from 'libpg-query';
import { isBuiltinOperator, isBuiltinWithoutTableAccess } from '../function-catalog.ts';
import { maskRuleFor, type Policy } from '../policy.ts';
import type { MaskStrategy } from './strategies.ts';
import type { Catalog, RelationInfo } from './catalog.ts';
import { BUILTIN_ONLY, type RoutineNames } from './routine-names.ts';

/**
 * Sensitivity of one output column: the mask rule's strategy when the column IS a masked column,
 * `derived` when it is computed from masked data (lower(email), row_to_json(c), string_agg(email, …)),
 * field by field for a record of traced values (a whole-row reference, ROW(…)), element-wise for an
 * array of them (array_agg(email), ARRAY(SELECT email …), ARRAY[…]); `opaque` when code the tunnel
 * cannot see computed it from nothing masked (a user's function of untainted arguments): a scalar is
 * masked, and so is every field of a composite value — by the type's own rule where it has one.
 */
export type Taint =
  | { kind: 'direct'; strategy: MaskStrategy }
  | { kind: 'derived' }
  | { kind: 'opaque' }
  | { kind: 'record'; fields: readonly Taint[] }
  /**
   * `element` masks every element; `elements`, where the array was written out (`ARRAY[email, ssn,
   * name]`), holds each item's own taint by position, for a value with exactly that many elements.
   */
  | { kind: 'array'; element: Taint; elements?: readonly Taint[] }
  /**
   * A JSON object of traced members (`row_to_json(c)`, `jsonb_build_object('email', email)`): each
   * member's taint by its key; `each`: an array of such objects (`json_agg(c)`).
   */
  | { kind: 'json'; members: ReadonlyMap<string, Taint>; each: boolean }
  | undefined;

export interface OutputColumn {
  name: string;
  taint: Taint;
  /** Stands for however many columns (none or more) a function in FROM returns, all of this taint. */
  spread?: true;
}

/** A FROM item in scope: its alias and its columns with their sensitivity, in order. */
interface ScopeEntry {
  alias: string;
  /** Relation name, for schema.table.column references. */
  relation?: string;
  columns: OutputColumn[];
  /** A function in FROM whose column names are not written out: any name may be one of its columns. */
  open?: { taint: Taint };
}

/** The FROM items of the queries around a subquery, innermost first: it may refer to their columns. */
type Outer = readonly ScopeEntry[][];

/** Fits output columns to a result of `count` columns, expanding a spread; undefined when they cannot fit. */
export function fitOutputs(outputs: readonly OutputColumn[], count: number): OutputColumn[] | undefined {
  const spreads = outputs.filter((o) => o.spread).length;
  if (spreads === 0) return outputs.length === count ? [...outputs] : undefined;
  const fixed = outputs.length - spreads;
  if (spreads > 1 || fixed > count) return undefined;
  return outputs.flatMap((o) =>
    o.spread ? Array.from({ length: count - fixed }, () => ({ name: o.name, taint: o.taint })) : [o],
  );
}

function tainted(entry: ScopeEntry): boolean {
  return entry.columns.some((c) => c.taint) || Boolean(entry.open?.taint);
}

type Node = Record<string, unknown>;

const DERIVED: Taint = { kind: 'derived' };
const OPAQUE: Taint = { kind: 'opaque' };

/** How often a recursive CTE is followed around before what it carries is taken as derived. */
const MAX_RECURSION_ROUNDS = 4;

/** Aggregates whose result reveals nothing of the values they read. */
const REVEAL_NOTHING = new Set(['count']);

/** A_Expr kinds whose `name` is an operator's (others name a construct: BETWEEN, IN, LIKE …). */
const OPERATOR_KINDS = new Set(['AEXPR_OP', 'AEXPR_OP_ANY', 'AEXPR_OP_ALL']);

function union(a: Taint, b: Taint): Taint {
  return a || b ? DERIVED : undefined;
}

/** A record of these fields, or undefined when none of them carries masked data. */
export function recordTaint(fields: readonly Taint[]): Taint {
  return fields.some((f) => f !== undefined) ? { kind: 'record', fields } : undefined;
}

function arrayTaint(element: Taint, elements?: readonly Taint[]): Taint {
  if (element === undefined) return undefined;
  return elements ? { kind: 'array', element, elements } : { kind: 'array', element };
}

/**
 * What masks values that may come from either side (a set operation's branches, a type's own rules
 * and lineage): the same strategy stays, records and arrays merge field by field, anything else that
 * differs is derived.
 */
export function strongest(a: Taint, b: Taint): Taint {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (a.kind === 'direct' && b.kind === 'direct')
    return JSON.stringify(a.strategy) === JSON.stringify(b.strategy) ? a : DERIVED;
  if (a.kind === 'record' && b.kind === 'record' && a.fields.length === b.fields.length)
    return recordTaint(a.fields.map((f, i) => strongest(f, b.fields[i])));
  if (a.kind === 'json' && b.kind === 'json' && a.each === b.each) {
    const members = new Map(a.members);
    for (const [key, taint] of b.members) members.set(key, strongest(members.get(key), taint));
    return { kind: 'json', members, each: a.each };
  }
  if (a.kind === 'array' && b.kind === 'array') {
    const { elements: left } = a;
    const { elements: right } = b;
    const elements =
      left && right && left.length === right.length ? left.map((t, i) => strongest(t, right[i])) : undefined;
    return arrayTaint(strongest(a.element, b.element), elements);
  }
  return DERIVED;
}

/** What jsonTaint() answers for a call that is not one of the JSON builders it traces. */
const NOT_TRACED = Symbol('not traced');
/** Functions that turn one row into a JSON object ('row'), or aggregate rows into an array ('agg'). */
const JSON_OF_ROWS = new Map<string, 'row' | 'agg'>([
  ['row_to_json', 'row'],
  ['to_json', 'row'],
  ['to_jsonb', 'row'],
  ['json_agg', 'agg'],
  ['jsonb_agg', 'agg'],
]);
const JSON_BUILDERS = new Set(['json_build_object', 'jsonb_build_object']);

/** A JSON object (or array of them) of these members, or undefined when none carries masked data. */
function jsonTaintOf(members: ReadonlyMap<string, Taint>, each: boolean): Taint {
  return [...members.values()].some((t) => t !== undefined) ? { kind: 'json', members, each } : undefined;
}

/**
 * The columns of the FROM item a bare name refers to as a whole row (`row_to_json(c)` for `FROM
 * customers c`), when it is exactly one item of this level whose columns are known and no column of
 * that name exists here (which the server would take first).
 */
function wholeRowColumns(arg: Node, entries: ScopeEntry[]): OutputColumn[] | undefined {
  const fields = (arg.ColumnRef as { fields: Node[] } | undefined)?.fields;
  if (fields?.length !== 1 || fields[0]!.String === undefined) return undefined;
  const name = strings(fields)[0]!;
  if (entries.some((e) => e.open || e.columns.some((c) => c.name === name))) return undefined;
  const matching = entries.filter((e) => e.alias === name || e.relation === name);
  return matching.length === 1 ? matching[0]!.columns : undefined;
}

function strings(nodes: unknown): string[] {
  return ((nodes as Node[] | undefined) ?? []).map(
    (n) => (n.String as { sval?: string } | undefined)?.sval ?? '',
  );
}

/** Column names from a function's column definition list: `f() AS t(a int, b text)`, ROWS FROM(f() AS (a int)). */
function columnDefinitionNames(fn: Node): string[] {
  const lists = [
    fn.coldeflist,
    ...((fn.functions as Node[] | undefined) ?? []).map(
      (f) => ((f.List as Node | undefined)?.items as Node[] | undefined)?.[1],
    ),
  ];
  return lists.flatMap((list) =>
    Array.isArray(list)
      ? list.map((d) => ((d as Node).ColumnDef as { colname?: string } | undefined)?.colname ?? '')
      : [],
  );
}

/** Why analysis could not follow a query; callers then mask every computed column (fail closed). */
export class LineageUnknown extends Error {}

/**
 * Follows which output columns of a query carry masked data, through views and materialized views,
 * subqueries, CTEs, joins, set operations, whole-row references and expressions — so a masked column is
 * masked whatever it is called or wrapped in.
 */
export class LineageAnalyzer {
  /** By the catalog's answer (not the OID): a relation read again after a change is traced again. */
  private relationTaints = new WeakMap<RelationInfo, Promise<OutputColumn[]>>();
  /** The database's names as last read: what a call or an operator of the analysis resolves to. */
  private routines: RoutineNames = BUILTIN_ONLY;

  constructor(
    private readonly policy: Policy,
    private readonly catalog: Catalog,
    /** What the database defines beyond the built-ins; without it, built-in names are the built-ins. */
    private readonly routineNames: () => Promise<RoutineNames> = () => Promise.resolve(BUILTIN_ONLY),
  ) {}

  /** The sensitivity of each column of a relation; views are followed to the columns they read. */
  async columnsOf(relation: RelationInfo): Promise<OutputColumn[]> {
    await this.readRoutineNames();
    let cached = this.relationTaints.get(relation);
    if (!cached) {
      cached = this.computeColumnsOf(relation, new Set());
      this.relationTaints.set(relation, cached);
    }
    return cached;
  }

  /** Output columns of the `index`-th statement of `sql`, or LineageUnknown. */
  async outputsOf(sql: string, index = 0): Promise<OutputColumn[]> {
    await this.readRoutineNames();
    let tree: { stmts?: { stmt: Node }[] };
    try {
      tree = parseSync(sql) as typeof tree;
    } catch (error) {
      throw new LineageUnknown(`unparsable: ${(error as Error).message}`);
    }
    const statement = tree.stmts?.[index]?.stmt;
    if (!statement) throw new LineageUnknown('no such statement');
    return this.statementOutputs(statement, new Map(), new Set());
  }

  /** A view traced before a function it calls was redefined must be traced again. */
  private async readRoutineNames(): Promise<void> {
    const names = await this.routineNames();
    if (names.fingerprint !== this.routines.fingerprint) this.relationTaints = new WeakMap();
    this.routines = names;
  }

  /** Whether a call of this name computes only from its arguments, whatever it resolves to. */
  private traceableFunction(schema: string | undefined, name: string): boolean {
    const { routines } = this;
    const key = schema === undefined ? name : `${schema}.${name}`;
    if (routines.userImplicitCasts || routines.userFunctions.has(key)) return false;
    return isBuiltinWithoutTableAccess(schema, name) || routines.extensionFunctions.has(key);
  }

  private traceableOperator(schema: string | undefined, name: string): boolean {
    const { routines } = this;
    const key = schema === undefined ? name : `${schema}.${name}`;
    if (routines.userImplicitCasts || routines.userOperators.has(key)) return false;
    return isBuiltinOperator(schema, name) || routines.extensionOperators.has(key);
  }

  /** Whether a cast to this type runs only the server's code. */
  private traceableCast(typeName: string[]): boolean {
    const key = typeName.slice(-2).join('.');
    return !this.routines.userCastTargets.has(key);
  }

  private async computeColumnsOf(relation: RelationInfo, visiting: Set<number>): Promise<OutputColumn[]> {
    const names = [...relation.columns.entries()].sort((a, b) => a[0] - b[0]).map(([, name]) => name);
    if (relation.kind === 'v' || relation.kind === 'm') {
      if (visiting.has(relation.oid)) throw new LineageUnknown(`view ${relation.name} refers to itself`);
      const definition = await this.catalog.viewDefinition(relation.oid);
      if (!definition) throw new LineageUnknown(`no definition for view ${relation.name}`);
      const tree = parseSync(definition) as { stmts: { stmt: Node }[] };
      const outputs = await this.statementOutputs(
        tree.stmts[0]!.stmt,
        new Map(),
        new Set([...visiting, relation.oid]),
      );
      // A view's own column names may rename the query's outputs; positions line up.
      const fitted = fitOutputs(outputs, names.length);
      return names.map((name, i) => ({ name, taint: fitted ? fitted[i]!.taint : DERIVED }));
    }
    return names.map((name) => {
      const rule = maskRuleFor(this.policy, { schema: relation.schema, table: relation.name, column: name });
      return { name, taint: rule ? { kind: 'direct', strategy: rule.strategy } : undefined };
    });
  }

  private async statementOutputs(
    statement: Node,
    ctes: Map<string, OutputColumn[]>,
    visiting: Set<number>,
    outer: Outer = [],
  ): Promise<OutputColumn[]> {
    const [kind, body] = Object.entries(statement)[0] as [string, Node];
    switch (kind) {
      case 'SelectStmt':
        return this.selectOutputs(body, ctes, visiting, outer);
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt': {
        const scope = await this.withCtes(body, ctes, visiting);
        const entries: ScopeEntry[] = [];
        entries.push(await this.rangeVarEntry(body.relation as Node, scope, visiting));
        for (const item of ((body.fromClause ?? body.usingClause) as Node[] | undefined) ?? []) {
          entries.push(...(await this.fromItem(item, scope, visiting, [[...entries], ...outer])));
        }
        const returning = ((body.returningClause as Node | undefined)?.exprs ?? body.returningList) as
          Node[] | undefined;
        return this.targets(returning ?? [], entries, scope, visiting, outer);
      }
      case 'DeclareCursorStmt':
      case 'PrepareStmt':
        return this.statementOutputs(body.query as Node, ctes, visiting, outer);
      case 'ExplainStmt':
      case 'VariableShowStmt':
        // Plans and settings carry no table data.
        return [{ name: kind === 'ExplainStmt' ? 'QUERY PLAN' : 'setting', taint: undefined }];
      default:
        throw new LineageUnknown(`cannot follow ${kind}`);
    }
  }

  private async withCtes(
    body: Node,
    outer: Map<string, OutputColumn[]>,
    visiting: Set<number>,
  ): Promise<Map<string, OutputColumn[]>> {
    const withClause = body.withClause as { ctes?: Node[]; recursive?: boolean } | undefined;
    if (!withClause?.ctes) return outer;
    const scope = new Map(outer);
    for (const item of withClause.ctes) {
      const cte = item.CommonTableExpr as Node;
      const name = cte.ctename as string;
      const renamed = strings(cte.aliascolnames);
      const rename = (outputs: OutputColumn[]): OutputColumn[] =>
        outputs.map((o, i) => ({ name: renamed[i] ?? o.name, taint: o.taint }));
      const query = cte.ctequery as Node;
      const select = query.SelectStmt as Node | undefined;
      if (withClause.recursive && select?.op && select.op !== 'SETOP_NONE') {
        scope.set(name, await this.recursiveOutputs(select, name, rename, scope, visiting));
      } else {
        scope.set(name, rename(await this.statementOutputs(query, scope, visiting)));
      }
    }
    return scope;
  }

  /**
   * A recursive CTE's columns: its non-recursive term first, then the whole query with the CTE itself
   * in scope, again until what each column carries stops growing.
   */
  private async recursiveOutputs(
    body: Node,
    name: string,
    rename: (outputs: OutputColumn[]) => OutputColumn[],
    scope: Map<string, OutputColumn[]>,
    visiting: Set<number>,
  ): Promise<OutputColumn[]> {
    let columns = rename(await this.selectOutputs(body.larg as Node, scope, visiting, []));
    for (let round = 0; round < MAX_RECURSION_ROUNDS; round++) {
      const inner = new Map(scope).set(name, columns);
      const next = rename(await this.selectOutputs(body, inner, visiting, []));
      if (JSON.stringify(next) === JSON.stringify(columns)) return columns;
      columns = next;
    }
    return columns.map((c) => ({ ...c, taint: DERIVED }));
  }

  private async selectOutputs(
    select: Node,
    outerCtes: Map<string, OutputColumn[]>,
    visiting: Set<number>,
    outer: Outer,
  ): Promise<OutputColumn[]> {
    const ctes = await this.withCtes(select, outerCtes, visiting);
    if (select.op && select.op !== 'SETOP_NONE') {
      const left = await this.selectOutputs(select.larg as Node, ctes, visiting, outer);
      const right = await this.selectOutputs(select.rarg as Node, ctes, visiting, outer);
      if ([...left, ...right].some((o) => o.spread)) {
        // Columns cannot be paired up: one spread as sensitive as anything on either side.
        const taint = [...left, ...right].reduce<Taint>((a, o) => union(a, o.taint), undefined);
        return [{ name: left[0]?.name ?? '?column?', taint, spread: true }];
      }
      return left.map((column, i) => ({
        name: column.name,
        taint: strongest(column.taint, right[i]?.taint),
      }));
    }
    if (select.valuesLists) {
      const rows = select.valuesLists as Node[];
      const first = ((rows[0]?.List as Node | undefined)?.items as Node[] | undefined) ?? [];
      const taints = await Promise.all(
        first.map((_, i) =>
          Promise.all(
            rows.map((row) =>
              this.expressionTaint(((row.List as Node).items as Node[])[i]!, [], ctes, visiting, outer),
            ),
          ).then((ts) => ts.reduce<Taint>((a, b) => union(a, b), undefined)),
        ),
      );
      return taints.map((taint, i) => ({ name: `column${i + 1}`, taint }));
    }
    const entries: ScopeEntry[] = [];
    // A LATERAL item may refer to the items before it, and every item to the queries around.
    for (const item of (select.fromClause as Node[] | undefined) ?? [])
      entries.push(...(await this.fromItem(item, ctes, visiting, [[...entries], ...outer])));
    return this.targets((select.targetList as Node[] | undefined) ?? [], entries, ctes, visiting, outer);
  }

  private async targets(
    list: Node[],
    entries: ScopeEntry[],
    ctes: Map<string, OutputColumn[]>,
    visiting: Set<number>,
    outer: Outer,
  ): Promise<OutputColumn[]> {
    const outputs: OutputColumn[] = [];
    for (const item of list) {
      const target = item.ResTarget as Node;
      const value = target.val as Node;
      const ref = value.ColumnRef as { fields: Node[] } | undefined;
      const star = ref?.fields.at(-1)?.A_Star !== undefined;
      if (ref && star) {
        const qualifier = strings(ref.fields.slice(0, -1)).at(-1);
        const chosen =
          qualifier === undefined
            ? entries
            : entries.filter((e) => e.alias === qualifier || e.relation === qualifier);
        if (qualifier !== undefined && chosen.length === 0)
          throw new LineageUnknown(`unknown ${qualifier}.*`);
        for (const entry of chosen) {
          outputs.push(...entry.columns);
          if (entry.open) outputs.push({ name: entry.alias, taint: entry.open.taint, spread: true });
        }
        continue;
      }
      const name =
        (target.name as string | undefined) ?? (ref ? strings(ref.fields).at(-1) : undefined) ?? '?column?';
      if (ref) {
        outputs.push({ name, taint: this.resolveColumn(strings(ref.fields), entries, outer) });
        continue;
      }
      outputs.push({ name, taint: await this.valueTaint(value, entries, ctes, visiting, outer) });
    }
    return outputs;
  }

  /**
   * An output value's sensitivity, field by field for records and element-wise for arrays of traced
   * values; any other expression goes through expressionTaint().
   */
  private async valueTaint(
    value: Node,
    entries: ScopeEntry[],
    ctes: Map<string, OutputColumn[]>,
    visiting: Set<number>,
    outer: Outer,
  ): Promise<Taint> {
    if (value.ColumnRef) {
      const fields = (value.ColumnRef as { fields: Node[] }).fields;
      if (fields.at(-1)?.A_Star === undefined) return this.resolveColumn(strings(fields), entries, outer);
    }
    if (value.RowExpr) {
      const taints: Taint[] = [];
      for (const arg of ((value.RowExpr as Node).args as Node[] | undefined) ?? []) {
        const star = this.starColumns(arg, entries);
        if (star) taints.push(...star.map((c) => c.taint));
        else taints.push(await this.valueTaint(arg, entries, ctes, visiting, outer));
      }
      return recordTaint(taints);
    }
    if (value.A_ArrayExpr) {
      const items: Taint[] = [];
      for (const item of ((value.A_ArrayExpr as Node).elements as Node[] | undefined) ?? [])
        items.push(await this.valueTaint(item, entries, ctes, visiting, outer));
      const element = items.reduce<Taint>((all, item) => strongest(all, item), undefined);
      // Items that are arrays themselves make a deeper array, whose elements are not the items.
      return arrayTaint(element, items.some((t) => t?.kind === 'array') ? undefined : items);
    }
    const sub = value.SubLink as Node | undefined;
    if (sub?.subLinkType === 'ARRAY_SUBLINK') {
      const outputs = await this.statementOutputs(sub.subselect as Node, ctes, visiting, [entries, ...outer]);
      return outputs.length === 1 && !outputs[0]!.spread ? arrayTaint(outputs[0]!.taint) : DERIVED;
    }
    const call = value.FuncCall as Node | undefined;
    const callee = call ? strings(call.funcname) : [];
    const json = call ? await this.jsonTaint(call, callee, entries, ctes, visiting, outer) : NOT_TRACED;
    if (json !== NOT_TRACED) return json;
    if (call && callee.at(-1) === 'array_agg' && this.traceableFunction(callee.at(-2), 'array_agg')) {
      const args = (call.args as Node[] | undefined) ?? [];
      // What filters or orders the values may reveal something of them: then the whole array is derived.
      const around = await this.expressionTaint(
        { f: call.agg_filter, o: call.agg_order },
        entries,
        ctes,
        visiting,
        outer,
      );
      if (args.length === 1 && !call.agg_star && !around)
        return arrayTaint(await this.valueTaint(args[0]!, entries, ctes, visiting, outer));
    }
    return this.expressionTaint(value, entries, ctes, visiting, outer);
  }

  /**
   * A JSON document of rows or of named values, member by member: `row_to_json(c)`, `to_json(c)`,
   * `to_jsonb(c)`, `json_agg(c)` / `jsonb_agg(c)` of a FROM item's whole row, and `json_build_object` /
   * `jsonb_build_object` with constant keys. NOT_TRACED for any other call.
   */
  private async jsonTaint(
    call: Node,
    callee: string[],
    entries: ScopeEntry[],
    ctes: Map<string, OutputColumn[]>,
    visiting: Set<number>,
    outer: Outer,
  ): Promise<Taint | typeof NOT_TRACED> {
    const name = callee.at(-1)!;
    const kind = JSON_OF_ROWS.get(name) ?? (JSON_BUILDERS.has(name) ? 'build' : undefined);
    if (!kind || !this.traceableFunction(callee.at(-2), name) || call.agg_star || call.over)
      return NOT_TRACED;
    const args = (call.args as Node[] | undefined) ?? [];
    if (kind === 'build') {
      if (args.length % 2 !== 0) return NOT_TRACED;
      const members = new Map<string, Taint>();
      for (let i = 0; i < args.length; i += 2) {
        const key = ((args[i]!.A_Const as Node | undefined)?.sval as { sval?: string } | undefined)?.sval;
        if (key === undefined) return NOT_TRACED;
        const taint = await this.valueTaint(args[i + 1]!, entries, ctes, visiting, outer);
        members.set(key, members.has(key) ? strongest(members.get(key), taint) : taint);
      }
      return jsonTaintOf(members, false);
    }
    const around = await this.expressionTaint(
      { f: call.agg_filter, o: call.agg_order, rest: args.slice(1) },
      entries,
      ctes,
      visiting,
      outer,
    );
    const columns = args.length >= 1 && !around ? wholeRowColumns(args[0]!, entries) : undefined;
    if (!columns || (kind === 'agg' && args.length !== 1)) return NOT_TRACED;
    const members = new Map<string, Taint>();
    for (const c of columns) members.set(c.name, members.has(c.name) ? DERIVED : c.taint);
    return jsonTaintOf(members, kind === 'agg');
  }

  /** The columns `alias.*` (or `*`) stands for, inside ROW(…); undefined when `arg` is not a star. */
  private starColumns(arg: Node, entries: ScopeEntry[]): OutputColumn[] | undefined {
    const ref = arg.ColumnRef as { fields: Node[] } | undefined;
    if (!ref || ref.fields.at(-1)?.A_Star === undefined) return undefined;
    const qualifier = strings(ref.fields.slice(0, -1)).at(-1);
    const chosen =
      qualifier === undefined
        ? entries
        : entries.filter((e) => e.alias === qualifier || e.relation === qualifier);
    if (qualifier !== undefined && chosen.length === 0) throw new LineageUnknown(`unknown ${qualifier}.*`);
    if (chosen.some((e) => e.open))
      throw new LineageUnknown('the columns of a function in FROM are not known');
    return chosen.flatMap((e) => e.columns);
  }

  /**
   * A column reference's sensitivity, looked up in this query's FROM items and then in the queries
   * around it; a bare alias is a whole-row reference and carries all of it.
   */
  private resolveColumn(path: string[], entries: ScopeEntry[], outer: Outer): Taint {
    const levels = [entries, ...outer];
    for (const [depth, level] of levels.entries()) {
      const found = this.resolveIn(path, level);
      if (!found) continue;
      // A function's unnamed columns may or may not hold the name: it may belong further out.
      return found.open
        ? union(found.taint, this.resolveColumn(path, [], levels.slice(depth + 1)))
        : found.taint;
    }
    // Unknown to us (a typo the server will reject, say): assume the worst of what is in sight.
    return levels.some((level) => level.some(tainted)) ? DERIVED : undefined;
  }

  /** What `path` names among one query's FROM items; undefined when nothing there can be it. */
  private resolveIn(path: string[], entries: ScopeEntry[]): { taint: Taint; open?: true } | undefined {
    const column = path.at(-1)!;
    const qualifier = path.length > 1 ? path.at(-2) : undefined;
    const candidates =
      qualifier === undefined
        ? entries
        : entries.filter((e) => e.alias === qualifier || e.relation === qualifier);
    const matches = candidates.flatMap((e) => e.columns.filter((c) => c.name === column));
    if (matches.length === 1) return { taint: matches[0]!.taint };
    if (matches.length > 1) return { taint: matches.some((m) => m.taint) ? DERIVED : undefined };
    const wholeRow = entries.filter(
      (e) => e.alias === column || (qualifier === undefined && e.relation === column),
    );
    if (wholeRow.length === 1 && !wholeRow[0]!.open)
      return { taint: recordTaint(wholeRow[0]!.columns.map((c) => c.taint)) };
    if (wholeRow.length > 0) return { taint: wholeRow.some(tainted) ? DERIVED : undefined };
    const open = candidates.filter((e) => e.open);
    if (open.length > 0) return { taint: open.some(tainted) ? DERIVED : undefined, open: true };
    return undefined;
  }

  private async expressionTaint(
    expression: Node,
    entries: ScopeEntry[],
    ctes: Map<string, OutputColumn[]>,
    visiting: Set<number>,
    outer: Outer,
  ): Promise<Taint> {
    let taint: Taint = undefined;
    const visit = async (value: unknown): Promise<void> => {
      if (taint) return;
      if (Array.isArray(value)) {
        for (const item of value) await visit(item);
        return;
      }
      if (value === null || typeof value !== 'object') return;
      const node = value as Node;
      if (node.ColumnRef) {
        const fields = (node.ColumnRef as { fields: Node[] }).fields;
        const path = strings(fields);
        const qualified = fields.at(-1)?.A_Star !== undefined ? path.slice(0, -1) : path;
        const t = this.resolveColumn(qualified.length > 0 ? qualified : ['*'], entries, outer);
        if (t) taint = DERIVED;
        return;
      }
      if (node.SubLink) {
        const sub = (node.SubLink as Node).subselect as Node;
        const outputs = await this.statementOutputs(sub, ctes, visiting, [entries, ...outer]);
        if (outputs.some((o) => o.taint)) taint = DERIVED;
        await visit((node.SubLink as Node).testexpr);
        return;
      }
      const untraced = this.untracedCode(node);
      if (untraced === 'reveals-nothing') return;
      if (untraced) {
        taint = await this.untraceable(untraced, entries, ctes, visiting, outer);
        return;
      }
      for (const child of Object.values(node)) await visit(child);
    };
    await visit(expression);
    return taint;
  }

  /**
   * A call, operator or cast of code the tunnel cannot trace: the node whose arguments it is given;
   * 'reveals-nothing' for a call that returns nothing of its arguments; undefined for anything else.
   */
  private untracedCode(node: Node): Node | 'reveals-nothing' | undefined {
    if (node.FuncCall) {
      const call = node.FuncCall as Node;
      const path = strings(call.funcname);
      const name = path.at(-1)!;
      // A function the server does not ship may read any table: what it returns cannot be traced.
      if (!this.traceableFunction(path.length > 1 ? path.at(-2) : undefined, name)) return call;
      if (REVEAL_NOTHING.has(name) && !call.agg_filter) return 'reveals-nothing';
    }
    if (node.A_Expr && OPERATOR_KINDS.has((node.A_Expr as Node).kind as string)) {
      const operator = node.A_Expr as Node;
      const path = strings(operator.name);
      if (!this.traceableOperator(path.length > 1 ? path.at(-2) : undefined, path.at(-1)!)) return operator;
    }
    if (node.TypeCast) {
      const cast = node.TypeCast as Node;
      const typeName = strings((cast.typeName as Node | undefined)?.names);
      if (!this.traceableCast(typeName)) return { args: [cast.arg] };
    }
    return undefined;
  }

  /** A call of code the tunnel cannot see: derived from what it is given, or opaque when that is clean. */
  private async untraceable(
    call: Node,
    entries: ScopeEntry[],
    ctes: Map<string, OutputColumn[]>,
    visiting: Set<number>,
    outer: Outer,
  ): Promise<Taint> {
    const given = await this.expressionTaint(
      {
        args: call.args,
        lexpr: call.lexpr,
        rexpr: call.rexpr,
        filter: call.agg_filter,
        order: call.agg_order,
        over: call.over,
      },
      entries,
      ctes,
      visiting,
      outer,
    );
    return given ? DERIVED : OPAQUE;
  }

  private async fromItem(
    item: Node,
    ctes: Map<string, OutputColumn[]>,
    visiting: Set<number>,
    outer: Outer,
  ): Promise<ScopeEntry[]> {
    if (item.RangeVar) return [await this.rangeVarEntry(item.RangeVar as Node, ctes, visiting)];
    if (item.RangeSubselect) {
      const sub = item.RangeSubselect as Node;
      const outputs = await this.statementOutputs(sub.subquery as Node, ctes, visiting, outer);
      return [this.aliased(sub.alias as Node | undefined, '', outputs)];
    }
    if (item.JoinExpr) {
      const join = item.JoinExpr as Node;
      const left = await this.fromItem(join.larg as Node, ctes, visiting, outer);
      const right = await this.fromItem(join.rarg as Node, ctes, visiting, [
        [...(outer[0] ?? []), ...left],
        ...outer.slice(1),
      ]);
      const sides = [...left, ...right];
      const alias = join.alias as Node | undefined;
      if (!alias) return sides;
      const columns = sides.flatMap((s) =>
        s.open ? [...s.columns, { name: s.alias, taint: s.open.taint, spread: true as const }] : s.columns,
      );
      return [...sides, this.aliased(alias, '', columns)];
    }
    if (item.RangeFunction) {
      const fn = item.RangeFunction as Node;
      // A set-returning function's columns are as sensitive as whatever it was given.
      const taint = await this.expressionTaint(fn.functions as Node, [], ctes, visiting, outer);
      const alias = fn.alias as Node | undefined;
      const names = strings(alias?.colnames);
      if (names.length === 0) names.push(...columnDefinitionNames(fn));
      const aliasName = (alias?.aliasname as string | undefined) ?? '';
      // generate_series(1, 3) g: one column named g, or the columns of a composite — unknown here.
      if (names.length === 0) return [{ alias: aliasName, columns: [], open: { taint } }];
      return [{ alias: aliasName, columns: names.map((name) => ({ name, taint })) }];
    }
    throw new LineageUnknown(`cannot follow FROM item ${Object.keys(item)[0]}`);
  }

  private async rangeVarEntry(
    rangeVar: Node,
    ctes: Map<string, OutputColumn[]>,
    visiting: Set<number>,
  ): Promise<ScopeEntry> {
    const name = rangeVar.relname as string;
    const schema = rangeVar.schemaname as string | undefined;
    const cte = schema === undefined ? ctes.get(name) : undefined;
    if (cte) return this.aliased(rangeVar.alias as Node | undefined, name, cte);
    const relation = await this.catalog.relationByName(schema, name);
    if (!relation) throw new LineageUnknown(`unknown relation ${schema ? `${schema}.` : ''}${name}`);
    const columns =
      relation.kind === 'v' || relation.kind === 'm'
        ? await this.computeColumnsOf(relation, visiting)
        : await this.columnsOf(relation);
    return this.aliased(rangeVar.alias as Node | undefined, name, columns);
  }

  private aliased(alias: Node | undefined, relation: string, columns: OutputColumn[]): ScopeEntry {
    const renamed = strings(alias?.colnames);
    return {
      alias: (alias?.aliasname as string | undefined) ?? relation,
      relation: relation || undefined,
      columns: columns.map((c, i) => ({
        name: renamed[i] ?? c.name,
        taint: c.taint,
        ...(c.spread ? { spread: true as const } : {}),
      })),
    };
  }
}
