/**
 * Delegated upstream authentication through the hub: the tunnel runs the server's exchange and the hub
 * answers the challenge for that one connection of the session. The hub's refusals become what the
 * client is told: a session that was closed or revoked opens no more connections.
 */
import type { ConnectionPurpose } from '../../hub/api/types.ts';
import { HubError, type HubClient } from '../hub-client/index.ts';
import { CredentialsError, type UpstreamProver } from '../postgres/upstream-credentials.ts';

export interface ProofTarget {
  hub: HubClient;
  sessionId: string;
  /** The connection's number in the session's recording (0: the tunnel's catalog connection). */
  connection: () => number;
  purpose: ConnectionPurpose;
}

export function hubProver(target: ProofTarget): UpstreamProver {
  const { hub, sessionId, purpose } = target;
  return {
    async scram({ clientFirst, serverFirst, channelBinding }) {
      const proof = await ask(() =>
        hub.prove(sessionId, {
          method: 'postgres-scram-sha-256',
          connection: target.connection(),
          purpose,
          clientFirst,
          serverFirst,
          channelBinding: channelBinding?.toString('base64') ?? null,
        }),
      );
      if (proof.method !== 'postgres-scram-sha-256')
        throw new CredentialsError('the hub answered another method');
      return { clientFinal: proof.clientFinal, serverFinal: proof.serverFinal };
    },
    async md5(salt) {
      const proof = await ask(() =>
        hub.prove(sessionId, {
          method: 'postgres-md5',
          connection: target.connection(),
          purpose,
          salt: salt.toString('base64'),
        }),
      );
      if (proof.method !== 'postgres-md5') throw new CredentialsError('the hub answered another method');
      return proof.response;
    },
  };
}

async function ask<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof HubError)) throw error;
    throw new CredentialsError(
      `the hub did not authenticate this connection: ${error.message}`,
      sqlstate(error),
      {
        cause: error,
      },
    );
  }
}

/** What the client is told: refused (28000), too many connections (53300), or the hub unreachable (08001). */
function sqlstate(error: HubError): string {
  if (error.status === 429) return '53300';
  if (error.status === 0 || error.status >= 500) return '08001';
  return '28000';
}
