/**
 * People sign in: OAuth 2.0 authorization code with PKCE (S256) through the system browser and a loopback
 * redirect (RFC 8252 §7.3). A one-shot HTTP listener on 127.0.0.1 with an ephemeral port receives the
 * redirect at `/callback`, answers the browser with a small page, and is closed before the call returns,
 * whatever the outcome.
 *
 *   const config = await discoverIssuer({ issuer, clientId: 'portcullis-desktop' });
 *   const tokens = await loginWithBrowser(config, { openBrowser: (url) => shell.openExternal(url) });
 */
import * as client from 'openid-client';
import { IdentityError, describeError } from './errors.ts';
import { callbackPage, listenLoopback, type Callback, type LoopbackListener } from './loopback-listener.ts';
import { tokenSetFromResponse, type TokenSet } from './oidc.ts';

export { callbackPage } from './loopback-listener.ts';

/** What Portcullis asks for; scopes the IdP does not list in `scopes_supported` are left out. */
export const DEFAULT_SCOPE = 'openid profile email groups offline_access';
export const DEFAULT_LOGIN_TIMEOUT_MS = 5 * 60_000;

export interface BrowserLoginOptions {
  /**
   * Shows the authorization URL to the person: the CLI spawns the system browser (see browser.ts) or prints
   * it for `--no-browser`, the desktop app calls shell.openExternal. It may resolve before the person has
   * signed in; a rejection ends the sign-in with `browser_failed`.
   */
  openBrowser: (url: string) => void | Promise<void>;
  /** Default DEFAULT_SCOPE, narrowed to the IdP's `scopes_supported`. An explicit scope is sent as is. */
  scope?: string;
  /** How long to wait for the browser to come back. Default 5 minutes. */
  timeoutMs?: number;
  /** Cancels the sign-in (e.g. the desktop app's Cancel button): rejects with `aborted`. */
  signal?: AbortSignal;
  /** The claim with group names. Default 'groups'. */
  groupsClaim?: string;
  /** Extra authorization request parameters, e.g. `resource`, `audience`, `login_hint`, `prompt`. */
  parameters?: Record<string, string>;
}

/** The scope to request: the default intersected with what the IdP advertises (openid always stays). */
export function scopeFor(config: client.Configuration, requested?: string): string {
  if (requested !== undefined) return requested;
  const supported = config.serverMetadata().scopes_supported;
  if (!Array.isArray(supported)) return DEFAULT_SCOPE;
  return DEFAULT_SCOPE.split(' ')
    .filter((scope) => scope === 'openid' || supported.includes(scope))
    .join(' ');
}

function authorizationFailure(params: URLSearchParams): IdentityError {
  const error = params.get('error') ?? 'unknown_error';
  const description = params.get('error_description');
  if (error === 'access_denied') {
    return new IdentityError(
      'access_denied',
      `sign-in was cancelled or refused at the identity provider${description ? ` (${description})` : ''}`,
    );
  }
  return new IdentityError(
    'authorization_failed',
    `the identity provider refused the sign-in: ${error}${description ? `: ${description}` : ''}`,
  );
}

/**
 * Signs a person in through the browser and returns their tokens. The ID token is required and its nonce
 * checked; the state is checked before anything else (a mismatch ends the sign-in).
 */
export async function loginWithBrowser(
  config: client.Configuration,
  options: BrowserLoginOptions,
): Promise<TokenSet> {
  const { signal } = options;
  if (signal?.aborted) throw new IdentityError('aborted', 'sign-in was cancelled');
  const methods = config.serverMetadata().code_challenge_methods_supported;
  if (Array.isArray(methods) && !methods.includes('S256')) {
    throw new IdentityError('invalid_configuration', 'the identity provider does not support PKCE with S256');
  }

  const listener = await listenLoopback();
  let waiting: Waiting | undefined;
  try {
    const request = await authorizationRequest(config, options, listener.redirectUri);
    waiting = openAndWait(request.url, options);
    const callback = await Promise.race([listener.received, waiting.failed]);
    let tokens: TokenSet;
    try {
      tokens = await redeem(config, listener, callback, request, options);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await callback.respond(400, callbackPage('Sign-in failed', `${message}. You can close this window.`));
      throw error;
    }
    await callback.respond(
      200,
      callbackPage(
        'Signed in',
        `You are signed in to Portcullis as ${tokens.name}. You can close this window and return to Portcullis.`,
      ),
    );
    return tokens;
  } finally {
    waiting?.stop();
    await listener.close();
  }
}

/** One sign-in's secrets and the authorization URL that carries their public halves. */
interface AuthorizationRequest {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

async function authorizationRequest(
  config: client.Configuration,
  options: BrowserLoginOptions,
  redirectUri: string,
): Promise<AuthorizationRequest> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    ...options.parameters,
    redirect_uri: redirectUri,
    scope: scopeFor(config, options.scope),
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  return { url, verifier, state, nonce };
}

interface Waiting {
  /** Rejects when the time is up, the sign-in is cancelled or the browser cannot be opened. */
  failed: Promise<never>;
  stop(): void;
}

/** Shows URL to the person and waits, up to the timeout and unless cancelled, for the browser to return. */
function openAndWait(url: URL, options: BrowserLoginOptions): Waiting {
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS;
  const { signal } = options;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const failed = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new IdentityError(
            'timeout',
            `no sign-in response within ${Math.round(timeoutMs / 1000)} s; start the sign-in again`,
          ),
        ),
      timeoutMs,
    );
    onAbort = () => reject(new IdentityError('aborted', 'sign-in was cancelled'));
    signal?.addEventListener('abort', onAbort, { once: true });
    Promise.resolve()
      .then(() => options.openBrowser(url.href))
      .catch((error: unknown) =>
        reject(
          new IdentityError('browser_failed', `could not open the browser: ${describeError(error)}`, {
            cause: error,
          }),
        ),
      );
  });
  failed.catch(() => undefined); // settles after the race when the sign-in succeeded
  return {
    failed,
    stop() {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    },
  };
}

/** The tokens the browser's CALLBACK is worth, once it is known to answer this REQUEST. */
async function redeem(
  config: client.Configuration,
  listener: LoopbackListener,
  callback: Callback,
  request: AuthorizationRequest,
  options: BrowserLoginOptions,
): Promise<TokenSet> {
  const { params } = callback;
  if (params.get('state') !== request.state) {
    throw new IdentityError(
      'state_mismatch',
      'the sign-in response does not belong to this sign-in (state mismatch); start the sign-in again',
    );
  }
  if (params.has('error')) throw authorizationFailure(params);
  const callbackUrl = new URL(listener.redirectUri);
  callbackUrl.search = params.toString();
  let response: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
  try {
    response = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
  } catch (error) {
    throw new IdentityError(
      'token_exchange_failed',
      `could not complete the sign-in: ${describeError(error)}`,
      {
        cause: error,
      },
    );
  }
  return tokenSetFromResponse(response, {
    ...(options.groupsClaim ? { groupsClaim: options.groupsClaim } : {}),
  });
}
