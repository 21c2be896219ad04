/**
 * Failures as the renderer sees them: a code it can branch on and a sentence for people. Services throw
 * AppError where they know what went wrong; everything else is classified here from the engine's own
 * error types. Messages never carry tokens or credentials: the engine's messages do not.
 */
import type { ErrorCode, Result } from '../../preload/api.ts';
import { NotSignedInError } from '../../tunnel/account/account.ts';
import { HubError } from '../../tunnel/hub-client/index.ts';
import { IdentityError } from '../../tunnel/identity/index.ts';
import { PortInUseError, PortRegistryError } from '../../tunnel/manager/port-registry.ts';
import { TargetUnavailableError } from '../../tunnel/manager/tunnel-manager.ts';
import { DecisionRefused, NothingToDecide } from '../../tunnel/runtime/decisions.ts';

export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function hubCode(error: HubError): ErrorCode {
  if (error.status === 0) return error.code === 'aborted' ? 'cancelled' : 'unreachable';
  if (error.status === 400) return 'invalid';
  if (error.status === 401) return 'not-signed-in';
  if (error.status === 403) return 'refused';
  if (error.status === 404) return 'not-found';
  if (error.status === 409) return 'conflict';
  return 'failed';
}

function identityCode(error: IdentityError): ErrorCode {
  switch (error.code) {
    case 'aborted':
      return 'cancelled';
    case 'discovery_failed':
    case 'refresh_failed':
      return 'unreachable';
    case 'session_expired':
    case 'not_signed_in':
      return 'not-signed-in';
    case 'access_denied':
      return 'refused';
    default:
      return 'failed';
  }
}

export function classify(error: unknown): { code: ErrorCode; message: string } {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof AppError) return { code: error.code, message };
  if (error instanceof HubError) return { code: hubCode(error), message };
  if (error instanceof IdentityError) return { code: identityCode(error), message };
  if (error instanceof NotSignedInError) return { code: 'not-signed-in', message };
  if (error instanceof PortInUseError) return { code: 'port-in-use', message };
  if (error instanceof PortRegistryError) return { code: 'invalid', message };
  if (error instanceof TargetUnavailableError) return { code: 'refused', message };
  if (error instanceof NothingToDecide) return { code: 'not-found', message };
  if (error instanceof DecisionRefused) {
    return { code: error.status === 403 ? 'refused' : 'conflict', message };
  }
  if (error instanceof TypeError && /hub/.test(message)) return { code: 'invalid', message };
  return { code: 'failed', message };
}

/** Runs `body`, answering its value or its failure as a Result. */
export async function asResult<T>(body: () => T | Promise<T>): Promise<Result<T>> {
  try {
    return { ok: true, value: await body() };
  } catch (error) {
    return { ok: false, ...classify(error) };
  }
}

/** Whether the hub could not be reached (as opposed to refusing). */
export function isUnreachable(error: unknown): boolean {
  return error instanceof HubError && error.status === 0 && error.code !== 'aborted';
}
