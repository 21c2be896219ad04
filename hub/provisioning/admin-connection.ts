/**
 * The hub's own connection to a target's database as its provisioning administrator, with the target's
 * TLS settings as libpq would apply them (verify-full checks the name, verify-ca the chain; prefer falls
 * back to plaintext only when the server has no TLS).
 */
import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import type { PostgresTargetConfig } from '../config/hub-config.ts';

export interface AdminLogin {
  user: string;
  password: string;
}

const CONNECT_TIMEOUT_MS = 10_000;

async function tlsOptions(target: PostgresTargetConfig): Promise<ConnectionOptions | false> {
  const { sslmode, sslrootcert, sslservername } = target.tls;
  if (sslmode === 'disable') return false;
  const ca = sslrootcert && sslrootcert !== 'system' ? await readFile(sslrootcert, 'utf8') : undefined;
  const name = sslservername ?? target.host;
  if (sslmode === 'verify-full') return { ca, servername: name, rejectUnauthorized: true };
  if (sslmode === 'verify-ca' || ca !== undefined) {
    return { ca, rejectUnauthorized: true, checkServerIdentity: () => undefined };
  }
  return { rejectUnauthorized: false };
}

export async function connectAsAdmin(target: PostgresTargetConfig, login: AdminLogin): Promise<pg.Client> {
  const base = {
    host: target.host,
    port: target.port,
    database: target.database,
    user: login.user,
    password: login.password,
    application_name: 'portcullis-hub-provisioning',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  };
  const ssl = await tlsOptions(target);
  const open = async (withTls: ConnectionOptions | false): Promise<pg.Client> => {
    const client = new pg.Client({ ...base, ssl: withTls });
    client.on('error', () => {}); // a dropped connection fails the query in flight; nothing else listens
    await client.connect();
    return client;
  };
  try {
    return await open(ssl);
  } catch (error) {
    const noTls = /does not support SSL/i.test((error as Error).message);
    if (target.tls.sslmode === 'prefer' && noTls) return open(false);
    throw error;
  }
}
