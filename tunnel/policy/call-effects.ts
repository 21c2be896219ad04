/**
 * The classes a function call, an operator, a call in attribute notation or a cast carries: the
 * built-in knowledge (function-catalog.ts) combined with every overload of the target database the
 * server could pick for it (routine-catalog.ts). A name that is neither a known built-in nor anything
 * the database defines is `dynamic`: nothing says what it runs.
 */
import {
  dangerousFunction,
  isBuiltinOperator,
  isSideEffectFree,
  type FunctionEffect,
} from './function-catalog.ts';
import {
  describeRoutine,
  functionCandidates,
  operatorCandidates,
  type RoutineCatalog,
} from './routine-catalog.ts';

export interface CallEffect {
  cls: FunctionEffect;
  reason: string;
}

export interface CallSite {
  /** The schema the call names, if any. */
  schema: string | undefined;
  name: string;
  /** The call as written, for messages: "public.f". */
  written: string;
  /** Arguments passed (ts_rewrite's danger depends on it). */
  argumentCount: number;
  /** Arguments an overload must accept; undefined when the count does not decide (WITHIN GROUP). */
  arity: number | undefined;
  /** The deployment declared it side-effect free (ClassifierOptions.safeFunctions). */
  declaredSafe: boolean;
}

export function functionCallEffects(routines: RoutineCatalog | undefined, call: CallSite): CallEffect[] {
  const { schema, name, written } = call;
  const effects: CallEffect[] = [];
  const danger = dangerousFunction(name, call.argumentCount);
  if (danger !== undefined) effects.push({ cls: danger, reason: `call of ${written}()` });
  if (call.declaredSafe) return effects;
  const candidates = routines ? functionCandidates(routines, schema, name, call.arity) : [];
  for (const candidate of candidates) {
    for (const cls of candidate.effects) {
      if (cls === danger) continue;
      effects.push({ cls, reason: `call of ${written}() may run ${describeRoutine(candidate)}` });
    }
  }
  const builtinSchema = schema === undefined || schema === 'pg_catalog';
  const known =
    isSideEffectFree(schema, name) || candidates.length > 0 || (danger !== undefined && builtinSchema);
  if (!known) effects.push({ cls: 'dynamic', reason: `call of ${written}()` });
  return effects;
}

export function operatorEffects(
  routines: RoutineCatalog | undefined,
  schema: string | undefined,
  name: string,
  prefix: boolean,
): CallEffect[] {
  const written = schema === undefined ? name : `${schema}.${name}`;
  const effects: CallEffect[] = [];
  const candidates = routines ? operatorCandidates(routines, schema, name, prefix) : [];
  for (const candidate of candidates) {
    for (const cls of candidate.function.effects) {
      effects.push({
        cls,
        reason: `operator ${written} may run ${describeRoutine(candidate.function)} (operator ${candidate.schema}.${name})`,
      });
    }
  }
  if (!isBuiltinOperator(schema, name) && candidates.length === 0) {
    effects.push({ cls: 'dynamic', reason: `operator ${written}` });
  }
  return effects;
}

/**
 * `a.f` is `f(a)` when `a` has no field `f`. Unknown names there are nearly always columns or fields,
 * so only dangerous built-in names and the database's own overloads of one argument count.
 */
export function attributeCallEffects(routines: RoutineCatalog | undefined, name: string): CallEffect[] {
  const effects: CallEffect[] = [];
  const danger = dangerousFunction(name, 1);
  if (danger !== undefined) effects.push({ cls: danger, reason: `call of ${name}() in attribute notation` });
  for (const candidate of routines ? functionCandidates(routines, undefined, name, 1) : []) {
    for (const cls of candidate.effects) {
      if (cls === danger) continue;
      effects.push({ cls, reason: `.${name} may call ${describeRoutine(candidate)} (attribute notation)` });
    }
  }
  return effects;
}

/** A cast to `type` runs its cast function, or a domain's CHECK constraints. */
export function castEffects(routines: RoutineCatalog | undefined, type: string): CallEffect[] {
  const routine = routines?.castTargets.get(type);
  if (routine === undefined) return [];
  return routine.effects.map((cls) => ({ cls, reason: `cast to ${type} runs ${describeRoutine(routine)}` }));
}
