/**
 * The hub's schema, as migrations kept in code (Kysely's Migrator runs them at start, under its own lock,
 * so several hub instances starting on one PostgreSQL database migrate once). Append new migrations;
 * never edit one that has shipped.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

export type HubDialect = 'sqlite' | 'postgres';

export function hubMigrations(dialect: HubDialect): MigrationProvider {
  return {
    getMigrations: async (): Promise<Record<string, Migration>> => ({
      '0001_initial': { up: (db) => initial(db, dialect) },
      '0002_decision_context': { up: (db) => decisionContext(db) },
      '0003_session_proofs': { up: (db) => sessionProofs(db, dialect) },
      '0004_provisioned_roles': { up: (db) => provisionedRoles(db) },
      '0005_event_retention': { up: (db) => eventRetention(db) },
      '0006_hold_binding': { up: (db) => holdBinding(db) },
      '0007_relay_connections': { up: (db) => relayConnections(db) },
      '0008_relay_leases': { up: (db) => relayLeases(db) },
    }),
  };
}

// Migrations see the database as it was then, not as the current schema types describe it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

async function initial(db: AnyDb, dialect: HubDialect): Promise<void> {
  const serialId = (table: string) =>
    db.schema
      .createTable(table)
      .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
        dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
      );

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('target_id', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('person', 'agent')`))
    .addColumn('opened_at', 'text', (c) => c.notNull())
    .addColumn('closed_at', 'text')
    .addColumn('close_reason', 'text')
    .addColumn('grant_id', 'text')
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('open', 'closing', 'closed')`))
    .addColumn('chain_status', 'text', (c) =>
      c.notNull().check(sql`chain_status in ('ok', 'broken', 'incomplete')`),
    )
    .addColumn('last_seq', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_hash', 'text', (c) => c.notNull())
    .addColumn('max_seq', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('chain_broken', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('gap_flagged', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('event_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('statement_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('denied_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('held_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('anomaly_count', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('sessions_opened').on('sessions').columns(['opened_at', 'id']).execute();
  await db.schema.createIndex('sessions_subject').on('sessions').columns(['subject', 'opened_at']).execute();
  await db.schema.createIndex('sessions_target').on('sessions').columns(['target_id', 'opened_at']).execute();
  await db.schema.createIndex('sessions_grant').on('sessions').column('grant_id').execute();
  await db.schema.createIndex('sessions_status').on('sessions').column('status').execute();

  await db.schema
    .createTable('session_events')
    .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('chain_ok', 'integer')
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('session_events_pk', ['session_id', 'seq'])
    .execute();

  await serialId('recording_anomalies')
    .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('seq', 'integer')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('detected_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('recording_anomalies_session')
    .on('recording_anomalies')
    .columns(['session_id', 'id'])
    .execute();

  await db.schema
    .createTable('access_requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('target_id', 'text', (c) => c.notNull())
    .addColumn('requester_subject', 'text', (c) => c.notNull())
    .addColumn('requester_name', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('duration_seconds', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) =>
      c.notNull().check(sql`state in ('pending', 'approved', 'denied', 'expired', 'revoked', 'cancelled')`),
    )
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('decided_at', 'text')
    .addColumn('expires_at', 'text')
    .addColumn('min_approvals', 'integer', (c) => c.notNull())
    .addColumn('closed_by_subject', 'text')
    .addColumn('closed_by_name', 'text')
    .addColumn('close_comment', 'text')
    .addColumn('expiry_warned_at', 'text')
    .execute();
  await db.schema
    .createIndex('access_requests_requester')
    .on('access_requests')
    .columns(['requester_subject', 'created_at'])
    .execute();
  await db.schema
    .createIndex('access_requests_state')
    .on('access_requests')
    .columns(['state', 'target_id'])
    .execute();

  await db.schema
    .createTable('access_decisions')
    .addColumn('request_id', 'text', (c) => c.notNull().references('access_requests.id').onDelete('cascade'))
    .addColumn('approver_subject', 'text', (c) => c.notNull())
    .addColumn('approver_name', 'text', (c) => c.notNull())
    .addColumn('approve', 'integer', (c) => c.notNull())
    .addColumn('comment', 'text')
    .addColumn('at', 'text', (c) => c.notNull())
    // One decision per approver and request, even when two instances race.
    .addPrimaryKeyConstraint('access_decisions_pk', ['request_id', 'approver_subject'])
    .execute();

  await db.schema
    .createTable('command_approvals')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('target_id', 'text', (c) => c.notNull())
    .addColumn('requester_subject', 'text', (c) => c.notNull())
    .addColumn('requester_name', 'text', (c) => c.notNull())
    .addColumn('sql', 'text', (c) => c.notNull())
    .addColumn('classes', 'text', (c) => c.notNull())
    .addColumn('rule', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) =>
      c.notNull().check(sql`state in ('pending', 'approved', 'denied', 'expired', 'withdrawn')`),
    )
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('decided_at', 'text')
    .addColumn('decided_by_subject', 'text')
    .addColumn('decided_by_name', 'text')
    .addColumn('comment', 'text')
    .execute();
  await db.schema
    .createIndex('command_approvals_state')
    .on('command_approvals')
    .columns(['state', 'expires_at'])
    .execute();
  await db.schema
    .createIndex('command_approvals_session')
    .on('command_approvals')
    .column('session_id')
    .execute();

  await serialId('events')
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('exclude_subject', 'text')
    .execute();
  await db.schema
    .createTable('event_recipients')
    .addColumn('event_id', dialect === 'postgres' ? 'bigint' : 'integer', (c) =>
      c.notNull().references('events.id').onDelete('cascade'),
    )
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('event_recipients_pk', ['event_id', 'recipient'])
    .execute();
  await db.schema
    .createIndex('event_recipients_recipient')
    .on('event_recipients')
    .columns(['recipient', 'event_id'])
    .execute();
}

/** What a held statement touches (tables, estimated rows), and where each decision was taken. */
async function decisionContext(db: AnyDb): Promise<void> {
  await db.schema.alterTable('command_approvals').addColumn('context', 'text').execute();
  await db.schema.alterTable('command_approvals').addColumn('decided_via', 'text').execute();
  await db.schema.alterTable('access_decisions').addColumn('via', 'text').execute();
}

/** Every answer the hub computed for a connection's authentication (delegated credentials). */
async function sessionProofs(db: AnyDb, dialect: HubDialect): Promise<void> {
  await db.schema
    .createTable('session_proofs')
    .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
      dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('connection', 'integer', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('db_user', 'text', (c) => c.notNull())
    .addColumn('requester_subject', 'text', (c) => c.notNull())
    .addColumn('requester_name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('session_proofs_session')
    .on('session_proofs')
    .columns(['session_id', 'created_at'])
    .execute();
}

/** The database roles created for sessions, kept until they are dropped (which survives a restart). */
async function provisionedRoles(db: AnyDb): Promise<void> {
  await db.schema
    .createTable('provisioned_roles')
    .addColumn('session_id', 'text', (c) => c.primaryKey().references('sessions.id').onDelete('cascade'))
    .addColumn('target_id', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('valid_until', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('dropped_at', 'text')
    .addColumn('last_error', 'text')
    .execute();
  await db.schema
    .createIndex('provisioned_roles_live')
    .on('provisioned_roles')
    .columns(['dropped_at', 'valid_until'])
    .execute();
}

/**
 * The event log is pruned by age: an index to find the old rows, and the hub's periodic jobs with when
 * each last ran, which instances claim with one conditional UPDATE so a job runs once per interval.
 */
async function eventRetention(db: AnyDb): Promise<void> {
  await db.schema.createIndex('events_created').on('events').columns(['created_at', 'id']).execute();
  await db.schema
    .createTable('hub_jobs')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('last_run_at', 'text', (c) => c.notNull())
    .execute();
}

/**
 * A held statement names the tunnel connection it comes from, counts the holds that joined it (identical
 * statements of one session wait on one approval), and is counted per requester for the rate limits.
 */
async function holdBinding(db: AnyDb): Promise<void> {
  await db.schema.alterTable('command_approvals').addColumn('connection', 'integer').execute();
  await db.schema
    .alterTable('command_approvals')
    .addColumn('holds', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  await db.schema
    .createIndex('command_approvals_requester')
    .on('command_approvals')
    .columns(['requester_subject', 'created_at'])
    .execute();
}

/** A connection served by a relay is a session of its own, under the user's. */
async function relayConnections(db: AnyDb): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('parent_id', 'text').execute();
  await db.schema.createIndex('sessions_parent').on('sessions').column('parent_id').execute();
}

/** A relay's connection stays open while its relay renews the lease; one whose relay died is closed. */
async function relayLeases(db: AnyDb): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('lease_expires_at', 'text').execute();
  await db.schema.createIndex('sessions_lease').on('sessions').column('lease_expires_at').execute();
}
