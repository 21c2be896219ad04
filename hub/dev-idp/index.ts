// The development identity provider: a real OpenID provider (oidc-provider 9) with in-memory accounts, for
// the embedded demo and the tests. Never for production: accounts and passwords live in memory, the signing
// key is generated at start (or kept in a file, with the sign-ins, by the demo), and it speaks plain HTTP
// on 127.0.0.1.
//
// What it issues:
// - People (the public client `publicClientId`, e.g. the desktop app and the CLI): authorization code with
//   PKCE S256, loopback redirect URIs `http://127.0.0.1:<any port>/callback` and `http://[::1]:<any
//   port>/callback` (RFC 8252 §7.3: oidc-provider ignores the port of a loopback redirect URI for
//   `application_type: 'native'` clients), and a refresh token with every code exchange (rotated on
//   every use; `offline_access` is not needed, see issueRefreshToken below).
// - Agents: the client credentials grant.
// Access tokens are JWTs (RFC 9068, header typ `at+jwt`) for the resource server `resource` with
// `aud` = `audience`, signed RS256 with the key on `${issuer}/jwks`. The resource is the default, so clients
// never need to send a `resource` parameter.
//
// The interaction (login + consent) is served by this module at `/interaction/:uid` as a plain HTML form;
// see http-login.ts for driving it without a browser.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as OidcProviderModule from 'oidc-provider';
import type { Provider } from 'oidc-provider';
import type { DevAgent, DevUser } from './demo.ts';
import { errorStatus, errorText, sendHtml } from './html-responses.ts';
import { handleRequest } from './interaction.ts';
import { messagePage } from './pages.ts';
import { providerConfiguration } from './provider-configuration.ts';
import { resolveSettings, type DevIdpOptions } from './settings.ts';
import { openSigningState } from './signing-state.ts';

export { DEMO_AGENT, DEMO_USERS, DEFAULT_PUBLIC_CLIENT_ID, type DevAgent, type DevUser } from './demo.ts';
export { signInOverHttp, HttpSignInError, type HttpSignInOptions } from './http-login.ts';
export type { DevIdpOptions } from './settings.ts';

export interface DevIdp {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  issuer: string;
  /** The resource indicator (RFC 8707) of the hub API; the default resource, so clients may omit it. */
  resource: string;
  audience: string;
  users: DevUser[];
  agents: DevAgent[];
  publicClientId: string;
  /** The loopback redirect URIs registered for the public client; any port is accepted on them. */
  redirectUris: string[];
  close(): Promise<void>;
}

let loadingProvider: Promise<typeof OidcProviderModule> | undefined;

/**
 * oidc-provider 9 prints "Unsupported runtime" when imported on Node 20 (it targets 22 LTS). The repo targets
 * Node >= 20.19, where the parts used here work; that one known line is filtered while the module loads so
 * the IdP's own notice is the only line it writes. Everything else passes through.
 */
function loadOidcProvider(): Promise<typeof OidcProviderModule> {
  loadingProvider ??= (async () => {
    const original = console.warn;
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('WARNING: Unsupported runtime')) return;
      original.apply(console, args);
    };
    try {
      return await import('oidc-provider');
    } finally {
      console.warn = original;
    }
  })();
  return loadingProvider;
}

export async function startDevIdp(options: DevIdpOptions): Promise<DevIdp> {
  const settings = resolveSettings(options);
  const { Provider: ProviderClass, errors } = await loadOidcProvider();
  const state = await openSigningState(options.stateFile);

  // Listen first: the issuer names the port, and the provider needs the issuer. The request handler is
  // attached once the provider exists (synchronously after listening, before any request can be read).
  const server = await listenOnLoopback(options.port ?? 0);
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let provider: Provider;
  try {
    provider = new ProviderClass(issuer, providerConfiguration(settings, state, errors));
  } catch (error) {
    server.close();
    throw error;
  }
  provider.on('server_error', (_ctx: unknown, error: unknown) => {
    process.stderr.write(`[dev-idp] server error: ${String(error)}\n`);
  });
  const providerCallback = provider.callback();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handleRequest(provider, providerCallback, settings, req, res).catch((error: unknown) =>
      answerFailure(req, res, error),
    );
  });

  process.stderr.write(
    `[dev-idp] Portcullis DEVELOPMENT identity provider at ${issuer} (in-memory accounts, ${
      options.stateFile ? `keys and sign-ins kept in ${options.stateFile}` : 'generated keys'
    }) - NOT FOR PRODUCTION\n`,
  );

  const { resource, audience, users, agents, publicClientId, redirectUris } = settings;
  let closing: Promise<void> | undefined;
  return {
    issuer,
    resource,
    audience,
    users,
    agents,
    publicClientId,
    redirectUris,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }).finally(() => state.flush());
      return closing;
    },
  };
}

async function listenOnLoopback(port: number): Promise<Server> {
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

function answerFailure(req: IncomingMessage, res: ServerResponse, error: unknown): void {
  const status = errorStatus(error);
  if (status >= 500) process.stderr.write(`[dev-idp] ${req.method} ${req.url}: ${String(error)}\n`);
  if (!res.headersSent) {
    sendHtml(res, status, messagePage('Sign-in error', errorText(error)));
  } else {
    res.end();
  }
}
