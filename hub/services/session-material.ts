/**
 * What a session opens with: where and as whom to connect (the database, or the relay that alone reaches
 * it), the TLS to expect, and the policy — never a secret. Read when a session opens or a relay admits a
 * connection, so a file that went missing is a 503 then, not a surprise later.
 */
import { readFile } from 'node:fs/promises';
import { GENESIS_HASH } from '../api/recording-chain.ts';
import type { ConnectionMaterial, PolicySpec, RelayMaterial, TlsMaterial } from '../api/types.ts';
import type { PostgresTargetConfig, TargetConfig } from '../config/hub-config.ts';
import { UnavailableError } from './errors.ts';
import { targetCredentials } from './proofs.ts';

/** The database, as the role `role` (a provisioned one) or the target's own. */
export async function connectionMaterial(
  ctx: Parameters<typeof targetCredentials>[0],
  target: PostgresTargetConfig,
  role: string | null,
): Promise<ConnectionMaterial> {
  // Read even when unused, so a missing password is refused before a session exists.
  const credentials = await targetCredentials(ctx, target);
  return {
    kind: 'postgres',
    host: target.host,
    port: target.port,
    database: target.database,
    user: role ?? credentials.user,
    tls: await tlsMaterial(target.id, target.tls),
    authentication: { kind: 'delegated', methods: ['postgres-scram-sha-256', 'postgres-md5'] },
    // Through a bastion: the session adds it (sessions.ts); a relay reaches its database directly.
    via: null,
  };
}

/** The relay a target enforced at one is reached through, verified by name. */
export async function relayMaterial(target: PostgresTargetConfig): Promise<RelayMaterial> {
  const relay = target.relay!;
  return {
    kind: 'relay',
    host: relay.host,
    port: relay.port,
    database: target.database,
    tls: await tlsMaterial(target.id, {
      sslmode: 'verify-full',
      sslrootcert: relay.sslrootcert,
      sslservername: relay.sslservername,
    }),
  };
}

async function tlsMaterial(targetId: string, tls: PostgresTargetConfig['tls']): Promise<TlsMaterial> {
  const { sslmode, sslrootcert, sslservername } = tls;
  if (sslmode === 'disable') return { sslmode, sslrootcert: null, ca: null, sslservername };
  if (sslrootcert === null || sslrootcert === 'system') {
    return { sslmode, sslrootcert: sslrootcert === 'system' ? 'system' : null, ca: null, sslservername };
  }
  try {
    return { sslmode, sslrootcert: null, ca: await readFile(sslrootcert, 'utf8'), sslservername };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new UnavailableError(`target ${targetId}: cannot read sslrootcert ${sslrootcert}: ${code}`);
  }
}

export async function policySpec(target: TargetConfig): Promise<PolicySpec> {
  if (target.policy.kind === 'preset') return { kind: 'preset', name: target.policy.name };
  try {
    return { kind: 'file', name: target.policy.name, yaml: await readFile(target.policy.path, 'utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new UnavailableError(`target ${target.id}: cannot read policy file ${target.policy.path}: ${code}`);
  }
}

/** The columns of a session whose recording has not begun. */
export function emptyRecording() {
  return {
    closed_at: null,
    close_reason: null,
    status: 'open' as const,
    chain_status: 'ok' as const,
    last_seq: 0,
    last_hash: GENESIS_HASH,
    max_seq: 0,
    chain_broken: 0,
    gap_flagged: 0,
    event_count: 0,
    statement_count: 0,
    denied_count: 0,
    held_count: 0,
    anomaly_count: 0,
  };
}
