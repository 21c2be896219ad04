/**
 * SSH sign-ins signed by the hub: the tunnel's ssh2 client asks for a signature of each connection's
 * user-authentication request (proof method `ssh-signature`), so the target's private key never comes
 * here. A closed or revoked session gets no more signatures, so it opens no more connections.
 */
import type { ConnectionPurpose } from '../../hub/api/types.ts';
import { HubError, type HubClient } from '../hub-client/index.ts';
import { parsePublicKey } from '../ssh/keys.ts';
import type { Signer } from '../ssh/upstream.ts';

export interface SignerTarget {
  hub: HubClient;
  sessionId: string;
  /** The key ("ssh-ed25519 AAAA…") the hub signs with, from the session material. */
  publicKey: string;
  /** The connection's number in the session's recording (0: the tunnel's own bastion connection). */
  connection: () => number;
  purpose: ConnectionPurpose;
  /** The SSH target signed for when it is not the session's own (a Postgres target's bastion). */
  targetId?: string;
}

export function hubSigner(target: SignerTarget): Signer {
  return {
    publicKey: parsePublicKey(target.publicKey),
    async sign(data, hash) {
      try {
        const proof = await target.hub.prove(target.sessionId, {
          method: 'ssh-signature',
          connection: target.connection(),
          purpose: target.purpose,
          data: data.toString('base64'),
          ...(hash === 'sha256' || hash === 'sha512' ? { hash } : {}),
          ...(target.targetId ? { targetId: target.targetId } : {}),
        });
        if (proof.method !== 'ssh-signature') throw new Error('the hub answered another method');
        return Buffer.from(proof.signature, 'base64');
      } catch (error) {
        if (!(error instanceof HubError)) throw error;
        throw new Error(`the hub did not sign this sign-in: ${error.message}`, { cause: error });
      }
    },
  };
}
