/**
 * What the target database defines beyond PostgreSQL's built-ins — functions, operators, casts and
 * domains, each with what running it does — and which of them a call or an operator in a statement
 * may resolve to.
 *
 * The server picks one overload by the arguments' types among the functions (or operators) of that
 * name in the schemas of the search path. The classifier sees no types, so it takes every overload
 * the server could pick: every schema (a session's search path may differ from the side
 * connection's), filtered by the number of arguments (defaults and VARIADIC counted) or, for an
 * operator, by prefix or infix form. A call is as safe as the least safe of its candidates: when
 * every one of them is a built-in or a reviewed extension's read (citext's `=`, hstore's `->`,
 * PostGIS's `&&`), the call is a read; when one is a user's function, the call is `dynamic`.
 */
import type { FunctionEffect } from './function-catalog.ts';

/** One function the database defines, and what calling it does. */
export interface Routine {
  schema: string;
  name: string;
  /** The classes a call carries; empty for a read. */
  effects: readonly FunctionEffect[];
  /** Why it is judged so, for messages: "a user-defined function", "of extension citext", ... */
  origin: string;
}

export interface FunctionOverload extends Routine {
  /** Fewest arguments a call may pass (parameters without defaults). */
  minArgs: number;
  /** Most arguments a call may pass (Infinity when VARIADIC). */
  maxArgs: number;
}

export interface OperatorOverload {
  schema: string;
  name: string;
  /** A prefix operator (no left operand). */
  prefix: boolean;
  /** The function the operator calls. */
  function: Routine;
}

export interface RoutineCatalog {
  /** Functions outside pg_catalog (and extensions' functions inside it), by name. */
  readonly functions: ReadonlyMap<string, readonly FunctionOverload[]>;
  /** Operators outside pg_catalog (and extensions' operators inside it), by name. */
  readonly operators: ReadonlyMap<string, readonly OperatorOverload[]>;
  /** Type names a cast to may run a function that is not a read (a cast's function, a domain's checks). */
  readonly castTargets: ReadonlyMap<string, Routine>;
  /**
   * Implicit casts whose function is not a read: the server inserts them wherever a value of the
   * source type meets a parameter of the target type, which no parse tree shows. Their descriptions.
   */
  readonly implicitCasts: readonly string[];
}

export const EMPTY_ROUTINE_CATALOG: RoutineCatalog = Object.freeze({
  functions: new Map(),
  operators: new Map(),
  castTargets: new Map(),
  implicitCasts: Object.freeze([]),
});

/**
 * The overloads a call of `name` may resolve to: those in `schema` when the call names one, in any
 * schema otherwise, that accept `argumentCount` arguments (undefined when the count does not decide,
 * as in an ordered-set aggregate's WITHIN GROUP).
 */
export function functionCandidates(
  catalog: RoutineCatalog,
  schema: string | undefined,
  name: string,
  argumentCount: number | undefined,
): readonly FunctionOverload[] {
  const overloads = catalog.functions.get(name);
  if (overloads === undefined) return [];
  return overloads.filter(
    (o) =>
      (schema === undefined || o.schema === schema) &&
      (argumentCount === undefined || (argumentCount >= o.minArgs && argumentCount <= o.maxArgs)),
  );
}

/** The operators an operator expression may resolve to (prefix: it has no left operand). */
export function operatorCandidates(
  catalog: RoutineCatalog,
  schema: string | undefined,
  name: string,
  prefix: boolean,
): readonly OperatorOverload[] {
  const overloads = catalog.operators.get(name);
  if (overloads === undefined) return [];
  return overloads.filter((o) => (schema === undefined || o.schema === schema) && o.prefix === prefix);
}

/** "public.upper, a user-defined function" */
export function describeRoutine(routine: Routine): string {
  return `${routine.schema}.${routine.name}, ${routine.origin}`;
}
