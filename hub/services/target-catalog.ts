/**
 * Reads a target database's catalog from the hub, with the target's own credentials and TLS settings
 * (they stay in the hub: this connection is the hub's), for the policy checks. One short connection
 * per read; rows come back as text, as the wire protocol sends them.
 */
import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { resolveCredentials } from '../config/credentials.ts';
import type { PostgresTargetConfig } from '../config/hub-config.ts';

export type TargetQuery = (
  target: PostgresTargetConfig,
  query: { text: string; values: string[] },
) => Promise<(string | null)[][]>;

const CONNECT_TIMEOUT_MS = 10_000;

export function targetQuery(env: Readonly<Record<string, string | undefined>>): TargetQuery {
  return async (target, query) => {
    const { user, password } = await resolveCredentials(target, env);
    const ssl = await tlsOptions(target);
    try {
      return await run(target, user, password, ssl, query);
    } catch (error) {
      // sslmode=prefer: a server without TLS is still reached, in the clear, as libpq would.
      if (target.tls.sslmode === 'prefer' && /does not support SSL/i.test((error as Error).message)) {
        return run(target, user, password, false, query);
      }
      throw error;
    }
  };
}

async function run(
  target: PostgresTargetConfig,
  user: string,
  password: string,
  ssl: false | ConnectionOptions,
  query: { text: string; values: string[] },
): Promise<(string | null)[][]> {
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    database: target.database,
    user,
    password,
    ssl,
    application_name: 'portcullis-hub-policy-check',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: 30_000,
  });
  client.on('error', () => {});
  await client.connect();
  try {
    const result = await client.query({
      text: query.text,
      values: query.values,
      rowMode: 'array',
      types: { getTypeParser: () => (value: string) => value },
    });
    return result.rows as (string | null)[][];
  } finally {
    await client.end().catch(() => {});
  }
}

/** libpq's sslmode in node's terms. */
async function tlsOptions(target: PostgresTargetConfig): Promise<false | ConnectionOptions> {
  const { sslmode, sslrootcert, sslservername } = target.tls;
  if (sslmode === 'disable') return false;
  if (sslmode === 'prefer' || sslmode === 'require') return { rejectUnauthorized: false };
  const ca =
    sslrootcert === null || sslrootcert === 'system' ? undefined : await readFile(sslrootcert, 'utf8');
  return {
    rejectUnauthorized: true,
    ...(ca === undefined ? {} : { ca }),
    servername: sslservername ?? target.host,
    // verify-ca trusts the chain and not the name.
    ...(sslmode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
  };
}
