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
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type * as OidcProviderModule from 'oidc-provider';
import type {
  Account,
  ClientMetadata,
  Configuration,
  Interaction,
  Provider,
  TokenModel,
} from 'oidc-provider';
import { keptStateWriter, readKeptState } from './kept-state.ts';
import { createMemoryStore } from './memory-adapter.ts';
import { DEFAULT_PUBLIC_CLIENT_ID, DEMO_AGENT, DEMO_USERS, type DevAgent, type DevUser } from './demo.ts';
import { loginPage, logoutPage, messagePage } from './pages.ts';

export { DEMO_AGENT, DEMO_USERS, DEFAULT_PUBLIC_CLIENT_ID, type DevAgent, type DevUser } from './demo.ts';
export { signInOverHttp, HttpSignInError, type HttpSignInOptions } from './http-login.ts';

export interface DevIdpOptions {
  /** 0 (the default) picks an ephemeral port. The IdP always binds to 127.0.0.1 only. */
  port?: number;
  /** The hub's API audience, e.g. 'portcullis-hub': the `aud` of every access token. */
  audience: string;
  /** Default DEMO_USERS. */
  users?: DevUser[];
  /** Default [DEMO_AGENT]. */
  agents?: DevAgent[];
  /** The desktop app / CLI public client. Default 'portcullis-desktop'. */
  publicClientId?: string;
  /** Lifetime of access tokens (people and agents). Default 900. */
  accessTokenTtlSeconds?: number;
  /** The claim that carries group names in access and ID tokens. Default 'groups'. */
  groupsClaim?: string;
  /**
   * Keep the signing key, cookie keys and stored sign-ins in this file (0600), so that tokens issued
   * before a restart still verify and refresh. Without it everything is generated at start and lost at exit.
   */
  stateFile?: string;
}

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

const DEFAULT_ACCESS_TOKEN_TTL = 900;
const SIGNING_ALG = 'RS256';
const MAX_FORM_BYTES = 16 * 1024;

/** Claims the IdP sets itself; a groups claim must not collide with them. */
const RESERVED_CLAIMS = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'client_id',
  'scope',
  'cnf',
  'name',
  'email',
  'email_verified',
  'preferred_username',
  'auth_time',
  'acr',
  'amr',
  'sid',
  'azp',
  'nonce',
]);

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

async function newSigningKey(): Promise<Record<string, unknown> & { kid: string }> {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true, modulusLength: 2048 });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: SIGNING_ALG, use: 'sig' };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function passwordMatches(expected: string, actual: string): boolean {
  return timingSafeEqual(digest(expected), digest(actual));
}

function validate(
  options: DevIdpOptions,
  users: DevUser[],
  agents: DevAgent[],
  publicClientId: string,
): void {
  if (typeof options.audience !== 'string' || options.audience.length === 0) {
    throw new TypeError('DevIdpOptions.audience must be a non-empty string');
  }
  const ttl = options.accessTokenTtlSeconds ?? DEFAULT_ACCESS_TOKEN_TTL;
  if (!Number.isSafeInteger(ttl) || ttl <= 0) {
    throw new TypeError('DevIdpOptions.accessTokenTtlSeconds must be a positive integer');
  }
  const groupsClaim = options.groupsClaim ?? 'groups';
  if (!groupsClaim || RESERVED_CLAIMS.has(groupsClaim)) {
    throw new TypeError(`DevIdpOptions.groupsClaim '${groupsClaim}' collides with a standard claim`);
  }
  // A token is an agent's exactly when sub === client_id; keep the namespaces apart so that stays true.
  const ids = new Set<string>([publicClientId]);
  for (const user of users) {
    if (!user.username || ids.has(user.username)) {
      throw new TypeError(`dev IdP user '${user.username}' is empty or collides with another user or client`);
    }
    ids.add(user.username);
  }
  for (const agent of agents) {
    if (!agent.clientId || ids.has(agent.clientId)) {
      throw new TypeError(`dev IdP agent '${agent.clientId}' is empty or collides with a user or client`);
    }
    if (!agent.clientSecret) throw new TypeError(`dev IdP agent '${agent.clientId}' needs a clientSecret`);
    ids.add(agent.clientId);
  }
}

function resourceIndicatorFor(audience: string): string {
  // RFC 8707 resource indicators are absolute URIs; an audience such as 'portcullis-hub' is not one.
  return URL.canParse(audience) ? audience : `urn:portcullis:resource:${encodeURIComponent(audience)}`;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = req.headers['content-type'] ?? '';
  if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    throw Object.assign(new Error('expected an application/x-www-form-urlencoded form'), { status: 415 });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw Object.assign(new Error('form too large'), { status: 413 });
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader(
    'Content-Security-Policy',
    // No form-action: browsers apply it to the redirects that follow the login POST, and the last of those
    // goes to the app's loopback listener.
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  );
  res.end(html);
}

function errorStatus(error: unknown): number {
  const status = (error as { status?: unknown; statusCode?: unknown }).status;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

function errorText(error: unknown): string {
  const e = error as { error_description?: unknown; message?: unknown };
  if (typeof e.error_description === 'string') return e.error_description;
  return typeof e.message === 'string' ? e.message : String(error);
}

export async function startDevIdp(options: DevIdpOptions): Promise<DevIdp> {
  const users = (options.users ?? DEMO_USERS).map((u) => ({ ...u, groups: [...u.groups] }));
  const agents = (options.agents ?? [DEMO_AGENT]).map((a) => ({ ...a, groups: [...a.groups] }));
  const publicClientId = options.publicClientId ?? DEFAULT_PUBLIC_CLIENT_ID;
  validate(options, users, agents, publicClientId);

  const { audience } = options;
  const groupsClaim = options.groupsClaim ?? 'groups';
  const accessTokenTtl = options.accessTokenTtlSeconds ?? DEFAULT_ACCESS_TOKEN_TTL;
  const resource = resourceIndicatorFor(audience);
  const usersByName = new Map(users.map((u) => [u.username, u]));
  const agentsById = new Map(agents.map((a) => [a.clientId, a]));
  const redirectUris = ['http://127.0.0.1/callback', 'http://[::1]/callback'];

  const { Provider: ProviderClass, errors } = await loadOidcProvider();

  const kept = options.stateFile ? await readKeptState(options.stateFile) : undefined;
  const signingKey = kept?.signingKey ?? (await newSigningKey());
  const cookieKeys = kept?.cookieKeys ?? [randomBytes(32).toString('base64url')];
  const saver = options.stateFile
    ? keptStateWriter(
        options.stateFile,
        () => ({ version: 1, signingKey, cookieKeys, store: store.snapshot() }),
        (error) => process.stderr.write(`[dev-idp] cannot keep sign-ins across restarts: ${error.message}\n`),
      )
    : undefined;
  const store = createMemoryStore({
    ...(kept ? { saved: kept.store } : {}),
    ...(saver ? { changed: () => saver.changed() } : {}),
  });
  if (saver && !kept) {
    saver.changed();
    await saver.flush();
  }

  // Listen first: the issuer names the port, and the provider needs the issuer. The request handler is
  // attached once the provider exists (synchronously after listening, before any request can be read).
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const personClaims = (user: DevUser): Record<string, unknown> => ({
    name: user.name,
    preferred_username: user.username,
    email: user.email,
    email_verified: true,
    [groupsClaim]: [...user.groups],
  });

  const configuration: Configuration = {
    adapter: store.adapter,
    jwks: { keys: [signingKey as Record<string, unknown>] },
    cookies: {
      keys: cookieKeys,
      // Browsers share cookies across ports of one host: keep clear of anything else on 127.0.0.1.
      names: {
        session: 'portcullis_idp_session',
        interaction: 'portcullis_idp_interaction',
        resume: 'portcullis_idp_resume',
      },
    },
    clients: [
      {
        client_id: publicClientId,
        client_name: 'Portcullis',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: redirectUris,
        post_logout_redirect_uris: redirectUris,
      },
      ...agents.map((agent): ClientMetadata => ({
        client_id: agent.clientId,
        client_secret: agent.clientSecret,
        client_name: agent.name,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: agent.tokenEndpointAuthMethod ?? 'client_secret_basic',
      })),
    ],
    claims: {
      acr: null,
      sid: null,
      auth_time: null,
      iss: null,
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
      groups: [groupsClaim],
    },
    findAccount(_ctx, sub): Account | undefined {
      const user = usersByName.get(sub);
      if (!user) return undefined;
      return { accountId: user.username, claims: () => ({ sub: user.username, ...personClaims(user) }) };
    },
    extraTokenClaims(_ctx, token: TokenModel) {
      if (token.kind === 'ClientCredentials') {
        const agent = token.clientId === undefined ? undefined : agentsById.get(token.clientId);
        return agent ? { name: agent.name, [groupsClaim]: [...agent.groups] } : undefined;
      }
      const user = token.accountId === undefined ? undefined : usersByName.get(token.accountId);
      return user ? personClaims(user) : undefined;
    },
    // Refresh tokens for the desktop app whether or not it asked for offline_access: OIDC Core §11 only
    // honours offline_access together with prompt=consent, and the loopback client should not need that.
    // They do not end with the IdP browser session either (the browser is not the app).
    issueRefreshToken: (_ctx, client, source) =>
      client.grantTypeAllowed('refresh_token') &&
      (client.clientId === publicClientId || source.scopes.has('offline_access')),
    expiresWithSession: () => false,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: {
        enabled: true,
        allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId,
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource(ctx, form) {
          ctx.type = 'html';
          ctx.body = logoutPage(form);
        },
        postLogoutSuccessSource(ctx) {
          ctx.type = 'html';
          ctx.body = messagePage('Signed out', 'You have signed out of the development identity provider.');
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx, _client, oneOf) => oneOf ?? resource,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, indicator) {
          if (indicator !== resource) throw new errors.InvalidTarget(`unknown resource ${indicator}`);
          return {
            scope: '',
            audience,
            accessTokenTTL: accessTokenTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: SIGNING_ALG } },
          };
        },
      },
    },
    interactions: { url: (_ctx, interaction: Interaction) => `/interaction/${interaction.uid}` },
    clientBasedCORS: () => false,
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = messagePage('Sign-in error', out.error_description ?? out.error, { error: out.error });
    },
    ttl: {
      AccessToken: accessTokenTtl,
      ClientCredentials: accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Grant: 14 * 24 * 3600,
      Session: 14 * 24 * 3600,
      RefreshToken: 14 * 24 * 3600,
    },
  };

  let provider: Provider;
  try {
    provider = new ProviderClass(issuer, configuration);
  } catch (error) {
    server.close();
    throw error;
  }
  provider.on('server_error', (_ctx: unknown, error: unknown) => {
    process.stderr.write(`[dev-idp] server error: ${String(error)}\n`);
  });
  const providerCallback = provider.callback();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(provider, providerCallback, req, res).catch((error: unknown) => {
      const status = errorStatus(error);
      if (status >= 500) process.stderr.write(`[dev-idp] ${req.method} ${req.url}: ${String(error)}\n`);
      if (!res.headersSent) {
        sendHtml(res, status, messagePage('Sign-in error', errorText(error)));
      } else {
        res.end();
      }
    });
  });

  async function handle(
    oidc: Provider,
    callback: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const path = new URL(req.url ?? '/', issuer).pathname;
    const match = /^\/interaction\/([A-Za-z0-9_-]+)(\/login|\/abort)?$/.exec(path);
    if (!match) {
      await callback(req, res);
      return;
    }
    const [, uid, action] = match;
    const details = await oidc.interactionDetails(req, res);
    if (details.uid !== uid) {
      sendHtml(res, 400, messagePage('Sign-in error', 'This sign-in page is out of date; start again.'));
      return;
    }
    const clientId = typeof details.params.client_id === 'string' ? details.params.client_id : '';
    const client = await oidc.Client.find(clientId);
    const clientName = client?.clientName ?? clientId;

    if (action === '/abort') {
      await oidc.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'End-User aborted interaction' },
        { mergeWithLastSubmission: false },
      );
      return;
    }

    if (action === '/login') {
      if (req.method !== 'POST' || details.prompt.name !== 'login') {
        sendHtml(res, 400, messagePage('Sign-in error', 'Unexpected sign-in request; start again.'));
        return;
      }
      const form = await readForm(req);
      const username = (form.get('username') ?? '').trim();
      const user = usersByName.get(username);
      // Compare even for unknown users so timing does not reveal which usernames exist.
      const ok = passwordMatches(
        user?.password ?? randomBytes(16).toString('hex'),
        form.get('password') ?? '',
      );
      if (!user || !ok) {
        sendHtml(res, 401, loginPage({ uid, clientName, username, error: 'Invalid username or password.' }));
        return;
      }
      await oidc.interactionFinished(
        req,
        res,
        { login: { accountId: user.username, amr: ['pwd'] } },
        { mergeWithLastSubmission: false },
      );
      return;
    }

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendHtml(res, 405, messagePage('Sign-in error', 'Method not allowed.'));
      return;
    }
    switch (details.prompt.name) {
      case 'login': {
        const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint : undefined;
        sendHtml(res, 200, loginPage({ uid, clientName, username: hint }));
        return;
      }
      case 'consent': {
        // Portcullis is the first-party client: consent is implied. Any other client is refused.
        if (clientId !== publicClientId || !details.session) {
          sendHtml(res, 403, messagePage('Sign-in error', `Client ${clientName} cannot be authorized here.`));
          return;
        }
        const grant = details.grantId
          ? ((await oidc.Grant.find(details.grantId)) ??
            new oidc.Grant({ accountId: details.session.accountId, clientId }))
          : new oidc.Grant({ accountId: details.session.accountId, clientId });
        const missing = details.prompt.details;
        if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
        if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
        for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
          grant.addResourceScope(indicator, scopes.join(' '));
        }
        const grantId = await grant.save();
        await oidc.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
        return;
      }
      default:
        sendHtml(res, 501, messagePage('Sign-in error', `Unsupported prompt ${details.prompt.name}.`));
    }
  }

  process.stderr.write(
    `[dev-idp] Portcullis DEVELOPMENT identity provider at ${issuer} (in-memory accounts, ${
      options.stateFile ? `keys and sign-ins kept in ${options.stateFile}` : 'generated keys'
    }) - NOT FOR PRODUCTION\n`,
  );

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
      }).finally(() => saver?.flush());
      return closing;
    },
  };
}
