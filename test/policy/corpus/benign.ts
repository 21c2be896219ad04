/**
 * A benign corpus: statements that real tools and applications send — psql's \d family (the SQL psql
 * itself issues, captured with `psql -E`), pgjdbc's DatabaseMetaData, DBeaver / DataGrip / pgAdmin
 * introspection, information_schema, pgbench, ORM-style application queries, transactions, cursors
 * and harmless session settings. test/policy/benign.test.ts runs each through a `read-only` tunnel
 * and directly, and requires identical answers: none of these may be denied.
 *
 * `{class:name}` and `{proc:name}` in a text stand for the OID of that relation or function in the
 * public schema (psql sends OIDs as literals), filled in by the test.
 */

/** One statement (or a multi-statement simple query). */
export interface BenignStatement {
  name: string;
  category: string;
  sql: string;
  /** Parameters for $1, $2, ... (sent with the extended protocol). */
  values?: unknown[];
  /**
   * simple: a Query message; extended: Parse/Bind/Execute; postgres.js: through postgres.js; copy: a
   * COPY ... TO STDOUT read through postgres.js as a stream (what psql's \copy and pg_dump do).
   */
  via: 'simple' | 'extended' | 'postgres.js' | 'copy';
}

/** Several statements on one connection, in order (transactions, cursors, settings and their reset). */
export interface BenignSteps {
  name: string;
  category: string;
  steps: { sql: string; values?: unknown[] }[];
}

export type Benign = BenignStatement | BenignSteps;

/** A small shop schema for the introspection to find, made directly before the corpus runs. */
export const BENIGN_SETUP = `
CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped', 'cancelled');
CREATE TABLE customers (
  id serial PRIMARY KEY,
  email text NOT NULL UNIQUE,
  name text NOT NULL,
  country char(2),
  created_at timestamptz NOT NULL DEFAULT '2024-01-01 00:00:00+00',
  tags text[] NOT NULL DEFAULT '{}',
  profile jsonb NOT NULL DEFAULT '{}'
);
CREATE TABLE products (
  id serial PRIMARY KEY,
  sku text NOT NULL UNIQUE,
  title text NOT NULL,
  price numeric(10, 2) NOT NULL CHECK (price >= 0),
  category text,
  attributes jsonb
);
CREATE TABLE orders (
  id bigserial PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  status order_status NOT NULL DEFAULT 'pending',
  ordered_at timestamptz NOT NULL,
  total numeric(12, 2)
);
CREATE TABLE order_items (
  order_id bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  product_id int NOT NULL REFERENCES products (id),
  quantity int NOT NULL CHECK (quantity > 0),
  unit_price numeric(10, 2) NOT NULL,
  PRIMARY KEY (order_id, product_id)
);
CREATE INDEX orders_customer_idx ON orders (customer_id, ordered_at DESC);
CREATE INDEX products_attributes_gin ON products USING gin (attributes);
CREATE INDEX customers_lower_email_idx ON customers (lower(email));
CREATE SEQUENCE invoice_seq START 1000;
CREATE VIEW customer_totals AS
  SELECT c.id, c.name, count(o.id) AS orders, coalesce(sum(o.total), 0) AS spent
    FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
   GROUP BY c.id, c.name;
CREATE FUNCTION order_total(p_order bigint) RETURNS numeric LANGUAGE sql STABLE
  AS $$ SELECT sum(quantity * unit_price) FROM order_items WHERE order_id = p_order $$;
COMMENT ON TABLE customers IS 'People who buy things';
COMMENT ON COLUMN customers.email IS 'Login and contact address';
COMMENT ON TABLE orders IS 'One row per checkout';
COMMENT ON VIEW customer_totals IS 'Orders and spend per customer';
COMMENT ON FUNCTION order_total(bigint) IS 'Sum of an order''s items';
CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84));
CREATE DOMAIN email_address AS text CHECK (VALUE LIKE '%@%');
CREATE FUNCTION touch_product() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER products_touch BEFORE UPDATE ON products FOR EACH ROW EXECUTE FUNCTION touch_product();
CREATE STATISTICS orders_customer_status (dependencies) ON customer_id, status FROM orders;
CREATE TABLE events (id bigint NOT NULL, at date NOT NULL, kind text) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE SCHEMA reporting;
CREATE VIEW reporting.daily_orders AS SELECT date_trunc('day', ordered_at) AS day, count(*) AS orders FROM public.orders GROUP BY 1;
COMMENT ON SCHEMA reporting IS 'Read models for dashboards';
INSERT INTO customers (email, name, country, created_at, tags, profile)
  SELECT 'user' || i || '@example.com', 'Customer ' || i, (ARRAY['DE', 'FR', 'US', 'GB', NULL])[1 + i % 5],
         timestamptz '2024-01-01 00:00:00+00' + i * interval '1 day',
         CASE WHEN i % 3 = 0 THEN ARRAY['vip', 'newsletter'] WHEN i % 3 = 1 THEN ARRAY['newsletter'] ELSE '{}' END,
         jsonb_build_object('age', 20 + i, 'plan', CASE WHEN i % 2 = 0 THEN 'pro' ELSE 'free' END)
    FROM generate_series(1, 20) i;
INSERT INTO products (sku, title, price, category, attributes)
  SELECT 'SKU-' || lpad(i::text, 4, '0'), 'Product ' || i, (i * 3.5)::numeric(10, 2),
         (ARRAY['books', 'games', 'tools', NULL])[1 + i % 4],
         jsonb_build_object('color', (ARRAY['red', 'green', 'blue'])[1 + i % 3], 'weight', i * 10)
    FROM generate_series(1, 12) i;
INSERT INTO orders (customer_id, status, ordered_at, total)
  SELECT 1 + i % 20, (ARRAY['pending', 'paid', 'shipped', 'cancelled'])[1 + i % 4]::order_status,
         timestamptz '2024-03-01 12:00:00+00' + i * interval '7 hours', NULL
    FROM generate_series(1, 60) i;
INSERT INTO order_items (order_id, product_id, quantity, unit_price)
  SELECT o.id, 1 + (o.id * k) % 12, 1 + (o.id + k) % 4, p.price
    FROM orders o CROSS JOIN generate_series(1, 2) k JOIN products p ON p.id = 1 + (o.id * k) % 12
  ON CONFLICT DO NOTHING;
UPDATE orders o SET total = (SELECT sum(quantity * unit_price) FROM order_items i WHERE i.order_id = o.id);
INSERT INTO pgbench_accounts SELECT i, 1 + i / 100, 0, '' FROM generate_series(1, 500) i;
INSERT INTO events SELECT i, date '2024-11-01' + i * 3, (ARRAY['login', 'checkout'])[1 + i % 2] FROM generate_series(1, 40) i;
CREATE MATERIALIZED VIEW product_sales AS
  SELECT product_id, sum(quantity) AS sold FROM order_items GROUP BY product_id;
ANALYZE;
`;

const corpus: Benign[] = [];
let category = '';

function group(name: string, add: () => void): void {
  category = name;
  add();
}

/** A statement with no parameters, over the simple protocol (or the extended one when asked). */
function sql(name: string, text: string, via: 'simple' | 'extended' = 'simple'): void {
  corpus.push({ name, category, sql: text, via });
}

/** A parameterized statement: Parse/Bind/Execute with these values. */
function param(name: string, text: string, values: unknown[]): void {
  corpus.push({ name, category, sql: text, values, via: 'extended' });
}

/** A statement sent through postgres.js (extended protocol, its own prepared statements). */
function js(name: string, text: string, values: unknown[] = []): void {
  corpus.push({ name, category, sql: text, ...(values.length > 0 ? { values } : {}), via: 'postgres.js' });
}

/** COPY ... TO STDOUT, its output read as a stream. */
function copy(name: string, text: string): void {
  corpus.push({ name, category, sql: text, via: 'copy' });
}

function steps(name: string, list: (string | { sql: string; values: unknown[] })[]): void {
  corpus.push({ name, category, steps: list.map((s) => (typeof s === 'string' ? { sql: s } : s)) });
}

const psql = (command: string, text: string): void => sql(`psql ${command}`, text);

group('psql', () => {
  psql(
    '\\dt',
    String.raw`SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;`,
  );
  psql(
    '\\d customers (1/12)',
    String.raw`SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(customers)$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 2, 3;`,
  );
  psql(
    '\\d customers (2/12)',
    String.raw`SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '{class:customers}';`,
  );
  psql(
    '\\d customers (3/12)',
    String.raw`SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '{class:customers}' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;`,
  );
  psql(
    '\\d customers (4/12)',
    String.raw`SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),
  pg_catalog.pg_get_constraintdef(con.oid, true), contype, condeferrable, condeferred, i.indisreplident, c2.reltablespace
FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i
  LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))
WHERE c.oid = '{class:customers}' AND c.oid = i.indrelid AND i.indexrelid = c2.oid
ORDER BY i.indisprimary DESC, c2.relname;`,
  );
  psql(
    '\\d customers (5/12)',
    String.raw`SELECT true as sametable, conname,
  pg_catalog.pg_get_constraintdef(r.oid, true) as condef,
  conrelid::pg_catalog.regclass AS ontable
FROM pg_catalog.pg_constraint r
WHERE r.conrelid = '{class:customers}' AND r.contype = 'f'
     AND conparentid = 0
ORDER BY conname`,
  );
  psql(
    '\\d customers (6/12)',
    String.raw`SELECT conname, conrelid::pg_catalog.regclass AS ontable,
       pg_catalog.pg_get_constraintdef(oid, true) AS condef
  FROM pg_catalog.pg_constraint c
 WHERE confrelid IN (SELECT pg_catalog.pg_partition_ancestors('{class:customers}')
                     UNION ALL VALUES ('{class:customers}'::pg_catalog.regclass))
       AND contype = 'f' AND conparentid = 0
ORDER BY conname;`,
  );
  psql(
    '\\d customers (7/12)',
    String.raw`SELECT pol.polname, pol.polpermissive,
  CASE WHEN pol.polroles = '{0}' THEN NULL ELSE pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = any (pol.polroles) order by 1),',') END,
  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),
  pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),
  CASE pol.polcmd
    WHEN 'r' THEN 'SELECT'
    WHEN 'a' THEN 'INSERT'
    WHEN 'w' THEN 'UPDATE'
    WHEN 'd' THEN 'DELETE'
    END AS cmd
FROM pg_catalog.pg_policy pol
WHERE pol.polrelid = '{class:customers}' ORDER BY 1;`,
  );
  psql(
    '\\d customers (8/12)',
    String.raw`SELECT oid, stxrelid::pg_catalog.regclass, stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, stxname,
pg_catalog.pg_get_statisticsobjdef_columns(oid) AS columns,
  'd' = any(stxkind) AS ndist_enabled,
  'f' = any(stxkind) AS deps_enabled,
  'm' = any(stxkind) AS mcv_enabled,
stxstattarget
FROM pg_catalog.pg_statistic_ext
WHERE stxrelid = '{class:customers}'
ORDER BY nsp, stxname;`,
  );
  psql(
    '\\d customers (9/12)',
    String.raw`SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid
     JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid
WHERE pc.oid ='{class:customers}' and pg_catalog.pg_relation_is_publishable('{class:customers}')
UNION
SELECT pubname
     , pg_get_expr(pr.prqual, c.oid)
     , (CASE WHEN pr.prattrs IS NOT NULL THEN
         (SELECT string_agg(attname, ', ')
           FROM pg_catalog.generate_series(0, pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,
                pg_catalog.pg_attribute
          WHERE attrelid = pr.prrelid AND attnum = prattrs[s])
        ELSE NULL END) FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid
     JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
WHERE pr.prrelid = '{class:customers}'
UNION
SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable('{class:customers}')
ORDER BY 1;`,
  );
  psql(
    '\\d customers (10/12)',
    String.raw`SELECT t.tgname, pg_catalog.pg_get_triggerdef(t.oid, true), t.tgenabled, t.tgisinternal,
  CASE WHEN t.tgparentid != 0 THEN
    (SELECT u.tgrelid::pg_catalog.regclass
     FROM pg_catalog.pg_trigger AS u,
          pg_catalog.pg_partition_ancestors(t.tgrelid) WITH ORDINALITY AS a(relid, depth)
     WHERE u.tgname = t.tgname AND u.tgrelid = a.relid
           AND u.tgparentid = 0
     ORDER BY a.depth LIMIT 1)
  END AS parent
FROM pg_catalog.pg_trigger t
WHERE t.tgrelid = '{class:customers}' AND (NOT t.tgisinternal OR (t.tgisinternal AND t.tgenabled = 'D'))
ORDER BY 1;`,
  );
  psql(
    '\\d customers (11/12)',
    String.raw`SELECT c.oid::pg_catalog.regclass
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhparent AND i.inhrelid = '{class:customers}'
  AND c.relkind != 'p' AND c.relkind != 'I'
ORDER BY inhseqno;`,
  );
  psql(
    '\\d customers (12/12)',
    String.raw`SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending, pg_catalog.pg_get_expr(c.relpartbound, c.oid)
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhrelid AND i.inhparent = '{class:customers}'
ORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.oid::pg_catalog.regclass::pg_catalog.text;`,
  );
  psql(
    '\\d+ orders (1/12)',
    String.raw`SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(orders)$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 2, 3;`,
  );
  psql(
    '\\d+ orders (2/12)',
    String.raw`SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, pg_catalog.array_to_string(c.reloptions || array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x), ', ')
, c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '{class:orders}';`,
  );
  psql(
    '\\d+ orders (3/12)',
    String.raw`SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated,
  a.attstorage,
  a.attcompression AS attcompression,
  CASE WHEN a.attstattarget=-1 THEN NULL ELSE a.attstattarget END AS attstattarget,
  pg_catalog.col_description(a.attrelid, a.attnum)
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '{class:orders}' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;`,
  );
  psql(
    '\\d+ orders (4/12)',
    String.raw`SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),
  pg_catalog.pg_get_constraintdef(con.oid, true), contype, condeferrable, condeferred, i.indisreplident, c2.reltablespace
FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i
  LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))
WHERE c.oid = '{class:orders}' AND c.oid = i.indrelid AND i.indexrelid = c2.oid
ORDER BY i.indisprimary DESC, c2.relname;`,
  );
  psql(
    '\\d+ orders (5/12)',
    String.raw`SELECT true as sametable, conname,
  pg_catalog.pg_get_constraintdef(r.oid, true) as condef,
  conrelid::pg_catalog.regclass AS ontable
FROM pg_catalog.pg_constraint r
WHERE r.conrelid = '{class:orders}' AND r.contype = 'f'
     AND conparentid = 0
ORDER BY conname`,
  );
  psql(
    '\\d+ orders (6/12)',
    String.raw`SELECT conname, conrelid::pg_catalog.regclass AS ontable,
       pg_catalog.pg_get_constraintdef(oid, true) AS condef
  FROM pg_catalog.pg_constraint c
 WHERE confrelid IN (SELECT pg_catalog.pg_partition_ancestors('{class:orders}')
                     UNION ALL VALUES ('{class:orders}'::pg_catalog.regclass))
       AND contype = 'f' AND conparentid = 0
ORDER BY conname;`,
  );
  psql(
    '\\d+ orders (7/12)',
    String.raw`SELECT pol.polname, pol.polpermissive,
  CASE WHEN pol.polroles = '{0}' THEN NULL ELSE pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = any (pol.polroles) order by 1),',') END,
  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),
  pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),
  CASE pol.polcmd
    WHEN 'r' THEN 'SELECT'
    WHEN 'a' THEN 'INSERT'
    WHEN 'w' THEN 'UPDATE'
    WHEN 'd' THEN 'DELETE'
    END AS cmd
FROM pg_catalog.pg_policy pol
WHERE pol.polrelid = '{class:orders}' ORDER BY 1;`,
  );
  psql(
    '\\d+ orders (8/12)',
    String.raw`SELECT oid, stxrelid::pg_catalog.regclass, stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, stxname,
pg_catalog.pg_get_statisticsobjdef_columns(oid) AS columns,
  'd' = any(stxkind) AS ndist_enabled,
  'f' = any(stxkind) AS deps_enabled,
  'm' = any(stxkind) AS mcv_enabled,
stxstattarget
FROM pg_catalog.pg_statistic_ext
WHERE stxrelid = '{class:orders}'
ORDER BY nsp, stxname;`,
  );
  psql(
    '\\d+ orders (9/12)',
    String.raw`SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid
     JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid
WHERE pc.oid ='{class:orders}' and pg_catalog.pg_relation_is_publishable('{class:orders}')
UNION
SELECT pubname
     , pg_get_expr(pr.prqual, c.oid)
     , (CASE WHEN pr.prattrs IS NOT NULL THEN
         (SELECT string_agg(attname, ', ')
           FROM pg_catalog.generate_series(0, pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,
                pg_catalog.pg_attribute
          WHERE attrelid = pr.prrelid AND attnum = prattrs[s])
        ELSE NULL END) FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid
     JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
WHERE pr.prrelid = '{class:orders}'
UNION
SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable('{class:orders}')
ORDER BY 1;`,
  );
  psql(
    '\\d+ orders (10/12)',
    String.raw`SELECT t.tgname, pg_catalog.pg_get_triggerdef(t.oid, true), t.tgenabled, t.tgisinternal,
  CASE WHEN t.tgparentid != 0 THEN
    (SELECT u.tgrelid::pg_catalog.regclass
     FROM pg_catalog.pg_trigger AS u,
          pg_catalog.pg_partition_ancestors(t.tgrelid) WITH ORDINALITY AS a(relid, depth)
     WHERE u.tgname = t.tgname AND u.tgrelid = a.relid
           AND u.tgparentid = 0
     ORDER BY a.depth LIMIT 1)
  END AS parent
FROM pg_catalog.pg_trigger t
WHERE t.tgrelid = '{class:orders}' AND (NOT t.tgisinternal OR (t.tgisinternal AND t.tgenabled = 'D'))
ORDER BY 1;`,
  );
  psql(
    '\\d+ orders (11/12)',
    String.raw`SELECT c.oid::pg_catalog.regclass
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhparent AND i.inhrelid = '{class:orders}'
  AND c.relkind != 'p' AND c.relkind != 'I'
ORDER BY inhseqno;`,
  );
  psql(
    '\\d+ orders (12/12)',
    String.raw`SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending, pg_catalog.pg_get_expr(c.relpartbound, c.oid)
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhrelid AND i.inhparent = '{class:orders}'
ORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.oid::pg_catalog.regclass::pg_catalog.text;`,
  );
  psql(
    '\\d customer_totals (1/3)',
    String.raw`SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(customer_totals)$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 2, 3;`,
  );
  psql(
    '\\d customer_totals (2/3)',
    String.raw`SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '{class:customer_totals}';`,
  );
  psql(
    '\\d customer_totals (3/3)',
    String.raw`SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '{class:customer_totals}' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;`,
  );
  psql(
    '\\dn',
    String.raw`SELECT n.nspname AS "Name",
  pg_catalog.pg_get_userbyid(n.nspowner) AS "Owner"
FROM pg_catalog.pg_namespace n
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
ORDER BY 1;`,
  );
  psql(
    '\\df',
    String.raw`SELECT n.nspname as "Schema",
  p.proname as "Name",
  pg_catalog.pg_get_function_result(p.oid) as "Result data type",
  pg_catalog.pg_get_function_arguments(p.oid) as "Argument data types",
 CASE p.prokind
  WHEN 'a' THEN 'agg'
  WHEN 'w' THEN 'window'
  WHEN 'p' THEN 'proc'
  ELSE 'func'
 END as "Type"
FROM pg_catalog.pg_proc p
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE pg_catalog.pg_function_is_visible(p.oid)
      AND n.nspname <> 'pg_catalog'
      AND n.nspname <> 'information_schema'
ORDER BY 1, 2, 4;`,
  );
  psql(
    '\\du',
    String.raw`SELECT r.rolname, r.rolsuper, r.rolinherit,
  r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
  r.rolconnlimit, r.rolvaliduntil,
  ARRAY(SELECT b.rolname
        FROM pg_catalog.pg_auth_members m
        JOIN pg_catalog.pg_roles b ON (m.roleid = b.oid)
        WHERE m.member = r.oid) as memberof
, r.rolreplication
, r.rolbypassrls
FROM pg_catalog.pg_roles r
WHERE r.rolname !~ '^pg_'
ORDER BY 1;`,
  );
  psql(
    '\\dx',
    String.raw`SELECT e.extname AS "Name", e.extversion AS "Version", n.nspname AS "Schema", c.description AS "Description"
FROM pg_catalog.pg_extension e LEFT JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace LEFT JOIN pg_catalog.pg_description c ON c.objoid = e.oid AND c.classoid = 'pg_catalog.pg_extension'::pg_catalog.regclass
ORDER BY 1;`,
  );
  psql(
    '\\di',
    String.raw`SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner",
  c2.relname as "Table"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
     LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
     LEFT JOIN pg_catalog.pg_class c2 ON i.indrelid = c2.oid
WHERE c.relkind IN ('i','I','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;`,
  );
  psql(
    '\\dv',
    String.raw`SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;`,
  );
  psql(
    '\\ds',
    String.raw`SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('S','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;`,
  );
  psql(
    '\\dT',
    String.raw`SELECT n.nspname as "Schema",
  pg_catalog.format_type(t.oid, NULL) AS "Name",
  pg_catalog.obj_description(t.oid, 'pg_type') as "Description"
FROM pg_catalog.pg_type t
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE (t.typrelid = 0 OR (SELECT c.relkind = 'c' FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid))
  AND NOT EXISTS(SELECT 1 FROM pg_catalog.pg_type el WHERE el.oid = t.typelem AND el.typarray = t.oid)
      AND n.nspname <> 'pg_catalog'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_type_is_visible(t.oid)
ORDER BY 1, 2;`,
  );
  psql(
    '\\dp',
    String.raw`SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' END as "Type",
  pg_catalog.array_to_string(c.relacl, E'\n') AS "Access privileges",
  pg_catalog.array_to_string(ARRAY(
    SELECT attname || E':\n  ' || pg_catalog.array_to_string(attacl, E'\n  ')
    FROM pg_catalog.pg_attribute a
    WHERE attrelid = c.oid AND NOT attisdropped AND attacl IS NOT NULL
  ), E'\n') AS "Column privileges",
  pg_catalog.array_to_string(ARRAY(
    SELECT polname
    || CASE WHEN NOT polpermissive THEN
       E' (RESTRICTIVE)'
       ELSE '' END
    || CASE WHEN polcmd != '*' THEN
           E' (' || polcmd::pg_catalog.text || E'):'
       ELSE E':'
       END
    || CASE WHEN polqual IS NOT NULL THEN
           E'\n  (u): ' || pg_catalog.pg_get_expr(polqual, polrelid)
       ELSE E''
       END
    || CASE WHEN polwithcheck IS NOT NULL THEN
           E'\n  (c): ' || pg_catalog.pg_get_expr(polwithcheck, polrelid)
       ELSE E''
       END    || CASE WHEN polroles <> '{0}' THEN
           E'\n  to: ' || pg_catalog.array_to_string(
               ARRAY(
                   SELECT rolname
                   FROM pg_catalog.pg_roles
                   WHERE oid = ANY (polroles)
                   ORDER BY 1
               ), E', ')
       ELSE E''
       END
    FROM pg_catalog.pg_policy pol
    WHERE polrelid = c.oid), E'\n')
    AS "Policies"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r','v','m','S','f','p')
  AND n.nspname !~ '^pg_' AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1, 2;`,
  );
  psql(
    '\\d',
    String.raw`SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','v','m','S','f','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;`,
  );
  psql(
    '\\dt+',
    String.raw`SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner",
  CASE c.relpersistence WHEN 'p' THEN 'permanent' WHEN 't' THEN 'temporary' WHEN 'u' THEN 'unlogged' END as "Persistence",
  am.amname as "Access method",
  pg_catalog.pg_size_pretty(pg_catalog.pg_table_size(c.oid)) as "Size",
  pg_catalog.obj_description(c.oid, 'pg_class') as "Description"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;`,
  );
  psql(
    '\\dn+',
    String.raw`SELECT n.nspname AS "Name",
  pg_catalog.pg_get_userbyid(n.nspowner) AS "Owner",
  pg_catalog.array_to_string(n.nspacl, E'\n') AS "Access privileges",
  pg_catalog.obj_description(n.oid, 'pg_namespace') AS "Description"
FROM pg_catalog.pg_namespace n
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
ORDER BY 1;`,
  );
  psql(
    '\\df+ order_total',
    String.raw`SELECT n.nspname as "Schema",
  p.proname as "Name",
  pg_catalog.pg_get_function_result(p.oid) as "Result data type",
  pg_catalog.pg_get_function_arguments(p.oid) as "Argument data types",
 CASE p.prokind
  WHEN 'a' THEN 'agg'
  WHEN 'w' THEN 'window'
  WHEN 'p' THEN 'proc'
  ELSE 'func'
 END as "Type",
 CASE
  WHEN p.provolatile = 'i' THEN 'immutable'
  WHEN p.provolatile = 's' THEN 'stable'
  WHEN p.provolatile = 'v' THEN 'volatile'
 END as "Volatility",
 CASE
  WHEN p.proparallel = 'r' THEN 'restricted'
  WHEN p.proparallel = 's' THEN 'safe'
  WHEN p.proparallel = 'u' THEN 'unsafe'
 END as "Parallel",
 pg_catalog.pg_get_userbyid(p.proowner) as "Owner",
 CASE WHEN prosecdef THEN 'definer' ELSE 'invoker' END AS "Security",
 pg_catalog.array_to_string(p.proacl, E'\n') AS "Access privileges",
 l.lanname as "Language",
 COALESCE(pg_catalog.pg_get_function_sqlbody(p.oid), p.prosrc) as "Source code",
 pg_catalog.obj_description(p.oid, 'pg_proc') as "Description"
FROM pg_catalog.pg_proc p
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     LEFT JOIN pg_catalog.pg_language l ON l.oid = p.prolang
WHERE p.proname OPERATOR(pg_catalog.~) '^(order_total)$' COLLATE pg_catalog.default
  AND pg_catalog.pg_function_is_visible(p.oid)
ORDER BY 1, 2, 4;`,
  );
  psql(
    '\\dd',
    String.raw`SELECT DISTINCT tt.nspname AS "Schema", tt.name AS "Name", tt.object AS "Object", d.description AS "Description"
FROM (
  SELECT pgc.oid as oid, pgc.tableoid AS tableoid,
  n.nspname as nspname,
  CAST(pgc.conname AS pg_catalog.text) as name,  CAST('table constraint' AS pg_catalog.text) as object
  FROM pg_catalog.pg_constraint pgc
    JOIN pg_catalog.pg_class c ON c.oid = pgc.conrelid
    LEFT JOIN pg_catalog.pg_namespace n     ON n.oid = c.relnamespace
WHERE n.nspname <> 'pg_catalog'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
UNION ALL
  SELECT pgc.oid as oid, pgc.tableoid AS tableoid,
  n.nspname as nspname,
  CAST(pgc.conname AS pg_catalog.text) as name,  CAST('domain constraint' AS pg_catalog.text) as object
  FROM pg_catalog.pg_constraint pgc
    JOIN pg_catalog.pg_type t ON t.oid = pgc.contypid
    LEFT JOIN pg_catalog.pg_namespace n     ON n.oid = t.typnamespace
WHERE n.nspname <> 'pg_catalog'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_type_is_visible(t.oid)
UNION ALL
  SELECT o.oid as oid, o.tableoid as tableoid,
  n.nspname as nspname,
  CAST(o.opcname AS pg_catalog.text) as name,
  CAST('operator class' AS pg_catalog.text) as object
  FROM pg_catalog.pg_opclass o
    JOIN pg_catalog.pg_am am ON o.opcmethod = am.oid
    JOIN pg_catalog.pg_namespace n ON n.oid = o.opcnamespace
      AND n.nspname <> 'pg_catalog'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_opclass_is_visible(o.oid)
UNION ALL
  SELECT opf.oid as oid, opf.tableoid as tableoid,
  n.nspname as nspname,
  CAST(opf.opfname AS pg_catalog.text) AS name,
  CAST('operator family' AS pg_catalog.text) as object
  FROM pg_catalog.pg_opfamily opf
    JOIN pg_catalog.pg_am am ON opf.opfmethod = am.oid
    JOIN pg_catalog.pg_namespace n ON opf.opfnamespace = n.oid
      AND n.nspname <> 'pg_catalog'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_opfamily_is_visible(opf.oid)
UNION ALL
  SELECT r.oid as oid, r.tableoid as tableoid,
  n.nspname as nspname,
  CAST(r.rulename AS pg_catalog.text) as name,  CAST('rule' AS pg_catalog.text) as object
  FROM pg_catalog.pg_rewrite r
       JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
       LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE r.rulename != '_RETURN'
      AND n.nspname <> 'pg_catalog'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
UNION ALL
  SELECT t.oid as oid, t.tableoid as tableoid,
  n.nspname as nspname,
  CAST(t.tgname AS pg_catalog.text) as name,  CAST('trigger' AS pg_catalog.text) as object
  FROM pg_catalog.pg_trigger t
       JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
       LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname <> 'pg_catalog'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
) AS tt
  JOIN pg_catalog.pg_description d ON (tt.oid = d.objoid AND tt.tableoid = d.classoid AND d.objsubid = 0)
ORDER BY 1, 2, 3;`,
  );
  psql(
    '\\dD',
    String.raw`SELECT n.nspname as "Schema",
       t.typname as "Name",
       pg_catalog.format_type(t.typbasetype, t.typtypmod) as "Type",
       (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type bt
        WHERE c.oid = t.typcollation AND bt.oid = t.typbasetype AND t.typcollation <> bt.typcollation) as "Collation",
       CASE WHEN t.typnotnull THEN 'not null' END as "Nullable",
       t.typdefault as "Default",
       pg_catalog.array_to_string(ARRAY(
         SELECT pg_catalog.pg_get_constraintdef(r.oid, true) FROM pg_catalog.pg_constraint r WHERE t.oid = r.contypid
       ), ' ') as "Check"
FROM pg_catalog.pg_type t
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'd'
      AND n.nspname <> 'pg_catalog'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_type_is_visible(t.oid)
ORDER BY 1, 2;`,
  );
  psql(
    '\\dm',
    String.raw`SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('m','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;`,
  );
  psql(
    '\\db',
    String.raw`SELECT spcname AS "Name",
  pg_catalog.pg_get_userbyid(spcowner) AS "Owner",
  pg_catalog.pg_tablespace_location(oid) AS "Location"
FROM pg_catalog.pg_tablespace
ORDER BY 1;`,
  );
  psql(
    '\\dc',
    String.raw`SELECT n.nspname AS "Schema",
       c.conname AS "Name",
       pg_catalog.pg_encoding_to_char(c.conforencoding) AS "Source",
       pg_catalog.pg_encoding_to_char(c.contoencoding) AS "Destination",
       CASE WHEN c.condefault THEN 'yes'
       ELSE 'no' END AS "Default?"
FROM pg_catalog.pg_conversion c
     JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace
WHERE true
  AND n.nspname <> 'pg_catalog'
  AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_conversion_is_visible(c.oid)
ORDER BY 1, 2;`,
  );
  psql(
    '\\do',
    String.raw`SELECT n.nspname as "Schema",
  o.oprname AS "Name",
  CASE WHEN o.oprkind='l' THEN NULL ELSE pg_catalog.format_type(o.oprleft, NULL) END AS "Left arg type",
  CASE WHEN o.oprkind='r' THEN NULL ELSE pg_catalog.format_type(o.oprright, NULL) END AS "Right arg type",
  pg_catalog.format_type(o.oprresult, NULL) AS "Result type",
  coalesce(pg_catalog.obj_description(o.oid, 'pg_operator'),
           pg_catalog.obj_description(o.oprcode, 'pg_proc')) AS "Description"
FROM pg_catalog.pg_operator o
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
WHERE n.nspname <> 'pg_catalog'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_operator_is_visible(o.oid)
ORDER BY 1, 2, 3, 4;`,
  );
  psql(
    '\\dy',
    String.raw`SELECT evtname as "Name", evtevent as "Event", pg_catalog.pg_get_userbyid(e.evtowner) as "Owner",
 case evtenabled when 'O' then 'enabled'  when 'R' then 'replica'  when 'A' then 'always'  when 'D' then 'disabled' end as "Enabled",
 e.evtfoid::pg_catalog.regproc as "Function", pg_catalog.array_to_string(array(select x from pg_catalog.unnest(evttags) as t(x)), ', ') as "Tags"
FROM pg_catalog.pg_event_trigger e ORDER BY 1`,
  );
  psql(
    '\\drds',
    String.raw`SELECT rolname AS "Role", datname AS "Database",
pg_catalog.array_to_string(setconfig, E'\n') AS "Settings"
FROM pg_catalog.pg_db_role_setting s
LEFT JOIN pg_catalog.pg_database d ON d.oid = setdatabase
LEFT JOIN pg_catalog.pg_roles r ON r.oid = setrole
ORDER BY 1, 2;`,
  );
  psql(
    '\\dRp',
    String.raw`SELECT pubname AS "Name",
  pg_catalog.pg_get_userbyid(pubowner) AS "Owner",
  puballtables AS "All tables",
  pubinsert AS "Inserts",
  pubupdate AS "Updates",
  pubdelete AS "Deletes",
  pubtruncate AS "Truncates",
  pubviaroot AS "Via root"
FROM pg_catalog.pg_publication
ORDER BY 1;`,
  );
  psql(
    '\\des',
    String.raw`SELECT s.srvname AS "Name",
  pg_catalog.pg_get_userbyid(s.srvowner) AS "Owner",
  f.fdwname AS "Foreign-data wrapper"
FROM pg_catalog.pg_foreign_server s
     JOIN pg_catalog.pg_foreign_data_wrapper f ON f.oid=s.srvfdw
ORDER BY 1;`,
  );
  psql(
    '\\dL',
    String.raw`SELECT l.lanname AS "Name",
       pg_catalog.pg_get_userbyid(l.lanowner) as "Owner",
       l.lanpltrusted AS "Trusted",
       d.description AS "Description"
FROM pg_catalog.pg_language l
LEFT JOIN pg_catalog.pg_description d
  ON d.classoid = l.tableoid AND d.objoid = l.oid
  AND d.objsubid = 0
WHERE l.lanplcallfoid != 0
ORDER BY 1;`,
  );
  psql(
    '\\d invoice_seq (1/4)',
    String.raw`SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(invoice_seq)$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 2, 3;`,
  );
  psql(
    '\\d invoice_seq (2/4)',
    String.raw`SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '{class:invoice_seq}';`,
  );
  psql(
    '\\d invoice_seq (3/4)',
    String.raw`SELECT pg_catalog.format_type(seqtypid, NULL) AS "Type",
       seqstart AS "Start",
       seqmin AS "Minimum",
       seqmax AS "Maximum",
       seqincrement AS "Increment",
       CASE WHEN seqcycle THEN 'yes' ELSE 'no' END AS "Cycles?",
       seqcache AS "Cache"
FROM pg_catalog.pg_sequence
WHERE seqrelid = '{class:invoice_seq}';`,
  );
  psql(
    '\\d invoice_seq (4/4)',
    String.raw`SELECT pg_catalog.quote_ident(nspname) || '.' ||
   pg_catalog.quote_ident(relname) || '.' ||
   pg_catalog.quote_ident(attname),
   d.deptype
FROM pg_catalog.pg_class c
INNER JOIN pg_catalog.pg_depend d ON c.oid=d.refobjid
INNER JOIN pg_catalog.pg_namespace n ON n.oid=c.relnamespace
INNER JOIN pg_catalog.pg_attribute a ON (
 a.attrelid=c.oid AND
 a.attnum=d.refobjsubid)
WHERE d.classid='pg_catalog.pg_class'::pg_catalog.regclass
 AND d.refclassid='pg_catalog.pg_class'::pg_catalog.regclass
 AND d.objid='{class:invoice_seq}'
 AND d.deptype IN ('a', 'i')`,
  );
  psql(
    '\\d orders_customer_idx (1/4)',
    String.raw`SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(orders_customer_idx)$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 2, 3;`,
  );
  psql(
    '\\d orders_customer_idx (2/4)',
    String.raw`SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '{class:orders_customer_idx}';`,
  );
  psql(
    '\\d orders_customer_idx (3/4)',
    String.raw`SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  CASE WHEN a.attnum <= (SELECT i.indnkeyatts FROM pg_catalog.pg_index i WHERE i.indexrelid = '{class:orders_customer_idx}') THEN 'yes' ELSE 'no' END AS is_key,
  pg_catalog.pg_get_indexdef(a.attrelid, a.attnum, TRUE) AS indexdef
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '{class:orders_customer_idx}' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;`,
  );
  psql(
    '\\d orders_customer_idx (4/4)',
    String.raw`SELECT i.indisunique, i.indisprimary, i.indisclustered, i.indisvalid,
  (NOT i.indimmediate) AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x') AND condeferrable) AS condeferrable,
  (NOT i.indimmediate) AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x') AND condeferred) AS condeferred,
i.indisreplident,
i.indnullsnotdistinct,
  a.amname, c2.relname, pg_catalog.pg_get_expr(i.indpred, i.indrelid, true)
FROM pg_catalog.pg_index i, pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_am a
WHERE i.indexrelid = c.oid AND c.oid = '{class:orders_customer_idx}' AND c.relam = a.oid
AND i.indrelid = c2.oid;`,
  );
  psql('\\sf order_total (1/2)', String.raw`SELECT 'order_total'::pg_catalog.regproc::pg_catalog.oid`);
  psql('\\sf order_total (2/2)', String.raw`SELECT pg_catalog.pg_get_functiondef({proc:order_total})`);
  psql(
    '\\dconfig work_mem',
    String.raw`SELECT s.name AS "Parameter", pg_catalog.current_setting(s.name) AS "Value"
FROM pg_catalog.pg_settings s
WHERE pg_catalog.lower(s.name) OPERATOR(pg_catalog.~) '^(work_mem)$' COLLATE pg_catalog.default
ORDER BY 1;`,
  );
  psql(
    '\\d pgbench_accounts (1/9)',
    String.raw`SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(pgbench_accounts)$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 2, 3;`,
  );
  psql(
    '\\d pgbench_accounts (2/9)',
    String.raw`SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '{class:pgbench_accounts}';`,
  );
  psql(
    '\\d pgbench_accounts (3/9)',
    String.raw`SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '{class:pgbench_accounts}' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;`,
  );
  psql(
    '\\d pgbench_accounts (4/9)',
    String.raw`SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),
  pg_catalog.pg_get_constraintdef(con.oid, true), contype, condeferrable, condeferred, i.indisreplident, c2.reltablespace
FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i
  LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))
WHERE c.oid = '{class:pgbench_accounts}' AND c.oid = i.indrelid AND i.indexrelid = c2.oid
ORDER BY i.indisprimary DESC, c2.relname;`,
  );
  psql(
    '\\d pgbench_accounts (5/9)',
    String.raw`SELECT pol.polname, pol.polpermissive,
  CASE WHEN pol.polroles = '{0}' THEN NULL ELSE pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = any (pol.polroles) order by 1),',') END,
  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),
  pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),
  CASE pol.polcmd
    WHEN 'r' THEN 'SELECT'
    WHEN 'a' THEN 'INSERT'
    WHEN 'w' THEN 'UPDATE'
    WHEN 'd' THEN 'DELETE'
    END AS cmd
FROM pg_catalog.pg_policy pol
WHERE pol.polrelid = '{class:pgbench_accounts}' ORDER BY 1;`,
  );
  psql(
    '\\d pgbench_accounts (6/9)',
    String.raw`SELECT oid, stxrelid::pg_catalog.regclass, stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, stxname,
pg_catalog.pg_get_statisticsobjdef_columns(oid) AS columns,
  'd' = any(stxkind) AS ndist_enabled,
  'f' = any(stxkind) AS deps_enabled,
  'm' = any(stxkind) AS mcv_enabled,
stxstattarget
FROM pg_catalog.pg_statistic_ext
WHERE stxrelid = '{class:pgbench_accounts}'
ORDER BY nsp, stxname;`,
  );
  psql(
    '\\d pgbench_accounts (7/9)',
    String.raw`SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid
     JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid
WHERE pc.oid ='{class:pgbench_accounts}' and pg_catalog.pg_relation_is_publishable('{class:pgbench_accounts}')
UNION
SELECT pubname
     , pg_get_expr(pr.prqual, c.oid)
     , (CASE WHEN pr.prattrs IS NOT NULL THEN
         (SELECT string_agg(attname, ', ')
           FROM pg_catalog.generate_series(0, pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,
                pg_catalog.pg_attribute
          WHERE attrelid = pr.prrelid AND attnum = prattrs[s])
        ELSE NULL END) FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid
     JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
WHERE pr.prrelid = '{class:pgbench_accounts}'
UNION
SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable('{class:pgbench_accounts}')
ORDER BY 1;`,
  );
  psql(
    '\\d pgbench_accounts (8/9)',
    String.raw`SELECT c.oid::pg_catalog.regclass
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhparent AND i.inhrelid = '{class:pgbench_accounts}'
  AND c.relkind != 'p' AND c.relkind != 'I'
ORDER BY inhseqno;`,
  );
  psql(
    '\\d pgbench_accounts (9/9)',
    String.raw`SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending, pg_catalog.pg_get_expr(c.relpartbound, c.oid)
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhrelid AND i.inhparent = '{class:pgbench_accounts}'
ORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.oid::pg_catalog.regclass::pg_catalog.text;`,
  );
  psql(
    '\\dT+ order_status',
    String.raw`SELECT n.nspname as "Schema",
  pg_catalog.format_type(t.oid, NULL) AS "Name",
  t.typname AS "Internal name",
  CASE WHEN t.typrelid != 0
      THEN CAST('tuple' AS pg_catalog.text)
    WHEN t.typlen < 0
      THEN CAST('var' AS pg_catalog.text)
    ELSE CAST(t.typlen AS pg_catalog.text)
  END AS "Size",
  pg_catalog.array_to_string(
      ARRAY(
          SELECT e.enumlabel
          FROM pg_catalog.pg_enum e
          WHERE e.enumtypid = t.oid
          ORDER BY e.enumsortorder
      ),
      E'\n'
  ) AS "Elements",
  pg_catalog.pg_get_userbyid(t.typowner) AS "Owner",
pg_catalog.array_to_string(t.typacl, E'\n') AS "Access privileges",
    pg_catalog.obj_description(t.oid, 'pg_type') as "Description"
FROM pg_catalog.pg_type t
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE (t.typrelid = 0 OR (SELECT c.relkind = 'c' FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid))
  AND NOT EXISTS(SELECT 1 FROM pg_catalog.pg_type el WHERE el.oid = t.typelem AND el.typarray = t.oid)
  AND (t.typname OPERATOR(pg_catalog.~) '^(order_status)$' COLLATE pg_catalog.default
        OR pg_catalog.format_type(t.oid, NULL) OPERATOR(pg_catalog.~) '^(order_status)$' COLLATE pg_catalog.default)
  AND pg_catalog.pg_type_is_visible(t.oid)
ORDER BY 1, 2;`,
  );
  psql(
    '\\da',
    String.raw`SELECT n.nspname as "Schema",
  p.proname AS "Name",
  pg_catalog.format_type(p.prorettype, NULL) AS "Result data type",
  CASE WHEN p.pronargs = 0
    THEN CAST('*' AS pg_catalog.text)
    ELSE pg_catalog.pg_get_function_arguments(p.oid)
  END AS "Argument data types",
  pg_catalog.obj_description(p.oid, 'pg_proc') as "Description"
FROM pg_catalog.pg_proc p
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind = 'a'
      AND n.nspname <> 'pg_catalog'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_function_is_visible(p.oid)
ORDER BY 1, 2, 4;`,
  );
  psql(
    '\\dA',
    String.raw`SELECT amname AS "Name",
  CASE amtype WHEN 'i' THEN 'Index' WHEN 't' THEN 'Table' END AS "Type"
FROM pg_catalog.pg_am
ORDER BY 1;`,
  );
  psql(
    '\\dF',
    String.raw`SELECT
   n.nspname as "Schema",
   c.cfgname as "Name",
   pg_catalog.obj_description(c.oid, 'pg_ts_config') as "Description"
FROM pg_catalog.pg_ts_config c
LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.cfgnamespace
WHERE pg_catalog.pg_ts_config_is_visible(c.oid)
ORDER BY 1, 2;`,
  );
  psql(
    '\\z customers',
    String.raw`SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' END as "Type",
  pg_catalog.array_to_string(c.relacl, E'\n') AS "Access privileges",
  pg_catalog.array_to_string(ARRAY(
    SELECT attname || E':\n  ' || pg_catalog.array_to_string(attacl, E'\n  ')
    FROM pg_catalog.pg_attribute a
    WHERE attrelid = c.oid AND NOT attisdropped AND attacl IS NOT NULL
  ), E'\n') AS "Column privileges",
  pg_catalog.array_to_string(ARRAY(
    SELECT polname
    || CASE WHEN NOT polpermissive THEN
       E' (RESTRICTIVE)'
       ELSE '' END
    || CASE WHEN polcmd != '*' THEN
           E' (' || polcmd::pg_catalog.text || E'):'
       ELSE E':'
       END
    || CASE WHEN polqual IS NOT NULL THEN
           E'\n  (u): ' || pg_catalog.pg_get_expr(polqual, polrelid)
       ELSE E''
       END
    || CASE WHEN polwithcheck IS NOT NULL THEN
           E'\n  (c): ' || pg_catalog.pg_get_expr(polwithcheck, polrelid)
       ELSE E''
       END    || CASE WHEN polroles <> '{0}' THEN
           E'\n  to: ' || pg_catalog.array_to_string(
               ARRAY(
                   SELECT rolname
                   FROM pg_catalog.pg_roles
                   WHERE oid = ANY (polroles)
                   ORDER BY 1
               ), E', ')
       ELSE E''
       END
    FROM pg_catalog.pg_policy pol
    WHERE polrelid = c.oid), E'\n')
    AS "Policies"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r','v','m','S','f','p')
  AND c.relname OPERATOR(pg_catalog.~) '^(customers)$' COLLATE pg_catalog.default
  AND n.nspname !~ '^pg_' AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1, 2;`,
  );
  psql(
    '\\ddp',
    String.raw`SELECT pg_catalog.pg_get_userbyid(d.defaclrole) AS "Owner",
  n.nspname AS "Schema",
  CASE d.defaclobjtype WHEN 'r' THEN 'table' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'function' WHEN 'T' THEN 'type' WHEN 'n' THEN 'schema' END AS "Type",
  pg_catalog.array_to_string(d.defaclacl, E'\n') AS "Access privileges"
FROM pg_catalog.pg_default_acl d
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
ORDER BY 1, 2, 3;`,
  );
  psql(
    '\\dP',
    String.raw`SELECT n.nspname as "Schema",
  c.relname as "Name",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner",
  CASE c.relkind WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
 c2.oid::pg_catalog.regclass as "Table"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
     LEFT JOIN pg_catalog.pg_class c2 ON i.indrelid = c2.oid
WHERE c.relkind IN ('p','I','')
 AND NOT c.relispartition
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY "Schema", "Type" DESC, "Name";`,
  );
  psql(
    '\\dX',
    String.raw`SELECT 
es.stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS "Schema", 
es.stxname AS "Name", 
pg_catalog.format('%s FROM %s', 
  pg_catalog.pg_get_statisticsobjdef_columns(es.oid), 
  es.stxrelid::pg_catalog.regclass) AS "Definition",
CASE WHEN 'd' = any(es.stxkind) THEN 'defined' 
END AS "Ndistinct", 
CASE WHEN 'f' = any(es.stxkind) THEN 'defined' 
END AS "Dependencies",
CASE WHEN 'm' = any(es.stxkind) THEN 'defined' 
END AS "MCV"  
FROM pg_catalog.pg_statistic_ext es 
WHERE pg_catalog.pg_statistics_obj_is_visible(es.oid)
ORDER BY 1, 2;`,
  );
  psql(
    '\\dRs',
    String.raw`SELECT subname AS "Name"
,  pg_catalog.pg_get_userbyid(subowner) AS "Owner"
,  subenabled AS "Enabled"
,  subpublications AS "Publication"
FROM pg_catalog.pg_subscription
WHERE subdbid = (SELECT oid
                 FROM pg_catalog.pg_database
                 WHERE datname = pg_catalog.current_database())ORDER BY 1;`,
  );
  psql(
    '\\d+ customer_totals (1/4)',
    String.raw`SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, pg_catalog.array_to_string(c.reloptions || array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x), ', ')
, c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '{class:customer_totals}';`,
  );
  psql(
    '\\d+ customer_totals (2/4)',
    String.raw`SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated,
  a.attstorage,
  pg_catalog.col_description(a.attrelid, a.attnum)
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '{class:customer_totals}' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;`,
  );
  psql(
    '\\d+ customer_totals (3/4)',
    String.raw`SELECT pg_catalog.pg_get_viewdef('{class:customer_totals}'::pg_catalog.oid, true);`,
  );
  psql(
    '\\d+ customer_totals (4/4)',
    String.raw`SELECT r.rulename, trim(trailing ';' from pg_catalog.pg_get_ruledef(r.oid, true))
FROM pg_catalog.pg_rewrite r
WHERE r.ev_class = '{class:customer_totals}' AND r.rulename != '_RETURN' ORDER BY 1;`,
  );
  psql(
    '\\d order_items (1/13)',
    String.raw`SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(order_items)$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 2, 3;`,
  );
  psql(
    '\\d order_items (2/13)',
    String.raw`SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '{class:order_items}';`,
  );
  psql(
    '\\d order_items (3/13)',
    String.raw`SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '{class:order_items}' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;`,
  );
  psql(
    '\\d order_items (4/13)',
    String.raw`SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),
  pg_catalog.pg_get_constraintdef(con.oid, true), contype, condeferrable, condeferred, i.indisreplident, c2.reltablespace
FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i
  LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))
WHERE c.oid = '{class:order_items}' AND c.oid = i.indrelid AND i.indexrelid = c2.oid
ORDER BY i.indisprimary DESC, c2.relname;`,
  );
  psql(
    '\\d order_items (5/13)',
    String.raw`SELECT r.conname, pg_catalog.pg_get_constraintdef(r.oid, true)
FROM pg_catalog.pg_constraint r
WHERE r.conrelid = '{class:order_items}' AND r.contype = 'c'
ORDER BY 1;`,
  );
  psql(
    '\\d order_items (6/13)',
    String.raw`SELECT true as sametable, conname,
  pg_catalog.pg_get_constraintdef(r.oid, true) as condef,
  conrelid::pg_catalog.regclass AS ontable
FROM pg_catalog.pg_constraint r
WHERE r.conrelid = '{class:order_items}' AND r.contype = 'f'
     AND conparentid = 0
ORDER BY conname`,
  );
  psql(
    '\\d order_items (7/13)',
    String.raw`SELECT conname, conrelid::pg_catalog.regclass AS ontable,
       pg_catalog.pg_get_constraintdef(oid, true) AS condef
  FROM pg_catalog.pg_constraint c
 WHERE confrelid IN (SELECT pg_catalog.pg_partition_ancestors('{class:order_items}')
                     UNION ALL VALUES ('{class:order_items}'::pg_catalog.regclass))
       AND contype = 'f' AND conparentid = 0
ORDER BY conname;`,
  );
  psql(
    '\\d order_items (8/13)',
    String.raw`SELECT pol.polname, pol.polpermissive,
  CASE WHEN pol.polroles = '{0}' THEN NULL ELSE pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = any (pol.polroles) order by 1),',') END,
  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),
  pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),
  CASE pol.polcmd
    WHEN 'r' THEN 'SELECT'
    WHEN 'a' THEN 'INSERT'
    WHEN 'w' THEN 'UPDATE'
    WHEN 'd' THEN 'DELETE'
    END AS cmd
FROM pg_catalog.pg_policy pol
WHERE pol.polrelid = '{class:order_items}' ORDER BY 1;`,
  );
  psql(
    '\\d order_items (9/13)',
    String.raw`SELECT oid, stxrelid::pg_catalog.regclass, stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, stxname,
pg_catalog.pg_get_statisticsobjdef_columns(oid) AS columns,
  'd' = any(stxkind) AS ndist_enabled,
  'f' = any(stxkind) AS deps_enabled,
  'm' = any(stxkind) AS mcv_enabled,
stxstattarget
FROM pg_catalog.pg_statistic_ext
WHERE stxrelid = '{class:order_items}'
ORDER BY nsp, stxname;`,
  );
  psql(
    '\\d order_items (10/13)',
    String.raw`SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid
     JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid
WHERE pc.oid ='{class:order_items}' and pg_catalog.pg_relation_is_publishable('{class:order_items}')
UNION
SELECT pubname
     , pg_get_expr(pr.prqual, c.oid)
     , (CASE WHEN pr.prattrs IS NOT NULL THEN
         (SELECT string_agg(attname, ', ')
           FROM pg_catalog.generate_series(0, pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,
                pg_catalog.pg_attribute
          WHERE attrelid = pr.prrelid AND attnum = prattrs[s])
        ELSE NULL END) FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid
     JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
WHERE pr.prrelid = '{class:order_items}'
UNION
SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable('{class:order_items}')
ORDER BY 1;`,
  );
  psql(
    '\\d order_items (11/13)',
    String.raw`SELECT t.tgname, pg_catalog.pg_get_triggerdef(t.oid, true), t.tgenabled, t.tgisinternal,
  CASE WHEN t.tgparentid != 0 THEN
    (SELECT u.tgrelid::pg_catalog.regclass
     FROM pg_catalog.pg_trigger AS u,
          pg_catalog.pg_partition_ancestors(t.tgrelid) WITH ORDINALITY AS a(relid, depth)
     WHERE u.tgname = t.tgname AND u.tgrelid = a.relid
           AND u.tgparentid = 0
     ORDER BY a.depth LIMIT 1)
  END AS parent
FROM pg_catalog.pg_trigger t
WHERE t.tgrelid = '{class:order_items}' AND (NOT t.tgisinternal OR (t.tgisinternal AND t.tgenabled = 'D'))
ORDER BY 1;`,
  );
  psql(
    '\\d order_items (12/13)',
    String.raw`SELECT c.oid::pg_catalog.regclass
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhparent AND i.inhrelid = '{class:order_items}'
  AND c.relkind != 'p' AND c.relkind != 'I'
ORDER BY inhseqno;`,
  );
  psql(
    '\\d order_items (13/13)',
    String.raw`SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending, pg_catalog.pg_get_expr(c.relpartbound, c.oid)
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhrelid AND i.inhparent = '{class:order_items}'
ORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.oid::pg_catalog.regclass::pg_catalog.text;`,
  );
  psql(
    '\\dE',
    String.raw`SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('f','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;`,
  );
  psql(
    '\\l (psql 17/18)',
    String.raw`SELECT
  d.datname as "Name",
  pg_catalog.pg_get_userbyid(d.datdba) as "Owner",
  pg_catalog.pg_encoding_to_char(d.encoding) as "Encoding",
  CASE d.datlocprovider WHEN 'b' THEN 'builtin' WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' END AS "Locale Provider",
  d.datcollate as "Collate",
  d.datctype as "Ctype",
  d.datlocale as "Locale",
  d.daticurules as "ICU Rules",
  CASE WHEN pg_catalog.array_length(d.datacl, 1) = 0 THEN '(none)' ELSE pg_catalog.array_to_string(d.datacl, E'\n') END AS "Access privileges"
FROM pg_catalog.pg_database d
ORDER BY 1;`,
  );
  psql(
    'tab completion of a table name',
    String.raw`SELECT pg_catalog.quote_ident(c.relname) FROM pg_catalog.pg_class c WHERE c.relkind IN ('r', 'S', 'v', 'm', 'f', 'p') AND substring(pg_catalog.quote_ident(c.relname),1,3)='cus' AND pg_catalog.pg_table_is_visible(c.oid) AND c.relnamespace <> (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'pg_catalog')
UNION
SELECT pg_catalog.quote_ident(n.nspname) || '.' FROM pg_catalog.pg_namespace n WHERE substring(pg_catalog.quote_ident(n.nspname) || '.',1,3)='cus' AND (SELECT pg_catalog.count(*) FROM pg_catalog.pg_namespace WHERE substring(pg_catalog.quote_ident(nspname) || '.',1,3) = substring('cus',1,pg_catalog.length(pg_catalog.quote_ident(nspname))+1)) > 1
LIMIT 1000`,
  );
  psql(
    'tab completion of a column name',
    String.raw`SELECT pg_catalog.quote_ident(attname)   FROM pg_catalog.pg_attribute a, pg_catalog.pg_class c  WHERE c.oid = a.attrelid    AND a.attnum > 0    AND NOT a.attisdropped    AND substring(pg_catalog.quote_ident(attname),1,2)='em'    AND (pg_catalog.quote_ident(relname)='customers'         OR '"' || relname || '"'='customers')    AND pg_catalog.pg_table_is_visible(c.oid)
LIMIT 1000`,
  );
});

group('pg_dump', () => {
  steps('pg_dump: session setup and a repeatable-read snapshot', [
    "SELECT pg_catalog.set_config('search_path', '', false);",
    'SET DATESTYLE = ISO',
    'SET INTERVALSTYLE = POSTGRES',
    'SET extra_float_digits TO 3',
    'SET synchronize_seqscans TO off',
    'SET statement_timeout = 0',
    'SET lock_timeout = 0',
    'SET idle_in_transaction_session_timeout = 0',
    'SET row_security = off',
    'BEGIN',
    'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY',
    'SELECT pg_catalog.pg_is_in_recovery()',
    'SELECT datname, datdba::regrole::text, pg_encoding_to_char(encoding) AS encoding, datcollate, datctype, datistemplate, datconnlimit FROM pg_database WHERE datname = current_database()',
    "SELECT n.nspname, c.relname, c.relkind FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1, 2",
    'COMMIT',
    'RESET ALL',
  ]);
});

group('pgjdbc DatabaseMetaData', () => {
  sql(
    'pgjdbc: connection setup reads',
    "SELECT current_schema(), session_user, current_setting('server_version_num')",
  );
  steps('pgjdbc: startup settings', [
    'SET extra_float_digits = 3',
    "SET application_name = 'PostgreSQL JDBC Driver'",
    'SHOW extra_float_digits',
    'RESET application_name',
    'RESET extra_float_digits',
  ]);
  sql(
    'pgjdbc getTables',
    `SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM, c.relname AS TABLE_NAME,  CASE n.nspname ~ '^pg_' OR n.nspname = 'information_schema'  WHEN true THEN CASE  WHEN n.nspname = 'pg_catalog' OR n.nspname = 'information_schema' THEN CASE c.relkind   WHEN 'r' THEN 'SYSTEM TABLE'   WHEN 'v' THEN 'SYSTEM VIEW'   WHEN 'i' THEN 'SYSTEM INDEX'   ELSE NULL   END  WHEN n.nspname = 'pg_toast' THEN CASE c.relkind   WHEN 'r' THEN 'SYSTEM TOAST TABLE'   WHEN 'i' THEN 'SYSTEM TOAST INDEX'   ELSE NULL   END  ELSE CASE c.relkind   WHEN 'r' THEN 'TEMPORARY TABLE'   WHEN 'p' THEN 'TEMPORARY TABLE'   WHEN 'i' THEN 'TEMPORARY INDEX'   WHEN 'S' THEN 'TEMPORARY SEQUENCE'   WHEN 'v' THEN 'TEMPORARY VIEW'   ELSE NULL   END  END  WHEN false THEN CASE c.relkind  WHEN 'r' THEN 'TABLE'  WHEN 'p' THEN 'PARTITIONED TABLE'  WHEN 'i' THEN 'INDEX'  WHEN 'I' THEN 'PARTITIONED INDEX'  WHEN 'S' THEN 'SEQUENCE'  WHEN 'v' THEN 'VIEW'  WHEN 'c' THEN 'TYPE'  WHEN 'f' THEN 'FOREIGN TABLE'  WHEN 'm' THEN 'MATERIALIZED VIEW'  ELSE NULL  END  ELSE NULL  END  AS TABLE_TYPE, d.description AS REMARKS,  '' as TYPE_CAT, '' as TYPE_SCHEM, '' as TYPE_NAME, '' AS SELF_REFERENCING_COL_NAME, '' AS REF_GENERATION  FROM pg_catalog.pg_namespace n, pg_catalog.pg_class c  LEFT JOIN pg_catalog.pg_description d ON (c.oid = d.objoid AND d.objsubid = 0  and d.classoid = 'pg_class'::regclass)  WHERE c.relnamespace = n.oid  AND n.nspname LIKE 'public' AND c.relname LIKE '%' AND (false  OR ( c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' )  OR ( c.relkind = 'p' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' )  OR ( c.relkind = 'v' AND n.nspname <> 'pg_catalog' AND n.nspname <> 'information_schema' ) )  ORDER BY TABLE_TYPE,TABLE_SCHEM,TABLE_NAME `,
  );
  sql(
    'pgjdbc getSchemas',
    "SELECT nspname AS TABLE_SCHEM, NULL AS TABLE_CATALOG FROM pg_catalog.pg_namespace  WHERE nspname <> 'pg_toast' AND (nspname !~ '^pg_temp_'  OR nspname = (pg_catalog.current_schemas(true))[1]) AND (nspname !~ '^pg_toast_temp_'  OR nspname = replace((pg_catalog.current_schemas(true))[1], 'pg_temp_', 'pg_toast_temp_'))  ORDER BY TABLE_SCHEM",
  );
  sql(
    'pgjdbc getColumns',
    `SELECT * FROM (SELECT n.nspname,c.relname,a.attname,a.atttypid,a.attnotnull OR (t.typtype = 'd' AND t.typnotnull) AS attnotnull,a.atttypmod,a.attlen,t.typtypmod,row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS attnum, nullif(a.attidentity, '') as attidentity,nullif(a.attgenerated, '') as attgenerated,pg_catalog.pg_get_expr(def.adbin, def.adrelid) AS adsrc,dsc.description,t.typbasetype,t.typtype  FROM pg_catalog.pg_namespace n  JOIN pg_catalog.pg_class c ON (c.relnamespace = n.oid)  JOIN pg_catalog.pg_attribute a ON (a.attrelid=c.oid)  JOIN pg_catalog.pg_type t ON (a.atttypid = t.oid)  LEFT JOIN pg_catalog.pg_attrdef def ON (a.attrelid=def.adrelid AND a.attnum = def.adnum)  LEFT JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)  LEFT JOIN pg_catalog.pg_class dc ON (dc.oid=dsc.classoid AND dc.relname='pg_class')  LEFT JOIN pg_catalog.pg_namespace dn ON (dc.relnamespace=dn.oid AND dn.nspname='pg_catalog')  WHERE c.relkind in ('r','p','v','f','m') and a.attnum > 0 AND NOT a.attisdropped  AND n.nspname LIKE 'public' AND c.relname LIKE 'orders') c WHERE true  ORDER BY nspname,c.relname,attnum `,
  );
  sql(
    'pgjdbc getPrimaryKeys',
    `SELECT        result.TABLE_CAT,        result.TABLE_SCHEM,        result.TABLE_NAME,        result.COLUMN_NAME,        result.KEY_SEQ,        result.PK_NAME FROM      (SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM,   ct.relname AS TABLE_NAME, a.attname AS COLUMN_NAME,   (information_schema._pg_expandarray(i.indkey)).n AS KEY_SEQ, ci.relname AS PK_NAME,   information_schema._pg_expandarray(i.indkey) AS KEYS, a.attnum AS A_ATTNUM FROM pg_catalog.pg_class ct   JOIN pg_catalog.pg_attribute a ON (ct.oid = a.attrelid)   JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid)   JOIN pg_catalog.pg_index i ON ( a.attrelid = i.indrelid)   JOIN pg_catalog.pg_class ci ON (ci.oid = i.indexrelid) WHERE true  AND n.nspname = E'public' AND ct.relname = E'order_items' AND i.indisprimary  ) result where  result.A_ATTNUM = (result.KEYS).x  ORDER BY result.table_name, result.pk_name, result.key_seq`,
  );
  sql(
    'pgjdbc getIndexInfo',
    `SELECT tmp.TABLE_CAT, tmp.TABLE_SCHEM, tmp.TABLE_NAME, tmp.NON_UNIQUE, tmp.INDEX_QUALIFIER, tmp.INDEX_NAME, tmp.TYPE, tmp.ORDINAL_POSITION, trim(both '"' from pg_catalog.pg_get_indexdef(tmp.CI_OID, tmp.ORDINAL_POSITION, false)) AS COLUMN_NAME, CASE tmp.AM_NAME   WHEN 'btree' THEN CASE tmp.I_INDOPTION[tmp.ORDINAL_POSITION - 1] & 1::smallint     WHEN 1 THEN 'D'     ELSE 'A'   END   ELSE NULL END AS ASC_OR_DESC, tmp.CARDINALITY, tmp.PAGES, tmp.FILTER_CONDITION FROM (SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM,   ct.relname AS TABLE_NAME, NOT i.indisunique AS NON_UNIQUE,   NULL AS INDEX_QUALIFIER, ci.relname AS INDEX_NAME,   CASE i.indisclustered     WHEN true THEN 1    ELSE CASE am.amname       WHEN 'hash' THEN 2      ELSE 3    END   END AS TYPE,   (information_schema._pg_expandarray(i.indkey)).n AS ORDINAL_POSITION,   ci.reltuples AS CARDINALITY,   ci.relpages AS PAGES,   pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS FILTER_CONDITION,   ci.oid AS CI_OID,   i.indoption AS I_INDOPTION,   am.amname AS AM_NAME FROM pg_catalog.pg_class ct   JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid)   JOIN pg_catalog.pg_index i ON (ct.oid = i.indrelid)   JOIN pg_catalog.pg_class ci ON (ci.oid = i.indexrelid)   JOIN pg_catalog.pg_am am ON (ci.relam = am.oid) WHERE true  AND n.nspname = 'public' AND ct.relname = 'orders') AS tmp ORDER BY NON_UNIQUE, TYPE, INDEX_NAME, ORDINAL_POSITION `,
  );
  sql(
    'pgjdbc getImportedKeys',
    `SELECT NULL::text AS PKTABLE_CAT, pkn.nspname AS PKTABLE_SCHEM, pkc.relname AS PKTABLE_NAME, pka.attname AS PKCOLUMN_NAME, NULL::text AS FKTABLE_CAT, fkn.nspname AS FKTABLE_SCHEM, fkc.relname AS FKTABLE_NAME, fka.attname AS FKCOLUMN_NAME, pos.n AS KEY_SEQ, CASE con.confupdtype  WHEN 'c' THEN 0 WHEN 'n' THEN 2 WHEN 'd' THEN 4 WHEN 'r' THEN 1 WHEN 'p' THEN 1 WHEN 'a' THEN 3 ELSE NULL END AS UPDATE_RULE, CASE con.confdeltype  WHEN 'c' THEN 0 WHEN 'n' THEN 2 WHEN 'd' THEN 4 WHEN 'r' THEN 1 WHEN 'p' THEN 1 WHEN 'a' THEN 3 ELSE NULL END AS DELETE_RULE, con.conname AS FK_NAME, pkic.relname AS PK_NAME, CASE  WHEN con.condeferrable AND con.condeferred THEN 5 WHEN con.condeferrable THEN 6 ELSE 7 END AS DEFERRABILITY  FROM  pg_catalog.pg_namespace pkn, pg_catalog.pg_class pkc, pg_catalog.pg_attribute pka,  pg_catalog.pg_namespace fkn, pg_catalog.pg_class fkc, pg_catalog.pg_attribute fka,  pg_catalog.pg_constraint con,  pg_catalog.generate_series(1, 32) pos(n),  pg_catalog.pg_class pkic WHERE pkn.oid = pkc.relnamespace AND pkc.oid = pka.attrelid AND pka.attnum = con.confkey[pos.n] AND con.confrelid = pkc.oid  AND fkn.oid = fkc.relnamespace AND fkc.oid = fka.attrelid AND fka.attnum = con.conkey[pos.n] AND con.conrelid = fkc.oid  AND con.contype = 'f' AND (pkic.relkind = 'i' OR pkic.relkind = 'I') AND pkic.oid = con.conindid  AND fkn.nspname = 'public' AND fkc.relname = 'order_items' ORDER BY pkn.nspname,pkc.relname, con.conname,pos.n`,
  );
  sql(
    'pgjdbc getExportedKeys',
    `SELECT NULL::text AS PKTABLE_CAT, pkn.nspname AS PKTABLE_SCHEM, pkc.relname AS PKTABLE_NAME, pka.attname AS PKCOLUMN_NAME, NULL::text AS FKTABLE_CAT, fkn.nspname AS FKTABLE_SCHEM, fkc.relname AS FKTABLE_NAME, fka.attname AS FKCOLUMN_NAME, pos.n AS KEY_SEQ, con.conname AS FK_NAME, pkic.relname AS PK_NAME  FROM  pg_catalog.pg_namespace pkn, pg_catalog.pg_class pkc, pg_catalog.pg_attribute pka,  pg_catalog.pg_namespace fkn, pg_catalog.pg_class fkc, pg_catalog.pg_attribute fka,  pg_catalog.pg_constraint con,  pg_catalog.generate_series(1, 32) pos(n),  pg_catalog.pg_class pkic WHERE pkn.oid = pkc.relnamespace AND pkc.oid = pka.attrelid AND pka.attnum = con.confkey[pos.n] AND con.confrelid = pkc.oid  AND fkn.oid = fkc.relnamespace AND fkc.oid = fka.attrelid AND fka.attnum = con.conkey[pos.n] AND con.conrelid = fkc.oid  AND con.contype = 'f' AND (pkic.relkind = 'i' OR pkic.relkind = 'I') AND pkic.oid = con.conindid  AND pkn.nspname = 'public' AND pkc.relname = 'customers' ORDER BY fkn.nspname,fkc.relname,con.conname,pos.n`,
  );
  sql(
    'pgjdbc getTablePrivileges',
    "SELECT n.nspname,c.relname,r.rolname,c.relacl  FROM pg_catalog.pg_namespace n, pg_catalog.pg_class c, pg_catalog.pg_roles r  WHERE c.relnamespace = n.oid  AND c.relowner = r.oid  AND c.relkind IN ('r','p','v','m','f')  AND n.nspname LIKE 'public' AND c.relname LIKE '%' ORDER BY nspname, relname ",
  );
  sql(
    'pgjdbc getProcedures',
    "SELECT NULL AS PROCEDURE_CAT, n.nspname AS PROCEDURE_SCHEM, p.proname AS PROCEDURE_NAME, NULL, NULL, NULL, d.description AS REMARKS, 2 AS PROCEDURE_TYPE,  p.proname || '_' || p.oid AS SPECIFIC_NAME  FROM pg_catalog.pg_namespace n, pg_catalog.pg_proc p  LEFT JOIN pg_catalog.pg_description d ON (p.oid=d.objoid)  LEFT JOIN pg_catalog.pg_class c ON (d.classoid=c.oid AND c.relname='pg_proc')  LEFT JOIN pg_catalog.pg_namespace pn ON (c.relnamespace=pn.oid AND pn.nspname='pg_catalog')  WHERE p.pronamespace=n.oid AND n.nspname LIKE 'public' AND p.prokind = 'p' ORDER BY PROCEDURE_SCHEM, PROCEDURE_NAME, p.oid::text ",
  );
  sql(
    'pgjdbc getTypeInfo',
    "SELECT t.typname,t.oid FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON (t.typnamespace = n.oid)  WHERE n.nspname  != 'pg_toast' AND  (t.typrelid = 0 OR (SELECT c.relkind = 'c' FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid)) ORDER BY t.oid",
  );
  sql('pgjdbc TypeInfoCache: all type names and OIDs', 'SELECT typname, oid FROM pg_type ORDER BY oid');
  param(
    'pgjdbc TypeInfoCache.getPGType by name',
    'SELECT pg_type.oid, typname   FROM pg_catalog.pg_type   LEFT   JOIN (select ns.oid as nspoid, ns.nspname, r.r           from pg_namespace as ns           join ( select s.r, (current_schemas(false))[s.r] as nspname                    from generate_series(1, array_upper(current_schemas(false), 1)) as s(r) ) as r          using ( nspname )        ) as sp     ON sp.nspoid = typnamespace  WHERE typname = $1  ORDER BY sp.r, pg_type.oid DESC LIMIT 1',
    ['order_status'],
  );
  param(
    'pgjdbc TypeInfoCache by OID',
    'SELECT n.nspname = ANY(current_schemas(true)), n.nspname, t.typname FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON t.typnamespace = n.oid WHERE t.oid = $1',
    [1184],
  );
  param(
    'pgjdbc array delimiter lookup',
    'SELECT e.typdelim FROM pg_catalog.pg_type t, pg_catalog.pg_type e WHERE t.oid = $1 and t.typelem = e.oid',
    [1009],
  );
  param(
    'pgjdbc array element type',
    'SELECT e.oid, n.nspname = ANY(current_schemas(true)), n.nspname, e.typname FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON t.typnamespace = n.oid JOIN pg_catalog.pg_type e ON t.typelem = e.oid WHERE t.oid = $1',
    [1009],
  );
  sql(
    'pgjdbc getMaxNameLength',
    "SELECT t.typlen FROM pg_catalog.pg_type t, pg_catalog.pg_namespace n WHERE t.typnamespace=n.oid AND t.typname='name' AND n.nspname='pg_catalog'",
  );
  sql(
    'pgjdbc getSQLKeywords',
    "SELECT string_agg(word, ',') FROM pg_catalog.pg_get_keywords() WHERE word <> ALL ('{a,abs,absolute,action,ada,add,admin,after,all,allocate,alter,always,and,any,are,array,as,asc}'::text[])",
  );
  sql(
    'pgjdbc getUDTs',
    "select null as type_cat, n.nspname as type_schem, t.typname as type_name,  null as class_name, CASE WHEN t.typtype='c' then 2002 else 2001 end as data_type, pg_catalog.obj_description(t.oid, 'pg_type')  as remarks, CASE WHEN t.typtype = 'd' then  (select CASE WHEN typname = 'int4' THEN 4 ELSE 1111 END from pg_catalog.pg_type where oid=t.typbasetype) else null end as base_type from pg_catalog.pg_type t, pg_catalog.pg_namespace n where t.typnamespace = n.oid and n.nspname != 'pg_catalog' and n.nspname != 'pg_toast' and t.typtype IN ('c','d')  order by data_type, type_schem, type_name",
  );
});

group('DBeaver', () => {
  sql('DBeaver: current schema and user', 'SELECT current_schema(),session_user');
  sql(
    'DBeaver: schemas',
    "SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n\nLEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0 AND d.classoid='pg_namespace'::regclass\n ORDER BY nspname",
  );
  param('DBeaver: database', 'SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE datname=$1', [
    'postgres',
  ]);
  sql(
    'DBeaver: standard_conforming_strings',
    "select * from pg_catalog.pg_settings where name='standard_conforming_strings'",
  );
  sql('DBeaver: roles', 'SELECT a.oid,a.* FROM pg_catalog.pg_roles a \nORDER BY a.oid');
  sql('DBeaver: access methods', 'SELECT am.oid,am.* FROM pg_catalog.pg_am am \nORDER BY am.oid');
  sql('DBeaver: collations', 'SELECT c.oid,c.* FROM pg_catalog.pg_collation c \nORDER BY c.oid');
  sql('DBeaver: languages', 'SELECT l.oid,l.* FROM pg_catalog.pg_language l \nORDER BY l.oid');
  sql(
    'DBeaver: encodings',
    'SELECT c.contoencoding,pg_catalog.pg_encoding_to_char(c.contoencoding) as encname\nFROM pg_catalog.pg_conversion c\nGROUP BY c.contoencoding\nORDER BY 2\n',
  );
  sql('DBeaver: tablespaces', 'SELECT t.oid,t.* FROM pg_catalog.pg_tablespace t ORDER BY t.oid');
  sql(
    'DBeaver: extensions',
    "SELECT \n e.oid,\n cfg.tbls,\n n.nspname as schema_name,\n e.* \nFROM \n pg_catalog.pg_extension e \n join pg_namespace n on n.oid =e.extnamespace\n left join  (\n select\n ARRAY_AGG(ns.nspname || '.' ||  cls.relname) tbls, oid_ext\n from\n (\n select\n unnest(e1.extconfig) oid , e1.oid oid_ext\n from\n pg_catalog.pg_extension e1 ) c\n join pg_class cls on cls.oid = c.oid\n join pg_namespace ns on ns.oid = cls.relnamespace\n group by oid_ext ) cfg on cfg.oid_ext = e.oid\nORDER BY e.oid",
  );
  param(
    'DBeaver: tables of a schema',
    "SELECT c.oid,c.*,t.relname as tabrelname,rt.relnamespace as refnamespace,d.description, null as consrc_copy\nFROM pg_catalog.pg_class c\nLEFT OUTER JOIN pg_catalog.pg_class t ON t.oid=c.reltoastrelid\nLEFT OUTER JOIN pg_catalog.pg_class rt ON rt.oid=c.reloftype\nLEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_class'::regclass\nWHERE c.relnamespace=$1 AND c.relkind not in ('i','I','c') ORDER BY c.oid",
    [2200],
  );
  param(
    'DBeaver: relation sizes',
    'select c.oid,pg_catalog.pg_total_relation_size(c.oid) as total_rel_size,pg_catalog.pg_relation_size(c.oid) as rel_size\nFROM pg_catalog.pg_class c\nWHERE c.relnamespace=$1 ORDER BY c.oid',
    [2200],
  );
  param(
    'DBeaver: columns of a table',
    "SELECT c.relname,a.*,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,dsc.description,dep.objid\nFROM pg_catalog.pg_attribute a\nINNER JOIN pg_catalog.pg_class c ON (a.attrelid=c.oid)\nLEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid AND a.attnum = ad.adnum)\nLEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)\nLEFT OUTER JOIN pg_depend dep on dep.refobjid = a.attrelid AND dep.deptype = 'i' and dep.refobjsubid = a.attnum and dep.classid = dep.refclassid\nWHERE NOT a.attisdropped AND c.relkind not in ('i','I','c') AND c.oid=$1\nORDER BY a.attnum",
    ['{class:customers}'],
  );
  param(
    'DBeaver: constraints of a table',
    "SELECT c.oid,c.*,t.relname as tabrelname,rt.relnamespace as refnamespace,d.description, case when c.contype='c' then \"substring\"(pg_get_constraintdef(c.oid), 7) else null end consrc_copy\nFROM pg_catalog.pg_constraint c\nINNER JOIN pg_catalog.pg_class t ON t.oid=c.conrelid\nLEFT OUTER JOIN pg_catalog.pg_class rt ON rt.oid=c.confrelid\nLEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_constraint'::regclass\nWHERE t.relnamespace=$1 ORDER BY c.oid",
    [2200],
  );
  param(
    'DBeaver: indexes of a schema',
    'SELECT i.*,i.indkey as keys,c.relname,c.relnamespace,c.relam,c.reltablespace,tc.relname as tabrelname,dsc.description,pg_catalog.pg_get_expr(i.indpred, i.indrelid) as pred_expr,pg_catalog.pg_get_expr(i.indexprs, i.indrelid, true) as expr,pg_catalog.pg_relation_size(i.indexrelid) as index_rel_size,pg_catalog.pg_stat_get_numscans(i.indexrelid) as index_num_scans\nFROM pg_catalog.pg_index i\nINNER JOIN pg_catalog.pg_class c ON c.oid=i.indexrelid\nINNER JOIN pg_catalog.pg_class tc ON tc.oid=i.indrelid\nLEFT OUTER JOIN pg_catalog.pg_description dsc ON i.indexrelid=dsc.objoid\nWHERE  c.relnamespace=$1 ORDER BY tabrelname, c.relname',
    [2200],
  );
  param(
    'DBeaver: procedures of a schema',
    'SELECT p.oid,p.*,pg_catalog.pg_get_expr(p.proargdefaults, 0)as arg_defaults,d.description\nFROM pg_catalog.pg_proc p\nLEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=p.oid\nWHERE p.pronamespace=$1 ORDER BY p.proname',
    [2200],
  );
  param('DBeaver: view definition', 'select pg_catalog.pg_get_viewdef($1::oid, true)', [
    '{class:customer_totals}',
  ]);
  param('DBeaver: function definition', 'SELECT pg_catalog.pg_get_functiondef($1::oid)', [
    '{proc:order_total}',
  ]);
  sql(
    'DBeaver: data types',
    "SELECT t.oid,t.*,c.relkind,format_type(nullif(t.typbasetype, 0), t.typtypmod) as base_type_name, d.description\nFROM pg_catalog.pg_type t\nLEFT OUTER JOIN pg_catalog.pg_type et ON et.oid=t.typelem\nLEFT OUTER JOIN pg_catalog.pg_class c ON c.oid=t.typrelid\nLEFT OUTER JOIN pg_catalog.pg_description d ON t.oid=d.objoid\nWHERE t.typname IS NOT NULL\nAND (c.relkind IS NULL OR c.relkind = 'c') AND (et.typcategory IS NULL OR et.typcategory <> 'C') ORDER BY t.oid",
  );
  sql(
    'DBeaver: sequences view',
    "select * from pg_catalog.pg_sequences where schemaname = 'public' ORDER BY sequencename",
  );
  sql('DBeaver: sequence state', 'SELECT last_value, is_called FROM public.invoice_seq');
  sql('DBeaver: read table data with a limit', 'SELECT t.* FROM public.customers t\nLIMIT 200');
  sql(
    'DBeaver: row count estimate',
    "SELECT reltuples::bigint FROM pg_class WHERE oid = 'public.orders'::regclass",
  );
  sql(
    'DBeaver: triggers',
    'SELECT t.oid,t.*,c.relkind,d.description FROM pg_catalog.pg_trigger t\nINNER JOIN pg_catalog.pg_class c ON c.oid=t.tgrelid\nLEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=t.oid\nWHERE c.relnamespace = 2200 AND NOT tgisinternal ORDER BY t.oid',
  );
  sql(
    'DBeaver: enum values',
    "SELECT e.enumlabel FROM pg_catalog.pg_enum e WHERE e.enumtypid = 'order_status'::regtype ORDER BY e.enumsortorder",
  );
  sql('DBeaver: keywords', 'SELECT word, catcode, catdesc FROM pg_catalog.pg_get_keywords() ORDER BY word');
});

group('DataGrip', () => {
  sql('DataGrip: database and schemas', 'select current_database() as a, current_schemas(false) as b');
  sql(
    'DataGrip: schemas with state numbers',
    'select N.oid::bigint as id,\n       N.xmin as state_number,\n       nspname as name,\n       D.description,\n       pg_catalog.pg_get_userbyid(N.nspowner) as "owner"\nfrom pg_catalog.pg_namespace N\n  left join pg_catalog.pg_description D on N.oid = D.objoid\norder by case when nspname = pg_catalog.current_schema() then -1::bigint else N.oid::bigint end',
  );
  sql(
    'DataGrip: databases',
    'select N.oid::bigint as id,\n       datname as name,\n       D.description,\n       datistemplate as is_template,\n       datallowconn as allow_connections,\n       pg_catalog.pg_get_userbyid(N.datdba) as "owner"\nfrom pg_catalog.pg_database N\n  left join pg_catalog.pg_shdescription D on N.oid = D.objoid\norder by case when datname = pg_catalog.current_database() then -1::bigint else N.oid::bigint end',
  );
  sql(
    'DataGrip: roles',
    'select R.oid::bigint as role_id, rolname as role_name,\n  rolsuper is_super, rolinherit is_inherit,\n  rolcreaterole can_createrole, rolcreatedb can_createdb,\n  rolcanlogin can_login, rolreplication is_replication,\n  rolconnlimit conn_limit, rolvaliduntil valid_until,\n  rolbypassrls bypass_rls, rolconfig config,\n  D.description\nfrom pg_catalog.pg_roles R\n  left join pg_catalog.pg_shdescription D on D.objoid = R.oid\norder by R.oid',
  );
  sql(
    'DataGrip: tables and views',
    "select T.relkind as table_kind,\n       T.relname as table_name,\n       T.oid as table_id,\n       T.xmin as table_state_number,\n       false /* T.relhasoids */ as table_with_oids,\n       T.reltablespace as tablespace_id,\n       T.reloptions as options,\n       T.relpersistence as persistence,\n       (select pg_catalog.array_agg(inhparent::bigint order by inhseqno)::varchar from pg_catalog.pg_inherits where T.oid = inhrelid) as ancestors,\n       (select pg_catalog.array_agg(inhrelid::bigint order by inhrelid)::varchar from pg_catalog.pg_inherits where T.oid = inhparent) as successors,\n       T.relispartition /* false */ as is_partition,\n       pg_catalog.pg_get_partkeydef(T.oid) /* null */ as partition_key,\n       pg_catalog.pg_get_expr(T.relpartbound, T.oid) /* null */ as partition_expression,\n       T.relam am_id,\n       pg_catalog.pg_get_userbyid(T.relowner) as \"owner\"\nfrom pg_catalog.pg_class T\nwhere relnamespace = 2200::oid\n  and relkind in ('r', 'm', 'v', 'f', 'p')\norder by table_kind, table_id",
  );
  sql(
    'DataGrip: columns',
    'select attrelid as table_id,\n       attnum as column_position,\n       attname as column_name,\n       atttypmod as type_mod,\n       attndims as dimensions_number,\n       pg_catalog.format_type(atttypid, atttypmod) as type_spec,\n       atttypid as type_id,\n       attnotnull as mandatory,\n       pg_catalog.pg_get_expr(D.adbin, D.adrelid) /* D.adsrc */ as column_default_expression,\n       not attislocal as column_is_inherited,\n       attidentity as identity_kind,\n       attgenerated as generated\nfrom pg_catalog.pg_attribute\n       left join pg_catalog.pg_attrdef D on attrelid = D.adrelid and attnum = D.adnum\nwhere attrelid in (select oid from pg_catalog.pg_class where relnamespace = 2200::oid)\n  and attnum > 0\n  and not attisdropped\norder by table_id, column_position',
  );
  sql(
    'DataGrip: constraints',
    "select T.oid table_id,\n       relkind table_kind,\n       C.oid::bigint con_id,\n       C.xmin con_state_id,\n       conname con_name,\n       contype con_kind,\n       conkey con_columns,\n       conindid index_id,\n       confrelid ref_table_id,\n       condeferrable is_deferrable,\n       condeferred is_init_deferred,\n       confupdtype on_update,\n       confdeltype on_delete,\n       connoinherit no_inherit,\n       pg_catalog.pg_get_expr(conbin, T.oid) /* consrc */ con_expression,\n       confkey ref_columns,\n       conexclop::int[] excl_operators,\n       array(select unnest::regoper::varchar from unnest(conexclop)) excl_operators_str\nfrom pg_catalog.pg_constraint C\n         join pg_catalog.pg_class T\n              on C.conrelid = T.oid\nwhere relkind in ('r', 'v', 'f', 'p')\n  and relnamespace = 2200::oid\n  and contype in ('p', 'u', 'f', 'c', 'x')\norder by con_id",
  );
  sql(
    'DataGrip: indices',
    "select tab.oid table_id,\n       tab.relkind table_kind,\n       ind_stor.relname index_name,\n       ind_head.indexrelid index_id,\n       ind_stor.xmin state_number,\n       ind_head.indisunique is_unique,\n       ind_head.indisprimary is_primary,\n       ind_head.indnullsnotdistinct nulls_not_distinct,\n       pg_catalog.pg_get_expr(ind_head.indpred, ind_head.indrelid) as condition,\n       (select pg_catalog.array_agg(inhparent::bigint order by inhseqno)::varchar from pg_catalog.pg_inherits where ind_stor.oid = inhrelid) as ancestors,\n       ind_stor.reltablespace tablespace_id,\n       opcmethod as access_method_id\nfrom pg_catalog.pg_class tab\n         join pg_catalog.pg_index ind_head\n              on ind_head.indrelid = tab.oid\n         join pg_catalog.pg_class ind_stor\n              on tab.relnamespace = ind_stor.relnamespace and ind_stor.oid = ind_head.indexrelid\n         left join pg_catalog.pg_opclass on pg_opclass.oid = ANY(indclass)\nwhere tab.relnamespace = 2200::oid\n        and tab.relkind in ('r', 'm', 'v', 'p')\n        and ind_stor.relkind in ('i', 'I')\norder by index_id",
  );
  sql(
    'DataGrip: routines',
    'select R.oid::bigint as routine_id,\n       R.xmin as state_number,\n       R.proname as routine_name,\n       R.proargnames as arg_names,\n       R.proargmodes as arg_modes,\n       R.proargtypes::int[] as in_arg_types,\n       R.proallargtypes::int[] as all_arg_types,\n       pg_catalog.pg_get_expr(R.proargdefaults, 0) as arg_defaults,\n       R.provariadic as arg_variadic_id,\n       R.prorettype::int as ret_type_id,\n       R.proretset as ret_set,\n       R.prokind as kind,\n       R.provolatile as volatile_kind,\n       R.proisstrict as is_strict,\n       R.prosecdef as is_security_definer,\n       R.proconfig as configuration_parameters,\n       R.procost as cost,\n       pg_catalog.pg_get_userbyid(R.proowner) as "owner",\n       R.prorows as rows,\n       R.proleakproof as is_leakproof,\n       R.proparallel as concurrency_kind\nfrom pg_catalog.pg_proc R\nwhere R.pronamespace = 2200::oid\n  and not (R.prokind = \'a\')\norder by routine_id',
  );
  sql(
    'DataGrip: sequences',
    'select cls.xmin as sequence_state_number,\n       sq.seqrelid as sequence_id,\n       cls.relname as sequence_name,\n       pg_catalog.format_type(sq.seqtypid, null) as data_type,\n       sq.seqstart as start_value,\n       sq.seqincrement as inc_value,\n       sq.seqmin as min_value,\n       sq.seqmax as max_value,\n       sq.seqcache as cache_size,\n       sq.seqcycle as cycle_option,\n       pg_catalog.pg_get_userbyid(cls.relowner) as "owner"\nfrom pg_catalog.pg_sequence sq\n    join pg_catalog.pg_class cls on sq.seqrelid = cls.oid\n    where cls.relnamespace = 2200::oid\norder by sequence_id',
  );
  sql(
    'DataGrip: view sources',
    "select T.relname as view_name, pg_catalog.pg_get_viewdef(T.oid) as source_text\nfrom pg_catalog.pg_class T\nwhere T.relnamespace = 2200::oid and T.relkind in ('m','v')\norder by 1",
  );
  sql(
    'DataGrip: comments',
    "select D.objoid id, pg_catalog.pg_get_userbyid(C.relowner) owner, D.objsubid sub_id, D.description\nfrom pg_catalog.pg_description D\n  join pg_catalog.pg_class C on D.objoid = C.oid\nwhere C.relnamespace = 2200::oid and D.classoid = 'pg_catalog.pg_class'::regclass\norder by id, sub_id",
  );
  sql('DataGrip: SHOW TRANSACTION ISOLATION LEVEL', 'SHOW TRANSACTION ISOLATION LEVEL');
});

group('pgAdmin', () => {
  sql(
    'pgAdmin: database properties',
    "SELECT db.oid as did, db.datname, db.datallowconn,\n    pg_catalog.pg_encoding_to_char(db.encoding) AS serverencoding,\n    pg_catalog.has_database_privilege(db.oid, 'CREATE') as cancreate,\n    datistemplate\nFROM pg_catalog.pg_database db\nWHERE db.datname = pg_catalog.current_database()",
  );
  sql(
    'pgAdmin: role capabilities',
    "SELECT\n    roles.oid as id, roles.rolname as name,\n    roles.rolsuper as is_superuser,\n    CASE WHEN roles.rolsuper THEN true ELSE roles.rolcreaterole END as\n    can_create_role,\n    CASE WHEN roles.rolsuper THEN true\n    ELSE roles.rolcreatedb END as can_create_db,\n    CASE WHEN 'pg_signal_backend'=ANY(ARRAY(WITH RECURSIVE cte AS (\n    SELECT pg_roles.oid,pg_roles.rolname FROM pg_roles\n        WHERE pg_roles.oid = roles.oid\n    UNION ALL\n    SELECT m.roleid,pgr.rolname FROM cte cte_1\n        JOIN pg_auth_members m ON m.member = cte_1.oid\n        JOIN pg_roles pgr ON pgr.oid = m.roleid)\n    SELECT rolname  FROM cte)) THEN True\n    ELSE False END as can_signal_backend\nFROM\n    pg_catalog.pg_roles as roles\nWHERE\n    rolname = current_user",
  );
  sql(
    'pgAdmin: recovery state',
    'SELECT CASE WHEN usesuper\n       THEN pg_catalog.pg_is_in_recovery()\n       ELSE NULL\n       END as inrecovery,\n       CASE WHEN usesuper AND pg_catalog.pg_is_in_recovery()\n       THEN pg_is_wal_replay_paused()\n       ELSE NULL\n       END as isreplaypaused\nFROM pg_catalog.pg_user WHERE usename=current_user',
  );
  sql(
    'pgAdmin: schemas',
    "SELECT\n    nsp.oid,\n    nsp.nspname as name,\n    pg_catalog.has_schema_privilege(nsp.oid, 'CREATE') as can_create,\n    pg_catalog.has_schema_privilege(nsp.oid, 'USAGE') as has_usage,\n    des.description\nFROM\n    pg_catalog.pg_namespace nsp\n    LEFT OUTER JOIN pg_catalog.pg_description des ON\n        (des.objoid=nsp.oid AND des.classoid='pg_namespace'::regclass)\nWHERE\n    nspname NOT LIKE E'pg\\\\_%' AND\n    NOT (\n(nsp.nspname = 'pg_catalog' AND EXISTS\n        (SELECT 1 FROM pg_catalog.pg_class WHERE relname = 'pg_class' AND\n            relnamespace = nsp.oid LIMIT 1)) OR\n    (nsp.nspname = 'pgagent' AND EXISTS\n        (SELECT 1 FROM pg_catalog.pg_class WHERE relname = 'pga_job' AND\n            relnamespace = nsp.oid LIMIT 1)) OR\n    (nsp.nspname = 'information_schema' AND EXISTS\n        (SELECT 1 FROM pg_catalog.pg_class WHERE relname = 'tables' AND\n            relnamespace = nsp.oid LIMIT 1))\n    )\nORDER BY nspname",
  );
  param(
    'pgAdmin: tables of a schema',
    "SELECT rel.oid, rel.relname AS name,\n    (SELECT count(*) FROM pg_catalog.pg_trigger WHERE tgrelid=rel.oid AND tgisinternal = FALSE) AS triggercount,\n    (SELECT count(*) FROM pg_catalog.pg_trigger WHERE tgrelid=rel.oid AND tgisinternal = FALSE AND tgenabled = 'O') AS has_enable_triggers,\n    (CASE WHEN rel.relkind = 'p' THEN true ELSE false END) AS is_partitioned,\n    (SELECT count(1) FROM pg_catalog.pg_inherits WHERE inhrelid=rel.oid LIMIT 1) as is_inherits,\n    (SELECT count(1) FROM pg_catalog.pg_inherits WHERE inhparent=rel.oid LIMIT 1) as is_inherited,\n    des.description\nFROM pg_catalog.pg_class rel\n    LEFT OUTER JOIN pg_catalog.pg_description des ON (des.objoid=rel.oid AND des.objsubid=0 AND des.classoid='pg_class'::regclass)\n    WHERE rel.relkind IN ('r','s','t','p') AND rel.relnamespace = $1::oid\n    AND NOT rel.relispartition\n    ORDER BY rel.relname;",
    [2200],
  );
  sql(
    'pgAdmin: columns with types',
    "SELECT att.attname as name, att.atttypid, att.attlen, att.attnum, att.attndims,\n    att.atttypmod, att.attnotnull, att.attstorage, att.attidentity,\n    pg_catalog.format_type(ty.oid,NULL) AS typname,\n    pg_catalog.format_type(ty.oid,att.atttypmod) AS displaytypname,\n    pg_catalog.pg_get_expr(def.adbin, def.adrelid) AS defval,\n    des.description\nFROM pg_catalog.pg_attribute att\n  JOIN pg_catalog.pg_type ty ON ty.oid=atttypid\n  LEFT OUTER JOIN pg_catalog.pg_attrdef def ON adrelid=att.attrelid AND adnum=att.attnum\n  LEFT OUTER JOIN pg_catalog.pg_description des ON (des.objoid=att.attrelid AND des.objsubid=att.attnum AND des.classoid='pg_class'::regclass)\nWHERE att.attrelid = 'public.products'::regclass\n  AND att.attnum > 0 AND att.attisdropped IS FALSE\nORDER BY att.attnum",
  );
  sql(
    'pgAdmin: track settings',
    "SELECT name, setting FROM pg_catalog.pg_settings WHERE name IN ('track_activities', 'track_counts', 'track_io_timing') ORDER BY name",
  );
  sql(
    'pgAdmin: server activity, static columns',
    "SELECT datname, usename, backend_type FROM pg_catalog.pg_stat_activity WHERE backend_type NOT IN ('client backend', 'autovacuum worker', 'parallel worker') ORDER BY backend_type, datname NULLS FIRST",
  );
  sql(
    'pgAdmin: locks held on user tables',
    'SELECT l.locktype, l.mode FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_class c ON c.oid = l.relation WHERE c.relnamespace = 2200 ORDER BY 1, 2',
  );
  sql(
    'pgAdmin: prepared transactions',
    'SELECT gid, database, owner FROM pg_catalog.pg_prepared_xacts ORDER BY gid',
  );
  sql(
    'pgAdmin: foreign keys',
    "SELECT ct.conname as name, ct.confupdtype, ct.confdeltype, ct.conkey, ct.confkey, cl.relname as refrelname, nl.nspname as refnsp FROM pg_catalog.pg_constraint ct JOIN pg_catalog.pg_class cl ON cl.oid = ct.confrelid JOIN pg_catalog.pg_namespace nl ON nl.oid = cl.relnamespace WHERE ct.contype = 'f' AND ct.conrelid = 'public.order_items'::regclass ORDER BY ct.conname",
  );
  sql(
    'pgAdmin: check constraints',
    "SELECT c.conname as name, pg_catalog.pg_get_constraintdef(c.oid, true) as consrc, c.convalidated FROM pg_catalog.pg_constraint c WHERE c.contype = 'c' AND c.conrelid = 'public.products'::regclass ORDER BY 1",
  );
  sql(
    'pgAdmin: index definitions',
    "SELECT cls.relname as name, pg_catalog.pg_get_indexdef(idx.indexrelid) AS definition, idx.indisunique, idx.indisprimary FROM pg_catalog.pg_index idx JOIN pg_catalog.pg_class cls ON cls.oid = idx.indexrelid WHERE idx.indrelid = 'public.customers'::regclass ORDER BY cls.relname",
  );
  sql(
    'pgAdmin: dependents',
    "SELECT DISTINCT dep.deptype, dep.classid::regclass::text AS classid, cl.relname AS ownertable FROM pg_catalog.pg_depend dep LEFT JOIN pg_catalog.pg_class cl ON dep.objid = cl.oid WHERE dep.refobjid = 'public.customers'::regclass ORDER BY 1, 2, 3 NULLS FIRST",
  );
});

group('catalog and information_schema', () => {
  sql(
    'information_schema.schemata',
    'SELECT catalog_name, schema_name, schema_owner FROM information_schema.schemata ORDER BY schema_name',
  );
  sql(
    'information_schema.tables',
    "SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY table_schema, table_name",
  );
  sql(
    'information_schema.columns',
    "SELECT table_name, column_name, ordinal_position, column_default, is_nullable, data_type, character_maximum_length, numeric_precision, numeric_scale, udt_name FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
  );
  param(
    'information_schema.columns of one table',
    'SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
    ['public', 'orders'],
  );
  sql(
    'information_schema.table_constraints',
    "SELECT constraint_name, table_name, constraint_type, is_deferrable FROM information_schema.table_constraints WHERE table_schema = 'public' ORDER BY table_name, constraint_name",
  );
  sql(
    'information_schema.key_column_usage',
    "SELECT constraint_name, table_name, column_name, ordinal_position, position_in_unique_constraint FROM information_schema.key_column_usage WHERE table_schema = 'public' ORDER BY constraint_name, ordinal_position",
  );
  sql(
    'information_schema.referential_constraints',
    "SELECT constraint_name, unique_constraint_name, match_option, update_rule, delete_rule FROM information_schema.referential_constraints WHERE constraint_schema = 'public' ORDER BY constraint_name",
  );
  sql(
    'information_schema.constraint_column_usage',
    "SELECT table_name, column_name, constraint_name FROM information_schema.constraint_column_usage WHERE table_schema = 'public' ORDER BY constraint_name, column_name",
  );
  sql(
    'information_schema foreign keys (Rails/Django style join)',
    "SELECT tc.table_name, kcu.column_name, ccu.table_name AS foreign_table_name, ccu.column_name AS foreign_column_name FROM information_schema.table_constraints AS tc JOIN information_schema.key_column_usage AS kcu ON tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema JOIN information_schema.constraint_column_usage AS ccu ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = 'public' ORDER BY 1, 2",
  );
  sql(
    'information_schema.check_constraints',
    "SELECT constraint_name, check_clause FROM information_schema.check_constraints WHERE constraint_schema = 'public' AND constraint_name NOT LIKE '%not_null%' ORDER BY constraint_name",
  );
  sql(
    'information_schema.routines',
    "SELECT routine_name, routine_type, data_type, routine_definition, external_language, is_deterministic FROM information_schema.routines WHERE routine_schema = 'public' ORDER BY routine_name",
  );
  sql(
    'information_schema.parameters',
    "SELECT specific_name, ordinal_position, parameter_mode, parameter_name, data_type FROM information_schema.parameters WHERE specific_schema = 'public' ORDER BY specific_name, ordinal_position",
  );
  sql(
    'information_schema.views',
    "SELECT table_name, view_definition, is_updatable FROM information_schema.views WHERE table_schema = 'public' ORDER BY table_name",
  );
  sql(
    'information_schema.sequences',
    "SELECT sequence_name, data_type, start_value, minimum_value, maximum_value, increment, cycle_option FROM information_schema.sequences WHERE sequence_schema = 'public' ORDER BY sequence_name",
  );
  sql(
    'information_schema.element_types',
    "SELECT object_name, collection_type_identifier, data_type FROM information_schema.element_types WHERE object_schema = 'public' ORDER BY 1, 2",
  );
  sql(
    'information_schema.triggers',
    "SELECT trigger_name, event_manipulation, event_object_table FROM information_schema.triggers WHERE trigger_schema = 'public' ORDER BY 1",
  );
  sql(
    'information_schema.table_privileges',
    "SELECT grantee, table_name, privilege_type, is_grantable FROM information_schema.table_privileges WHERE table_schema = 'public' ORDER BY table_name, grantee, privilege_type",
  );
  sql(
    'information_schema.role_table_grants',
    "SELECT grantor, grantee, table_name, privilege_type FROM information_schema.role_table_grants WHERE table_schema = 'public' ORDER BY table_name, privilege_type",
  );
  sql(
    'information_schema.applicable_roles',
    'SELECT grantee, role_name, is_grantable FROM information_schema.applicable_roles ORDER BY 1, 2',
  );
  sql(
    'information_schema.enabled_roles',
    'SELECT role_name FROM information_schema.enabled_roles ORDER BY 1',
  );
  sql(
    'information_schema.character_sets',
    'SELECT character_set_name, character_repertoire, form_of_use FROM information_schema.character_sets',
  );
  sql(
    'information_schema.domains',
    "SELECT domain_name, data_type FROM information_schema.domains WHERE domain_schema = 'public' ORDER BY 1",
  );
  sql(
    'information_schema.usage_privileges',
    "SELECT object_type, object_name, privilege_type FROM information_schema.usage_privileges WHERE object_schema = 'public' ORDER BY 1, 2, 3",
  );
  sql(
    'information_schema.column_udt_usage',
    "SELECT udt_name, table_name, column_name FROM information_schema.column_udt_usage WHERE table_schema = 'public' ORDER BY 2, 3",
  );
  sql(
    'information_schema.sql_features sample',
    "SELECT feature_id, feature_name, is_supported FROM information_schema.sql_features WHERE feature_id LIKE 'E0%' ORDER BY feature_id, sub_feature_id",
  );
  sql(
    'information_schema.information_schema_catalog_name',
    'SELECT catalog_name FROM information_schema.information_schema_catalog_name',
  );
  sql(
    'pg_database',
    'SELECT datname, datallowconn, datistemplate, datconnlimit, pg_encoding_to_char(encoding) AS encoding FROM pg_database ORDER BY datname',
  );
  sql(
    'pg_roles',
    'SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolconnlimit, rolbypassrls FROM pg_roles ORDER BY rolname',
  );
  sql('pg_user', 'SELECT usename, usesuper, usecreatedb FROM pg_user ORDER BY usename');
  sql('pg_am', 'SELECT amname, amtype FROM pg_am ORDER BY amname');
  sql(
    'pg_collation',
    "SELECT collname, collprovider, collencoding FROM pg_collation WHERE collnamespace = 'pg_catalog'::regnamespace AND collname IN ('C', 'POSIX', 'default', 'ucs_basic', 'unicode', 'pg_c_utf8') ORDER BY collname",
  );
  sql('pg_extension', 'SELECT extname, extversion, extrelocatable FROM pg_extension ORDER BY extname');
  sql(
    'pg_available_extensions',
    "SELECT name, default_version FROM pg_available_extensions WHERE name IN ('plpgsql', 'pg_stat_statements', 'pgcrypto') ORDER BY name",
  );
  sql('pg_settings names', 'SELECT name FROM pg_settings ORDER BY name');
  sql(
    'pg_settings postmaster context',
    "SELECT name, setting, unit, vartype FROM pg_settings WHERE context = 'postmaster' ORDER BY name",
  );
  sql(
    'pg_tables',
    "SELECT schemaname, tablename, tableowner, hasindexes, hasrules, hastriggers FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
  );
  sql('pg_views', "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public' ORDER BY viewname");
  sql(
    'pg_indexes',
    "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY tablename, indexname",
  );
  sql('pg_matviews', "SELECT matviewname FROM pg_matviews WHERE schemaname = 'public'");
  sql(
    'pg_sequences',
    'SELECT schemaname, sequencename, start_value, increment_by, last_value FROM pg_sequences ORDER BY 1, 2',
  );
  sql(
    'pg_type of the enum',
    "SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid WHERE t.typname = 'order_status' GROUP BY t.typname",
  );
  sql(
    'pg_proc of public',
    "SELECT proname, pg_get_function_identity_arguments(oid) AS args, prorettype::regtype::text AS returns, provolatile FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1",
  );
  sql(
    'pg_description via obj_description',
    "SELECT obj_description('public.customers'::regclass, 'pg_class') AS table_comment, col_description('public.customers'::regclass, 2) AS column_comment",
  );
  sql('pg_namespace', 'SELECT nspname FROM pg_namespace ORDER BY nspname');
  sql('pg_tablespace', 'SELECT spcname FROM pg_tablespace ORDER BY spcname');
  sql(
    'pg_constraint definitions',
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY conname",
  );
  sql('pg_get_viewdef', "SELECT pg_get_viewdef('public.customer_totals'::regclass, true)");
  sql('pg_get_indexdef', "SELECT pg_get_indexdef('public.orders_customer_idx'::regclass)");
  sql('pg_get_serial_sequence', "SELECT pg_get_serial_sequence('public.orders', 'id')");
  sql(
    'has_table_privilege',
    "SELECT has_table_privilege('public.orders', 'SELECT'), has_schema_privilege('public', 'USAGE'), has_database_privilege(current_database(), 'CONNECT')",
  );
  sql(
    'pg_relation_size',
    "SELECT pg_relation_size('public.pgbench_accounts'), pg_total_relation_size('public.pgbench_accounts'), pg_size_pretty(pg_table_size('public.pgbench_accounts'))",
  );
  sql('pg_database_size normalised', 'SELECT pg_database_size(current_database()) > 0 AS has_size');
  sql(
    'pg_encoding_to_char',
    'SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()',
  );
  sql('format_type', "SELECT format_type('numeric'::regtype, 655366), format_type('varchar'::regtype, 104)");
  sql(
    'regclass casts',
    "SELECT 'orders'::regclass::oid > 0, 'public.customers'::regclass::text, 'int4'::regtype::text",
  );
  sql(
    'pg_stat_user_tables, static columns',
    "SELECT relname, schemaname FROM pg_stat_user_tables WHERE schemaname = 'public' ORDER BY relname",
  );
  sql(
    'pg_statio_user_indexes, static columns',
    "SELECT indexrelname, relname FROM pg_statio_user_indexes WHERE schemaname = 'public' ORDER BY indexrelname",
  );
  sql(
    'pg_stat_database, static columns',
    'SELECT datname FROM pg_stat_database WHERE datname IS NOT NULL ORDER BY datname',
  );
  sql(
    'pg_stat_activity of other backends, static columns',
    "SELECT backend_type, count(*) FROM pg_stat_activity WHERE backend_type NOT IN ('client backend', 'autovacuum worker', 'parallel worker') GROUP BY backend_type ORDER BY backend_type",
  );
  sql('pg_replication_slots', 'SELECT slot_name, slot_type FROM pg_replication_slots ORDER BY slot_name');
  sql('pg_publication', 'SELECT pubname FROM pg_publication ORDER BY pubname');
  sql(
    'pg_timezone_names sample',
    "SELECT name, is_dst FROM pg_timezone_names WHERE name IN ('UTC', 'Etc/UTC') ORDER BY name",
  );
  sql('pg_timezone_abbrevs count', 'SELECT count(*) > 0 FROM pg_timezone_abbrevs');
  sql('pg_config-free version', "SELECT current_setting('server_version_num')::int >= 180000 AS is_18");
  sql('pg_catalog.pg_inherits', 'SELECT inhrelid::regclass, inhparent::regclass FROM pg_inherits ORDER BY 1');
  sql(
    'pg_catalog.pg_depend of a sequence',
    "SELECT refobjid::regclass::text, refobjsubid FROM pg_depend WHERE objid = 'public.orders_id_seq'::regclass AND deptype = 'a'",
  );
  sql(
    'pg_attribute with format_type',
    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public.order_items'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
  );
  sql(
    'pg_operator sample',
    "SELECT oprname, oprleft::regtype::text, oprright::regtype::text FROM pg_operator WHERE oprname = '@>' ORDER BY 2, 3",
  );
  sql(
    'pg_cast sample',
    "SELECT castsource::regtype::text, casttarget::regtype::text, castcontext FROM pg_cast WHERE castsource = 'int4'::regtype ORDER BY 2",
  );
  sql(
    'pg_rules and pg_policies',
    "SELECT (SELECT count(*) FROM pg_rules WHERE schemaname = 'public') AS rules, (SELECT count(*) FROM pg_policies) AS policies",
  );
  sql('pg_event_trigger', 'SELECT evtname FROM pg_event_trigger ORDER BY 1');
  sql('pg_foreign_data_wrapper', 'SELECT fdwname FROM pg_foreign_data_wrapper ORDER BY 1');
});

group('pgbench', () => {
  sql('pgbench -S, simple protocol', 'SELECT abalance FROM pgbench_accounts WHERE aid = 42;');
  param('pgbench -S -M extended', 'SELECT abalance FROM pgbench_accounts WHERE aid = $1;', [42]);
  param(
    'pgbench -S -M extended, another account',
    'SELECT abalance FROM pgbench_accounts WHERE aid = $1;',
    [317],
  );
  sql('pgbench: scale detection', 'select count(*) from pgbench_accounts');
  sql(
    'pgbench: partition detection',
    "select o.n, p.partstrat, pg_catalog.count(i.inhparent) from pg_catalog.pg_class as c join pg_catalog.pg_namespace as n on (n.oid = c.relnamespace) cross join lateral (select pg_catalog.array_position(pg_catalog.current_schemas(true), n.nspname)) as o(n) left join pg_catalog.pg_partitioned_table as p on (p.partrelid = c.oid) left join pg_catalog.pg_inherits as i on (c.oid = i.inhparent) where c.relname = 'pgbench_accounts' and o.n is not null group by 1, 2 order by 1 asc limit 1",
  );
});

group('application queries', () => {
  sql('select all from a small table', 'SELECT * FROM products ORDER BY id');
  param('lookup by primary key', 'SELECT id, email, name FROM customers WHERE id = $1', [7]);
  param('lookup by unique email', 'SELECT id, name FROM customers WHERE email = $1', ['user3@example.com']);
  param(
    'IN list with parameters',
    'SELECT id, sku FROM products WHERE id IN ($1, $2, $3) ORDER BY id',
    [1, 5, 9],
  );
  param('ANY of an array parameter', 'SELECT id, sku FROM products WHERE id = ANY($1::int[]) ORDER BY id', [
    [2, 4, 6],
  ]);
  param('LIMIT/OFFSET pagination', 'SELECT id, name FROM customers ORDER BY id LIMIT $1 OFFSET $2', [5, 10]);
  sql('LIMIT/OFFSET literal', 'SELECT id, name FROM customers ORDER BY id LIMIT 5 OFFSET 5');
  sql('FETCH FIRST', 'SELECT id FROM orders ORDER BY id FETCH FIRST 3 ROWS ONLY');
  sql(
    'join with aggregate',
    'SELECT c.name, count(o.id) AS orders, sum(o.total) AS spent FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.name ORDER BY spent DESC, c.name',
  );
  sql(
    'left join with null check',
    'SELECT c.id FROM customers c LEFT JOIN orders o ON o.customer_id = c.id WHERE o.id IS NULL ORDER BY c.id',
  );
  sql(
    'three-way join',
    'SELECT o.id, p.sku, i.quantity FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id WHERE o.id <= 5 ORDER BY o.id, p.sku',
  );
  sql(
    'CTE',
    "WITH paid AS (SELECT * FROM orders WHERE status = 'paid') SELECT customer_id, count(*) FROM paid GROUP BY customer_id ORDER BY customer_id",
  );
  sql(
    'recursive CTE',
    'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) SELECT sum(i) FROM n',
  );
  sql(
    'window functions',
    'SELECT id, customer_id, total, rank() OVER (PARTITION BY customer_id ORDER BY total DESC NULLS LAST, id) AS r, sum(total) OVER (PARTITION BY customer_id) AS customer_total FROM orders ORDER BY customer_id, r',
  );
  sql(
    'row_number pagination',
    'SELECT * FROM (SELECT id, name, row_number() OVER (ORDER BY id) AS rn FROM customers) t WHERE rn BETWEEN 3 AND 6',
  );
  sql(
    'lag and lead',
    'SELECT id, ordered_at, lag(id) OVER w AS prev, lead(id) OVER w AS next FROM orders WINDOW w AS (ORDER BY ordered_at) ORDER BY id LIMIT 10',
  );
  sql(
    'json operators',
    "SELECT id, profile->>'plan' AS plan, (profile->'age')::int AS age FROM customers WHERE profile @> '{\"plan\": \"pro\"}' ORDER BY id",
  );
  sql('jsonb path', "SELECT id, jsonb_path_query_first(attributes, '$.color') FROM products ORDER BY id");
  sql(
    'jsonb build and aggregate',
    "SELECT jsonb_build_object('id', id, 'sku', sku) FROM products WHERE id < 4 ORDER BY id",
  );
  sql(
    'json_agg of rows',
    'SELECT json_agg(t ORDER BY t.id) FROM (SELECT id, sku, price FROM products WHERE id <= 3) t',
  );
  sql('row_to_json', 'SELECT row_to_json(c) FROM (SELECT id, name FROM customers WHERE id = 1) c');
  sql('jsonb_each', 'SELECT key, value FROM products, jsonb_each(attributes) WHERE id = 2 ORDER BY key');
  sql(
    'JSON_TABLE',
    "SELECT jt.* FROM products, JSON_TABLE(attributes, '$' COLUMNS (color text PATH '$.color', weight int PATH '$.weight')) AS jt WHERE id <= 3 ORDER BY jt.weight",
  );
  sql(
    'LATERAL top-N per group',
    'SELECT c.id, o.id AS last_order FROM customers c CROSS JOIN LATERAL (SELECT id FROM orders WHERE customer_id = c.id ORDER BY ordered_at DESC LIMIT 1) o ORDER BY c.id',
  );
  sql(
    'DISTINCT ON',
    'SELECT DISTINCT ON (customer_id) customer_id, id, ordered_at FROM orders ORDER BY customer_id, ordered_at DESC',
  );
  sql(
    'GROUP BY ROLLUP',
    'SELECT category, status, count(*) FROM products p JOIN order_items i ON i.product_id = p.id JOIN orders o ON o.id = i.order_id GROUP BY ROLLUP (category, status) ORDER BY category NULLS LAST, status NULLS LAST',
  );
  sql(
    'GROUPING SETS',
    'SELECT country, count(*) FROM customers GROUP BY GROUPING SETS ((country), ()) ORDER BY country NULLS LAST',
  );
  sql(
    'CUBE with GROUPING()',
    'SELECT country, GROUPING(country) AS g, count(*) FROM customers GROUP BY CUBE (country) ORDER BY g, country NULLS LAST',
  );
  sql(
    'arrays',
    "SELECT id, tags, array_length(tags, 1), 'vip' = ANY(tags) AS vip FROM customers ORDER BY id LIMIT 6",
  );
  sql('array containment', "SELECT count(*) FROM customers WHERE tags @> ARRAY['newsletter']");
  sql('unnest with ordinality', "SELECT * FROM unnest(ARRAY['a', 'b', 'c']) WITH ORDINALITY AS t(letter, n)");
  sql(
    'array_agg',
    'SELECT customer_id, array_agg(id ORDER BY id) FROM orders GROUP BY customer_id ORDER BY customer_id LIMIT 5',
  );
  sql('ILIKE', "SELECT id, title FROM products WHERE title ILIKE '%product 1%' ORDER BY id");
  param('ILIKE with a parameter', 'SELECT id, name FROM customers WHERE name ILIKE $1 ORDER BY id', [
    '%customer 1%',
  ]);
  sql('ORDER BY NULLS LAST', 'SELECT id, category FROM products ORDER BY category NULLS LAST, id');
  sql('ORDER BY NULLS FIRST DESC', 'SELECT id, country FROM customers ORDER BY country DESC NULLS FIRST, id');
  sql(
    'CASE expression',
    "SELECT id, CASE WHEN price > 20 THEN 'expensive' WHEN price > 10 THEN 'fair' ELSE 'cheap' END FROM products ORDER BY id",
  );
  sql(
    'COALESCE and NULLIF',
    "SELECT id, coalesce(category, 'none'), nullif(category, 'books') FROM products ORDER BY id",
  );
  sql(
    'EXISTS subquery',
    'SELECT id FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.total > 50) ORDER BY id',
  );
  sql(
    'NOT IN subquery',
    'SELECT id FROM products WHERE id NOT IN (SELECT product_id FROM order_items) ORDER BY id',
  );
  sql(
    'scalar subquery in select',
    'SELECT id, (SELECT count(*) FROM orders o WHERE o.customer_id = c.id) AS n FROM customers c ORDER BY id LIMIT 5',
  );
  sql(
    'UNION ALL',
    "SELECT 'customer' AS kind, name FROM customers WHERE id < 3 UNION ALL SELECT 'product', title FROM products WHERE id < 3 ORDER BY 1, 2",
  );
  sql(
    'INTERSECT and EXCEPT',
    'SELECT customer_id FROM orders INTERSECT SELECT id FROM customers EXCEPT SELECT 1 ORDER BY 1',
  );
  sql(
    'HAVING',
    'SELECT customer_id, count(*) FROM orders GROUP BY customer_id HAVING count(*) > 2 ORDER BY customer_id',
  );
  sql(
    'FILTER clause',
    "SELECT count(*) FILTER (WHERE status = 'paid') AS paid, count(*) FILTER (WHERE status = 'cancelled') AS cancelled FROM orders",
  );
  sql('percentile_cont', 'SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY total) FROM orders');
  sql(
    'string functions',
    "SELECT upper(name), lower(email), length(name), substr(email, 1, 5), split_part(email, '@', 2), concat_ws('-', id, country) FROM customers ORDER BY id LIMIT 5",
  );
  sql(
    'regexp functions',
    "SELECT regexp_replace(sku, '\\d+', '#'), regexp_match(email, '^(\\w+)@') FROM products, customers WHERE products.id = 1 AND customers.id = 1",
  );
  sql(
    'date functions on stored values',
    "SELECT id, date_trunc('day', ordered_at AT TIME ZONE 'UTC'), extract(dow FROM ordered_at AT TIME ZONE 'UTC'), to_char(ordered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM orders ORDER BY id LIMIT 5",
  );
  sql(
    'interval arithmetic',
    "SELECT id FROM orders WHERE ordered_at > timestamptz '2024-03-05 00:00:00+00' - interval '2 days' ORDER BY id LIMIT 5",
  );
  sql(
    'generate_series of dates',
    "SELECT d::date FROM generate_series(date '2024-01-01', date '2024-01-07', interval '1 day') d",
  );
  sql('numeric rounding', 'SELECT round(avg(price), 2), max(price), min(price), sum(price) FROM products');
  sql('casts', "SELECT '42'::int + 1, 3.7::int, '2024-02-29'::date + 1, 'true'::boolean, '{1,2,3}'::int[]");
  sql('enum comparison', "SELECT count(*) FROM orders WHERE status > 'paid'");
  param('enum parameter', 'SELECT count(*) FROM orders WHERE status = $1', ['shipped']);
  param('timestamp parameter', 'SELECT count(*) FROM orders WHERE ordered_at >= $1', [
    '2024-03-05T00:00:00Z',
  ]);
  param('numeric parameter', 'SELECT id FROM products WHERE price BETWEEN $1 AND $2 ORDER BY id', [
    '5.00',
    '15.00',
  ]);
  param('jsonb parameter', 'SELECT id FROM customers WHERE profile @> $1::jsonb ORDER BY id', [
    '{"plan":"free"}',
  ]);
  param('null parameter', 'SELECT id FROM products WHERE category IS NOT DISTINCT FROM $1 ORDER BY id', [
    null,
  ]);
  param('boolean parameter', 'SELECT count(*) FROM customers WHERE (country IS NULL) = $1', [true]);
  param('text array parameter', 'SELECT id FROM customers WHERE tags && $1::text[] ORDER BY id', [['vip']]);
  sql('view', 'SELECT * FROM customer_totals ORDER BY id');
  sql(
    'view with filter',
    'SELECT name, spent FROM customer_totals WHERE orders > 2 ORDER BY spent DESC, name',
  );
  sql('currval-free sequence read', 'SELECT last_value FROM invoice_seq');
  sql(
    'count estimate and exact count',
    "SELECT (SELECT reltuples FROM pg_class WHERE oid = 'orders'::regclass) AS estimate, (SELECT count(*) FROM orders) AS exact",
  );
  sql(
    'Hibernate-style aliases',
    "select customer0_.id as id1_0_, customer0_.email as email2_0_, customer0_.name as name3_0_ from customers customer0_ where customer0_.country='DE' order by customer0_.id",
  );
  param(
    'Sequelize-style quoting',
    'SELECT "id", "sku", "title" FROM "products" AS "Product" WHERE "Product"."category" = $1 ORDER BY "Product"."id" LIMIT 10;',
    ['books'],
  );
  param(
    'Prisma-style query',
    'SELECT "public"."orders"."id", "public"."orders"."status"::text FROM "public"."orders" WHERE "public"."orders"."customer_id" = $1 ORDER BY "public"."orders"."id" ASC LIMIT $2 OFFSET $3',
    [3, 10, 0],
  );
  param(
    'ActiveRecord-style',
    'SELECT "customers".* FROM "customers" WHERE "customers"."id" = $1 LIMIT $2',
    [2, 1],
  );
  param(
    'Django-style',
    'SELECT "products"."id", "products"."sku", "products"."price" FROM "products" WHERE "products"."price" > $1 ORDER BY "products"."price" DESC',
    ['30'],
  );
  sql(
    'TypeORM-style',
    'SELECT "Order"."id" AS "Order_id", "Order"."total" AS "Order_total" FROM "orders" "Order" WHERE "Order"."id" IN (1, 2, 3) ORDER BY "Order"."id"',
  );
  param('knex-style count', 'select count(*) as "count" from "order_items" where "order_id" = $1', [4]);
  sql('VALUES list', "VALUES (1, 'one'), (2, 'two')");
  sql('TABLE command', 'TABLE products');
  sql('SELECT without FROM', "SELECT 1 AS one, 'two' AS two, 3.0 AS three");
  sql('multi-statement read', 'SELECT count(*) FROM customers; SELECT count(*) FROM orders');
  sql('empty result', 'SELECT * FROM customers WHERE false');
  sql(
    'tablesample repeatable',
    'SELECT count(*) >= 0 FROM pgbench_accounts TABLESAMPLE SYSTEM (50) REPEATABLE (7)',
  );
  sql('md5 and encode', "SELECT md5('portcullis'), encode(sha256('portcullis'::bytea), 'hex')");
  sql(
    'text search',
    "SELECT to_tsvector('english', 'The quick brown fox') @@ to_tsquery('english', 'fox & quick')",
  );
  sql('generate_subscripts', "SELECT generate_subscripts(ARRAY['a','b','c'], 1)");
  sql('EXPLAIN of a SELECT (no ANALYZE)', 'EXPLAIN (COSTS OFF) SELECT * FROM orders WHERE customer_id = 3');
  sql('EXPLAIN with format json', 'EXPLAIN (COSTS OFF, FORMAT JSON) SELECT count(*) FROM products');
  param('extended protocol EXPLAIN', 'EXPLAIN (COSTS OFF) SELECT * FROM customers WHERE id = $1', [1]);
  sql(
    'extended protocol without parameters: join',
    'SELECT c.id, count(*) FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id ORDER BY c.id',
    'extended',
  );
  sql(
    'extended protocol without parameters: catalog',
    "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY relname",
    'extended',
  );
  sql('extended protocol without parameters: SHOW', 'SHOW search_path', 'extended');
});

group('drivers', () => {
  sql('JDBC/HikariCP connection test', 'SELECT 1');
  sql('pgx/lib-pq ping', ';');
  sql(
    'Npgsql type loading',
    `SELECT ns.nspname, t.oid, t.typname, t.typtype, t.typnotnull, t.elemtypoid
FROM (
    SELECT typ.oid, typ.typnamespace, typ.typname, typ.typtype, typ.typrelid, typ.typnotnull, typ.relkind,
    elemtyp.oid AS elemtypoid, elemtyp.typname AS elemtypname, elemcls.relkind AS elemrelkind,
    CASE WHEN elemproc.proname='array_recv' THEN 'a' ELSE elemtyp.typtype END AS elemtyptype
    FROM (
        SELECT typ.oid, typnamespace, typname, typrelid, typnotnull, relkind, typelem AS elemoid,
            CASE WHEN proc.proname='array_recv' THEN 'a' ELSE typ.typtype END AS typtype,
            CASE
                WHEN proc.proname='array_recv' THEN typ.typelem
                WHEN typ.typtype='r' THEN rngsubtype
                WHEN typ.typtype='m' THEN (SELECT rngtypid FROM pg_range WHERE rngmultitypid = typ.oid)
                WHEN typ.typtype='d' THEN typ.typbasetype
            END AS elemtypoid
        FROM pg_type AS typ
        LEFT JOIN pg_class AS cls ON (cls.oid = typ.typrelid)
        LEFT JOIN pg_proc AS proc ON proc.oid = typ.typreceive
        LEFT JOIN pg_range ON (pg_range.rngtypid = typ.oid)
    ) AS typ
    LEFT JOIN pg_type AS elemtyp ON elemtyp.oid = elemtypoid
    LEFT JOIN pg_class AS elemcls ON (elemcls.oid = elemtyp.typrelid)
    LEFT JOIN pg_proc AS elemproc ON elemproc.oid = elemtyp.typreceive
) AS t
JOIN pg_namespace AS ns ON (ns.oid = typnamespace)
WHERE
    typtype IN ('b', 'r', 'm', 'e', 'd') OR
    (typtype = 'c' AND relkind='c') OR
    (typtype = 'p' AND typname IN ('record', 'void', 'unknown')) OR
    (typtype = 'a' AND (
        elemtyptype IN ('b', 'r', 'm', 'e', 'd') OR
        (elemtyptype = 'p' AND elemtypname IN ('record', 'void')) OR
        (elemtyptype = 'c' AND elemrelkind='c')
    ))
ORDER BY CASE
       WHEN typtype IN ('b', 'e', 'p') THEN 0
       WHEN typtype = 'r' THEN 1
       WHEN typtype = 'm' THEN 2
       WHEN typtype = 'c' THEN 3
       WHEN typtype = 'd' AND elemtyptype <> 'a' THEN 4
       WHEN typtype = 'a' THEN 5
       WHEN typtype = 'd' AND elemtyptype = 'a' THEN 6
END, t.oid`,
  );
  param(
    'psycopg TypeInfo.fetch',
    'SELECT typname AS name, oid, typarray AS array_oid, oid::regtype::text AS regtype, typdelim AS delimiter FROM pg_type t WHERE t.oid = to_regtype($1) ORDER BY t.oid',
    ['order_status'],
  );
  param(
    'psycopg EnumInfo',
    'SELECT name, oid, array_oid, array_agg(label) AS labels FROM (SELECT t.typname AS name, t.oid AS oid, t.typarray AS array_oid, e.enumlabel AS label FROM pg_type t LEFT JOIN  pg_enum e ON e.enumtypid = t.oid WHERE t.oid = to_regtype($1) ORDER BY e.enumsortorder) x GROUP BY name, oid, array_oid',
    ['order_status'],
  );
  sql(
    'psycopg hstore probe',
    "SELECT t.oid, typarray FROM pg_type t JOIN pg_namespace ns ON typnamespace = ns.oid WHERE typname = 'hstore'",
  );
  sql(
    'asyncpg-style type introspection',
    `SELECT t.oid, t.typname, t.typtype, t.typelem, t.typbasetype, ns.nspname, range_t.rngsubtype, t.typdelim FROM pg_catalog.pg_type AS t INNER JOIN pg_catalog.pg_namespace AS ns ON (ns.oid = t.typnamespace) LEFT JOIN pg_catalog.pg_range AS range_t ON (t.oid = range_t.rngtypid) WHERE t.oid = ANY('{1184,3802,1009,23}'::oid[]) ORDER BY t.oid`,
  );
  sql('node-postgres style NOW normalised', 'SELECT NOW() IS NOT NULL');
  sql('random normalised', 'SELECT random() < 2 AS ok, gen_random_uuid() IS NOT NULL AS uuid');
  sql('pg_sleep(0)', 'SELECT pg_sleep(0)');
  sql(
    'EXPLAIN ANALYZE of a SELECT (deterministic options)',
    'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF) SELECT count(*) FROM orders WHERE customer_id = 3',
  );
  copy('psql \\copy: COPY table TO STDOUT', 'COPY orders TO STDOUT');
  copy(
    'COPY (query) TO STDOUT as CSV with a header',
    'COPY (SELECT id, sku, price FROM products ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)',
  );
  copy(
    'pg_dump data: COPY with a column list',
    'COPY public.customers (id, email, name, country, created_at, tags, profile) TO stdout;',
  );
});

group('session', () => {
  sql('SELECT version()', 'SELECT version()');
  sql('SHOW server_version', 'SHOW server_version');
  sql('SHOW server_version_num', 'SHOW server_version_num');
  sql('SHOW server_encoding', 'SHOW server_encoding');
  sql('SHOW client_encoding', 'SHOW client_encoding');
  sql('SHOW standard_conforming_strings', 'SHOW standard_conforming_strings');
  sql('SHOW search_path', 'SHOW search_path');
  sql('SHOW TimeZone', 'SHOW TimeZone');
  sql('SHOW DateStyle', 'SHOW DateStyle');
  sql('SHOW max_connections', 'SHOW max_connections');
  sql('SHOW transaction_read_only', 'SHOW transaction_read_only');
  sql('SHOW is_superuser', 'SHOW is_superuser');
  sql('SHOW ALL', 'SHOW ALL');
  sql(
    'current_setting',
    "SELECT current_setting('max_identifier_length'), current_setting('integer_datetimes'), current_setting('lc_collate', true)",
  );
  sql(
    'current user and database',
    'SELECT current_user, session_user, current_database(), current_schema(), current_schemas(true)',
  );
  sql('now() normalised', 'SELECT now() IS NOT NULL AS has_now, now() <= clock_timestamp() AS ordered');
  sql('pg_postmaster_start_time normalised', 'SELECT pg_postmaster_start_time() < now() AS started');
  sql('inet_server_port', 'SELECT inet_server_port()');
  sql('pg_is_in_recovery', 'SELECT pg_is_in_recovery()');
  sql('txid_current_if_assigned', 'SELECT txid_current_if_assigned() IS NULL AS none_assigned');
  steps('SET statement_timeout, SHOW, RESET', [
    "SET statement_timeout = '5s'",
    'SHOW statement_timeout',
    'RESET statement_timeout',
  ]);
  steps('SET application_name', [
    "SET application_name = 'dbeaver'",
    "SELECT current_setting('application_name')",
    'RESET application_name',
  ]);
  steps('SET DateStyle', [
    'SET DateStyle = ISO, MDY',
    "SELECT to_char(date '2024-02-29', 'YYYY-MM-DD'), current_setting('DateStyle')",
    'RESET DateStyle',
  ]);
  steps('SET extra_float_digits', [
    'SET extra_float_digits = 3',
    'SELECT 0.1::float8::text',
    'RESET extra_float_digits',
  ]);
  steps('SET TIME ZONE', [
    "SET TIME ZONE 'UTC'",
    "SELECT timestamptz '2024-01-01 12:00:00+02'::text",
    'SET TIME ZONE DEFAULT',
  ]);
  steps('SET lock_timeout and idle timeout', [
    "SET lock_timeout = '3s'",
    "SET idle_in_transaction_session_timeout = '60s'",
    'SHOW lock_timeout',
    'RESET lock_timeout',
    'RESET idle_in_transaction_session_timeout',
  ]);
  steps('SET work_mem', ["SET work_mem = '8MB'", 'SHOW work_mem', 'RESET work_mem']);
  steps('SET intervalstyle and bytea_output', [
    "SET intervalstyle = 'iso_8601'",
    "SET bytea_output = 'hex'",
    "SELECT interval '1 day 2 hours'::text, 'ab'::bytea::text",
    'RESET intervalstyle',
    'RESET bytea_output',
  ]);
  steps('SET client_min_messages', [
    'SET client_min_messages = warning',
    'SHOW client_min_messages',
    'RESET client_min_messages',
  ]);
  steps('set_config of a harmless setting', [
    "SELECT set_config('application_name', 'psql', false)",
    "SELECT current_setting('application_name')",
    'RESET application_name',
  ]);
  steps('SET LOCAL inside a transaction', [
    'BEGIN',
    "SET LOCAL statement_timeout = '1s'",
    'SHOW statement_timeout',
    'COMMIT',
    'SHOW statement_timeout',
  ]);
  steps('SET default_transaction_isolation', [
    "SET default_transaction_isolation = 'repeatable read'",
    'SHOW default_transaction_isolation',
    'RESET default_transaction_isolation',
  ]);
  steps('SET SESSION CHARACTERISTICS (pgjdbc setReadOnly / setTransactionIsolation)', [
    'SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED',
    'SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY',
    'SHOW default_transaction_read_only',
    'RESET default_transaction_read_only',
    'RESET default_transaction_isolation',
  ]);
  steps('SET jit off', ['SET jit = off', 'SHOW jit', 'RESET jit']);
  steps('SET search_path to its default', ['SET search_path TO DEFAULT', 'SHOW search_path']);
  steps('RESET search_path', ['RESET search_path', 'SHOW search_path']);
  steps('LISTEN and UNLISTEN', ['LISTEN portcullis_benign', 'UNLISTEN portcullis_benign', 'UNLISTEN *']);
  sql('DISCARD ALL (what poolers send)', 'DISCARD ALL');
  steps('PREPARE, EXECUTE and DEALLOCATE of a SELECT', [
    'PREPARE benign_by_id (int) AS SELECT id, name FROM customers WHERE id = $1',
    'EXECUTE benign_by_id(3)',
    'DEALLOCATE benign_by_id',
  ]);
});

group('transactions and cursors', () => {
  steps('BEGIN; SELECT; COMMIT', ['BEGIN', 'SELECT count(*) FROM orders', 'COMMIT']);
  steps('BEGIN READ ONLY', [
    'BEGIN READ ONLY',
    'SELECT count(*) FROM customers',
    'SHOW transaction_read_only',
    'COMMIT',
  ]);
  steps('START TRANSACTION with isolation and deferrable', [
    'START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE',
    'SELECT sum(total) FROM orders',
    'COMMIT',
  ]);
  steps('SET TRANSACTION ISOLATION LEVEL', [
    'BEGIN',
    'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ',
    'SHOW transaction_isolation',
    'SELECT count(*) FROM products',
    'COMMIT',
  ]);
  steps('savepoints', [
    'BEGIN',
    'SAVEPOINT a',
    'SELECT 1',
    'SAVEPOINT b',
    'SELECT 2',
    'ROLLBACK TO SAVEPOINT b',
    'RELEASE SAVEPOINT a',
    'COMMIT',
  ]);
  steps('ROLLBACK', ['BEGIN', 'SELECT id FROM customers ORDER BY id LIMIT 1', 'ROLLBACK']);
  steps('END as COMMIT', ['BEGIN', 'SELECT 1', 'END']);
  steps('cursor: DECLARE, FETCH, CLOSE', [
    'BEGIN',
    'DECLARE c CURSOR FOR SELECT id, name FROM customers ORDER BY id',
    'FETCH 10 FROM c',
    'FETCH NEXT FROM c',
    'CLOSE c',
    'COMMIT',
  ]);
  steps('scroll cursor with MOVE', [
    'BEGIN',
    'DECLARE sc SCROLL CURSOR FOR SELECT id FROM orders ORDER BY id',
    'MOVE FORWARD 5 IN sc',
    'FETCH PRIOR FROM sc',
    'FETCH ABSOLUTE 1 FROM sc',
    'FETCH ALL FROM sc',
    'CLOSE sc',
    'COMMIT',
  ]);
  steps('cursor WITH HOLD', [
    'BEGIN',
    'DECLARE hc NO SCROLL CURSOR WITH HOLD FOR SELECT sku FROM products ORDER BY sku',
    'COMMIT',
    'FETCH 3 FROM hc',
    'CLOSE hc',
  ]);
  steps('binary cursor', [
    'BEGIN',
    'DECLARE bc BINARY CURSOR FOR SELECT id FROM products ORDER BY id',
    'FETCH 2 FROM bc',
    'CLOSE bc',
    'ROLLBACK',
  ]);
  steps('parameterized statements inside a transaction', [
    'BEGIN',
    { sql: 'SELECT id FROM orders WHERE customer_id = $1 ORDER BY id', values: [5] },
    { sql: 'SELECT sum(quantity) FROM order_items WHERE order_id = $1', values: [5] },
    'COMMIT',
  ]);
  steps('SET CONSTRAINTS in a transaction', ['BEGIN', 'SET CONSTRAINTS ALL DEFERRED', 'SELECT 1', 'COMMIT']);
  steps('a read-only transaction with a snapshot export check', [
    'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    "SELECT current_setting('transaction_isolation')",
    'COMMIT',
  ]);
  steps('ABORT', ['BEGIN', 'SELECT 1', 'ABORT']);
});

group('postgres.js sample', () => {
  js('postgres.js: select by id', 'SELECT id, email FROM customers WHERE id = $1', [4]);
  js(
    'postgres.js: join',
    'SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id < $1 ORDER BY o.id',
    [6],
  );
  js(
    'postgres.js: json',
    "SELECT id, profile->>'plan' AS plan FROM customers WHERE id <= $1 ORDER BY id",
    [3],
  );
  js('postgres.js: array parameter', 'SELECT id FROM products WHERE id = ANY($1::int[]) ORDER BY id', [
    [3, 6, 9],
  ]);
  js(
    'postgres.js: aggregate',
    'SELECT status::text, count(*)::int AS n FROM orders GROUP BY status ORDER BY status',
  );
  js('postgres.js: view', 'SELECT * FROM customer_totals ORDER BY id LIMIT 5');
  js(
    'postgres.js: information_schema',
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
  );
  js(
    'postgres.js: catalog',
    "SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY relname",
  );
  js('postgres.js: window', 'SELECT id, rank() OVER (ORDER BY price DESC) AS r FROM products ORDER BY id');
  js('postgres.js: pgbench select-only', 'SELECT abalance FROM pgbench_accounts WHERE aid = $1', [101]);
  js('postgres.js: SHOW', 'SHOW standard_conforming_strings');
  js('postgres.js: version', 'SELECT version()');
  js(
    'postgres.js: LATERAL',
    'SELECT c.id, x.n FROM customers c CROSS JOIN LATERAL (SELECT count(*)::int AS n FROM orders o WHERE o.customer_id = c.id) x WHERE c.id <= $1 ORDER BY c.id',
    [4],
  );
  js(
    'postgres.js: DISTINCT ON',
    'SELECT DISTINCT ON (category) category, id FROM products ORDER BY category NULLS LAST, id',
  );
  js('postgres.js: text parameter', 'SELECT id FROM customers WHERE name ILIKE $1 ORDER BY id', ['%2%']);
});

export const BENIGN_CORPUS: readonly Benign[] = Object.freeze(corpus);
