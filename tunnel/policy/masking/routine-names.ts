/**
 * Which function, operator and cast names lineage may trace through, as the target database defines
 * them. A built-in name is only the built-in where the database defines no other function of that name:
 * a user's `public.md5(int)` wins over `pg_catalog.md5(text)` by a better type match, a `shadow.upper`
 * wins by search_path order, and either may read any table. Such names are untraceable, and so are
 * casts to a type through a user's function. Functions of a few extensions that only compute from
 * their arguments (types like citext, hstore, ltree) are traced as built-ins are.
 */
import type { QueryRunner } from './catalog.ts';

/**
 * Extensions whose functions and operators compute only from their arguments, read no table and
 * open no connection — reviewed for lineage, not for writes (tablefunc's crosstab runs a query,
 * dblink reaches other servers, PostGIS looks up tables by name: none is here).
 */
export const PURE_EXTENSIONS: readonly string[] = [
  'btree_gin',
  'btree_gist',
  'citext',
  'cube',
  'earthdistance',
  'fuzzystrmatch',
  'hstore',
  'intarray',
  'isn',
  'ltree',
  'pg_trgm',
  'pgcrypto',
  'seg',
  'unaccent',
  'uuid-ossp',
];

export interface RoutineNames {
  /** Function names (bare and schema.name) defined by code that is neither built in nor a pure extension's. */
  readonly userFunctions: ReadonlySet<string>;
  readonly userOperators: ReadonlySet<string>;
  /** Function and operator names (bare and schema.name) of the pure extensions. */
  readonly extensionFunctions: ReadonlySet<string>;
  readonly extensionOperators: ReadonlySet<string>;
  /** Type names (bare and schema.name) a cast to runs a user's function. */
  readonly userCastTargets: ReadonlySet<string>;
  /**
   * A user's function runs as an implicit or assignment cast somewhere: the server may call it wherever
   * two types meet, which no parse tree shows, so nothing computed is traced.
   */
  readonly userImplicitCasts: boolean;
  /** Tells two readings apart: equal when they hold the same names. */
  readonly fingerprint: string;
}

/** What lineage assumes without a catalog: only the server's own names. */
export const BUILTIN_ONLY: RoutineNames = Object.freeze({
  userFunctions: new Set<string>(),
  userOperators: new Set<string>(),
  extensionFunctions: new Set<string>(),
  extensionOperators: new Set<string>(),
  userCastTargets: new Set<string>(),
  userImplicitCasts: false,
  fingerprint: '',
});

/**
 * Objects created after initdb (OID ≥ 16384), by kind: 'function' or 'operator' of a user's, 'ext-…'
 * of a pure extension's, 'cast' / 'implicit-cast' to a type through a user's function.
 */
const ROUTINE_NAMES_QUERY = `WITH pure AS (
  SELECT d.classid, d.objid FROM pg_catalog.pg_depend d
    JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
   WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'
     AND e.extname = ANY ($1::text[]))
SELECT CASE WHEN EXISTS (SELECT 1 FROM pure WHERE classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                         AND objid = p.oid) THEN 'ext-function' ELSE 'function' END,
       n.nspname, p.proname
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE p.oid >= 16384
UNION
SELECT CASE WHEN EXISTS (SELECT 1 FROM pure WHERE classid = 'pg_catalog.pg_operator'::pg_catalog.regclass
                         AND objid = o.oid) THEN 'ext-operator' ELSE 'operator' END,
       n.nspname, o.oprname
  FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
 WHERE o.oid >= 16384
UNION
SELECT CASE WHEN c.castcontext = 'e' THEN 'cast' ELSE 'implicit-cast' END, n.nspname, t.typname
  FROM pg_catalog.pg_cast c JOIN pg_catalog.pg_type t ON t.oid = c.casttarget
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
 WHERE c.oid >= 16384 AND c.castmethod <> 'b'
   AND NOT EXISTS (SELECT 1 FROM pure WHERE classid = 'pg_catalog.pg_cast'::pg_catalog.regclass
                   AND objid = c.oid)`;

/** Reads the names from the database. */
export async function readRoutineNames(runner: QueryRunner): Promise<RoutineNames> {
  const rows = await runner.query(ROUTINE_NAMES_QUERY, [
    `{${PURE_EXTENSIONS.map((e) => `"${e}"`).join(',')}}`,
  ]);
  const sets = new Map<string, Set<string>>();
  const keys: string[] = [];
  for (const [kind, schema, name] of rows) {
    if (!kind || !name) continue;
    let set = sets.get(kind);
    if (!set) sets.set(kind, (set = new Set()));
    set.add(name);
    set.add(`${schema}.${name}`);
    keys.push(`${kind}:${schema}.${name}`);
  }
  const of = (kind: string): ReadonlySet<string> => sets.get(kind) ?? new Set();
  return {
    userFunctions: of('function'),
    userOperators: of('operator'),
    extensionFunctions: of('ext-function'),
    extensionOperators: of('ext-operator'),
    userCastTargets: new Set([...of('cast'), ...of('implicit-cast')]),
    userImplicitCasts: of('implicit-cast').size > 0,
    fingerprint: keys.sort().join('|'),
  };
}

/**
 * The names as the database defines them now, read again once older than `ttlMs` (a function created
 * by someone else is seen within that time, as the classifier sees it).
 */
export class FreshRoutineNames {
  private latest: { names: RoutineNames; readAt: number } | undefined;
  private reading: Promise<RoutineNames> | undefined;
  /** Bumped by forget(): a read begun before it neither serves nor stores for later calls. */
  private generation = 0;

  constructor(
    private readonly runner: () => Promise<QueryRunner>,
    private readonly ttlMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The names when they are fresh enough, without waiting; undefined when they must be read. */
  fresh(): RoutineNames | undefined {
    const latest = this.latest;
    return latest && this.now() - latest.readAt < this.ttlMs ? latest.names : undefined;
  }

  /** The next use reads the names again. */
  forget(): void {
    this.generation++;
    this.latest = undefined;
    this.reading = undefined;
  }

  current(): Promise<RoutineNames> {
    const fresh = this.fresh();
    if (fresh) return Promise.resolve(fresh);
    if (this.reading) return this.reading;
    const generation = this.generation;
    const reading = (async () => {
      const readAt = this.now();
      const names = await readRoutineNames(await this.runner());
      if (generation === this.generation) this.latest = { names, readAt };
      return names;
    })().finally(() => {
      if (this.reading === reading) this.reading = undefined;
    });
    this.reading = reading;
    return reading;
  }
}
