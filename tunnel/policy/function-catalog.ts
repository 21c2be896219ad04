/**
 * What calling a function or an operator does, by name, for the classifier. A call that is not known
 * to be free of side effects is `dynamic`: it may run anything.
 *
 * Name-based danger lists (server-access, write, ...) apply whatever schema the call names: an
 * extension such as dblink usually lives in `public`, and a user function that shadows a dangerous
 * built-in name deserves the same suspicion. The side-effect-free lists apply only to unqualified
 * calls and calls qualified with `pg_catalog` (and a few `information_schema` helpers): a call
 * qualified with any other schema is a user-defined function.
 */
import { STABLE_BUILTIN_FUNCTIONS } from './builtin-functions.ts';

export type FunctionEffect = 'write' | 'ddl' | 'drop' | 'privilege' | 'server-access' | 'dynamic' | 'session';

/** Built-ins that read or touch files, processes, replication or the server's configuration. */
const SERVER_ACCESS = new Set([
  // server files
  'pg_read_file',
  'pg_read_binary_file',
  'pg_stat_file',
  'pg_hba_file_rules',
  'pg_ident_file_mappings',
  'pg_show_all_file_settings',
  'pg_current_logfile',
  'lo_import',
  'lo_export',
  'pg_wal_summary_contents',
  'pg_available_wal_summaries',
  // other backends and the postmaster
  'pg_terminate_backend',
  'pg_cancel_backend',
  'pg_signal_backend',
  'pg_reload_conf',
  'pg_rotate_logfile',
  'pg_log_backend_memory_contexts',
  // WAL, backup, recovery
  'pg_promote',
  'pg_switch_wal',
  'pg_switch_xlog',
  'pg_create_restore_point',
  'pg_backup_start',
  'pg_backup_stop',
  'pg_start_backup',
  'pg_stop_backup',
  'pg_wal_replay_pause',
  'pg_wal_replay_resume',
  'pg_xlog_replay_pause',
  'pg_xlog_replay_resume',
  'pg_log_standby_snapshot',
  // replication slots
  'pg_create_physical_replication_slot',
  'pg_create_logical_replication_slot',
  'pg_copy_physical_replication_slot',
  'pg_copy_logical_replication_slot',
  'pg_drop_replication_slot',
  'pg_replication_slot_advance',
  'pg_sync_replication_slots',
  // adminpack (pre-17) and other well-known extensions that reach outside the database
  'pg_logfile_rotate',
  'pg_logdir_ls',
  'pg_stat_statements_reset',
]);

/** Name prefixes of whole families of server-access functions. */
const SERVER_ACCESS_PREFIXES = [
  'pg_ls_', // pg_ls_dir, pg_ls_logdir, pg_ls_waldir, pg_ls_tmpdir, pg_ls_archive_statusdir, ...
  'pg_file_', // adminpack: pg_file_write, pg_file_rename, pg_file_unlink, pg_file_sync, pg_file_read
  'pg_logical_', // pg_logical_slot_get_changes, pg_logical_emit_message, ...
  'pg_replication_origin_',
  'pg_stat_reset', // cluster-wide statistics resets
  'dblink', // dblink, dblink_exec, dblink_connect, dblink_send_query, ...
  'postgres_fdw_',
];

/** Built-ins that change data (sequences, large objects, notifications, advisory locks). */
const WRITE = new Set([
  'nextval',
  'setval',
  'lo_creat',
  'lo_create',
  'lo_from_bytea',
  'lo_put',
  'lowrite',
  'lo_truncate',
  'lo_truncate64',
  'lo_unlink',
  'pg_notify',
  // Advisory locks: other sessions (applications, migration tools) can be made to wait on them.
  'pg_advisory_lock',
  'pg_advisory_lock_shared',
  'pg_advisory_xact_lock',
  'pg_advisory_xact_lock_shared',
  'pg_try_advisory_lock',
  'pg_try_advisory_lock_shared',
  'pg_try_advisory_xact_lock',
  'pg_try_advisory_xact_lock_shared',
]);

/** Built-ins that do maintenance or change catalogs, like VACUUM/ANALYZE do. */
const DDL = new Set([
  'brin_summarize_new_values',
  'brin_summarize_range',
  'brin_desummarize_range',
  'gin_clean_pending_list',
  'pg_import_system_collations',
  'pg_restore_relation_stats',
  'pg_restore_attribute_stats',
  'pg_clear_relation_stats',
  'pg_clear_attribute_stats',
  'pg_extension_config_dump',
]);

/** Built-ins that run SQL handed to them as text or that read whole tables by name. */
const DYNAMIC = new Set([
  'query_to_xml',
  'query_to_xmlschema',
  'query_to_xml_and_xmlschema',
  'cursor_to_xml',
  'cursor_to_xmlschema',
  'table_to_xml',
  'table_to_xmlschema',
  'table_to_xml_and_xmlschema',
  'schema_to_xml',
  'schema_to_xmlschema',
  'schema_to_xml_and_xmlschema',
  'database_to_xml',
  'database_to_xmlschema',
  'database_to_xml_and_xmlschema',
  'ts_stat', // ts_stat(sqlquery text, ...)
]);

/**
 * Other volatile built-ins callable from SQL: internals for pg_upgrade, bootstrap and validation. No
 * reason to call them through a guarded tunnel.
 */
const INTERNAL = new Set([
  'amvalidate',
  'currtid2',
  'pg_nextoid',
  'pg_stop_making_pinned_objects',
  'plpgsql_validator',
  'fmgr_c_validator',
  'fmgr_internal_validator',
  'fmgr_sql_validator',
  'postgresql_fdw_validator',
]);

/** Built-ins with only session-local effects. */
const SESSION = new Set([
  'pg_export_snapshot',
  'pg_advisory_unlock',
  'pg_advisory_unlock_shared',
  'pg_advisory_unlock_all',
  'pg_stat_clear_snapshot',
  'pg_stat_force_next_flush',
  'setseed',
]);

/**
 * Volatile built-ins reviewed one by one: they read, or depend on time or randomness, and change
 * nothing. (Stable and immutable built-ins are listed in builtin-functions.ts.)
 */
const VOLATILE_READ = new Set([
  'random',
  'random_normal',
  'array_sample',
  'array_shuffle',
  'gen_random_uuid',
  'uuidv4',
  'uuidv7',
  'clock_timestamp',
  'timeofday',
  'current_query',
  'currval',
  'lastval',
  'pg_sleep',
  'pg_sleep_for',
  'pg_sleep_until',
  'lo_get',
  'loread',
  'lo_open',
  'lo_close',
  'lo_lseek',
  'lo_lseek64',
  'lo_tell',
  'lo_tell64',
  'pg_relation_size',
  'pg_table_size',
  'pg_indexes_size',
  'pg_total_relation_size',
  'pg_database_size',
  'pg_tablespace_size',
  'pg_partition_tree',
  'pg_partition_ancestors',
  'pg_blocking_pids',
  'pg_safe_snapshot_blocking_pids',
  'pg_isolation_test_session_is_blocked',
  'pg_lock_status',
  'pg_prepared_xact',
  'pg_notification_queue_usage',
  'pg_collation_actual_version',
  'pg_database_collation_actual_version',
  'pg_control_checkpoint',
  'pg_control_init',
  'pg_control_recovery',
  'pg_control_system',
  'pg_current_wal_lsn',
  'pg_current_wal_insert_lsn',
  'pg_current_wal_flush_lsn',
  'pg_last_wal_receive_lsn',
  'pg_last_wal_replay_lsn',
  'pg_last_xact_replay_timestamp',
  'pg_last_committed_xact',
  'pg_is_in_recovery',
  'pg_is_wal_replay_paused',
  'pg_get_wal_replay_pause_state',
  'pg_get_wal_resource_managers',
  'pg_get_wal_summarizer_state',
  'pg_jit_available',
  'pg_get_backend_memory_contexts',
  'pg_get_shmem_allocations',
  'pg_get_shmem_allocations_numa',
  'pg_get_loaded_modules',
  'pg_get_multixact_members',
  'pg_get_wait_events',
  'pg_get_aios',
  'pg_get_sequence_data',
  'pg_sequence_last_value',
  'pg_show_replication_origin_status',
  'pg_stat_get_backend_io',
  'pg_stat_get_backend_wal',
  'pg_stat_get_io',
  'pg_stat_get_recovery_prefetch',
  'pg_stat_get_xact_blocks_fetched',
  'pg_stat_get_xact_blocks_hit',
  'pg_stat_get_xact_function_calls',
  'pg_stat_get_xact_function_self_time',
  'pg_stat_get_xact_function_total_time',
  'pg_stat_get_xact_numscans',
  'pg_stat_get_xact_tuples_deleted',
  'pg_stat_get_xact_tuples_fetched',
  'pg_stat_get_xact_tuples_hot_updated',
  'pg_stat_get_xact_tuples_inserted',
  'pg_stat_get_xact_tuples_newpage_updated',
  'pg_stat_get_xact_tuples_returned',
  'pg_stat_get_xact_tuples_updated',
  'pg_stat_have_stats',
  'pg_xact_commit_timestamp',
  'pg_xact_commit_timestamp_origin',
  'pg_xact_status',
  'txid_status',
]);

/** information_schema's helper functions (pgjdbc's getPrimaryKeys/getIndexInfo call _pg_expandarray). */
const INFORMATION_SCHEMA = new Set([
  '_pg_char_max_length',
  '_pg_char_octet_length',
  '_pg_datetime_precision',
  '_pg_expandarray',
  '_pg_index_position',
  '_pg_interval_type',
  '_pg_numeric_precision',
  '_pg_numeric_precision_radix',
  '_pg_numeric_scale',
  '_pg_truetypid',
  '_pg_truetypmod',
]);

/** Every operator name pg_catalog defines (PostgreSQL 18); `!=` is the lexer's spelling of `<>`. */
const BUILTIN_OPERATORS = new Set(
  (
    '!! != !~ !~* !~~ !~~* # ## #- #> #>> % & && &< &<| &> * *< *<= *<> *= *> *>= + - -> ->> -|- / < ' +
    '<-> << <<= <<| <= <> <@ <^ = > >= >> >>= >^ ? ?# ?& ?- ?-| ?| ?|| @ @-@ @> @? @@ @@@ ^ ^@ | |&> ' +
    '|/ |>> || ||/ ~ ~* ~<=~ ~<~ ~= ~>=~ ~>~ ~~ ~~*'
  ).split(' '),
);

/** TABLESAMPLE methods: the two built-ins and the two contrib ones (tsm_system_rows/time). */
const TABLESAMPLE_METHODS = new Set(['system', 'bernoulli', 'system_rows', 'system_time']);

/** The class a dangerous function name carries, wherever it is defined; undefined if none. */
export function dangerousFunction(name: string, argumentCount: number): FunctionEffect | undefined {
  if (SERVER_ACCESS.has(name) || SERVER_ACCESS_PREFIXES.some((prefix) => name.startsWith(prefix))) {
    return 'server-access';
  }
  if (WRITE.has(name)) return 'write';
  if (DDL.has(name)) return 'ddl';
  if (DYNAMIC.has(name) || INTERNAL.has(name) || name.startsWith('binary_upgrade_')) return 'dynamic';
  // ts_rewrite(query tsquery, select text) runs the SELECT; the three-argument form is pure.
  if (name === 'ts_rewrite' && argumentCount !== 3) return 'dynamic';
  if (SESSION.has(name)) return 'session';
  return undefined;
}

/** Whether a call of schema.name (schema undefined when unqualified) is a side-effect-free built-in. */
export function isSideEffectFree(schema: string | undefined, name: string): boolean {
  if (schema === undefined || schema === 'pg_catalog') {
    return STABLE_BUILTIN_FUNCTIONS.has(name) || VOLATILE_READ.has(name);
  }
  return schema === 'information_schema' && INFORMATION_SCHEMA.has(name);
}

/**
 * Built-ins that return only what they compute from their arguments, the session or the server's state
 * — never a table's rows: the side-effect-free ones, and those that write, lock or set only what they
 * are told (nextval, pg_advisory_lock, set_config …). Not those that run SQL, read files or decode WAL.
 */
export function isBuiltinWithoutTableAccess(schema: string | undefined, name: string): boolean {
  if (isSideEffectFree(schema, name)) return true;
  if (schema !== undefined && schema !== 'pg_catalog') return false;
  return SESSION.has(name) || WRITE.has(name) || name === 'set_config';
}

export function isBuiltinOperator(schema: string | undefined, name: string): boolean {
  return (schema === undefined || schema === 'pg_catalog') && BUILTIN_OPERATORS.has(name);
}

export function isBuiltinTablesampleMethod(schema: string | undefined, name: string): boolean {
  return (schema === undefined || schema === 'pg_catalog') && TABLESAMPLE_METHODS.has(name);
}

/** For tests: every name this file classifies, by list. */
export const FUNCTION_LISTS = {
  serverAccess: SERVER_ACCESS,
  write: WRITE,
  ddl: DDL,
  dynamic: DYNAMIC,
  internal: INTERNAL,
  session: SESSION,
  volatileRead: VOLATILE_READ,
} as const;
