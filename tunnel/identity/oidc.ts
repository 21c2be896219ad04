/**
 * What login, refresh and client credentials share: discovering the identity provider (openid-client
 * Configuration), the TokenSet every flow returns, and turning a token endpoint response into one.
 */
import * as client from 'openid-client';
import { decodeJwt, type JWTPayload } from 'jose';
import { IdentityError, describeError } from './errors.ts';

/** The tokens of one signed-in person or agent, as the engine uses them. */
export interface TokenSet {
  /** The bearer token for the hub (and anything else the IdP issued it for). */
  accessToken: string;
  /** People only; rotated on refresh by IdPs that rotate. */
  refreshToken?: string;
  /** People only: the ID token of the last sign-in or refresh (used as id_token_hint at sign-out). */
  idToken?: string;
  /** When the access token expires, in milliseconds since the Unix epoch. */
  expiresAt: number;
  /** The `sub` of the person or agent. */
  subject: string;
  /** For people to read: `name`, else `preferred_username`, else `email`, else the subject. */
  name: string;
  /** The groups claim, when the IdP sent one. */
  groups?: string[];
}

export type TokenEndpointAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post';

export interface IssuerOptions {
  /** The issuer identifier, e.g. `https://login.example.com` (discovery is at its well-known path). */
  issuer: string | URL;
  clientId: string;
  /** Confidential clients (agents) only. */
  clientSecret?: string;
  /** Default 'none' without a secret (the public desktop/CLI client), 'client_secret_basic' with one. */
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  /**
   * Plain-http issuers are accepted on loopback hosts (127.0.0.1, [::1], localhost: the development IdP)
   * and refused anywhere else unless this is true.
   */
  allowInsecureHttp?: boolean;
  /** Timeout of every request to the IdP, in seconds. Default 30 (openid-client's default). */
  timeoutSeconds?: number;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

export function isLoopbackUrl(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname);
}

function clientAuthFor(options: IssuerOptions): client.ClientAuth {
  const method = options.tokenEndpointAuthMethod ?? (options.clientSecret ? 'client_secret_basic' : 'none');
  if (method === 'none') return client.None();
  if (!options.clientSecret) {
    throw new IdentityError('invalid_configuration', `${method} needs a client secret`);
  }
  return method === 'client_secret_basic'
    ? client.ClientSecretBasic(options.clientSecret)
    : client.ClientSecretPost(options.clientSecret);
}

/** Discovers the identity provider and returns the openid-client configuration every flow here takes. */
export async function discoverIssuer(options: IssuerOptions): Promise<client.Configuration> {
  let issuer: URL;
  try {
    issuer = new URL(options.issuer);
  } catch {
    throw new IdentityError('invalid_configuration', `issuer '${String(options.issuer)}' is not a URL`);
  }
  if (issuer.protocol !== 'https:' && issuer.protocol !== 'http:') {
    throw new IdentityError('invalid_configuration', `issuer ${issuer.href} must be an https URL`);
  }
  const insecure = issuer.protocol === 'http:';
  if (insecure && !isLoopbackUrl(issuer) && !options.allowInsecureHttp) {
    throw new IdentityError(
      'invalid_configuration',
      `issuer ${issuer.href} uses plain http; only loopback development issuers may (or set allowInsecureHttp)`,
    );
  }
  if (!options.clientId) throw new IdentityError('invalid_configuration', 'a client id is required');
  const clientAuth = clientAuthFor(options);
  try {
    return await client.discovery(issuer, options.clientId, undefined, clientAuth, {
      execute: insecure ? [client.allowInsecureRequests] : [],
      ...(options.timeoutSeconds === undefined ? {} : { timeout: options.timeoutSeconds }),
    });
  } catch (error) {
    throw new IdentityError(
      'discovery_failed',
      `could not discover the identity provider at ${issuer.href}: ${describeError(error)}`,
      { cause: error },
    );
  }
}

/** The issuer and client id a configuration belongs to (what stored tokens are keyed by). */
export function identityOf(config: client.Configuration): { issuer: string; clientId: string } {
  return { issuer: config.serverMetadata().issuer, clientId: config.clientMetadata().client_id };
}

/** The payload of a JWT, without verifying it: only for reading display claims of our own tokens. */
export function peekJwt(token: string | undefined): JWTPayload | undefined {
  if (!token) return undefined;
  try {
    return decodeJwt(token);
  } catch {
    return undefined; // opaque access token
  }
}

function stringClaim(...values: unknown[]): string | undefined {
  for (const value of values) if (typeof value === 'string' && value.length > 0) return value;
  return undefined;
}

function groupsClaim(...values: unknown[]): string[] | undefined {
  for (const value of values) {
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return [...value];
    if (typeof value === 'string') return [value];
  }
  return undefined;
}

/** Access tokens without `expires_in` or `exp` are treated as valid for this long. */
const UNKNOWN_LIFETIME_MS = 5 * 60_000;

export interface TokenSetOptions {
  /** The claim with group names. Default 'groups'. */
  groupsClaim?: string;
  /** The tokens being refreshed: their refresh token, ID token and identity carry over when not reissued. */
  previous?: TokenSet;
  /** The subject when no token names one (an agent with an opaque token: its client id). */
  fallbackSubject?: string;
  now?: number;
}

/** Turns a token endpoint response (code exchange, refresh or client credentials) into a TokenSet. */
export function tokenSetFromResponse(
  response: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers,
  options: TokenSetOptions = {},
): TokenSet {
  const now = options.now ?? Date.now();
  const claimName = options.groupsClaim ?? 'groups';
  const { previous } = options;
  const id: Record<string, unknown> = response.claims() ?? {};
  const access: Record<string, unknown> = peekJwt(response.access_token) ?? {};

  const subject = stringClaim(id.sub, access.sub, previous?.subject, options.fallbackSubject);
  if (!subject) throw new IdentityError('token_exchange_failed', 'the tokens name no subject');
  const expiresIn = response.expiresIn();
  const expiresAt =
    expiresIn !== undefined
      ? now + expiresIn * 1000
      : typeof access.exp === 'number'
        ? access.exp * 1000
        : now + UNKNOWN_LIFETIME_MS;
  const groups = groupsClaim(id[claimName], access[claimName]) ?? previous?.groups;
  const refreshToken = response.refresh_token ?? previous?.refreshToken;
  const idToken = response.id_token ?? previous?.idToken;
  return {
    accessToken: response.access_token,
    ...(refreshToken ? { refreshToken } : {}),
    ...(idToken ? { idToken } : {}),
    expiresAt,
    subject,
    name:
      stringClaim(
        id.name,
        id.preferred_username,
        id.email,
        access.name,
        access.preferred_username,
        previous?.name,
      ) ?? subject,
    ...(groups ? { groups } : {}),
  };
}
