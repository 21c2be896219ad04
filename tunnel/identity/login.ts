/**
 * People sign in: OAuth 2.0 authorization code with PKCE (S256) through the system browser and a loopback
 * redirect (RFC 8252 §7.3). A one-shot HTTP listener on 127.0.0.1 with an ephemeral port receives the
 * redirect at `/callback`, answers the browser with a small page, and is closed before the call returns,
 * whatever the outcome.
 *
 *   const config = await discoverIssuer({ issuer, clientId: 'portcullis-desktop' });
 *   const tokens = await loginWithBrowser(config, { openBrowser: (url) => shell.openExternal(url) });
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { IdentityError, describeError } from './errors.ts';
import { tokenSetFromResponse, type TokenSet } from './oidc.ts';

/** What Portcullis asks for; scopes the IdP does not list in `scopes_supported` are left out. */
export const DEFAULT_SCOPE = 'openid profile email groups offline_access';
export const DEFAULT_LOGIN_TIMEOUT_MS = 5 * 60_000;
const CALLBACK_PATH = '/callback';

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

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** The page the browser shows after the redirect. */
export function callbackPage(title: string, message: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)} - Portcullis</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2933}
h1{font-size:1.4rem}</style></head>
<body><h1 id="title">${escapeHtml(title)}</h1><p id="message">${escapeHtml(message)}</p></body>
</html>
`;
}

function send(res: ServerResponse, status: number, html: string): Promise<void> {
  return new Promise<void>((resolve) => {
    res.once('close', () => resolve());
    res.statusCode = status;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    // The page's own URL carries the authorization code: it must not leak through a Referer.
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Connection', 'close');
    res.end(html, () => resolve());
  });
}

interface Callback {
  params: URLSearchParams;
  /** Answers the browser; resolves once the page is written (or the browser went away). */
  respond(status: number, html: string): Promise<void>;
}

interface LoopbackListener {
  redirectUri: string;
  received: Promise<Callback>;
  close(): Promise<void>;
}

async function listenLoopback(): Promise<LoopbackListener> {
  let deliver!: (callback: Callback) => void;
  const received = new Promise<Callback>((resolve) => (deliver = resolve));
  let delivered = false;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== CALLBACK_PATH) {
      void send(res, 404, callbackPage('Not found', 'This address only receives the Portcullis sign-in.'));
      return;
    }
    if (req.method !== 'GET') {
      res.setHeader('Allow', 'GET');
      void send(res, 405, callbackPage('Not allowed', 'The sign-in response arrives by GET.'));
      return;
    }
    const params = url.searchParams;
    if (!params.has('code') && !params.has('error') && !params.has('state')) {
      void send(res, 400, callbackPage('Not a sign-in response', 'Start the sign-in from Portcullis.'));
      return;
    }
    if (delivered) {
      void send(res, 409, callbackPage('Already handled', 'This sign-in has already been handled.'));
      return;
    }
    delivered = true;
    deliver({ params, respond: (status, html) => send(res, status, html) });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    redirectUri: `http://127.0.0.1:${port}${CALLBACK_PATH}`,
    received,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
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
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS;
  const { signal } = options;
  if (signal?.aborted) throw new IdentityError('aborted', 'sign-in was cancelled');
  const methods = config.serverMetadata().code_challenge_methods_supported;
  if (Array.isArray(methods) && !methods.includes('S256')) {
    throw new IdentityError('invalid_configuration', 'the identity provider does not support PKCE with S256');
  }

  const listener = await listenLoopback();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      ...options.parameters,
      redirect_uri: listener.redirectUri,
      scope: scopeFor(config, options.scope),
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });

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
    const callback = await Promise.race([listener.received, failed]);

    let tokens: TokenSet;
    try {
      const { params } = callback;
      if (params.get('state') !== state) {
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
          pkceCodeVerifier: verifier,
          expectedState: state,
          expectedNonce: nonce,
        });
      } catch (error) {
        throw new IdentityError(
          'token_exchange_failed',
          `could not complete the sign-in: ${describeError(error)}`,
          { cause: error },
        );
      }
      tokens = tokenSetFromResponse(response, {
        ...(options.groupsClaim ? { groupsClaim: options.groupsClaim } : {}),
      });
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
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    await listener.close();
  }
}
