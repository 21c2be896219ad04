/**
 * Agents sign in with the OAuth 2.0 client credentials grant. Their secret comes from the environment
 * (PORTCULLIS_CLIENT_ID, PORTCULLIS_CLIENT_SECRET) unless passed; the returned TokenManager requests a new
 * token when the held one is due (there is no refresh token).
 *
 *   const agent = await clientCredentialsLogin({ issuer: 'https://login.example.com' });
 *   const hub = createHubClient({ url, token: () => agent.getAccessToken() });
 */
import * as client from 'openid-client';
import { IdentityError, describeError, oauthErrorOf } from './errors.ts';
import {
  discoverIssuer,
  identityOf,
  tokenSetFromResponse,
  type IssuerOptions,
  type TokenSet,
} from './oidc.ts';
import { TokenManager } from './refresh.ts';

export const CLIENT_ID_ENV = 'PORTCULLIS_CLIENT_ID';
export const CLIENT_SECRET_ENV = 'PORTCULLIS_CLIENT_SECRET';

export interface AgentCredentials {
  clientId: string;
  clientSecret: string;
}

/**
 * The agent's credentials from PORTCULLIS_CLIENT_ID and PORTCULLIS_CLIENT_SECRET; undefined when neither is
 * set, an error when only one is.
 */
export function agentCredentialsFromEnv(env: NodeJS.ProcessEnv = process.env): AgentCredentials | undefined {
  const clientId = env[CLIENT_ID_ENV] ?? '';
  const clientSecret = env[CLIENT_SECRET_ENV] ?? '';
  if (!clientId && !clientSecret) return undefined;
  if (!clientId || !clientSecret) {
    const missing = clientId ? CLIENT_SECRET_ENV : CLIENT_ID_ENV;
    throw new IdentityError(
      'invalid_configuration',
      `${missing} is not set (agents need both id and secret)`,
    );
  }
  return { clientId, clientSecret };
}

export interface ClientCredentialsRequest {
  /** Sent as `audience`, for IdPs that select the API that way (e.g. Auth0). */
  audience?: string;
  /** RFC 8707 resource indicator of the hub API. */
  resource?: string;
  scope?: string;
  /** The claim with group names. Default 'groups'. */
  groupsClaim?: string;
}

/** One client credentials grant, as a TokenSet (the subject is the token's `sub`, else the client id). */
export async function requestClientCredentials(
  config: client.Configuration,
  request: ClientCredentialsRequest = {},
): Promise<TokenSet> {
  const parameters: Record<string, string> = {};
  if (request.audience) parameters.audience = request.audience;
  if (request.resource) parameters.resource = request.resource;
  if (request.scope) parameters.scope = request.scope;
  const { clientId } = identityOf(config);
  let response: Awaited<ReturnType<typeof client.clientCredentialsGrant>>;
  try {
    response = await client.clientCredentialsGrant(config, parameters);
  } catch (error) {
    const { error: code } = oauthErrorOf(error);
    const hint =
      code === 'invalid_client'
        ? ` (check ${CLIENT_ID_ENV} and ${CLIENT_SECRET_ENV}, and how the client authenticates)`
        : '';
    throw new IdentityError(
      'client_credentials_failed',
      `the identity provider refused client ${clientId}: ${describeError(error)}${hint}`,
      { cause: error },
    );
  }
  return tokenSetFromResponse(response, {
    fallbackSubject: clientId,
    ...(request.groupsClaim ? { groupsClaim: request.groupsClaim } : {}),
  });
}

export interface ClientCredentialsOptions
  extends
    ClientCredentialsRequest,
    Omit<IssuerOptions, 'clientId' | 'clientSecret' | 'tokenEndpointAuthMethod'> {
  /** Default PORTCULLIS_CLIENT_ID from `env`. */
  clientId?: string;
  /** Default PORTCULLIS_CLIENT_SECRET from `env`. */
  clientSecret?: string;
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** How the agent authenticates at the token endpoint. Default 'client_secret_basic'. */
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post';
  refreshAheadSeconds?: number;
  now?: () => number;
}

/**
 * Discovers the IdP, requests a token (so bad credentials fail here, not on first use) and returns a
 * TokenManager that requests a new one whenever the held token is due.
 */
export async function clientCredentialsLogin(options: ClientCredentialsOptions): Promise<TokenManager> {
  const fromEnv =
    options.clientId && options.clientSecret
      ? undefined
      : agentCredentialsFromEnv(options.env ?? process.env);
  const clientId = options.clientId || fromEnv?.clientId;
  const clientSecret = options.clientSecret || fromEnv?.clientSecret;
  if (!clientId || !clientSecret) {
    throw new IdentityError(
      'invalid_configuration',
      `agent credentials are missing: set ${CLIENT_ID_ENV} and ${CLIENT_SECRET_ENV}`,
    );
  }
  const config = await discoverIssuer({
    issuer: options.issuer,
    clientId,
    clientSecret,
    tokenEndpointAuthMethod: options.tokenEndpointAuthMethod ?? 'client_secret_basic',
    ...(options.allowInsecureHttp === undefined ? {} : { allowInsecureHttp: options.allowInsecureHttp }),
    ...(options.timeoutSeconds === undefined ? {} : { timeoutSeconds: options.timeoutSeconds }),
  });
  const request: ClientCredentialsRequest = {
    ...(options.audience ? { audience: options.audience } : {}),
    ...(options.resource ? { resource: options.resource } : {}),
    ...(options.scope ? { scope: options.scope } : {}),
    ...(options.groupsClaim ? { groupsClaim: options.groupsClaim } : {}),
  };
  const identity = identityOf(config);
  const manager = new TokenManager({
    ...identity,
    renew: () => requestClientCredentials(config, request),
    ...(options.refreshAheadSeconds === undefined
      ? {}
      : { refreshAheadSeconds: options.refreshAheadSeconds }),
    ...(options.now ? { now: options.now } : {}),
  });
  await manager.renew();
  return manager;
}
