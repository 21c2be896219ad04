/**
 * Reads a RoutineCatalog from the target database, judging every function by who made it: a built-in
 * by the built-in lists, a reviewed extension's by extension-allowlist.ts, an extension or function
 * the policy trusts as a read, anything else (the users' own SQL, PL/pgSQL, C functions) as `dynamic`.
 * Names on the built-in danger lists (dblink*, pg_read_file, ...) keep their class wherever they live.
 */
import { reviewedEffects } from './extension-allowlist.ts';
import { dangerousFunction, isSideEffectFree, type FunctionEffect } from './function-catalog.ts';
import type { QueryRunner } from './masking/catalog.ts';
import type { FunctionOverload, OperatorOverload, Routine, RoutineCatalog } from './routine-catalog.ts';

/** What a policy trusts beyond the built-in allowlist (`trusted_extensions`, `trusted_functions`). */
export interface RoutineTrust {
  extensions: readonly string[];
  /** [schema.]name; without a schema, the name in every schema. */
  functions: readonly { schema?: string; name: string }[];
}

export const NO_TRUST: RoutineTrust = { extensions: [], functions: [] };

/** Objects made after initdb (FirstNormalObjectId): everything a user or an extension created. */
const USER_OBJECTS = 16384;

const EXTENSION_OF = (classId: string, alias: string) => `
  LEFT JOIN pg_catalog.pg_depend ${alias}d ON ${alias}d.classid = '${classId}'::regclass
        AND ${alias}d.objid = ${alias}.oid AND ${alias}d.refclassid = 'pg_catalog.pg_extension'::regclass
        AND ${alias}d.deptype = 'e'
  LEFT JOIN pg_catalog.pg_extension ${alias}e ON ${alias}e.oid = ${alias}d.refobjid`;

/** Outside pg_catalog and information_schema, or an extension's (other than plpgsql's) inside them. */
const NOT_BUILT_IN = (namespace: string, extension: string) =>
  `(${namespace} NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
    OR (${extension} IS NOT NULL AND ${extension} <> 'plpgsql'))`;

/** A fingerprint of everything the queries below read: when it is unchanged, so is the catalog. */
export const ROUTINE_FINGERPRINT_QUERY = `SELECT concat_ws('/',
  (SELECT md5(string_agg(concat_ws(':', oid, pronamespace, proname, pronargs, pronargdefaults, provariadic, provolatile), ',' ORDER BY oid))
     FROM pg_catalog.pg_proc WHERE oid >= ${USER_OBJECTS}),
  (SELECT md5(string_agg(concat_ws(':', oid, oprnamespace, oprname, oprleft, oprcode::oid), ',' ORDER BY oid))
     FROM pg_catalog.pg_operator WHERE oid >= ${USER_OBJECTS}),
  (SELECT md5(string_agg(concat_ws(':', oid, casttarget, castfunc, castcontext), ',' ORDER BY oid))
     FROM pg_catalog.pg_cast WHERE oid >= ${USER_OBJECTS}),
  (SELECT md5(string_agg(concat_ws(':', classid, objid, refobjid), ',' ORDER BY classid, objid, refobjid))
     FROM pg_catalog.pg_depend WHERE deptype = 'e' OR classid = 'pg_catalog.pg_constraint'::regclass),
  (SELECT md5(string_agg(concat_ws(':', oid, typname, typbasetype), ',' ORDER BY oid))
     FROM pg_catalog.pg_type WHERE typtype = 'd'),
  (SELECT md5(string_agg(concat_ws(':', oid, nspname), ',' ORDER BY oid)) FROM pg_catalog.pg_namespace),
  (SELECT md5(string_agg(concat_ws(':', oid, contypid), ',' ORDER BY oid)) FROM pg_catalog.pg_constraint WHERE contypid <> 0))`;

const FUNCTIONS_QUERY = `SELECT p.oid, n.nspname, p.proname, p.pronargs, p.pronargdefaults,
       p.provariadic <> 0, p.provolatile, pe.extname
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  ${EXTENSION_OF('pg_catalog.pg_proc', 'p')}
 WHERE ${NOT_BUILT_IN('p.pronamespace', 'pe.extname')}`;

const OPERATORS_QUERY = `SELECT n.nspname, o.oprname, o.oprleft = 0, f.oid, fn.nspname, f.proname
  FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
  JOIN pg_catalog.pg_proc f ON f.oid = o.oprcode JOIN pg_catalog.pg_namespace fn ON fn.oid = f.pronamespace
  ${EXTENSION_OF('pg_catalog.pg_operator', 'o')}
 WHERE ${NOT_BUILT_IN('o.oprnamespace', 'oe.extname')}`;

/** Casts made after initdb that call a function: context, source and target type, the function. */
const CASTS_QUERY = `SELECT c.castcontext, s.typname, t.typname, f.oid, fn.nspname, f.proname
  FROM pg_catalog.pg_cast c
  JOIN pg_catalog.pg_type s ON s.oid = c.castsource JOIN pg_catalog.pg_type t ON t.oid = c.casttarget
  JOIN pg_catalog.pg_proc f ON f.oid = c.castfunc JOIN pg_catalog.pg_namespace fn ON fn.oid = f.pronamespace
 WHERE c.oid >= ${USER_OBJECTS}`;

/** Domains, their base type, and the functions their CHECK constraints call (directly or as an operator). */
const DOMAINS_QUERY = `SELECT t.oid, t.typname, t.typbasetype, f.oid, fn.nspname, f.proname
  FROM pg_catalog.pg_type t
  LEFT JOIN pg_catalog.pg_constraint c ON c.contypid = t.oid
  LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::regclass AND d.objid = c.oid
        AND d.refclassid IN ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_operator'::regclass)
  LEFT JOIN pg_catalog.pg_operator o ON d.refclassid = 'pg_catalog.pg_operator'::regclass AND o.oid = d.refobjid
  LEFT JOIN pg_catalog.pg_proc f ON f.oid = CASE WHEN o.oid IS NULL THEN d.refobjid ELSE o.oprcode::oid END
  LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = f.pronamespace
 WHERE t.typtype = 'd'`;

/** Reads the catalog the classifier resolves calls against. */
export async function readRoutineCatalog(runner: QueryRunner, trust: RoutineTrust): Promise<RoutineCatalog> {
  const judge = new RoutineJudge(trust);
  const functions = new Map<string, FunctionOverload[]>();
  const byOid = new Map<string, Routine>();
  for (const [oid, schema, name, nargs, ndefaults, variadic, volatility, extension] of await runner.query(
    FUNCTIONS_QUERY,
  )) {
    const routine = judge.function(schema!, name!, volatility!, extension ?? undefined);
    const overload: FunctionOverload = {
      ...routine,
      minArgs: Number(nargs) - Number(ndefaults),
      maxArgs: variadic === 't' ? Infinity : Number(nargs),
    };
    byOid.set(oid!, routine);
    listed(functions, name!).push(overload);
  }
  const routineOf = (oid: string, schema: string, name: string): Routine =>
    byOid.get(oid) ?? judge.builtin(schema, name);

  const operators = new Map<string, OperatorOverload[]>();
  for (const [schema, name, prefix, foid, fschema, fname] of await runner.query(OPERATORS_QUERY)) {
    listed(operators, name!).push({
      schema: schema!,
      name: name!,
      prefix: prefix === 't',
      function: routineOf(foid!, fschema!, fname!),
    });
  }

  const castTargets = new Map<string, Routine>();
  const implicitCasts: string[] = [];
  for (const [context, source, target, foid, fschema, fname] of await runner.query(CASTS_QUERY)) {
    const routine = routineOf(foid!, fschema!, fname!);
    if (routine.effects.length === 0) continue;
    castTargets.set(target!, routine);
    if (context === 'i') {
      implicitCasts.push(
        `the implicit cast from ${source} to ${target} calls ${fschema}.${fname} (${routine.origin})`,
      );
    }
  }
  addDomains(await runner.query(DOMAINS_QUERY), routineOf, castTargets);
  return Object.freeze({ functions, operators, castTargets, implicitCasts: Object.freeze(implicitCasts) });
}

/** A cast to a domain runs its CHECK constraints and those of the domains it is based on. */
function addDomains(
  rows: (string | null)[][],
  routineOf: (oid: string, schema: string, name: string) => Routine,
  castTargets: Map<string, Routine>,
): void {
  const domains = new Map<string, { name: string; base: string; checks: Routine[] }>();
  for (const [oid, name, base, foid, fschema, fname] of rows) {
    let domain = domains.get(oid!);
    if (!domain) domains.set(oid!, (domain = { name: name!, base: base!, checks: [] }));
    if (foid != null) {
      const routine = routineOf(foid, fschema!, fname!);
      if (routine.effects.length > 0) domain.checks.push(routine);
    }
  }
  for (const domain of domains.values()) {
    const seen = new Set<string>();
    for (let at: typeof domain | undefined = domain; at && !seen.has(at.name); at = domains.get(at.base)) {
      seen.add(at.name);
      const check = at.checks[0];
      if (check !== undefined) {
        castTargets.set(domain.name, {
          ...check,
          origin: `${check.origin}, in a CHECK of domain ${at.name}`,
        });
        break;
      }
    }
  }
}

/** Decides what running one function does, by who made it. */
class RoutineJudge {
  private readonly extensions: ReadonlySet<string>;
  constructor(private readonly trust: RoutineTrust) {
    this.extensions = new Set(trust.extensions);
  }

  function(schema: string, name: string, volatility: string, extension: string | undefined): Routine {
    const danger = dangerousFunction(name, -1);
    const withDanger = (effects: readonly FunctionEffect[], origin: string): Routine => ({
      schema,
      name,
      effects: danger === undefined || effects.includes(danger) ? effects : [...effects, danger],
      origin,
    });
    if (
      this.trust.functions.some((f) => f.name === name && (f.schema === undefined || f.schema === schema))
    ) {
      return withDanger([], 'trusted by the policy (trusted_functions)');
    }
    if (extension !== undefined) {
      if (this.extensions.has(extension)) {
        return withDanger([], `of extension ${extension}, trusted by the policy (trusted_extensions)`);
      }
      const reviewed = reviewedEffects(extension, name, volatility);
      if (reviewed !== undefined) return withDanger(reviewed, `of extension ${extension}`);
      return withDanger(
        ['dynamic'],
        `of extension ${extension}, which is not reviewed (a policy may list it in trusted_extensions)`,
      );
    }
    return withDanger(['dynamic'], 'a user-defined function');
  }

  /** A pg_catalog function an operator, cast or domain of the database calls. */
  builtin(schema: string, name: string): Routine {
    const danger = dangerousFunction(name, -1);
    if (danger !== undefined) return { schema, name, effects: [danger], origin: 'a built-in' };
    if (isSideEffectFree(schema, name)) return { schema, name, effects: [], origin: 'a built-in' };
    return { schema, name, effects: ['dynamic'], origin: 'a function not known to be a read' };
  }
}

function listed<T>(map: Map<string, T[]>, key: string): T[] {
  let list = map.get(key);
  if (!list) map.set(key, (list = []));
  return list;
}
