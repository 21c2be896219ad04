/**
 * Widely used extensions whose functions were reviewed, and what each function does. The classifier
 * trusts a function of one of these extensions (pg_depend deptype 'e' says which extension owns it) by
 * this table instead of treating it as the user's code:
 *
 * - a function named here carries the classes given, whatever its volatility (PostGIS declares one
 *   AddGeometryColumn overload STABLE although it runs ALTER TABLE);
 * - any other IMMUTABLE or STABLE function of the extension is a read (the extension's own contract,
 *   checked against its source for the extensions below);
 * - any other VOLATILE function is `dynamic`: it was not reviewed (a newer version may have added it).
 *
 * Extensions not listed here are trusted only when a policy names them in `trusted_extensions`.
 * Reviewed against the extensions of PostgreSQL 18's contrib and PostGIS 3.3.
 */
import type { FunctionEffect } from './function-catalog.ts';

export interface ExtensionProfile {
  /** Functions by (lower-case) name: the classes each carries; [] is a read. */
  readonly named?: Readonly<Record<string, readonly FunctionEffect[]>>;
  /** Name prefixes of whole families of functions, with their classes. */
  readonly prefixes?: readonly (readonly [string, readonly FunctionEffect[]])[];
  /** The classes of every function of the extension, named or not (dblink reaches other servers). */
  readonly all?: readonly FunctionEffect[];
}

const READ: readonly FunctionEffect[] = [];
const WRITE: readonly FunctionEffect[] = ['write'];
const DDL: readonly FunctionEffect[] = ['ddl'];
const DDL_WRITE: readonly FunctionEffect[] = ['ddl', 'write'];
const DROP: readonly FunctionEffect[] = ['ddl', 'drop'];
const SERVER: readonly FunctionEffect[] = ['server-access'];
const DYNAMIC: readonly FunctionEffect[] = ['dynamic'];
const SESSION: readonly FunctionEffect[] = ['session'];
const PRIVILEGE: readonly FunctionEffect[] = ['privilege'];

const names = (effects: readonly FunctionEffect[], list: string): Record<string, readonly FunctionEffect[]> =>
  Object.fromEntries(
    list
      .split(/\s+/)
      .filter(Boolean)
      .map((name) => [name, effects]),
  );

/** PostGIS: geometry/geography functions are reads; the geometry_columns and long-transaction helpers are not. */
const POSTGIS: ExtensionProfile = {
  named: {
    addgeometrycolumn: DDL,
    dropgeometrycolumn: DROP,
    dropgeometrytable: DROP,
    updategeometrysrid: DDL_WRITE,
    populate_geometry_columns: DDL,
    postgis_extensions_upgrade: DDL,
    enablelongtransactions: DDL,
    disablelongtransactions: DDL,
    checkauth: DDL, // creates a trigger
    addauth: WRITE,
    lockrow: WRITE,
    unlockrows: WRITE,
    // Runs SELECT ST_Extent(column) FROM a table named in text: a read the masking cannot see.
    st_findextent: DYNAMIC,
    // Volatile only because of randomness or GEOS, or reading planner statistics.
    ...names(
      READ,
      'st_clusterkmeans st_generatepoints st_symmetricdifference gettransactionid longtransactionsenabled ' +
        '_postgis_stats _postgis_selectivity _postgis_join_selectivity',
    ),
  },
};

/** PostGIS raster: pixel functions are reads; constraint helpers are DDL; out-db files are the server's. */
const POSTGIS_RASTER: ExtensionProfile = {
  named: {
    addrasterconstraints: DDL,
    droprasterconstraints: DDL,
    addoverviewconstraints: DDL,
    dropoverviewconstraints: DDL,
    updaterastersrid: DDL_WRITE,
    _updaterastersrid: DDL_WRITE,
    st_createoverview: DDL_WRITE,
    // The size and time of a file on the server, and rasters that point at one.
    st_bandfilesize: SERVER,
    st_bandfiletimestamp: SERVER,
    st_setbandpath: SERVER,
    // Overloads of these take a table and column by name and query them: reads the masking cannot see.
    ...names(
      DYNAMIC,
      'st_retile st_approxcount st_approxhistogram st_approxquantile st_approxsummarystats st_count ' +
        'st_histogram st_quantile st_summarystats st_valuecount st_valuepercent _st_count _st_histogram ' +
        '_st_quantile _st_summarystats _st_valuecount',
    ),
    // Volatile although they only compute a new raster value.
    ...names(READ, 'st_rotation st_setbandnodatavalue st_setvalue'),
  },
  prefixes: [
    ['_add_raster_constraint', DDL],
    ['_drop_raster_constraint', DDL],
    ['_add_overview_constraint', DDL],
    ['_drop_overview_constraint', DDL],
  ],
};

/** PostGIS topology: most functions edit the topology's tables. */
const POSTGIS_TOPOLOGY: ExtensionProfile = {
  named: {
    createtopology: DDL_WRITE,
    st_inittopogeo: DDL_WRITE,
    copytopology: DDL_WRITE,
    droptopology: DROP,
    addtopogeometrycolumn: DDL,
    droptopogeometrycolumn: DROP,
    addtosearchpath: PRIVILEGE, // ALTER DATABASE ... SET search_path
    ...names(
      WRITE,
      'addedge addface addnode cleartopogeom createtopogeom polygonize populate_topology_layer ' +
        'removeunusedprimitives st_addedgemodface st_addedgenewfaces st_addisoedge st_addisonode ' +
        'st_changeedgegeom st_createtopogeo st_modedgeheal st_modedgesplit st_moveisonode st_newedgeheal ' +
        'st_newedgessplit st_remedgemodface st_remedgenewface st_remisonode st_removeisoedge st_removeisonode ' +
        'topogeo_addgeometry topogeo_addlinestring topogeo_addpoint topogeo_addpolygon topogeom_addelement ' +
        'topogeom_addtopogeom topogeom_remelement totopogeom',
    ),
    ...names(
      READ,
      '_asgmledge _asgmlface _validatetopologyedgelinking _validatetopologygetringedges _validatetopologyrings ' +
        'asgml astopojson findlayer findtopology geometry st_simplify st_srid validatetopology ' +
        'validatetopologyrelation',
    ),
  },
};

export const EXTENSION_PROFILES: ReadonlyMap<string, ExtensionProfile> = new Map<string, ExtensionProfile>([
  ['citext', {}],
  ['hstore', {}],
  ['pg_trgm', { named: { set_limit: SESSION } }],
  ['uuid-ossp', { named: names(READ, 'uuid_generate_v1 uuid_generate_v1mc uuid_generate_v4') }],
  ['ltree', {}],
  ['cube', {}],
  ['earthdistance', {}],
  ['unaccent', {}],
  ['intarray', {}],
  ['btree_gin', {}],
  ['btree_gist', {}],
  [
    'pgcrypto',
    {
      // Volatile for their randomness (salts, padding, session keys).
      named: names(
        READ,
        'gen_random_bytes gen_random_uuid gen_salt pgp_pub_encrypt pgp_pub_encrypt_bytea pgp_sym_encrypt ' +
          'pgp_sym_encrypt_bytea fips_mode',
      ),
    },
  ],
  ['fuzzystrmatch', {}],
  ['isn', { named: { isn_weak: SESSION } }],
  ['seg', {}],
  ['tsm_system_rows', {}],
  ['tsm_system_time', {}],
  // crosstab() and connectby() run SQL handed to them as text.
  [
    'tablefunc',
    { named: { ...names(DYNAMIC, 'crosstab crosstab2 crosstab3 crosstab4 connectby'), normal_rand: READ } },
  ],
  ['dblink', { all: SERVER }],
  ['postgres_fdw', { all: SERVER }],
  [
    'pg_stat_statements',
    { named: { pg_stat_statements: READ, pg_stat_statements_info: READ, pg_stat_statements_reset: SERVER } },
  ],
  ['postgis', POSTGIS],
  ['postgis_raster', POSTGIS_RASTER],
  ['postgis_topology', POSTGIS_TOPOLOGY],
]);

/**
 * The classes a function of a reviewed extension carries, or undefined when the extension is not
 * reviewed. `volatility` is pg_proc.provolatile: 'i' immutable, 's' stable, 'v' volatile.
 */
export function reviewedEffects(
  extension: string,
  name: string,
  volatility: string,
): readonly FunctionEffect[] | undefined {
  const profile = EXTENSION_PROFILES.get(extension);
  if (profile === undefined) return undefined;
  if (profile.all !== undefined) return profile.all;
  const named =
    (profile.named !== undefined && Object.hasOwn(profile.named, name) ? profile.named[name] : undefined) ??
    profile.prefixes?.find(([prefix]) => name.startsWith(prefix))?.[1];
  if (named !== undefined) return named;
  return volatility === 'i' || volatility === 's' ? READ : DYNAMIC;
}
