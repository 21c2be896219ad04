/**
 * Statement node types whose classes do not depend on their contents. Statements whose class does
 * (SELECT, DML, COPY, EXPLAIN, SET, DROP, ALTER TABLE, CREATE FUNCTION, ...) have handlers in
 * walker.ts; every statement type appears in exactly one of the two places, and a statement type in
 * neither fails closed.
 *
 * Decisions worth knowing:
 * - VACUUM, ANALYZE, CLUSTER and REINDEX are `ddl` (maintenance: they rewrite or lock tables and need
 *   ownership or MAINTAIN, like DDL does). REFRESH MATERIALIZED VIEW is a `write`.
 * - Extensions, foreign data wrappers/servers/tables, user mappings, publications, subscriptions,
 *   procedural languages and tablespaces reach outside the database: `ddl` + `server-access`.
 * - Policies (row-level security), security labels and ownership changes are `ddl` + `privilege`.
 * - NOTIFY is a `write`: other sessions see it and applications act on it (job queues, caches).
 * - LISTEN/UNLISTEN, cursors, SET CONSTRAINTS, DEALLOCATE are `session`.
 */
import type { StatementClass } from './classification.ts';

export interface StatementRule {
  readonly classes: readonly StatementClass[];
  readonly reason: string;
}

function rule(reason: string, ...classes: StatementClass[]): StatementRule {
  return { classes, reason };
}

export const STATEMENT_RULES: ReadonlyMap<string, StatementRule> = new Map([
  // DDL on ordinary objects
  ['CreateSchemaStmt', rule('CREATE SCHEMA', 'ddl')],
  ['AlterCollationStmt', rule('ALTER COLLATION', 'ddl')],
  ['AlterDomainStmt', rule('ALTER DOMAIN', 'ddl')],
  ['CreateDomainStmt', rule('CREATE DOMAIN', 'ddl')],
  ['CreateStmt', rule('CREATE TABLE', 'ddl')],
  ['CreateSeqStmt', rule('CREATE SEQUENCE', 'ddl')],
  ['AlterSeqStmt', rule('ALTER SEQUENCE', 'ddl')],
  ['DefineStmt', rule('CREATE (aggregate, operator, type, collation or text search object)', 'ddl')],
  ['CreateOpClassStmt', rule('CREATE OPERATOR CLASS', 'ddl')],
  ['CreateOpFamilyStmt', rule('CREATE OPERATOR FAMILY', 'ddl')],
  ['AlterOpFamilyStmt', rule('ALTER OPERATOR FAMILY', 'ddl')],
  ['CreateStatsStmt', rule('CREATE STATISTICS', 'ddl')],
  ['AlterStatsStmt', rule('ALTER STATISTICS', 'ddl')],
  ['AlterObjectDependsStmt', rule('ALTER ... DEPENDS ON EXTENSION', 'ddl')],
  ['AlterObjectSchemaStmt', rule('ALTER ... SET SCHEMA', 'ddl')],
  ['AlterOperatorStmt', rule('ALTER OPERATOR', 'ddl')],
  ['AlterTypeStmt', rule('ALTER TYPE', 'ddl')],
  ['CompositeTypeStmt', rule('CREATE TYPE', 'ddl')],
  ['CreateEnumStmt', rule('CREATE TYPE ... AS ENUM', 'ddl')],
  ['CreateRangeStmt', rule('CREATE TYPE ... AS RANGE', 'ddl')],
  ['AlterEnumStmt', rule('ALTER TYPE (enum)', 'ddl')],
  ['CreateConversionStmt', rule('CREATE CONVERSION', 'ddl')],
  ['CreateCastStmt', rule('CREATE CAST', 'ddl')],
  ['CreateTransformStmt', rule('CREATE TRANSFORM', 'ddl')],
  ['AlterTSDictionaryStmt', rule('ALTER TEXT SEARCH DICTIONARY', 'ddl')],
  ['AlterTSConfigurationStmt', rule('ALTER TEXT SEARCH CONFIGURATION', 'ddl')],
  ['CreateAmStmt', rule('CREATE ACCESS METHOD', 'ddl')],
  ['CreateTrigStmt', rule('CREATE TRIGGER', 'ddl')],
  ['CreateEventTrigStmt', rule('CREATE EVENT TRIGGER', 'ddl')],
  ['AlterEventTrigStmt', rule('ALTER EVENT TRIGGER', 'ddl')],
  ['RuleStmt', rule('CREATE RULE', 'ddl')],
  ['IndexStmt', rule('CREATE INDEX', 'ddl')],
  ['CommentStmt', rule('COMMENT', 'ddl')],
  ['CreatedbStmt', rule('CREATE DATABASE', 'ddl')],
  ['AlterDatabaseStmt', rule('ALTER DATABASE', 'ddl')],
  ['AlterDatabaseRefreshCollStmt', rule('ALTER DATABASE ... REFRESH COLLATION VERSION', 'ddl')],
  ['AlterDatabaseSetStmt', rule('ALTER DATABASE ... SET', 'ddl')],
  ['AlterTableSpaceOptionsStmt', rule('ALTER TABLESPACE', 'ddl')],
  ['AlterTableMoveAllStmt', rule('ALTER ... ALL IN TABLESPACE', 'ddl')],
  ['AlterExtensionContentsStmt', rule('ALTER EXTENSION ... ADD/DROP', 'ddl')],
  ['ViewStmt', rule('CREATE VIEW', 'ddl')],
  // maintenance
  ['VacuumStmt', rule('VACUUM/ANALYZE', 'ddl')],
  ['ClusterStmt', rule('CLUSTER', 'ddl')],
  ['ReindexStmt', rule('REINDEX', 'ddl')],
  ['RefreshMatViewStmt', rule('REFRESH MATERIALIZED VIEW', 'write')],
  // reaching outside the database
  ['CreateTableSpaceStmt', rule('CREATE TABLESPACE', 'ddl', 'server-access')],
  ['CreateExtensionStmt', rule('CREATE EXTENSION', 'ddl', 'server-access')],
  ['AlterExtensionStmt', rule('ALTER EXTENSION ... UPDATE', 'ddl', 'server-access')],
  ['CreateFdwStmt', rule('CREATE FOREIGN DATA WRAPPER', 'ddl', 'server-access')],
  ['AlterFdwStmt', rule('ALTER FOREIGN DATA WRAPPER', 'ddl', 'server-access')],
  ['CreateForeignServerStmt', rule('CREATE SERVER', 'ddl', 'server-access')],
  ['AlterForeignServerStmt', rule('ALTER SERVER', 'ddl', 'server-access')],
  ['CreateForeignTableStmt', rule('CREATE FOREIGN TABLE', 'ddl', 'server-access')],
  ['CreateUserMappingStmt', rule('CREATE USER MAPPING', 'ddl', 'server-access')],
  ['AlterUserMappingStmt', rule('ALTER USER MAPPING', 'ddl', 'server-access')],
  ['ImportForeignSchemaStmt', rule('IMPORT FOREIGN SCHEMA', 'ddl', 'server-access')],
  ['CreatePLangStmt', rule('CREATE LANGUAGE', 'ddl', 'server-access')],
  ['CreatePublicationStmt', rule('CREATE PUBLICATION', 'ddl', 'server-access')],
  ['AlterPublicationStmt', rule('ALTER PUBLICATION', 'ddl', 'server-access')],
  ['CreateSubscriptionStmt', rule('CREATE SUBSCRIPTION', 'ddl', 'server-access')],
  ['AlterSubscriptionStmt', rule('ALTER SUBSCRIPTION', 'ddl', 'server-access')],
  ['AlterSystemStmt', rule('ALTER SYSTEM', 'server-access')],
  ['LoadStmt', rule('LOAD', 'server-access')],
  ['CheckPointStmt', rule('CHECKPOINT', 'server-access')],
  // dropping
  ['DropTableSpaceStmt', rule('DROP TABLESPACE', 'drop', 'ddl')],
  ['DropUserMappingStmt', rule('DROP USER MAPPING', 'drop', 'ddl')],
  ['DropSubscriptionStmt', rule('DROP SUBSCRIPTION', 'drop', 'ddl', 'server-access')],
  ['DropdbStmt', rule('DROP DATABASE', 'drop', 'ddl')],
  ['DropOwnedStmt', rule('DROP OWNED', 'drop', 'ddl', 'privilege')],
  // privileges
  ['CreatePolicyStmt', rule('CREATE POLICY', 'ddl', 'privilege')],
  ['AlterPolicyStmt', rule('ALTER POLICY', 'ddl', 'privilege')],
  ['SecLabelStmt', rule('SECURITY LABEL', 'ddl', 'privilege')],
  ['AlterOwnerStmt', rule('ALTER ... OWNER TO', 'ddl', 'privilege')],
  ['AlterDefaultPrivilegesStmt', rule('ALTER DEFAULT PRIVILEGES', 'privilege')],
  ['ReassignOwnedStmt', rule('REASSIGN OWNED', 'privilege')],
  ['AlterRoleStmt', rule('ALTER ROLE', 'privilege')],
  ['AlterRoleSetStmt', rule('ALTER ROLE ... SET', 'privilege')],
  ['DropRoleStmt', rule('DROP ROLE', 'drop', 'ddl', 'privilege')],
  // session
  ['ClosePortalStmt', rule('CLOSE', 'session')],
  ['ListenStmt', rule('LISTEN', 'session')],
  ['UnlistenStmt', rule('UNLISTEN', 'session')],
  ['ConstraintsSetStmt', rule('SET CONSTRAINTS', 'session')],
  ['VariableShowStmt', rule('SHOW', 'session')],
  ['NotifyStmt', rule('NOTIFY', 'write')],
]);

/**
 * Statements that define something to run later (view queries, rule actions, defaults, checks,
 * policies, trigger conditions): the classes of what they contain count, but nothing in them runs
 * now, so SET/set_config inside them does not change the session's settings.
 */
export const DEFINITIONS: ReadonlySet<string> = new Set([
  'CreateStmt',
  'AlterTableStmt',
  'CreateDomainStmt',
  'AlterDomainStmt',
  'IndexStmt',
  'CreateTrigStmt',
  'RuleStmt',
  'ViewStmt',
  'CreatePolicyStmt',
  'AlterPolicyStmt',
  'AlterRoleSetStmt',
  'AlterDatabaseSetStmt',
  'AlterSystemStmt',
]);
