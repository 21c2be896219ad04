/**
 * Which statements may change what the tunnel reads of the database's catalog (relations, columns,
 * views, types, functions, operators, casts), so that once one has run every session of the target
 * meets the catalog as it is now instead of as it was read up to a TTL ago. Wrongly saying yes costs a
 * catalog read; wrongly saying no lets masking and the classifier decide on old facts — so whatever
 * is not plainly a read or a write of ordinary tables counts as a change.
 */
import type { Classification, StatementClass, TableRef } from './classification.ts';

/** Classes that cannot change the catalog, unless they write the catalog's own tables. */
const CATALOG_NEUTRAL: ReadonlySet<StatementClass> = new Set<StatementClass>([
  'read',
  'write',
  'truncate',
  'delete-without-where',
  'update-without-where',
  'session',
]);

export function mayChangeCatalog(classification: Classification): boolean {
  if (classification.failure !== undefined || classification.classes.size === 0) return true;
  for (const cls of classification.classes) if (!CATALOG_NEUTRAL.has(cls)) return true;
  return classification.statements.some((statement) => statement.writes.some(isCatalogTable));
}

/** pg_catalog's tables, by schema or by the pg_ prefix an unqualified name resolves them by. */
function isCatalogTable(table: TableRef): boolean {
  return table.schema === 'pg_catalog' || (table.schema === undefined && table.name.startsWith('pg_'));
}
