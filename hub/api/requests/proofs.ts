/** What a tunnel sends for the hub to answer one connection's authentication challenge. */
import { z } from 'zod';

/**
 * The challenges the hub answers, one resource for every kind of target: Postgres SCRAM and md5, and the
 * signature of an SSH public-key sign-in.
 */
export const proofMethod = z.enum(['postgres-scram-sha-256', 'postgres-md5', 'ssh-signature']);

/**
 * Why the tunnel opens the connection the proof is for (recorded at the hub): a client's, the tunnel's
 * own catalog connection, or its SSH connection to the bastion a database is reached through.
 */
export const connectionPurpose = z.enum(['client', 'catalog', 'bastion']);

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
  z.strictObject({
    ...proofRequestBase,
    method: z.literal('ssh-signature'),
    /**
     * The SSH user-authentication request to sign (RFC 4252 §7: session identifier, request, user,
     * service, "publickey", algorithm, key), base64. The hub signs only a sign-in to the target as its
     * user with its key.
     */
    data: z.string().min(1).max(8192),
    /** sha256 or sha512 for an RSA key's rsa-sha2-* signature; absent otherwise. */
    hash: z.enum(['sha256', 'sha512']).optional(),
    /** The SSH target signed for: the session's own, or (purpose `bastion`) the one its database is reached through. */
    targetId: z.string().min(1).max(63).optional(),
  }),
]);
