/**
 * The names a policy gives — the tables and columns of its mask and table rules, the extensions and
 * functions it trusts — checked against the target database's catalog. A rule that names nothing
 * would silently mask or block nothing, so such a policy is refused: by the tunnel before it guards,
 * and by the hub for the policies it serves. Shared by both; pure (no imports): the caller runs
 * policyCatalogQuery() on the target and hands the rows to checkPolicyNames().
 *
 * Names are as PostgreSQL folds them (unquoted → lower case, "quoted" as written). A table without a
 * schema matches that table in any schema, as the rules themselves do; a `*` table matches any table.
 */

/**
 * Splits a dotted name the way PostgreSQL reads identifiers: unquoted parts fold to lower case,
 * "quoted" parts keep their case. Returns undefined when the text is not a dotted name.
 */
export function splitIdentifiers(text: string, allowStar = false): string[] | undefined {
  const parts: string[] = [];
  const pattern = /\s*(?:"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)|(\*))\s*(\.|$)/y;
  let offset = 0;
  while (offset < text.length) {
    pattern.lastIndex = offset;
    const match = pattern.exec(text);
    if (!match) return undefined;
    if (match[3] && !allowStar) return undefined;
    parts.push(
      match[1] !== undefined
        ? match[1].replace(/""/g, '"')
        : match[2] !== undefined
          ? match[2].toLowerCase()
          : '*',
    );
    offset = pattern.lastIndex;
    if (match[4] === '') break;
    if (offset >= text.length) return undefined;
  }
  return parts.length > 0 ? parts : undefined;
}

/** One name a policy gives, and where. */
export interface PolicyNameRef {
  /** "policy.yaml:7" */
  source: string;
  /** "mask[0].column", "block[1].table", "trusted_extensions[0]" */
  field: string;
  kind: 'column' | 'table' | 'extension' | 'function';
  schema?: string;
  /** The table of a column or table rule; '*' for any table. */
  table?: string;
  column?: string;
  /** An extension's or a function's name. */
  name?: string;
}

export interface PolicyProblem {
  source: string;
  field: string;
  problem: string;
}

interface Relation {
  schema: string;
  name: string;
  columns: Set<string>;
}

export interface PolicyCatalog {
  relations: Relation[];
  /** Every column name of the user tables of each schema (for suggestions to `*` rules). */
  columnNames: Map<string, Set<string>>;
  extensions: Set<string>;
  availableExtensions: Set<string>;
  functions: { schema: string; name: string }[];
}

/** "policy.yaml:7: mask[0].column: customers.emial: no such column; did you mean customers.email?" */
export function describePolicyProblem(problem: PolicyProblem): string {
  return `${problem.source}: ${problem.field}: ${problem.problem}`;
}

const RELATIONS = `c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'`;

/**
 * The query that reads what checkPolicyNames() needs: every relation's name, the columns of the
 * relations the policy names (and of any relation that has a column a `*` rule names), every user
 * column name, the extensions and the functions outside pg_catalog. Parameters are text.
 */
export function policyCatalogQuery(refs: readonly PolicyNameRef[]): { text: string; values: string[] } {
  const tables = refs.filter((r) => r.table !== undefined && r.table !== '*').map((r) => r.table!);
  const columns = refs.filter((r) => r.kind === 'column' && r.table === '*').map((r) => r.column!);
  const text = `SELECT 'relation', n.nspname, c.relname, NULL
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE ${RELATIONS}
UNION ALL
SELECT 'column', n.nspname, c.relname, a.attname
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE ${RELATIONS} AND (c.relname = ANY ($1::text[]) OR a.attname = ANY ($2::text[]))
UNION ALL
SELECT DISTINCT 'column-name', n.nspname, NULL, a.attname
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE ${RELATIONS} AND n.nspname NOT IN ('pg_catalog', 'information_schema')
UNION ALL
SELECT 'extension', NULL, extname, NULL FROM pg_catalog.pg_extension
UNION ALL
SELECT 'available-extension', NULL, name, NULL FROM pg_catalog.pg_available_extensions
UNION ALL
SELECT DISTINCT 'function', n.nspname, p.proname, NULL
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')`;
  return { text, values: [arrayLiteral(tables), arrayLiteral(columns)] };
}

/** A text[] literal of `items`. */
function arrayLiteral(items: readonly string[]): string {
  return `{${[...new Set(items)].map((item) => `"${item.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}

export function policyCatalogFromRows(rows: readonly (readonly (string | null)[])[]): PolicyCatalog {
  const relations = new Map<string, Relation>();
  const catalog: PolicyCatalog = {
    relations: [],
    columnNames: new Map(),
    extensions: new Set(),
    availableExtensions: new Set(),
    functions: [],
  };
  const relation = (schema: string, name: string): Relation => {
    const key = `${schema}\u0000${name}`;
    let found = relations.get(key);
    if (!found) relations.set(key, (found = { schema, name, columns: new Set() }));
    return found;
  };
  for (const [kind, schema, name, column] of rows) {
    if (kind === 'relation') relation(schema!, name!);
    else if (kind === 'column') relation(schema!, name!).columns.add(column!);
    else if (kind === 'column-name') {
      const names = catalog.columnNames.get(schema!) ?? new Set<string>();
      catalog.columnNames.set(schema!, names.add(column!));
    } else if (kind === 'extension') catalog.extensions.add(name!);
    else if (kind === 'available-extension') catalog.availableExtensions.add(name!);
    else if (kind === 'function') catalog.functions.push({ schema: schema!, name: name! });
  }
  catalog.relations = [...relations.values()];
  return catalog;
}

/** Every name the policy gives that the database does not have, with the closest one it has. */
export function checkPolicyNames(refs: readonly PolicyNameRef[], catalog: PolicyCatalog): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  for (const ref of refs) {
    const problem = problemOf(ref, catalog);
    if (problem !== undefined) problems.push({ source: ref.source, field: ref.field, problem });
  }
  return problems;
}

function problemOf(ref: PolicyNameRef, catalog: PolicyCatalog): string | undefined {
  switch (ref.kind) {
    case 'extension': {
      if (catalog.extensions.has(ref.name!)) return undefined;
      const installable = catalog.availableExtensions.has(ref.name!)
        ? ' (it is available but not installed)'
        : '';
      return `${ref.name}: no such extension is installed${installable}${suggest(ref.name!, catalog.extensions)}`;
    }
    case 'function': {
      const inSchema = catalog.functions.filter((f) => ref.schema === undefined || f.schema === ref.schema);
      if (inSchema.some((f) => f.name === ref.name)) return undefined;
      const written = qualified(ref.schema, ref.name!);
      const closest = closestName(
        ref.name!,
        inSchema.map((f) => f.name),
      );
      const match = closest === undefined ? undefined : inSchema.find((f) => f.name === closest)!;
      const hint = match === undefined ? '' : `; did you mean ${qualified(match.schema, match.name)}?`;
      return `${written}: no such function outside pg_catalog${hint}`;
    }
    default:
      return ref.table === '*' ? anyTableProblem(ref, catalog) : tableProblem(ref, catalog);
  }
}

function tableProblem(ref: PolicyNameRef, catalog: PolicyCatalog): string | undefined {
  const table = ref.table!;
  const written = qualified(ref.schema, table);
  const named = catalog.relations.filter(
    (r) => r.name === table && (ref.schema === undefined || r.schema === ref.schema),
  );
  if (named.length === 0) {
    if (ref.schema !== undefined && !catalog.relations.some((r) => r.schema === ref.schema)) {
      const schemas = new Set(catalog.relations.map((r) => r.schema));
      return `${written}: no such schema ${ident(ref.schema)}${suggest(ref.schema, schemas, (s) => qualified(s, table))}`;
    }
    const candidates = catalog.relations.filter((r) => ref.schema === undefined || r.schema === ref.schema);
    const closest = closestName(
      table,
      candidates.map((r) => r.name),
    );
    const match =
      candidates.find((r) => r.name === closest) ?? catalog.relations.find((r) => r.name === table);
    const hint =
      match === undefined
        ? ''
        : `; did you mean ${qualified(ref.schema === undefined ? undefined : match.schema, match.name)}?`;
    return `${written}: no such table or view${hint}`;
  }
  if (ref.kind !== 'column' || named.some((r) => r.columns.has(ref.column!))) return undefined;
  const columns = new Set(named.flatMap((r) => [...r.columns]));
  return (
    `${written}.${ident(ref.column!)}: no such column` +
    suggest(ref.column!, columns, (c) => `${written}.${ident(c)}`)
  );
}

function anyTableProblem(ref: PolicyNameRef, catalog: PolicyCatalog): string | undefined {
  const column = ref.column!;
  const inSchema = catalog.relations.filter((r) => ref.schema === undefined || r.schema === ref.schema);
  if (inSchema.some((r) => r.columns.has(column))) return undefined;
  const written = qualified(ref.schema, '*');
  return (
    `${written}.${ident(column)}: no table${ref.schema === undefined ? '' : ` in schema ${ident(ref.schema)}`} has a column ${ident(column)}` +
    suggest(
      column,
      [...catalog.columnNames].flatMap(([schema, names]) =>
        ref.schema === undefined || schema === ref.schema ? [...names] : [],
      ),
      (c) => `${written}.${ident(c)}`,
    )
  );
}

function suggest(name: string, candidates: Iterable<string>, show: (name: string) => string = ident): string {
  const closest = closestName(name, [...candidates]);
  return closest === undefined ? '' : `; did you mean ${show(closest)}?`;
}

/**
 * The candidate closest to `name`: the same but for case first (a quoted or unquoted spelling), then
 * the fewest edits, if few enough to be a likely typo.
 */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const sameButCase = candidates.find((c) => c !== name && c.toLowerCase() === lower);
  if (sameButCase !== undefined) return sameButCase;
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of candidates) {
    if (candidate === name) continue;
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance with adjacent transpositions (optimal string alignment). */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 8) return Infinity;
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

/** An identifier as a policy file would have to write it: quoted unless it reads back as itself. */
function ident(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) || name === '*' ? name : `"${name.replace(/"/g, '""')}"`;
}

function qualified(schema: string | undefined, name: string): string {
  return schema === undefined ? ident(name) : `${ident(schema)}.${ident(name)}`;
}
