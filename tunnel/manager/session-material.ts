/**
 * From what the hub opened a session with to what the engine connects with: the upstream (the database,
 * or the relay that alone reaches it) and the policy.
 */
import type { ConnectionMaterial, OpenedSession, PolicySpec, TlsMaterial } from '../../hub/api/types.ts';
import { parsePolicy } from '../policy/policy-file.ts';
import { presetPolicy, type Policy } from '../policy/policy.ts';
import type { UpstreamConfig } from '../postgres/connection-string.ts';

const CONNECT_TIMEOUT_MS = 10_000;

/** The database, as the session's role; the password requests are answered by the hub (hub-prover.ts). */
export function upstreamFromConnection(connection: ConnectionMaterial): UpstreamConfig {
  return withTls(
    {
      host: connection.host,
      port: connection.port,
      user: connection.user,
      database: connection.database,
      sslmode: connection.tls.sslmode,
      allowCleartextPassword: false,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      // The client's own application_name goes through (settings are applied, never dropped); a client
      // that names none shows as coming through Portcullis.
      fallbackApplicationName: 'portcullis',
    },
    connection.tls,
  );
}

/**
 * Where a session's tunnel connects: the database, or for a target enforced at a relay, the relay, where
 * the session id is the user name and the user's access token the password (inside verified TLS). A
 * database reached through a bastion gets its `dial` from the tunnel manager.
 */
export function upstreamFromMaterial(session: OpenedSession): UpstreamConfig {
  const { connection } = session;
  if (connection.kind === 'postgres') return upstreamFromConnection(connection);
  if (connection.kind === 'ssh') throw new Error(`${session.targetId} is an SSH target, not a database`);
  return withTls(
    {
      host: connection.host,
      port: connection.port,
      user: session.sessionId,
      database: connection.database,
      sslmode: 'verify-full',
      allowCleartextPassword: false,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      fallbackApplicationName: 'portcullis',
      channelBinding: 'disable',
    },
    connection.tls,
  );
}

function withTls(config: UpstreamConfig, tls: TlsMaterial): UpstreamConfig {
  if (tls.ca) config.sslrootcertPem = tls.ca;
  else if (tls.sslrootcert) config.sslrootcert = tls.sslrootcert;
  if (tls.sslservername) config.sslservername = tls.sslservername;
  return config;
}

/** The policy the hub sent, with the shorter of its hold timeout and the hub's. */
export function policyFromSpec(
  session: { policy: PolicySpec; holdTimeoutSeconds: number },
  maskKey?: Buffer,
): Policy {
  const base =
    session.policy.kind === 'preset'
      ? presetPolicy(session.policy.name)
      : parsePolicy(session.policy.yaml, session.policy.name, maskKey ? { maskKey } : {});
  // The hub would expire the approval anyway.
  return { ...base, holdTimeoutMs: Math.min(base.holdTimeoutMs, session.holdTimeoutSeconds * 1000) };
}
