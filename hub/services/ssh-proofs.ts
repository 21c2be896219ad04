/**
 * The SSH side of delegated authentication: the hub signs one connection's public-key sign-in with the
 * target's key, which never leaves it. The target signed for is the session's own SSH target, or — for
 * a Postgres session reached through a bastion — that bastion; nothing else.
 */
import type { ProofRequest } from '../api/types.ts';
import { CredentialsError } from '../config/credentials.ts';
import type { SshTargetConfig, TargetConfig } from '../config/hub-config.ts';
import { resolveSshKey } from '../config/ssh-credentials.ts';
import { SignRequestError, signUserAuthRequest } from '../delegation/ssh-signatures.ts';
import { findTarget, type ServiceContext } from './context.ts';
import { ForbiddenError, UnavailableError, ValidationError } from './errors.ts';

type SshSignatureRequest = Extract<ProofRequest, { method: 'ssh-signature' }>;

/** The SSH target a session may have signatures for. */
function signedTarget(
  ctx: ServiceContext,
  sessionTarget: TargetConfig,
  requested: string | undefined,
): SshTargetConfig {
  const id = requested ?? sessionTarget.id;
  const allowed = sessionTarget.kind === 'ssh' ? sessionTarget.id : sessionTarget.via;
  if (id !== allowed) {
    throw new ForbiddenError(
      allowed === null
        ? `${sessionTarget.id} is not reached over SSH: nothing to sign for it`
        : `a session on ${sessionTarget.id} has signatures for ${allowed} only, not ${id}`,
    );
  }
  const target = findTarget(ctx.config(), id);
  if (!target || target.kind !== 'ssh')
    throw new UnavailableError(`target ${id} is not an SSH target of the catalogue`);
  return target;
}

/** Signs the request's sign-in; returns the signature and the SSH user it signs in as. */
export async function signSshProof(
  ctx: ServiceContext,
  sessionTarget: TargetConfig,
  request: SshSignatureRequest,
): Promise<{ signature: string; user: string }> {
  const target = signedTarget(ctx, sessionTarget, request.targetId);
  let key;
  try {
    key = await resolveSshKey(target, ctx.env);
  } catch (error) {
    if (error instanceof CredentialsError) throw new UnavailableError(error.message, { cause: error });
    throw error;
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(request.data)) throw new ValidationError('data', 'must be base64');
  try {
    const signature = signUserAuthRequest(key, Buffer.from(request.data, 'base64'), request.hash);
    return { signature: signature.toString('base64'), user: key.user };
  } catch (error) {
    if (error instanceof SignRequestError) throw new ValidationError(error.field, error.message);
    throw error;
  }
}
