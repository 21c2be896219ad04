/**
 * Every failure of tunnel/identity is an IdentityError with a stable `code`, so the CLI can print one line
 * (and exit) and the desktop app can choose a message, without parsing text.
 */
export type IdentityErrorCode =
  /** The identity provider could not be reached, or its discovery document was refused. */
  | 'discovery_failed'
  /** Options the caller passed are unusable (e.g. an http issuer that is not on loopback). */
  | 'invalid_configuration'
  /** The person cancelled or refused the sign-in (`error=access_denied` on the redirect). */
  | 'access_denied'
  /** The identity provider answered the authorization request with another error. */
  | 'authorization_failed'
  /** The redirect carried a state that is not the one this sign-in sent (CSRF, or a stale browser tab). */
  | 'state_mismatch'
  /** Nobody came back to the loopback listener in time. */
  | 'timeout'
  /** The caller aborted the sign-in (its AbortSignal). */
  | 'aborted'
  /** The injected openBrowser function failed. */
  | 'browser_failed'
  /** The code exchange (or the ID token check, e.g. the nonce) failed. */
  | 'token_exchange_failed'
  /** The refresh token is no longer accepted: the person has to sign in again. */
  | 'session_expired'
  /** A refresh failed for another reason (network, IdP error); trying again later may work. */
  | 'refresh_failed'
  /** No tokens are held (never signed in, or signed out). */
  | 'not_signed_in'
  /** The agent's client credentials were refused, or the request failed. */
  | 'client_credentials_failed';

export class IdentityError extends Error {
  override name = 'IdentityError';
  constructor(
    readonly code: IdentityErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The OAuth error code and description of an openid-client error (ResponseBodyError), when it has one. */
export function oauthErrorOf(error: unknown): { error?: string; description?: string; status?: number } {
  if (typeof error !== 'object' || error === null) return {};
  const e = error as { error?: unknown; error_description?: unknown; status?: unknown; cause?: unknown };
  const result: { error?: string; description?: string; status?: number } = {};
  if (typeof e.error === 'string') result.error = e.error;
  if (typeof e.error_description === 'string') result.description = e.error_description;
  if (typeof e.status === 'number') result.status = e.status;
  // A 401 with WWW-Authenticate (WWWAuthenticateChallengeError) carries the error in its challenges.
  if (!result.error && Array.isArray(e.cause)) {
    for (const challenge of e.cause as { parameters?: Record<string, unknown> }[]) {
      const params = challenge?.parameters ?? {};
      if (typeof params.error === 'string') {
        result.error = params.error;
        if (typeof params.error_description === 'string') result.description = params.error_description;
        break;
      }
    }
  }
  return result;
}

/** A one-line description of an openid-client (or fetch) failure for an IdentityError message. */
export function describeError(error: unknown): string {
  const { error: code, description } = oauthErrorOf(error);
  if (code) return description ? `${code}: ${description}` : code;
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}
