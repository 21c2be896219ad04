/**
 * The demo's database: the shop's roles (on every start, so their passwords always match the data
 * directory's) and, once, the `shop` database with its schema and fake data. Seeding is one transaction
 * that ends by writing its marker row, so a seed that was interrupted leaves nothing behind that looks
 * seeded, and the next start simply seeds again.
 */
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { generateShop } from './fake-shop.ts';

export const SHOP_DATABASE = 'shop';
export const SHOP_APP_ROLE = 'shop_app';
export const SHOP_REPORTING_ROLE = 'shop_reporting';
/** Creates and drops shop-reporting's per-session roles: CREATEROLE, hands out shop_reporting only. */
export const SHOP_PROVISIONER_ROLE = 'shop_provisioner';
/** shop-admin's own role (not shop-db's): the database's logs tell the two apart. */
export const SHOP_ADMIN_ROLE = 'shop_admin';
const SEED_VERSION = 1;

export interface ShopPasswords {
  shopApp: string;
  shopReporting: string;
  shopProvisioner: string;
  shopAdmin: string;
}

export interface SuperuserConnection {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface SeedResult {
  /** False when the database had been seeded by an earlier start. */
  seeded: boolean;
  rows: { customers: number; orders: number; payments: number };
}

async function connect(server: SuperuserConnection, database: string): Promise<pg.Client> {
  const client = new pg.Client({ ...server, database });
  await client.connect();
  return client;
}

async function ensureRoles(admin: pg.Client, passwords: ShopPasswords): Promise<void> {
  const roles: [string, string][] = [
    [SHOP_APP_ROLE, passwords.shopApp],
    [SHOP_REPORTING_ROLE, passwords.shopReporting],
    [SHOP_PROVISIONER_ROLE, passwords.shopProvisioner],
    [SHOP_ADMIN_ROLE, passwords.shopAdmin],
  ];
  for (const [role, password] of roles) {
    const exists = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
    if (exists.rowCount === 0) await admin.query(`CREATE ROLE ${admin.escapeIdentifier(role)}`);
    // Restated on every start: whatever happened to the role, it is an ordinary login and nothing more.
    await admin.query(
      `ALTER ROLE ${admin.escapeIdentifier(role)} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE ` +
        `NOREPLICATION NOBYPASSRLS PASSWORD ${admin.escapeLiteral(password)}`,
    );
  }
}

/**
 * The provisioner may create roles and make them members of shop_reporting (and nothing else), without
 * holding shop_reporting's rights itself, and end the backends of the roles it made.
 */
async function ensureProvisioner(admin: pg.Client): Promise<void> {
  const provisioner = admin.escapeIdentifier(SHOP_PROVISIONER_ROLE);
  await admin.query(`ALTER ROLE ${provisioner} WITH CREATEROLE`);
  await admin.query(
    `GRANT ${admin.escapeIdentifier(SHOP_REPORTING_ROLE)} TO ${provisioner} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE`,
  );
  await admin.query(`GRANT pg_signal_backend TO ${provisioner}`);
}

/** shop_admin reads and writes the shop as shop_app does; granted at every start, seeded before it or not. */
async function grantAdmin(shop: pg.Client): Promise<void> {
  const admin = shop.escapeIdentifier(SHOP_ADMIN_ROLE);
  await shop.query(
    `GRANT CONNECT, TEMPORARY ON DATABASE ${shop.escapeIdentifier(SHOP_DATABASE)} TO ${admin}`,
  );
  await shop.query(`GRANT USAGE ON SCHEMA public TO ${admin}`);
  await shop.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON customers, orders, payments TO ${admin}`);
  await shop.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${admin}`);
}

async function isSeeded(shop: pg.Client): Promise<boolean> {
  const { rows } = await shop.query<{ seeded: boolean }>(
    `SELECT to_regclass('portcullis_demo.seed') IS NOT NULL AS seeded`,
  );
  if (!rows[0]?.seeded) return false;
  const marker = await shop.query('SELECT 1 FROM portcullis_demo.seed LIMIT 1');
  return (marker.rowCount ?? 0) > 0;
}

async function insertShop(shop: pg.Client): Promise<void> {
  const { customers, orders, payments } = generateShop();
  const column = <T, V>(rows: readonly T[], value: (row: T) => V): V[] => rows.map(value);
  await shop.query(
    `INSERT INTO customers (id, full_name, email, phone, ssn, card_number, iban, address, country, created_at)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                          $7::text[], $8::text[], $9::text[], $10::timestamptz[])`,
    [
      column(customers, (c) => c.id),
      column(customers, (c) => c.fullName),
      column(customers, (c) => c.email),
      column(customers, (c) => c.phone),
      column(customers, (c) => c.ssn),
      column(customers, (c) => c.cardNumber),
      column(customers, (c) => c.iban),
      column(customers, (c) => c.address),
      column(customers, (c) => c.country),
      column(customers, (c) => c.createdAt.toISOString()),
    ],
  );
  await shop.query(
    `INSERT INTO orders (id, customer_id, reference, status, total, currency, created_at)
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::numeric[], $6::text[],
                          $7::timestamptz[])`,
    [
      column(orders, (o) => o.id),
      column(orders, (o) => o.customerId),
      column(orders, (o) => o.reference),
      column(orders, (o) => o.status),
      column(orders, (o) => o.total),
      column(orders, (o) => o.currency),
      column(orders, (o) => o.createdAt.toISOString()),
    ],
  );
  await shop.query(
    `INSERT INTO payments (id, order_id, customer_id, card_number, amount, currency, status, created_at)
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::numeric[], $6::text[],
                          $7::text[], $8::timestamptz[])`,
    [
      column(payments, (p) => p.id),
      column(payments, (p) => p.orderId),
      column(payments, (p) => p.customerId),
      column(payments, (p) => p.cardNumber),
      column(payments, (p) => p.amount),
      column(payments, (p) => p.currency),
      column(payments, (p) => p.status),
      column(payments, (p) => p.createdAt.toISOString()),
    ],
  );
  // The rows came with their ids: new rows must continue after them.
  for (const table of ['customers', 'orders', 'payments']) {
    await shop.query(
      `SELECT setval(pg_get_serial_sequence('public.${table}', 'id'), (SELECT max(id) FROM public.${table}))`,
    );
  }
}

async function countRows(shop: pg.Client): Promise<SeedResult['rows']> {
  const { rows } = await shop.query<{ customers: string; orders: string; payments: string }>(
    `SELECT (SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM orders) AS orders,
            (SELECT count(*) FROM payments) AS payments`,
  );
  const row = rows[0]!;
  return { customers: Number(row.customers), orders: Number(row.orders), payments: Number(row.payments) };
}

/** Makes the roles and the seeded `shop` database exist; seeds only a database that was never seeded. */
export async function prepareShop(
  server: SuperuserConnection,
  passwords: ShopPasswords,
  schemaFile: string,
): Promise<SeedResult> {
  const admin = await connect(server, 'postgres');
  try {
    await ensureRoles(admin, passwords);
    await ensureProvisioner(admin);
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [SHOP_DATABASE]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(SHOP_DATABASE)}`);
    // It signs in to the shop to create the roles there (also in data directories seeded before it existed).
    await admin.query(
      `GRANT CONNECT ON DATABASE ${admin.escapeIdentifier(SHOP_DATABASE)} TO ${admin.escapeIdentifier(SHOP_PROVISIONER_ROLE)}`,
    );
  } finally {
    await admin.end();
  }

  const shop = await connect(server, SHOP_DATABASE);
  try {
    if (await isSeeded(shop)) {
      await grantAdmin(shop);
      return { seeded: false, rows: await countRows(shop) };
    }
    const schema = await readFile(schemaFile, 'utf8');
    await shop.query('BEGIN');
    try {
      await shop.query(schema);
      await insertShop(shop);
      await shop.query('INSERT INTO portcullis_demo.seed (version) VALUES ($1)', [SEED_VERSION]);
      await shop.query('COMMIT');
    } catch (error) {
      await shop.query('ROLLBACK').catch(() => {});
      throw error;
    }
    // Statistics now, not whenever autovacuum gets to it: the planner's estimate of a held statement's
    // rows (shown to the approver) is only as good as they are.
    await shop.query('ANALYZE customers, orders, payments');
    await grantAdmin(shop);
    return { seeded: true, rows: await countRows(shop) };
  } finally {
    await shop.end();
  }
}
