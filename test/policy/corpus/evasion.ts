/**
 * An evasion corpus for the guarded tunnel: statements and message sequences that try to get
 * something destructive, privileged or server-reaching past the policy. Every attempt must be answered
 * by the tunnel with an error of its own (42501, or 57014 for a cancelled hold) — or, for startup
 * attempts, with a refused connection or startup parameters that had no effect — and must leave the
 * canary data, the catalog and the server's files as they were. test/policy/evasion.test.ts runs them.
 *
 * The objects the attempts name (canary, scratch, evil_delete(), evil_proc(), the shadowing
 * public.upper(varchar), large object 424242, role evasion_low, ...) are made by EVASION_SETUP over a
 * direct connection before the attempts run.
 */
import { randomBytes } from 'node:crypto';

/** Files an attempt might make the server write start with this; nothing may ever appear there. */
export const MARKER = `/tmp/portcullis-evasion-${randomBytes(6).toString('hex')}`;

/** The large object the large-object attempts aim at. */
export const LARGE_OBJECT = 424242;

/** One statement (or multi-statement text) sent in a session. */
export interface Step {
  sql: string;
  /**
   * simple: one Query message; extended: node-postgres Parse/Bind/Execute (with `values`, or named);
   * direct: run by someone else, straight on the server, while this session stays open (expect 'ok').
   */
  via?: 'simple' | 'extended' | 'direct';
  values?: unknown[];
  /**
   * ok: must succeed; denied: the tunnel must refuse it (42501/57014); either: setup whose fate does
   * not matter on its own (e.g. a PREPARE that may be refused now or judged at EXECUTE).
   */
  expect: 'ok' | 'denied' | 'either';
}

/** A frontend message for the raw client; the sequence is written in one go (pipelined). */
export type Wire =
  | { parse: string; name?: string; types?: number[] }
  | { bind: { statement?: string; portal?: string; values?: (string | null)[] } }
  | { execute: string; rows?: number }
  | { describe: 'S' | 'P'; name?: string }
  | { close: 'S' | 'P'; name?: string }
  | { query: string }
  /**
   * A FunctionCall ('F') message of a regprocedure (resolved to its OID directly) with text arguments;
   * the argument '{bystander}' stands for the process id of a bystander session.
   */
  | { functionCall: string; args: (string | null)[] }
  | 'sync'
  | 'flush';

/** A connection made with chosen startup parameters. */
export interface StartupAttempt {
  /** Startup packet parameters besides user and database. */
  params: Record<string, string>;
  /** raw: a hand-built startup packet; pg: node-postgres (only `options` and `replication`). */
  client: 'raw' | 'pg';
  /**
   * SQL expressions evaluated on that connection: each must give what it gives on a plain tunnel
   * connection (i.e. the parameters had no effect), unless the connection was refused.
   */
  checks: string[];
  /** A statement run on the connection afterwards; its damage (if any) is caught by the checks. */
  probe?: string;
}

interface AttemptBase {
  name: string;
  category: string;
  expect: 'denied';
  /** Also run under the read-only preset. */
  readOnly?: boolean;
}

export type Attempt = AttemptBase &
  (
    | { sql: string; via?: 'simple' | 'extended' | 'postgres.js'; values?: unknown[] }
    /** `cleanup` runs directly after the steps, before the checks: it undoes what `direct` steps made. */
    | { steps: Step[]; cleanup?: string }
    | { wire: Wire[] }
    | { startup: StartupAttempt }
  );

/** Made directly (superuser) before the attempts, and again to repair damage. Idempotent. */
export const EVASION_SETUP = `
DROP SCHEMA IF EXISTS public CASCADE;
CREATE SCHEMA public;
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'evasion_low') THEN CREATE ROLE evasion_low NOLOGIN; END IF;
END $$;
CREATE TABLE canary (id int PRIMARY KEY, note text NOT NULL);
INSERT INTO canary VALUES (1, 'alive'), (2, 'still alive'), (3, 'very much alive');
CREATE TABLE scratch (id int);
CREATE SEQUENCE canary_seq;
CREATE INDEX canary_note_idx ON canary (note);
CREATE VIEW canary_view AS SELECT id, note FROM canary;
CREATE MATERIALIZED VIEW canary_mv AS SELECT id, note FROM canary;
CREATE TYPE canary_mood AS ENUM ('calm', 'alarmed');
CREATE FUNCTION evil_delete() RETURNS int LANGUAGE plpgsql AS $$ BEGIN DELETE FROM canary; RETURN 1; END $$;
CREATE FUNCTION evil_delete_int(n int) RETURNS int LANGUAGE plpgsql
  AS $$ BEGIN DELETE FROM canary WHERE id >= n; RETURN n; END $$;
-- Declared IMMUTABLE, so the planner folds it into a constant: it runs when the query is planned.
CREATE FUNCTION innocent_immutable() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN evil_delete(); END $$;
-- The same trick with a side effect no rollback can undo: a file written by a program.
CREATE FUNCTION evil_touch() RETURNS int LANGUAGE plpgsql
  AS $$ BEGIN EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', 'touch ${MARKER}-planned'); RETURN 1; END $$;
CREATE FUNCTION innocent_touch() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN evil_touch(); END $$;
CREATE FUNCTION evil_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM canary; RETURN NEW; END $$;
CREATE TRIGGER scratch_trg AFTER INSERT ON scratch FOR EACH ROW EXECUTE FUNCTION evil_trigger();
CREATE PROCEDURE evil_proc() LANGUAGE plpgsql AS $$ BEGIN DELETE FROM canary; END $$;
CREATE PROCEDURE evil_proc_arg(n int) LANGUAGE sql AS $$ DELETE FROM canary WHERE id >= n $$;
-- Built-in names shadowed in public: an exact argument-type match beats pg_catalog's upper(text), and
-- public.lower(text) wins wherever public comes before pg_catalog in the search path.
CREATE FUNCTION public.upper(varchar) RETURNS text LANGUAGE plpgsql
  AS $$ BEGIN DELETE FROM canary; RETURN 'shadowed'; END $$;
CREATE FUNCTION public.lower(text) RETURNS text LANGUAGE plpgsql
  AS $$ BEGIN DELETE FROM canary; RETURN 'shadowed'; END $$;
CREATE FUNCTION evil_plus(int, varchar) RETURNS int LANGUAGE plpgsql AS $$ BEGIN DELETE FROM canary; RETURN 0; END $$;
CREATE OPERATOR public.+ (LEFTARG = int, RIGHTARG = varchar, FUNCTION = evil_plus);
CREATE FUNCTION evil_cast(varchar) RETURNS int LANGUAGE plpgsql AS $$ BEGIN DELETE FROM canary; RETURN 0; END $$;
CREATE CAST (varchar AS int) WITH FUNCTION evil_cast(varchar);
-- Widely used extensions, installed beside the attempts: their objects are trusted by review, and
-- what users build beside them is not.
CREATE SCHEMA IF NOT EXISTS extensions;
CREATE EXTENSION IF NOT EXISTS citext SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS hstore SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS ltree SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS cube SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS intarray SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp" SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS tablefunc SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS dblink SCHEMA extensions;
CREATE FUNCTION public.similarity(text, int) RETURNS real LANGUAGE plpgsql
  AS $$ BEGIN DELETE FROM canary; RETURN 0; END $$;
CREATE FUNCTION evil_concat(extensions.citext, int) RETURNS text LANGUAGE plpgsql
  AS $$ BEGIN DELETE FROM canary; RETURN ''; END $$;
CREATE OPERATOR public.|| (LEFTARG = extensions.citext, RIGHTARG = int, FUNCTION = evil_concat);
CREATE FUNCTION evil_check(text) RETURNS boolean LANGUAGE plpgsql
  AS $$ BEGIN DELETE FROM canary; RETURN true; END $$;
CREATE DOMAIN evil_domain AS text CHECK (evil_check(VALUE));
CREATE DOMAIN evil_domain_outer AS evil_domain;
SELECT lo_unlink(oid) FROM pg_largeobject_metadata;
SELECT lo_from_bytea(${LARGE_OBJECT}, 'portcullis secret');
`;

const attempts: Attempt[] = [];
let category = '';

function group(name: string, add: () => void): void {
  category = name;
  add();
}

/** A single simple-protocol Query. */
function sql(name: string, text: string, options: { readOnly?: boolean } = {}): void {
  attempts.push({ name, category, expect: 'denied', sql: text, ...options });
}

function extended(
  name: string,
  text: string,
  values?: unknown[],
  options: { readOnly?: boolean } = {},
): void {
  attempts.push({
    name,
    category,
    expect: 'denied',
    sql: text,
    via: 'extended',
    ...(values ? { values } : {}),
    ...options,
  });
}

function postgresJs(name: string, text: string, options: { readOnly?: boolean } = {}): void {
  attempts.push({ name, category, expect: 'denied', sql: text, via: 'postgres.js', ...options });
}

function steps(name: string, list: Step[], options: { readOnly?: boolean; cleanup?: string } = {}): void {
  attempts.push({ name, category, expect: 'denied', steps: list, ...options });
}

function wire(name: string, list: Wire[], options: { readOnly?: boolean } = {}): void {
  attempts.push({ name, category, expect: 'denied', wire: list, ...options });
}

function startup(name: string, attempt: StartupAttempt, options: { readOnly?: boolean } = {}): void {
  attempts.push({ name, category, expect: 'denied', startup: attempt, ...options });
}

const ok = (text: string): Step => ({ sql: text, expect: 'ok' });
const denied = (text: string): Step => ({ sql: text, expect: 'denied' });
const either = (text: string): Step => ({ sql: text, expect: 'either' });

/** Parse/Bind/Execute of one statement. */
const pbe = (text: string, name = ''): Wire[] => [
  { parse: text, name },
  { bind: { statement: name } },
  { execute: '' },
];

group('drop', () => {
  sql('DROP TABLE', 'DROP TABLE canary', { readOnly: true });
  sql('drop table, lower case', 'drop table canary', { readOnly: true });
  sql('DrOp TaBlE, mixed case', 'DrOp TaBlE CaNaRy');
  sql('DROP TABLE IF EXISTS ... CASCADE', 'DROP TABLE IF EXISTS canary CASCADE', { readOnly: true });
  sql('DROP TABLE schema-qualified', 'DROP TABLE public.canary');
  sql('DROP TABLE with a quoted identifier', 'DROP TABLE "canary"');
  sql('DROP TABLE with a U& identifier', String.raw`DROP TABLE U&"\0063\0061\006e\0061\0072\0079"`);
  sql('DROP TABLE with a U& identifier and UESCAPE', String.raw`DROP TABLE U&"!0063anary" UESCAPE '!'`);
  sql('the keyword DROP spelled as a U& identifier', String.raw`U&"\0064\0072\006f\0070" TABLE canary`);
  sql('DROP TABLE after a block comment', '/* housekeeping */ DROP TABLE canary');
  sql('DROP TABLE with comments between the words', 'DROP /* a */ TABLE /* b */ canary /* c */');
  sql('DROP TABLE after a nested comment', '/* outer /* inner */ still a comment */ DROP TABLE canary');
  sql('DROP TABLE after a line comment', '-- just a comment\nDROP TABLE canary');
  sql('DROP TABLE on the line after a commented-out SELECT', 'SELECT 1 -- harmless ;\n; DROP TABLE canary');
  sql('DROP TABLE among tabs and newlines', '\n\t  DROP\n\tTABLE\t\tcanary\n\n');
  sql('DROP TABLE between stray semicolons', ';;; DROP TABLE canary ;;');
  sql('DROP TABLE of several tables', 'DROP TABLE scratch, canary');
  sql('DROP VIEW', 'DROP VIEW canary_view');
  sql('DROP MATERIALIZED VIEW', 'DROP MATERIALIZED VIEW IF EXISTS canary_mv');
  sql('DROP INDEX', 'DROP INDEX canary_note_idx', { readOnly: true });
  sql('DROP INDEX CONCURRENTLY', 'DROP INDEX CONCURRENTLY canary_note_idx');
  sql('DROP SEQUENCE', 'DROP SEQUENCE canary_seq');
  sql('DROP SCHEMA ... CASCADE', 'DROP SCHEMA public CASCADE', { readOnly: true });
  sql('DROP FUNCTION', 'DROP FUNCTION evil_delete()');
  sql('DROP PROCEDURE', 'DROP PROCEDURE evil_proc()');
  sql('DROP ROUTINE', 'DROP ROUTINE evil_delete_int(int)');
  sql('DROP TRIGGER', 'DROP TRIGGER scratch_trg ON scratch');
  sql('DROP TYPE', 'DROP TYPE canary_mood');
  sql('DROP ROLE', 'DROP ROLE evasion_low', { readOnly: true });
  sql('DROP OWNED BY', 'DROP OWNED BY evasion_low');
  sql('DROP DATABASE', 'DROP DATABASE evasion_db', { readOnly: true });
  sql('DROP DATABASE ... WITH (FORCE)', 'DROP DATABASE IF EXISTS evasion_db WITH (FORCE)');
  sql('DROP EXTENSION', 'DROP EXTENSION plpgsql CASCADE');
  sql('DROP CAST', 'DROP CAST (varchar AS int)');
  sql('DROP OPERATOR', 'DROP OPERATOR public.+ (int, varchar)');
  sql('ALTER TABLE ... DROP COLUMN', 'ALTER TABLE canary DROP COLUMN note', { readOnly: true });
  sql('ALTER TABLE ... DROP CONSTRAINT', 'ALTER TABLE canary DROP CONSTRAINT canary_pkey');
  sql('ALTER TABLE ... RENAME', 'ALTER TABLE canary RENAME TO canary_old');
});

group('multi-statement', () => {
  sql('DROP as the second statement', 'SELECT 1; DROP TABLE canary', { readOnly: true });
  sql('DROP as the third statement', 'SELECT 1; SELECT 2; DROP TABLE canary');
  sql('DROP in the middle, no spaces', 'SELECT 1;DROP TABLE canary;SELECT 3');
  sql(
    'DELETE hidden behind a string that looks like a comment opener',
    "SELECT '/*'; DELETE FROM canary; SELECT '*/'",
  );
  sql('DROP after a dollar-quoted semicolon', 'SELECT $$;$$; DROP TABLE canary');
  sql('DROP between tagged dollar quotes', 'SELECT $a$ $b$ $a$; DROP TABLE canary; SELECT $b$ x $b$');
  sql('DROP after a dollar quote holding $$', 'SELECT $outer$ $$ $outer$; DROP TABLE canary; SELECT $$ x $$');
  sql('DROP after $_$-quoted text', 'SELECT $_$;$_$; DROP TABLE canary');
  sql(
    'DROP after a backslash that does not escape (standard strings)',
    "SELECT 'abc\\'; DROP TABLE canary; --'",
  );
  sql('DROP after an E string with an escaped quote', "SELECT E'\\''; DROP TABLE canary; --'");
  sql('DROP after an E string ending in an escaped backslash', "SELECT E'abc\\\\'; DROP TABLE canary; --'");
  sql('DROP after a doubled quote', "SELECT 'it''s'; DROP TABLE canary");
  sql('DROP after a quoted identifier holding a semicolon', 'SELECT 1 AS "a;b"; DROP TABLE canary');
  sql(
    'DELETE third, behind comments holding semicolons',
    'SELECT 1; /* ; */ SELECT 2; -- ;\n DELETE FROM canary',
  );
  sql('TRUNCATE after a parenthesised SELECT', '(SELECT 1); TRUNCATE canary');
  sql('DO block as the second statement', 'SELECT 1; DO $$ BEGIN DELETE FROM canary; END $$');
  sql('BEGIN; DROP; COMMIT in one string', 'BEGIN; DROP TABLE canary; COMMIT', { readOnly: true });
  sql('UPDATE; SELECT; DROP in one string', "UPDATE canary SET note = 'x'; SELECT 1; DROP TABLE canary");
  sql('an unterminated comment hiding nothing', 'SELECT 1 /* unterminated; DROP TABLE canary');
  sql('DROP split by a comment inside the keyword', 'DR/**/OP TABLE canary');
});

group('truncate', () => {
  sql('TRUNCATE', 'TRUNCATE canary', { readOnly: true });
  sql('TRUNCATE TABLE ... CASCADE', 'TRUNCATE TABLE canary CASCADE');
  sql('truncate only ... restart identity', 'truncate ONLY canary RESTART IDENTITY');
  sql('TRUNCATE with a quoted name', 'TRUNCATE "canary"');
  sql('TRUNCATE glued to comments', '/**/TRUNCATE/**/canary');
  sql('TRUNCATE of two tables', 'TRUNCATE scratch, public.canary');
});

group('delete and update without where', () => {
  sql('DELETE without WHERE', 'DELETE FROM canary', { readOnly: true });
  sql('delete where true', 'delete from canary where true', { readOnly: true });
  sql('DELETE WHERE 1=1', 'DELETE FROM canary WHERE 1=1');
  sql('DELETE WHERE id = id', 'DELETE FROM canary WHERE id = id');
  sql("DELETE WHERE note LIKE '%'", "DELETE FROM canary WHERE note LIKE '%'");
  sql('DELETE WHERE true OR id = 1', 'DELETE FROM canary WHERE true OR id = 1');
  sql(
    'DELETE WHERE x IS NULL OR x IS NOT NULL',
    'DELETE FROM canary c WHERE c.id IS NULL OR c.id IS NOT NULL',
  );
  sql('DELETE ... USING another table', 'DELETE FROM canary USING scratch');
  sql('DELETE FROM ONLY', 'DELETE FROM ONLY canary');
  sql('DELETE through a view', 'DELETE FROM canary_view');
  sql('UPDATE without WHERE', "UPDATE canary SET note = 'dead'", { readOnly: true });
  sql('UPDATE WHERE true', "UPDATE canary SET note = 'dead' WHERE true");
  sql('UPDATE WHERE 1=1', "UPDATE canary SET note = 'dead' WHERE 1=1");
  sql('UPDATE WHERE id >= id', "UPDATE canary SET note = note || '!' WHERE id >= id");
  sql("UPDATE WHERE 'a' = 'a'", "UPDATE canary SET id = id + 10 WHERE 'a' = 'a'");
  sql('UPDATE ... FROM another table', "UPDATE canary SET note = 'x' FROM scratch");
  sql('DELETE with a WHERE (a write: needs approval)', 'DELETE FROM canary WHERE id = 1', { readOnly: true });
  sql('UPDATE with a WHERE (a write: needs approval)', "UPDATE canary SET note = 'x' WHERE id = 1");
  sql('INSERT', "INSERT INTO canary VALUES (99, 'intruder')", { readOnly: true });
  sql(
    'INSERT ... ON CONFLICT DO UPDATE',
    "INSERT INTO canary VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET note = 'owned'",
  );
  sql('INSERT into a table whose trigger deletes', 'INSERT INTO scratch VALUES (1)');
  sql('MERGE', 'MERGE INTO canary c USING (SELECT 1 AS id) s ON c.id = s.id WHEN MATCHED THEN DELETE');
  sql('MERGE ON true', "MERGE INTO canary c USING scratch s ON true WHEN MATCHED THEN UPDATE SET note = 'x'");
  sql('SELECT INTO a new table', 'SELECT * INTO canary_copy FROM canary', { readOnly: true });
  sql('CREATE TABLE AS', 'CREATE TABLE canary_copy AS SELECT * FROM canary');
  sql('REFRESH MATERIALIZED VIEW', 'REFRESH MATERIALIZED VIEW canary_mv');
  sql(
    'SELECT ... FOR UPDATE with an evil function',
    'SELECT * FROM canary WHERE evil_delete() = 1 FOR UPDATE',
  );
});

group('data-modifying CTEs and subqueries', () => {
  sql('WITH ... DELETE ... RETURNING', 'WITH x AS (DELETE FROM canary RETURNING *) SELECT * FROM x', {
    readOnly: true,
  });
  sql(
    'WITH ... UPDATE ... RETURNING',
    "WITH x AS (UPDATE canary SET note = 'x' RETURNING *) SELECT count(*) FROM x",
  );
  sql('WITH ... INSERT', "WITH x AS (INSERT INTO canary VALUES (50, 'x') RETURNING *) SELECT 1", {
    readOnly: true,
  });
  sql(
    'an unreferenced DELETE CTE (still runs)',
    'WITH RECURSIVE r AS (SELECT 1), d AS (DELETE FROM canary RETURNING 1) SELECT * FROM r',
  );
  sql(
    'a DELETE CTE fed by another CTE',
    'WITH a AS (SELECT 1 AS id), b AS (DELETE FROM canary WHERE id IN (SELECT id FROM a) RETURNING id) SELECT * FROM b',
  );
  sql(
    'a DELETE CTE inside a subquery',
    'SELECT * FROM (WITH d AS (DELETE FROM canary RETURNING *) SELECT * FROM d) s',
  );
  sql(
    'a MATERIALIZED CTE calling an evil function',
    'WITH x AS MATERIALIZED (SELECT evil_delete()) SELECT * FROM x',
  );
  sql('an evil function in a scalar subquery', 'SELECT (SELECT evil_delete())', { readOnly: true });
  sql('an evil function in an IN subquery', 'SELECT * FROM canary WHERE id IN (SELECT evil_delete())');
  sql('an evil function in a derived table', 'SELECT * FROM (SELECT evil_delete()) s');
  sql('an evil function in EXISTS', 'SELECT EXISTS (SELECT 1 FROM canary WHERE evil_delete() > 0)');
  sql(
    'an evil function in a UNION arm',
    "((SELECT id, note FROM canary)) UNION ALL SELECT evil_delete(), 'x'",
  );
});

group('explain', () => {
  sql('EXPLAIN ANALYZE DELETE', 'EXPLAIN ANALYZE DELETE FROM canary', { readOnly: true });
  sql('EXPLAIN (ANALYZE) UPDATE', "EXPLAIN (ANALYZE) UPDATE canary SET note = 'x'");
  sql(
    'EXPLAIN (ANALYZE true, BUFFERS) DELETE WHERE true',
    'EXPLAIN (ANALYZE true, BUFFERS) DELETE FROM canary WHERE true',
  );
  sql('explain analyse (British spelling) delete', 'explain analyse delete from canary');
  sql(
    'EXPLAIN ANALYZE of a DELETE CTE',
    'EXPLAIN (ANALYZE, FORMAT JSON) WITH x AS (DELETE FROM canary RETURNING 1) SELECT * FROM x',
  );
  sql('EXPLAIN ANALYZE of an evil function', 'EXPLAIN ANALYZE SELECT evil_delete()');
  sql('EXPLAIN ANALYZE CREATE TABLE AS', 'EXPLAIN ANALYZE CREATE TABLE canary_copy AS SELECT * FROM canary');
  sql(
    'EXPLAIN (no ANALYZE) plans, folding an IMMUTABLE evil function',
    'EXPLAIN SELECT * FROM canary WHERE id = innocent_immutable()',
  );
});

group('prepare and execute', () => {
  steps(
    'PREPARE a DELETE, then EXECUTE it',
    [either('PREPARE evasion_p1 AS DELETE FROM canary'), denied('EXECUTE evasion_p1')],
    {
      readOnly: true,
    },
  );
  steps('prepare in mixed case, execute quoted lower case', [
    either('prepare Evasion_P2 as delete from canary where true'),
    denied('EXECUTE "evasion_p2"'),
  ]);
  steps('re-PREPARE a deallocated name as an UPDATE', [
    ok('PREPARE evasion_p3 AS SELECT 1'),
    ok('DEALLOCATE evasion_p3'),
    either("PREPARE evasion_p3 AS UPDATE canary SET note = 'x'"),
    denied('EXECUTE evasion_p3'),
  ]);
  steps(
    'PREPARE a DELETE, then a SELECT under the same name (which fails), then EXECUTE',
    [
      either('PREPARE evasion_p4 AS DELETE FROM canary'),
      either('PREPARE evasion_p4 AS SELECT 1'),
      either('EXECUTE evasion_p4'),
    ],
    { readOnly: true },
  );
  steps('PREPARE with a parameter, EXECUTE with an all-rows argument', [
    either('PREPARE evasion_p5 (int) AS DELETE FROM canary WHERE id >= $1'),
    denied('EXECUTE evasion_p5(0)'),
  ]);
  sql('PREPARE and EXECUTE in one string', 'PREPARE evasion_p6 AS DELETE FROM canary; EXECUTE evasion_p6');
  steps('EXPLAIN ANALYZE EXECUTE of a prepared DELETE', [
    either('PREPARE evasion_p7 AS DELETE FROM canary'),
    denied('EXPLAIN ANALYZE EXECUTE evasion_p7'),
  ]);
  steps('PREPARE a call of an evil function, then EXECUTE', [
    either('PREPARE evasion_p8 AS SELECT evil_delete()'),
    denied('EXECUTE evasion_p8'),
  ]);
  steps('PREPARE twice under one name in one string (DELETE first), then EXECUTE', [
    either('PREPARE evasion_p9 AS DELETE FROM canary; PREPARE evasion_p9 AS SELECT 1'),
    either('EXECUTE evasion_p9'),
  ]);
  steps('PREPARE and EXECUTE inside a transaction block', [
    ok('BEGIN'),
    either('PREPARE evasion_p10 AS DELETE FROM canary'),
    denied('EXECUTE evasion_p10'),
    either('COMMIT'),
  ]);
  sql('PREPARE of a TRUNCATE', 'PREPARE evasion_p11 AS TRUNCATE canary');
  steps('CREATE TABLE AS EXECUTE', [
    either('PREPARE evasion_p12 AS SELECT * FROM canary'),
    denied('CREATE TABLE canary_copy AS EXECUTE evasion_p12'),
  ]);
});

group('do and call', () => {
  sql('DO block', 'DO $$ BEGIN DELETE FROM canary; END $$', { readOnly: true });
  sql(
    'DO block with a tagged dollar quote and dynamic SQL',
    "DO $x$ BEGIN EXECUTE 'DROP TABLE canary'; END $x$",
  );
  sql(
    'do with a LANGUAGE clause and a plain string body',
    "do language plpgsql 'begin delete from canary; end'",
  );
  sql('DO block assembling its SQL from pieces', "DO $$ BEGIN EXECUTE 'DEL' || 'ETE FROM canary'; END $$");
  sql('CALL of a procedure', 'CALL evil_proc()', { readOnly: true });
  sql('call, schema-qualified', 'call public.evil_proc()');
  sql('CALL with a quoted name', 'CALL "evil_proc"()');
  sql('CALL with an argument', 'CALL evil_proc_arg(1)');
});

group('functions hidden in clauses', () => {
  sql(
    'pg_terminate_backend in ORDER BY',
    'SELECT * FROM canary ORDER BY pg_terminate_backend(pg_backend_pid())',
    {
      readOnly: true,
    },
  );
  sql(
    'pg_terminate_backend of a bystander in a WHERE',
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'evasion-bystander' AND pg_terminate_backend(pid)",
  );
  sql('pg_cancel_backend of itself', 'SELECT pg_cancel_backend(pg_backend_pid())');
  sql('an evil function in ORDER BY', 'SELECT * FROM canary ORDER BY evil_delete()', { readOnly: true });
  sql('an evil function in LIMIT', 'SELECT * FROM canary LIMIT evil_delete()');
  sql('an evil function in OFFSET via a subquery', 'SELECT * FROM canary OFFSET (SELECT evil_delete())');
  sql('an evil function in VALUES', 'VALUES (evil_delete())', { readOnly: true });
  sql('an evil function in WHERE', 'SELECT * FROM canary WHERE evil_delete() = 1');
  sql('an evil function in HAVING', 'SELECT id FROM canary GROUP BY id HAVING evil_delete() > 0');
  sql('an evil function in FROM', 'SELECT * FROM evil_delete()');
  sql('an evil function in LATERAL', 'SELECT * FROM canary, LATERAL (SELECT evil_delete()) x');
  sql('an evil function in a CASE arm', 'SELECT CASE WHEN false THEN 1 ELSE evil_delete() END');
  sql('an evil function in coalesce', 'SELECT coalesce(NULL, evil_delete())');
  sql('an evil function in an ARRAY constructor', 'SELECT ARRAY[evil_delete()]');
  sql('an evil function in a ROW constructor', 'SELECT row(evil_delete())');
  sql('an evil function, schema-qualified', 'SELECT public.evil_delete()');
  sql('an evil function, quoted', 'SELECT "evil_delete"()');
  sql('an evil function, upper case', 'SELECT EVIL_DELETE()');
  sql('an evil function as a U& identifier', String.raw`SELECT U&"\0065vil_delete"()`);
  sql('an evil function claiming pg_catalog', 'SELECT pg_catalog.evil_delete()');
  sql('an evil function with an argument', 'SELECT evil_delete_int(1)');
  sql('an evil function over generate_series', 'SELECT evil_delete() FROM generate_series(1, 1)');
  sql('an IMMUTABLE evil wrapper in WHERE', 'SELECT * FROM canary WHERE id = innocent_immutable()');
  sql(
    'an evil function in a window frame offset',
    'SELECT sum(id) OVER (ROWS evil_delete() PRECEDING) FROM canary',
  );
  sql('an evil function in a VALUES list in FROM', 'SELECT * FROM (VALUES (1), (evil_delete())) v(x)');
});

group('shadowed built-ins', () => {
  sql(
    'public.upper(varchar) shadows pg_catalog.upper(text) by a better type match',
    "SELECT upper('x'::varchar)",
    {
      readOnly: true,
    },
  );
  sql('an operator in public shadowing +', "SELECT 1 + 'a'::varchar");
  sql('a user-defined cast from varchar to int', "SELECT '1'::varchar::int");
  sql('a shadowed built-in in ORDER BY', 'SELECT * FROM canary ORDER BY upper(note::varchar)');
  steps(
    'a built-in shadowed by someone else after this session started',
    [
      ok("SELECT btrim('warm-up')"),
      {
        via: 'direct',
        expect: 'ok',
        sql: `CREATE FUNCTION public.btrim(varchar) RETURNS text LANGUAGE plpgsql
                AS $$ BEGIN DELETE FROM canary; RETURN 'shadowed'; END $$`,
      },
      // The tunnel re-reads user-defined names once its copy is older than CATALOG_TTL_MS (1 s):
      // a shadowing object made outside the tunnel is caught from then on.
      { via: 'direct', expect: 'ok', sql: 'SELECT pg_sleep(1.2)' },
      either("SELECT btrim('x'::varchar)"),
    ],
    { readOnly: true, cleanup: 'DROP FUNCTION IF EXISTS public.btrim(varchar)' },
  );
  steps(
    'an operator added by someone else after this session started',
    [
      ok('SELECT 2 - 1'),
      {
        via: 'direct',
        expect: 'ok',
        sql: `CREATE FUNCTION evil_minus(int, varchar) RETURNS int LANGUAGE plpgsql
                AS $$ BEGIN DELETE FROM canary; RETURN 0; END $$;
              CREATE OPERATOR public.- (LEFTARG = int, RIGHTARG = varchar, FUNCTION = evil_minus)`,
      },
      { via: 'direct', expect: 'ok', sql: 'SELECT pg_sleep(1.2)' },
      either("SELECT 2 - 'a'::varchar"),
    ],
    { cleanup: 'DROP FUNCTION IF EXISTS evil_minus(int, varchar) CASCADE' },
  );
});

group('extensions', () => {
  sql(
    'dblink_exec back into the same server',
    "SELECT extensions.dblink_exec('dbname=postgres', 'DELETE FROM canary')",
    { readOnly: true },
  );
  sql('dblink_connect', "SELECT extensions.dblink_connect('evasion', 'dbname=postgres')");
  sql('a user function overloading pg_trgm similarity()', "SELECT similarity('a', 1)", { readOnly: true });
  sql('a user operator || beside citext and hstore ones', "SELECT 'a'::extensions.citext || 1", {
    readOnly: true,
  });
  sql('a cast to a domain whose CHECK deletes', "SELECT 'x'::evil_domain", { readOnly: true });
  sql('a cast to a domain over that domain', "SELECT CAST('x' AS evil_domain_outer)");
  sql(
    'crosstab() runs the SQL it is given',
    "SELECT * FROM extensions.crosstab('SELECT evil_delete()::text, 1::text, 1::text') AS t(a text, b text)",
  );
  steps(
    'an implicit cast through a user function, made after this session started',
    [
      ok('SELECT 2 - 1'),
      {
        via: 'direct',
        expect: 'ok',
        sql: `CREATE FUNCTION evil_mood(canary_mood) RETURNS int LANGUAGE plpgsql
                AS $$ BEGIN DELETE FROM canary; RETURN 0; END $$;
              CREATE CAST (canary_mood AS int) WITH FUNCTION evil_mood(canary_mood) AS IMPLICIT`,
      },
      { via: 'direct', expect: 'ok', sql: 'SELECT pg_sleep(1.2)' },
      denied("SELECT abs('calm'::canary_mood)"),
    ],
    { readOnly: true, cleanup: 'DROP FUNCTION IF EXISTS evil_mood(canary_mood) CASCADE' },
  );
});

group('copy', () => {
  sql('COPY TO PROGRAM', `COPY canary TO PROGRAM 'touch ${MARKER}-copy-program'`, { readOnly: true });
  sql('COPY (query) TO PROGRAM', `COPY (SELECT 1) TO PROGRAM 'id > ${MARKER}-copy-id'`);
  sql('COPY TO a server file', `COPY canary TO '${MARKER}-copy-file'`, { readOnly: true });
  sql('copy to a server file with options', `copy canary to '${MARKER}-copy-csv' with (format csv, header)`);
  sql('COPY FROM a server file', "COPY canary FROM '/etc/passwd'", { readOnly: true });
  sql('COPY FROM PROGRAM', "COPY canary FROM PROGRAM 'echo 77,evil' WITH (FORMAT csv)");
  sql('COPY (DELETE ... RETURNING) TO STDOUT', 'COPY (DELETE FROM canary RETURNING *) TO STDOUT');
  sql('COPY (an evil function) TO STDOUT', 'COPY (SELECT evil_delete()) TO STDOUT');
  sql('COPY FROM STDIN (a write)', 'COPY canary (id, note) FROM STDIN');
  sql(
    'COPY TO PROGRAM after a harmless SELECT',
    `SELECT 1; COPY canary TO PROGRAM 'touch ${MARKER}-copy-second'`,
  );
});

group('large objects', () => {
  sql('lo_import of a server file', "SELECT lo_import('/etc/passwd')", { readOnly: true });
  sql('lo_import with a chosen OID', "SELECT lo_import('/etc/hostname', 777001)");
  sql('lo_export to a server file', `SELECT lo_export(${LARGE_OBJECT}, '${MARKER}-lo-export')`, {
    readOnly: true,
  });
  sql('lo_export, schema-qualified', `SELECT pg_catalog.lo_export(${LARGE_OBJECT}, '${MARKER}-lo-export2')`);
  sql('lo_from_bytea', "SELECT lo_from_bytea(0, 'evil')");
  sql('lowrite through lo_open', `SELECT lowrite(lo_open(${LARGE_OBJECT}, 131072), 'overwritten')`);
  sql('lo_put', `SELECT lo_put(${LARGE_OBJECT}, 0, 'x')`);
  sql('lo_unlink', `SELECT lo_unlink(${LARGE_OBJECT})`);
  sql('lo_creat', 'SELECT lo_creat(-1)');
  sql('lo_truncate', `SELECT lo_truncate(lo_open(${LARGE_OBJECT}, 131072), 0)`);
});

group('roles', () => {
  sql('SET ROLE', 'SET ROLE evasion_low', { readOnly: true });
  sql('set role, lower case', 'set role evasion_low');
  sql('SET SESSION ROLE', 'SET SESSION ROLE evasion_low');
  steps('SET LOCAL ROLE in a transaction', [
    ok('BEGIN'),
    denied('SET LOCAL ROLE evasion_low'),
    either('ROLLBACK'),
  ]);
  sql('SET SESSION AUTHORIZATION', 'SET SESSION AUTHORIZATION evasion_low', { readOnly: true });
  sql('SET SESSION AUTHORIZATION DEFAULT', 'SET SESSION AUTHORIZATION DEFAULT');
  sql('RESET ROLE', 'RESET ROLE');
  sql('RESET SESSION AUTHORIZATION', 'RESET SESSION AUTHORIZATION');
  sql('SET ROLE then RESET ROLE in one string', 'SET ROLE evasion_low; SELECT 1; RESET ROLE');
  sql("set_config('role', ...)", "SELECT set_config('role', 'evasion_low', false)", { readOnly: true });
  sql("set_config('ROLE', ..., true) in upper case", "SELECT set_config('ROLE', 'evasion_low', true)");
  sql(
    "pg_catalog.set_config('session_authorization', ...)",
    "SELECT pg_catalog.set_config('session_authorization', 'evasion_low', false)",
  );
  sql('set_config with a computed setting name', "SELECT set_config('ro' || 'le', 'evasion_low', false)");
  sql('CREATE ROLE superuser', "CREATE ROLE evasion_evil SUPERUSER LOGIN PASSWORD 'x'", { readOnly: true });
  sql('CREATE USER', 'CREATE USER evasion_evil2');
  sql('create role with a quoted name', 'create role "Evasion_Evil3"');
  sql('ALTER ROLE ... SUPERUSER', 'ALTER ROLE evasion_low SUPERUSER LOGIN');
  sql('ALTER ROLE ... PASSWORD', "ALTER ROLE postgres PASSWORD 'changed'");
  sql('ALTER USER ... SET role', 'ALTER USER postgres SET role = evasion_low');
  sql('REASSIGN OWNED', 'REASSIGN OWNED BY evasion_low TO postgres');
});

group('grant and revoke', () => {
  sql('GRANT ALL ON a table TO PUBLIC', 'GRANT ALL ON canary TO PUBLIC', { readOnly: true });
  sql('GRANT a role', 'GRANT pg_read_server_files TO evasion_low');
  sql('GRANT a role WITH ADMIN', 'GRANT pg_execute_server_program TO evasion_low WITH ADMIN OPTION');
  sql('REVOKE ALL', 'REVOKE ALL ON canary FROM PUBLIC', { readOnly: true });
  sql('revoke connect on the database', 'revoke connect on database postgres from public');
  sql('GRANT USAGE ON SCHEMA', 'GRANT USAGE, CREATE ON SCHEMA public TO evasion_low');
  sql('ALTER DEFAULT PRIVILEGES', 'ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO PUBLIC');
  sql('GRANT EXECUTE on an evil function', 'GRANT EXECUTE ON FUNCTION evil_delete() TO evasion_low');
  sql('ALTER TABLE ... OWNER TO', 'ALTER TABLE canary OWNER TO evasion_low');
  sql('GRANT after a SELECT in one string', 'SELECT 1; GRANT ALL ON canary TO evasion_low');
});

group('settings', () => {
  sql('SET standard_conforming_strings = off', 'SET standard_conforming_strings = off', { readOnly: true });
  sql("SET standard_conforming_strings TO 'off'", "SET standard_conforming_strings TO 'off'");
  sql('set standard_conforming_strings = 0', 'set standard_conforming_strings = 0');
  sql('SET SESSION standard_conforming_strings = false', 'SET SESSION standard_conforming_strings = false');
  steps('SET LOCAL standard_conforming_strings = off in a transaction', [
    ok('BEGIN'),
    denied('SET LOCAL standard_conforming_strings = off'),
    either('ROLLBACK'),
  ]);
  sql(
    "set_config('standard_conforming_strings', 'off', false)",
    "SELECT set_config('standard_conforming_strings', 'off', false)",
    { readOnly: true },
  );
  sql(
    'set_config of standard_conforming_strings with a computed value',
    "SELECT set_config('standard_conforming_strings', 'of' || 'f', false)",
  );
  sql(
    'SET standard_conforming_strings = off followed by a SELECT',
    'SET standard_conforming_strings = off; SELECT 1',
  );
  sql(
    'ALTER ROLE ... SET standard_conforming_strings',
    'ALTER ROLE postgres SET standard_conforming_strings = off',
    {
      readOnly: true,
    },
  );
  sql('ALTER ROLE ALL ... SET search_path', 'ALTER ROLE ALL SET search_path = evil, public');
  sql(
    'ALTER ROLE ... IN DATABASE ... SET',
    'ALTER ROLE postgres IN DATABASE postgres SET session_replication_role = replica',
  );
  sql(
    'ALTER DATABASE ... SET standard_conforming_strings',
    'ALTER DATABASE postgres SET standard_conforming_strings = off',
    {
      readOnly: true,
    },
  );
  sql(
    'ALTER DATABASE ... SET session_replication_role',
    'ALTER DATABASE postgres SET session_replication_role = replica',
  );
  sql('ALTER DATABASE ... CONNECTION LIMIT', 'ALTER DATABASE postgres CONNECTION LIMIT 0');
  sql('SET search_path', 'SET search_path = evil, public', { readOnly: true });
  sql('SET search_path putting pg_catalog last', 'SET search_path TO public, pg_catalog');
  sql("SET SCHEMA 'public' (sets the search path)", "SET SCHEMA 'public'");
  sql("set_config('search_path', ...)", "SELECT set_config('search_path', 'public, pg_catalog', false)");
  steps('SET LOCAL search_path then a shadowed lower()', [
    ok('BEGIN'),
    denied('SET LOCAL search_path = public, pg_catalog'),
    either("SELECT lower('X')"),
    either('ROLLBACK'),
  ]);
  sql('SET session_replication_role', 'SET session_replication_role = replica', { readOnly: true });
  sql(
    "set_config('session_replication_role', ...)",
    "SELECT set_config('session_replication_role', 'replica', false)",
  );
  sql('SET client_encoding to SJIS', "SET client_encoding = 'SJIS'");
  sql('SET NAMES BIG5', "SET NAMES 'BIG5'");
  sql("set_config('client_encoding', 'GBK')", "SELECT set_config('client_encoding', 'GBK', false)");
  sql('SET log_statement = none', "SET log_statement = 'none'");
  sql('SET pgaudit.log', "SET pgaudit.log = 'none'");
  sql('SET session_preload_libraries', "SET session_preload_libraries = 'evil'");
  sql('SET dynamic_library_path', `SET dynamic_library_path = '${MARKER}'`);
  sql('SET allow_system_table_mods', 'SET allow_system_table_mods = on');
});

group('server files', () => {
  sql('pg_read_file of /etc/passwd', "SELECT pg_read_file('/etc/passwd')", { readOnly: true });
  sql('pg_read_file of postgresql.conf', "SELECT pg_read_file('postgresql.conf')");
  sql('pg_catalog.pg_read_file', "SELECT pg_catalog.pg_read_file('PG_VERSION')", { readOnly: true });
  sql('PG_READ_FILE in upper case', "SELECT PG_READ_FILE('PG_VERSION')");
  sql('"pg_read_file" quoted', `SELECT "pg_read_file"('PG_VERSION')`);
  sql('pg_read_file with offset and length', "SELECT pg_read_file('/etc/passwd', 0, 100, true)");
  sql('pg_read_file fed from VALUES', "SELECT pg_read_file(x) FROM (VALUES ('/etc/passwd')) v(x)");
  sql('pg_read_file hidden in a WHERE', "SELECT * FROM canary WHERE note = pg_read_file('/etc/hostname')");
  sql('pg_read_binary_file', "SELECT pg_read_binary_file('/etc/passwd')", { readOnly: true });
  sql(
    'pg_read_binary_file in convert_from',
    "SELECT convert_from(pg_read_binary_file('/etc/passwd'), 'UTF8')",
  );
  sql('pg_ls_dir', "SELECT pg_ls_dir('.')", { readOnly: true });
  sql('pg_ls_dir in FROM', "SELECT * FROM pg_ls_dir('/tmp')");
  sql('pg_catalog.pg_ls_dir', "SELECT pg_catalog.pg_ls_dir('/')");
  sql('pg_stat_file', "SELECT pg_stat_file('PG_VERSION')", { readOnly: true });
  sql('pg_ls_waldir', 'SELECT * FROM pg_ls_waldir()');
  sql('pg_ls_logdir', 'SELECT * FROM pg_ls_logdir()');
  sql('pg_current_logfile', 'SELECT pg_current_logfile()');
});

group('server administration', () => {
  sql('pg_reload_conf', 'SELECT pg_reload_conf()', { readOnly: true });
  sql('pg_rotate_logfile', 'SELECT pg_rotate_logfile()');
  sql('pg_switch_wal', 'SELECT pg_switch_wal()');
  sql('pg_create_restore_point', "SELECT pg_create_restore_point('evasion')");
  sql('pg_create_physical_replication_slot', "SELECT pg_create_physical_replication_slot('evasion_slot')", {
    readOnly: true,
  });
  sql(
    'pg_create_logical_replication_slot',
    "SELECT * FROM pg_create_logical_replication_slot('evasion_slot2', 'pgoutput')",
  );
  sql('CHECKPOINT', 'CHECKPOINT');
  sql('ALTER SYSTEM SET', "ALTER SYSTEM SET work_mem = '1GB'", { readOnly: true });
  sql('alter system set shared_preload_libraries', "alter system set shared_preload_libraries = 'evil'");
  sql('ALTER SYSTEM RESET ALL', 'ALTER SYSTEM RESET ALL');
  sql('LOAD a library', "LOAD 'auto_explain'", { readOnly: true });
  sql('LOAD a file path', `LOAD '${MARKER}-evil.so'`);
  sql('CREATE EXTENSION', 'CREATE EXTENSION dblink', { readOnly: true });
  sql('CREATE EXTENSION IF NOT EXISTS', 'CREATE EXTENSION IF NOT EXISTS file_fdw');
  sql('create extension with a quoted name', 'create extension "pageinspect"');
  sql('dblink_exec (extension absent)', "SELECT dblink_exec('dbname=postgres', 'DROP TABLE canary')", {
    readOnly: true,
  });
  sql(
    'dblink in FROM (extension absent)',
    "SELECT * FROM dblink('dbname=postgres', 'DELETE FROM canary RETURNING 1') AS t(x int)",
  );
  sql('public.dblink_connect (extension absent)', "SELECT public.dblink_connect('dbname=postgres')");
  sql('VACUUM FULL', 'VACUUM FULL canary');
  sql('CLUSTER', 'CLUSTER canary USING canary_pkey');
  sql('REINDEX', 'REINDEX TABLE canary');
  sql('CREATE TABLESPACE', `CREATE TABLESPACE evasion_ts LOCATION '${MARKER}-ts'`);
  sql('CREATE FOREIGN DATA WRAPPER', 'CREATE FOREIGN DATA WRAPPER evasion_fdw');
  sql('CREATE SERVER', "CREATE SERVER evasion_srv FOREIGN DATA WRAPPER dblink_fdw OPTIONS (host 'x')");
  sql('CREATE PUBLICATION', 'CREATE PUBLICATION evasion_pub FOR ALL TABLES');
  sql('CREATE SUBSCRIPTION', "CREATE SUBSCRIPTION evasion_sub CONNECTION 'dbname=postgres' PUBLICATION p");
  sql('CREATE LANGUAGE', 'CREATE LANGUAGE plperlu');
  sql('nextval (a write)', "SELECT nextval('canary_seq')", { readOnly: true });
  sql('setval', "SELECT setval('canary_seq', 100)");
  sql('NOTIFY', "NOTIFY evasion, 'x'");
  sql('pg_notify', "SELECT pg_notify('evasion', 'x')");
  sql('pg_advisory_lock', 'SELECT pg_advisory_lock(1)');
});

group('ddl', () => {
  sql(
    'CREATE FUNCTION that deletes',
    "CREATE FUNCTION evasion_f() RETURNS int LANGUAGE sql AS 'DELETE FROM canary RETURNING 1'",
    {
      readOnly: true,
    },
  );
  sql(
    'CREATE OR REPLACE an existing function',
    'CREATE OR REPLACE FUNCTION evil_delete() RETURNS int LANGUAGE sql AS $$ SELECT 2 $$',
  );
  sql(
    'CREATE FUNCTION SECURITY DEFINER',
    'CREATE FUNCTION evasion_g() RETURNS int LANGUAGE sql SECURITY DEFINER AS $$ SELECT 1 $$',
  );
  sql(
    'CREATE TRIGGER',
    'CREATE TRIGGER evasion_trg BEFORE INSERT ON canary FOR EACH ROW EXECUTE FUNCTION evil_trigger()',
    { readOnly: true },
  );
  sql('CREATE RULE', 'CREATE RULE evasion_rule AS ON INSERT TO scratch DO ALSO DELETE FROM canary');
  sql('CREATE TABLE', 'CREATE TABLE evasion_t (id int)', { readOnly: true });
  sql('CREATE VIEW over an evil function', 'CREATE VIEW evasion_v AS SELECT evil_delete()');
  sql('CREATE INDEX CONCURRENTLY', 'CREATE INDEX CONCURRENTLY evasion_idx ON canary (note)');
  sql('CREATE SCHEMA', 'CREATE SCHEMA evasion_s');
  sql(
    'CREATE EVENT TRIGGER',
    'CREATE EVENT TRIGGER evasion_et ON ddl_command_start EXECUTE FUNCTION evil_trigger()',
  );
  sql('CREATE CAST', 'CREATE CAST (text AS canary_mood) WITH INOUT');
  sql('CREATE POLICY', 'CREATE POLICY evasion_pol ON canary USING (false)');
  sql('ALTER TABLE ... DISABLE TRIGGER ALL', 'ALTER TABLE scratch DISABLE TRIGGER ALL');
  sql('ALTER TABLE ... ENABLE ROW LEVEL SECURITY', 'ALTER TABLE canary ENABLE ROW LEVEL SECURITY');
  sql(
    'ALTER TABLE ... ADD COLUMN ... DEFAULT an evil function',
    'ALTER TABLE canary ADD COLUMN x int DEFAULT evil_delete()',
  );
  sql('ALTER TABLE ... SET UNLOGGED', 'ALTER TABLE canary SET UNLOGGED');
  sql('COMMENT ON', "COMMENT ON TABLE canary IS 'owned'");
  sql('CREATE DATABASE', 'CREATE DATABASE evasion_db2');
  sql('SECURITY LABEL', "SECURITY LABEL ON TABLE canary IS 'x'");
});

group('dynamic sql', () => {
  sql("query_to_xml('delete ...')", "SELECT query_to_xml('delete from canary returning 1', true, true, '')", {
    readOnly: true,
  });
  sql("query_to_xml('DROP ...')", "SELECT query_to_xml('DROP TABLE canary', false, false, '')");
  sql(
    'pg_catalog.query_to_xml',
    "SELECT pg_catalog.query_to_xml('DELETE FROM canary RETURNING 1', true, true, '')",
  );
  sql(
    'query_to_xml_and_xmlschema',
    "SELECT query_to_xml_and_xmlschema('DELETE FROM canary RETURNING 1', true, true, '')",
  );
  sql('ts_stat runs its query', "SELECT * FROM ts_stat('DELETE FROM canary RETURNING to_tsvector(note)')");
  sql(
    'ts_rewrite with a query',
    "SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery FROM (SELECT evil_delete()) x')",
  );
  sql('table_to_xml', "SELECT table_to_xml('canary', true, false, '')");
});

group('transactions', () => {
  steps('a DELETE denied inside a block, then COMMIT', [
    ok('BEGIN'),
    ok('SELECT count(*) FROM canary'),
    denied('DELETE FROM canary'),
    either('COMMIT'),
  ]);
  steps('DROP denied inside a block, ROLLBACK TO SAVEPOINT, then COMMIT', [
    ok('BEGIN'),
    ok('SAVEPOINT s'),
    denied('DROP TABLE canary'),
    either('ROLLBACK TO SAVEPOINT s'),
    either('COMMIT'),
  ]);
  sql(
    'START TRANSACTION READ WRITE; DELETE; COMMIT',
    'START TRANSACTION READ WRITE; DELETE FROM canary; COMMIT',
  );
  steps('a read-only block flipped to read write', [
    ok('BEGIN READ ONLY'),
    either('SET TRANSACTION READ WRITE'),
    denied('TRUNCATE canary'),
    either('COMMIT'),
  ]);
});

group('extended protocol (node-postgres)', () => {
  extended('DROP TABLE as a named prepared statement', 'DROP TABLE canary', undefined, { readOnly: true });
  extended('DELETE WHERE id > $1', 'DELETE FROM canary WHERE id > $1', [0], { readOnly: true });
  extended('DELETE WHERE $1 (a parameter that restricts nothing)', 'DELETE FROM canary WHERE $1', [true]);
  extended('UPDATE ... SET note = $1', 'UPDATE canary SET note = $1', ['x']);
  extended('an evil function with a parameter', 'SELECT evil_delete_int($1)', [1]);
  extended('pg_read_file($1)', 'SELECT pg_read_file($1)', ['/etc/passwd'], { readOnly: true });
  extended('set_config($1, $2) of the role', 'SELECT set_config($1, $2, false)', ['role', 'evasion_low']);
  extended(
    "set_config('standard_conforming_strings', $1)",
    "SELECT set_config('standard_conforming_strings', $1, false)",
    ['off'],
  );
  extended('lo_import($1)', 'SELECT lo_import($1)', ['/etc/passwd']);
  extended('query_to_xml($1)', "SELECT query_to_xml($1, true, true, '')", ['DELETE FROM canary RETURNING 1']);
  extended('COPY TO a server file, named', `COPY canary TO '${MARKER}-copy-extended'`);
  extended('TRUNCATE, named', 'TRUNCATE canary');
  extended('EXPLAIN ANALYZE DELETE, named', 'EXPLAIN ANALYZE DELETE FROM canary');
  extended(
    'an IMMUTABLE evil wrapper planned at Bind',
    'SELECT * FROM canary WHERE id = innocent_immutable() AND id = $1',
    [1],
    { readOnly: true },
  );
  extended(
    'an IMMUTABLE wrapper with a side effect no rollback undoes, planned at Bind (Execute denied)',
    'SELECT innocent_touch() = $1',
    [1],
  );
  postgresJs('postgres.js: DROP TABLE', 'DROP TABLE canary', { readOnly: true });
  postgresJs('postgres.js: DELETE without WHERE', 'DELETE FROM canary');
  postgresJs('postgres.js: data-modifying CTE', 'WITH d AS (DELETE FROM canary RETURNING *) SELECT * FROM d');
  postgresJs('postgres.js: CALL', 'CALL evil_proc()');
});

group('wire protocol (raw)', () => {
  wire(
    'pipeline: DROP between two SELECTs, one Sync',
    [...pbe('SELECT 1'), ...pbe('DROP TABLE canary'), ...pbe('SELECT 3'), 'sync'],
    { readOnly: true },
  );
  wire('pipeline: DELETE between two SELECTs, Sync after each', [
    ...pbe('SELECT 1'),
    'sync',
    ...pbe('DELETE FROM canary'),
    'sync',
    ...pbe('SELECT 3'),
    'sync',
  ]);
  wire('named statement DROP', [...pbe('DROP TABLE canary', 'evasion_s1'), 'sync'], { readOnly: true });
  wire('DELETE with Describe of statement and portal, Execute max rows', [
    { parse: 'DELETE FROM canary' },
    { describe: 'S' },
    { bind: {} },
    { describe: 'P' },
    { execute: '', rows: 1 },
    'sync',
  ]);
  wire('unnamed statement replaced by TRUNCATE before Bind', [
    { parse: 'SELECT 1' },
    { parse: 'TRUNCATE canary' },
    { bind: {} },
    { execute: '' },
    'sync',
  ]);
  wire('DROP followed by Flush before Sync', [...pbe('DROP TABLE canary'), 'flush', 'sync']);
  wire('Query, then TRUNCATE over the extended protocol', [
    { query: 'SELECT 1' },
    ...pbe('TRUNCATE canary'),
    'sync',
  ]);
  wire('DELETE WHERE $1::bool with a text parameter', [
    { parse: 'DELETE FROM canary WHERE $1::bool' },
    { bind: { values: ['t'] } },
    { execute: '' },
    'sync',
  ]);
  wire('EXPLAIN ANALYZE DELETE over the extended protocol', [
    ...pbe('EXPLAIN ANALYZE DELETE FROM canary'),
    'sync',
  ]);
  wire('an evil function in ORDER BY over the extended protocol', [
    { parse: 'SELECT * FROM canary ORDER BY evil_delete()' },
    { bind: {} },
    { describe: 'P' },
    { execute: '' },
    'sync',
  ]);
  wire(
    're-Parse of a named DELETE statement as SELECT (server refuses), then Execute',
    [
      { parse: 'DELETE FROM canary', name: 'evasion_s2' },
      'sync',
      { parse: 'SELECT 1', name: 'evasion_s2' },
      'sync',
      { bind: { statement: 'evasion_s2' } },
      { execute: '' },
      'sync',
    ],
    { readOnly: true },
  );
  wire('protocol-level statement, then SQL PREPARE of the same name, then SQL EXECUTE', [
    { parse: 'DELETE FROM canary', name: 'evasion_s3' },
    'sync',
    { query: 'PREPARE evasion_s3 AS SELECT 1' },
    { query: 'EXECUTE evasion_s3' },
  ]);
  wire(
    'SQL PREPARE of a DELETE, then a protocol Bind/Execute of that name',
    [
      { query: 'PREPARE evasion_s4 AS DELETE FROM canary' },
      { bind: { statement: 'evasion_s4' } },
      { execute: '' },
      'sync',
    ],
    { readOnly: true },
  );
  wire('a SQL-prepared name deallocated, re-created by a protocol Parse of a DELETE, then SQL EXECUTE', [
    { query: 'PREPARE evasion_s7 AS SELECT 1' },
    { query: 'DEALLOCATE evasion_s7' },
    { parse: 'DELETE FROM canary', name: 'evasion_s7' },
    'sync',
    { query: 'EXECUTE evasion_s7' },
  ]);
  wire('DISCARD ALL, then a protocol Parse of a DELETE under a SQL-prepared name, then SQL EXECUTE', [
    { query: 'PREPARE evasion_s8 AS SELECT 1' },
    { query: 'DISCARD ALL' },
    { parse: 'DELETE FROM canary', name: 'evasion_s8' },
    'sync',
    { query: 'EXECUTE evasion_s8' },
  ]);
  wire('a protocol statement closed and re-created by SQL PREPARE of a DELETE, then Bind/Execute', [
    { parse: 'SELECT 1', name: 'evasion_s9' },
    { close: 'S', name: 'evasion_s9' },
    'sync',
    { query: 'PREPARE evasion_s9 AS DELETE FROM canary' },
    { bind: { statement: 'evasion_s9' } },
    { execute: '' },
    'sync',
  ]);
  wire('a protocol statement removed by SQL DEALLOCATE and re-created by SQL PREPARE, then Bind/Execute', [
    { parse: 'SELECT 1', name: 'evasion_s10' },
    'sync',
    { query: 'DEALLOCATE evasion_s10' },
    { query: 'PREPARE evasion_s10 AS DELETE FROM canary' },
    { bind: { statement: 'evasion_s10' } },
    { execute: '' },
    'sync',
  ]);
  // The tunnel must follow the server's state, not the client's wishes: a Close the server skips (it
  // ignores everything after an error until Sync), a DEALLOCATE that fails or never reaches the server,
  // a Bind the server refuses — none of these may change what a name is judged by.
  wire(
    'a Close the server skips (error before Sync) makes the tunnel forget a prepared write',
    [
      { parse: 'DELETE FROM canary WHERE id > 0', name: 'evasion_s12' },
      'sync',
      ...pbe('SELECT 1/0'),
      { close: 'S', name: 'evasion_s12' },
      'sync',
      { parse: 'SELECT 1', name: 'evasion_s12' },
      'sync',
      { bind: { statement: 'evasion_s12' } },
      { execute: '' },
      'sync',
    ],
    { readOnly: true },
  );
  wire('a DEALLOCATE refused in an aborted transaction makes the tunnel forget a prepared write', [
    { parse: 'DELETE FROM canary WHERE id > 0', name: 'evasion_s13' },
    'sync',
    { query: 'BEGIN' },
    { query: 'SELECT 1/0' },
    { query: 'DEALLOCATE evasion_s13' },
    { query: 'ROLLBACK' },
    { parse: 'SELECT 1', name: 'evasion_s13' },
    'sync',
    { bind: { statement: 'evasion_s13' } },
    { execute: '' },
    'sync',
  ]);
  wire('a DEALLOCATE inside a denied query makes the tunnel forget a prepared write', [
    { parse: 'DELETE FROM canary WHERE id > 0', name: 'evasion_s14' },
    'sync',
    { query: 'DEALLOCATE evasion_s14; DROP TABLE scratch' },
    { parse: 'SELECT 1', name: 'evasion_s14' },
    'sync',
    { bind: { statement: 'evasion_s14' } },
    { execute: '' },
    'sync',
  ]);
  wire(
    'a portal re-bound under its name (refused), kept by ROLLBACK TO SAVEPOINT, run by FETCH',
    [
      { query: 'BEGIN' },
      { parse: 'DELETE FROM canary WHERE id > 0 RETURNING id', name: 'evasion_s15' },
      { bind: { statement: 'evasion_s15', portal: 'evasion_portal3' } },
      'sync',
      { query: 'SAVEPOINT s' },
      { parse: 'SELECT 1', name: 'evasion_s15b' },
      { bind: { statement: 'evasion_s15b', portal: 'evasion_portal3' } },
      'sync',
      { query: 'ROLLBACK TO SAVEPOINT s' },
      { query: 'FETCH ALL FROM evasion_portal3' },
      { query: 'COMMIT' },
    ],
    { readOnly: true },
  );
  wire(
    'Parse and Bind only (no Execute): an IMMUTABLE evil wrapper runs at planning',
    [{ parse: 'SELECT * FROM canary WHERE id = innocent_immutable()' }, { bind: {} }, 'sync'],
    { readOnly: true },
  );
  wire('Parse, Bind and Execute of an IMMUTABLE wrapper whose side effect no rollback undoes', [
    ...pbe('SELECT innocent_touch()'),
    'sync',
  ]);
  wire('Parse/Bind/Execute of an IMMUTABLE evil wrapper', [
    ...pbe('SELECT * FROM canary WHERE id = innocent_immutable()'),
    'sync',
  ]);
  wire(
    'a portal bound from a DELETE ... RETURNING, run with SQL FETCH',
    [
      { query: 'BEGIN' },
      { parse: 'DELETE FROM canary RETURNING id', name: 'evasion_s5' },
      { bind: { statement: 'evasion_s5', portal: 'evasion_portal' } },
      'sync',
      { query: 'FETCH ALL FROM evasion_portal' },
      { query: 'COMMIT' },
    ],
    { readOnly: true },
  );
  wire('a portal bound from a data-modifying CTE, run with SQL MOVE', [
    { query: 'BEGIN' },
    { parse: 'WITH d AS (DELETE FROM canary RETURNING id) SELECT * FROM d', name: 'evasion_s6' },
    { bind: { statement: 'evasion_s6', portal: 'evasion_portal2' } },
    'sync',
    { query: 'MOVE ALL IN evasion_portal2' },
    { query: 'COMMIT' },
  ]);
  wire('Execute of a portal the tunnel never saw bound (a SQL cursor over an evil function)', [
    { query: 'BEGIN' },
    { query: 'DECLARE evasion_cur CURSOR FOR SELECT evil_delete()' },
    { execute: 'evasion_cur' },
    'sync',
    { query: 'COMMIT' },
  ]);
});

group('function call messages', () => {
  wire(
    'FunctionCall pg_terminate_backend',
    [{ functionCall: 'pg_terminate_backend(integer,bigint)', args: ['{bystander}', '0'] }],
    {
      readOnly: true,
    },
  );
  wire('FunctionCall lo_import', [{ functionCall: 'lo_import(text)', args: ['/etc/passwd'] }], {
    readOnly: true,
  });
  wire('FunctionCall lo_export', [
    { functionCall: 'lo_export(oid,text)', args: [String(LARGE_OBJECT), `${MARKER}-fc-export`] },
  ]);
  wire('FunctionCall lo_unlink', [{ functionCall: 'lo_unlink(oid)', args: [String(LARGE_OBJECT)] }]);
  wire('FunctionCall pg_read_file', [{ functionCall: 'pg_read_file(text)', args: ['/etc/passwd'] }]);
  wire('FunctionCall of a user function that deletes', [{ functionCall: 'evil_delete()', args: [] }], {
    readOnly: true,
  });
  wire('FunctionCall set_config of the role', [
    { functionCall: 'set_config(text,text,boolean)', args: ['role', 'evasion_low', 'f'] },
  ]);
  wire('FunctionCall pg_reload_conf', [{ functionCall: 'pg_reload_conf()', args: [] }]);
  wire('FunctionCall lo_creat', [{ functionCall: 'lo_creat(integer)', args: ['-1'] }]);
  wire('FunctionCall between two queries', [
    { query: 'SELECT 1' },
    { functionCall: 'evil_delete()', args: [] },
    { query: 'SELECT 2' },
  ]);
});

const SETTINGS_CHECKS = [
  "current_setting('session_replication_role')",
  "current_setting('default_transaction_read_only')",
  "(SELECT source FROM pg_settings WHERE name = 'default_transaction_read_only')",
  "current_setting('search_path')",
  "current_setting('standard_conforming_strings')",
  "current_setting('client_encoding')",
  "current_setting('role')",
  'current_user',
];
const BACKEND_CHECKS = [
  '(SELECT backend_type FROM pg_stat_activity WHERE pid = pg_backend_pid())',
  'current_database()',
];

group('startup parameters', () => {
  // Startup settings are judged as the SET that would make them: default_transaction_read_only=off is a
  // session setting every preset allows (as SET), so it is no evasion; a search_path is one.
  startup(
    'options=-c search_path=public,pg_catalog (node-postgres options)',
    { client: 'pg', params: { options: '-c search_path=public,pg_catalog' }, checks: SETTINGS_CHECKS },
    { readOnly: true },
  );
  startup('options=-c session_replication_role=replica (node-postgres options)', {
    client: 'pg',
    params: { options: '-c session_replication_role=replica' },
    checks: SETTINGS_CHECKS,
    probe: 'SELECT 1',
  });
  startup(
    'replication=database (node-postgres)',
    { client: 'pg', params: { replication: 'database' }, checks: BACKEND_CHECKS },
    { readOnly: true },
  );
  startup('replication=true (raw startup packet)', {
    client: 'raw',
    params: { replication: 'true' },
    checks: BACKEND_CHECKS,
  });
  startup('options with several -c and --name=value forms (raw)', {
    client: 'raw',
    params: {
      options:
        '-c search_path=public,pg_catalog --session_replication_role=replica -c standard_conforming_strings=off -c role=evasion_low',
    },
    checks: SETTINGS_CHECKS,
    probe: "SELECT lower('X')",
  });
  startup('session_replication_role=replica as its own startup parameter', {
    client: 'raw',
    params: { session_replication_role: 'replica' },
    checks: SETTINGS_CHECKS,
  });
  startup('standard_conforming_strings=off as a startup parameter', {
    client: 'raw',
    params: { standard_conforming_strings: 'off' },
    checks: SETTINGS_CHECKS,
  });
  startup('role=evasion_low as a startup parameter', {
    client: 'raw',
    params: { role: 'evasion_low' },
    checks: SETTINGS_CHECKS,
  });
  startup('client_encoding=SJIS as a startup parameter', {
    client: 'raw',
    params: { client_encoding: 'SJIS' },
    checks: SETTINGS_CHECKS,
  });
  startup('database=evasion_db as a startup parameter', {
    client: 'raw',
    params: { database: 'evasion_db' },
    checks: BACKEND_CHECKS,
  });
  startup(
    'search_path=public,pg_catalog as a startup parameter, then a shadowed lower()',
    {
      client: 'raw',
      params: { search_path: 'public, pg_catalog' },
      checks: SETTINGS_CHECKS,
      probe: "SELECT lower('X')",
    },
    { readOnly: true },
  );
});

export const EVASION_CORPUS: readonly Attempt[] = Object.freeze(attempts);
