/**
 * Does a WHERE clause (or a MERGE join condition) restrict the rows of its target table? Meant to
 * catch the accidents — a missing WHERE, `WHERE true`, `WHERE 1=1`, `WHERE x = x`, `WHERE true OR
 * id = 1` — not an adversary: `WHERE id > 0` cannot be told apart from a real condition here.
 */

import { constantValue, unwrapNode as unwrap, type Json } from './parse-tree.ts';

/** The names a column reference may use to qualify the target: its table name and its alias. */
export type TargetNames = ReadonlySet<string>;

/** True when the condition is absent or may be true for every row of the target. */
export function isUnrestricted(condition: unknown, target: TargetNames): boolean {
  if (condition === undefined || condition === null) return true;
  return mayAlwaysBeTrue(condition, target);
}

function mayAlwaysBeTrue(node: unknown, target: TargetNames): boolean {
  const wrapped = unwrap(node);
  if (!wrapped) return !refersToTarget(node, target);
  const [type, body] = wrapped;
  if (type === 'BoolExpr') {
    const args = Array.isArray(body.args) ? body.args : [];
    switch (body.boolop) {
      case 'AND_EXPR':
        return args.every((arg) => mayAlwaysBeTrue(arg, target));
      case 'OR_EXPR':
        return args.some((arg) => mayAlwaysBeTrue(arg, target)) || hasComplementaryNullTests(args);
      default:
        // NOT x restricts when x does; NOT of a constant may be true everywhere.
        return !refersToTarget(args[0], target);
    }
  }
  if (type === 'A_Expr') {
    const op = operatorName(body.name);
    // x = x, x >= x, x <= x and x IS NOT DISTINCT FROM x hold for (almost) every row.
    if (
      (body.kind === 'AEXPR_OP' && (op === '=' || op === '>=' || op === '<=')) ||
      body.kind === 'AEXPR_NOT_DISTINCT'
    ) {
      if (body.lexpr !== undefined && sameExpression(body.lexpr, body.rexpr)) return true;
    }
    // x LIKE '%' holds for every non-null x.
    if ((body.kind === 'AEXPR_LIKE' || body.kind === 'AEXPR_ILIKE') && (op === '~~' || op === '~~*')) {
      const pattern = constantValue(body.rexpr);
      if (typeof pattern === 'string' && /^%+$/.test(pattern)) return true;
    }
  }
  return !refersToTarget(node, target);
}

/** `x IS NULL OR x IS NOT NULL` (in any order, among other disjuncts). */
function hasComplementaryNullTests(args: unknown[]): boolean {
  const tests: { type: unknown; arg: unknown }[] = [];
  for (const arg of args) {
    const wrapped = unwrap(arg);
    if (wrapped?.[0] === 'NullTest') tests.push({ type: wrapped[1].nulltesttype, arg: wrapped[1].arg });
  }
  for (const a of tests) {
    for (const b of tests) {
      if (a.type === 'IS_NULL' && b.type === 'IS_NOT_NULL' && sameExpression(a.arg, b.arg)) return true;
    }
  }
  return false;
}

/**
 * Whether an expression refers to a column of the target: a column reference that is unqualified
 * (we cannot resolve it, so it gets the benefit of the doubt) or qualified with the target's name or
 * alias, or WHERE CURRENT OF. References qualified with another table's name (a USING/FROM table, a
 * subquery's own table) do not restrict the target.
 */
function refersToTarget(node: unknown, target: TargetNames): boolean {
  if (typeof node !== 'object' || node === null) return false;
  if (Array.isArray(node)) return node.some((item) => refersToTarget(item, target));
  const json = node as Json;
  if ('CurrentOfExpr' in json) return true;
  if ('A_Const' in json) return false;
  const columnRef = json.ColumnRef as Json | undefined;
  if (columnRef && typeof columnRef === 'object') {
    const fields = Array.isArray(columnRef.fields) ? columnRef.fields : [];
    if (fields.length < 2) return true;
    const qualifier = unwrap(fields[fields.length - 2]);
    const name = qualifier?.[0] === 'String' ? qualifier[1].sval : undefined;
    return typeof name !== 'string' || target.has(name);
  }
  for (const key in json) {
    if (refersToTarget(json[key], target)) return true;
  }
  return false;
}

/** Structural equality of two expressions, ignoring source locations. */
export function sameExpression(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => sameExpression(item, other[i]));
  }
  const x = a as Json;
  const y = b as Json;
  const keys = Object.keys(x).filter((key) => key !== 'location');
  const otherKeys = Object.keys(y).filter((key) => key !== 'location');
  return keys.length === otherKeys.length && keys.every((key) => key in y && sameExpression(x[key], y[key]));
}

function operatorName(names: unknown): string | undefined {
  if (!Array.isArray(names) || names.length === 0) return undefined;
  const last = unwrap(names[names.length - 1]);
  return last?.[0] === 'String' && typeof last[1].sval === 'string' ? last[1].sval : undefined;
}
