/** What a tunnel sends for the hub to answer one connection's authentication challenge. */
import { z } from 'zod';

/**
 * The challenges the hub answers. One resource for every kind of target: SSH public-key signatures take
 * their place beside these.
 */
export const proofMethod = z.enum(['postgres-scram-sha-256', 'postgres-md5']);

/** Why the tunnel opens the connection the proof is for (recorded at the hub). */
export const connectionPurpose = z.enum(['client', 'catalog']);

const proofRequestBase = {
  /**
   * The connection's number within the session, as the recording numbers it (0: the tunnel's own
   * catalog connection).
   */
  connection: z.int().min(0).max(2_147_483_647),
  purpose: connectionPurpose.optional(),
};

/** POST /v1/sessions/:id/proofs */
export const proofRequest = z.discriminatedUnion('method', [
  z.strictObject({
    ...proofRequestBase,
    method: z.literal('postgres-scram-sha-256'),
    /** The client-first-message the tunnel sent, GS2 header included ("n,,n=,r=…" or "p=tls-server-end-point,,…"). */
    clientFirst: z.string().min(1).max(1024),
    /** The server-first-message the server answered ("r=…,s=…,i=…"). */
    serverFirst: z.string().min(1).max(1024),
    /** For SCRAM-SHA-256-PLUS: the tls-server-end-point channel-binding data, base64. */
    channelBinding: z.string().max(256).nullable().optional(),
  }),
  z.strictObject({
    ...proofRequestBase,
    method: z.literal('postgres-md5'),
    /** The 4-byte salt of AuthenticationMD5Password, base64. */
    salt: z.string().min(1).max(16),
  }),
]);
