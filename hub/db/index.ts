export {
  isPostgresUrl,
  openHubDatabase,
  type HubDatabase,
  type HubDialect,
  type Listener,
  type OpenOptions,
} from './database.ts';
export { hubMigrations } from './migrations.ts';
export type * from './schema.ts';

/** A unique or primary-key violation, on either store. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}
