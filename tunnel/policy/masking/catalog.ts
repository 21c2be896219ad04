/** What masking needs to know of the server's catalog, asked over the tunnel's side connection. */

export interface RelationInfo {
  oid: number;
  schema: string;
  name: string;
  /** pg_class.relkind: r table, p partitioned table, v view, m materialized view, f foreign table… */
  kind: string;
  /** Column names by attribute number; dropped columns are absent. */
  columns: ReadonlyMap<number, string>;
}

/** What a type is made of, as far as masking its values field by field goes. */
export type TypeShape =
  | { kind: 'scalar' }
  /** A composite type (a table's row type or CREATE TYPE … AS): its relation and fields in order. */
  | { kind: 'composite'; relationOid: number; fields: readonly { name: string; typeOid: number }[] }
  /** An array type; `delimiter` is the element type's typdelim. */
  | { kind: 'array'; elementType: number; delimiter: number }
  /** A domain: values are written as its base type's. */
  | { kind: 'domain'; baseType: number };

export interface Catalog {
  relation(oid: number): Promise<RelationInfo | undefined>;
  /** Resolves a name as the server would (search_path for an unqualified one). */
  relationByName(schema: string | undefined, name: string): Promise<RelationInfo | undefined>;
  /** The SELECT a view or materialized view is defined by. */
  viewDefinition(oid: number): Promise<string | undefined>;
  /** pg_type.typcategory: 'S' for string types (text, varchar, citext, domains over them…). */
  typeCategory(oid: number): Promise<string | undefined>;
  /** What a (user-defined) type is made of; undefined when no such type exists. */
  typeShape(oid: number): Promise<TypeShape | undefined>;
}

/** A catalog whose answers age and can be forgotten: what is made of them must not outlive them. */
export interface AgingCatalog extends Catalog {
  /** How long an answer is trusted. */
  readonly ttlMs: number;
  /** Changes whenever every answer was dropped at once (the catalog may have changed). */
  readonly generation: number;
}

export interface QueryRunner {
  query(sql: string, parameters?: (string | null)[]): Promise<(string | null)[][]>;
}

/**
 * How long an answer of the catalog is trusted. A table created, a column added or renamed, a view
 * replaced by someone else is seen by the masking within this time, as the classifier sees new
 * functions (engine.ts CATALOG_TTL_MS).
 */
export const RELATION_TTL_MS = 1000;

/**
 * A catalog read through a query runner, one per target shared by all its sessions: each answer cached
 * for RELATION_TTL_MS, and all of them dropped by forget() when a statement may have changed the catalog.
 */
export class CachedCatalog implements AgingCatalog {
  private readonly relations = new FreshCache<number, RelationInfo | undefined>();
  private readonly names = new FreshCache<string, RelationInfo | undefined>();
  private readonly views = new FreshCache<number, string | undefined>();
  private readonly types = new FreshCache<number, string | undefined>();
  private readonly shapes = new FreshCache<number, TypeShape | undefined>();
  private forgotten = 0;

  constructor(
    private readonly runner: () => Promise<QueryRunner>,
    readonly ttlMs = RELATION_TTL_MS,
  ) {}

  /** Bumped by forget(): what was made of answers read before it is not to be kept. */
  get generation(): number {
    return this.forgotten;
  }

  /** Every answer is read again on its next use. */
  forget(): void {
    this.forgotten++;
    for (const cache of [this.relations, this.names, this.views, this.types, this.shapes]) cache.clear();
  }

  relation(oid: number): Promise<RelationInfo | undefined> {
    return this.relations.get(oid, this.ttlMs, () => this.loadRelation(oid));
  }

  relationByName(schema: string | undefined, name: string): Promise<RelationInfo | undefined> {
    return this.names.get(`${schema ?? ''}.${name}`, this.ttlMs, () =>
      this.runner()
        .then((r) =>
          r.query(
            schema === undefined
              ? 'SELECT to_regclass(quote_ident($1))::oid'
              : 'SELECT to_regclass(quote_ident($1) || $3 || quote_ident($2))::oid',
            schema === undefined ? [name] : [schema, name, '.'],
          ),
        )
        .then((rows) => (rows[0]?.[0] ? this.relation(Number(rows[0][0])) : undefined)),
    );
  }

  viewDefinition(oid: number): Promise<string | undefined> {
    return this.views.get(oid, this.ttlMs, () =>
      this.runner()
        .then((r) => r.query('SELECT pg_catalog.pg_get_viewdef($1::oid)', [String(oid)]))
        .then((rows) => rows[0]?.[0] ?? undefined),
    );
  }

  typeCategory(oid: number): Promise<string | undefined> {
    return this.types.get(oid, this.ttlMs, () =>
      this.runner()
        .then((r) => r.query('SELECT typcategory FROM pg_catalog.pg_type WHERE oid = $1::oid', [String(oid)]))
        .then((rows) => rows[0]?.[0] ?? undefined),
    );
  }

  typeShape(oid: number): Promise<TypeShape | undefined> {
    return this.shapes.get(oid, this.ttlMs, () => this.loadTypeShape(oid));
  }

  private async loadTypeShape(oid: number): Promise<TypeShape | undefined> {
    const runner = await this.runner();
    const rows = await runner.query(
      `SELECT t.typtype, t.typcategory, t.typelem, e.typdelim, t.typbasetype, t.typrelid, a.attname, a.atttypid
         FROM pg_catalog.pg_type t
         LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem
         LEFT JOIN pg_catalog.pg_attribute a
           ON t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE t.oid = $1::oid
        ORDER BY a.attnum`,
      [String(oid)],
    );
    const first = rows[0];
    if (!first) return undefined;
    const [typtype, category, elem, delimiter, base, relation] = first;
    if (typtype === 'd') return { kind: 'domain', baseType: Number(base) };
    if (typtype === 'c') {
      const fields = rows.filter((r) => r[6] !== null).map((r) => ({ name: r[6]!, typeOid: Number(r[7]) }));
      return { kind: 'composite', relationOid: Number(relation), fields };
    }
    // int2vector and oidvector are category A too, but written space-separated: not array literals.
    if (category === 'A' && elem !== '0' && oid !== 22 && oid !== 30) {
      return { kind: 'array', elementType: Number(elem), delimiter: (delimiter ?? ',').charCodeAt(0) };
    }
    return { kind: 'scalar' };
  }

  private async loadRelation(oid: number): Promise<RelationInfo | undefined> {
    const runner = await this.runner();
    const rows = await runner.query(
      `SELECT n.nspname, c.relname, c.relkind, a.attnum, a.attname
         FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE c.oid = $1::oid
        ORDER BY a.attnum`,
      [String(oid)],
    );
    const first = rows[0];
    if (!first) return undefined;
    const columns = new Map<number, string>();
    for (const row of rows) if (row[3] !== null) columns.set(Number(row[3]), row[4]!);
    return { oid, schema: first[0]!, name: first[1]!, kind: first[2]!, columns };
  }
}

/** Answers kept while younger than a time to live; a failed load is not kept. */
class FreshCache<K, V> {
  private readonly entries = new Map<K, { at: number; value: Promise<V> }>();

  /** A load under way is left to whoever asked before; the next get() loads again. */
  clear(): void {
    this.entries.clear();
  }

  get(key: K, ttlMs: number, load: () => Promise<V>): Promise<V> {
    const now = Date.now();
    const entry = this.entries.get(key);
    if (entry && now - entry.at < ttlMs) return entry.value;
    const value = load();
    this.entries.set(key, { at: now, value });
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    return value;
  }
}
