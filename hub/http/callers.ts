/**
 * Who calls: every /v1 request is authenticated in onRequest, before its body is read, so an
 * unauthenticated caller gets its 401 without the hub parsing anything it sent.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import type { Identity } from '../api/types.ts';
import type { TokenVerifier } from '../auth/index.ts';

/** What onRequest learnt from the access token. */
interface Caller {
  identity: Identity;
  /** The token's exp, in ms since the epoch. */
  expiresAt: number | undefined;
}

export interface Callers {
  authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  caller(request: FastifyRequest): Identity;
  tokenExpiresAt(request: FastifyRequest): number | undefined;
}

export function createCallers(verifier: TokenVerifier): Callers {
  const callers = new WeakMap<FastifyRequest, Caller>();
  const known = (request: FastifyRequest): Caller => {
    const caller = callers.get(request);
    if (!caller) throw new Error('unauthenticated request reached a handler');
    return caller;
  };
  return {
    async authenticate(request, reply) {
      const header = request.headers.authorization;
      const identity = await verifier.verify(header);
      callers.set(request, { identity, expiresAt: tokenExpiry(header!) });
      reply.header('cache-control', 'no-store');
    },
    caller: (request) => known(request).identity,
    tokenExpiresAt: (request) => known(request).expiresAt,
  };
}

function tokenExpiry(header: string): number | undefined {
  try {
    const exp = decodeJwt(header.trim().split(/\s+/)[1]!).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined; // verify() accepted it, so it decodes; stay safe anyway.
  }
}
