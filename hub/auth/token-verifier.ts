// Verifies the OIDC access tokens that callers present to the hub (`Authorization: Bearer <JWT>`).
//
// - Keys: the IdP's JWKS, found through `${issuer}/.well-known/openid-configuration` (fetched once and cached;
//   a failed discovery is retried on the next request) and cached by jose's remote JWK set.
// - Checks: signature with an asymmetric algorithm only (RS*, PS*, ES*, EdDSA; never `none`, never HS*),
//   `iss` exactly equal to the configured issuer, `aud` containing the configured audience, `exp` present and
//   not past (with clockTolerance), `nbf` if present.
// - Identity: `sub` is the subject. A token is an **agent's** when it has no `sub` or `sub === client_id`:
//   that is what a client credentials grant yields at oidc-provider (the development IdP) and at IdPs that
//   follow RFC 9068 §2.2 ("sub ... SHOULD correspond to the client application" when no resource owner is
//   involved). Everything else is a **person**. The development IdP refuses usernames equal to a client id,
//   so the rule is unambiguous there. Groups come from `groupsClaim` (an array of strings, or one string
//   separated by spaces/commas; missing = no groups).

import {
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';

export interface Identity {
  subject: string;
  name: string;
  email?: string;
  groups: string[];
  kind: 'person' | 'agent';
  clientId?: string;
}

export type AuthErrorCode =
  | 'missing_token'
  | 'invalid_token'
  | 'expired'
  | 'wrong_audience'
  | 'wrong_issuer'
  /** Signed by a key the IdP no longer publishes: a sign-in from before its keys changed. */
  | 'unknown_signing_key'
  /** The IdP's discovery document or JWKS could not be fetched: not the caller's fault (503). */
  | 'idp_unavailable'
  /** For the hub's own use: a valid identity that may not do what it asked (403). */
  | 'forbidden';

export class AuthError extends Error {
  override name = 'AuthError';
  constructor(
    /** 401: no valid token; 403: valid token, not allowed; 503: the IdP could not be reached. */
    readonly status: 401 | 403 | 503,
    readonly code: AuthErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** A `WWW-Authenticate` value for a 401 response (RFC 6750 §3), undefined for other statuses. */
  get wwwAuthenticate(): string | undefined {
    if (this.status !== 401) return undefined;
    if (this.code === 'missing_token') return 'Bearer realm="portcullis"';
    const description = this.message.replace(/["\\]/g, "'");
    return `Bearer realm="portcullis", error="invalid_token", error_description="${description}"`;
  }
}

export type FetchLike = (url: string, init: { headers: Headers; signal: AbortSignal }) => Promise<Response>;

export interface TokenVerifierOptions {
  /** The IdP's issuer identifier, exactly as it appears in `iss` (e.g. `http://127.0.0.1:41234`). */
  issuer: string;
  /** The hub's API audience: tokens must carry it in `aud`. */
  audience: string;
  /** Default 'groups'. Dotted paths (`realm_access.roles`) are followed when no claim has the exact name. */
  groupsClaim?: string;
  /** Default 30. */
  clockToleranceSeconds?: number;
  /** Default: every asymmetric algorithm below. Narrow it to pin the IdP's algorithm. */
  algorithms?: AsymmetricAlgorithm[];
  /** Used for discovery and the JWKS. Default globalThis.fetch. */
  fetch?: FetchLike;
  /** Skip discovery and the remote JWKS: resolve verification keys with this (e.g. jose's createLocalJWKSet). */
  getKey?: JWTVerifyGetKey;
  /** Timeout for discovery and JWKS requests, default 5000 ms. */
  timeoutMs?: number;
  /**
   * How long a token whose signature checked out is trusted without checking it again (its expiry is
   * checked on every use). Default 60 s; 0 checks every use. Bounds how long a key the IdP withdrew
   * keeps working for tokens it already signed.
   */
  verifiedTtlMs?: number;
}

export interface TokenVerifier {
  /** Resolves the caller's identity from an `Authorization` header value, or throws AuthError. */
  verify(authorizationHeader: string | undefined): Promise<Identity>;
}

export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

const MAX_TOKEN_LENGTH = 16 * 1024;
/** Verified tokens kept: more than the callers a hub has at once, small enough to forget (~1 MB). */
const VERIFIED_TOKENS = 1024;
const BEARER = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)[ ]*$/i;

/** jose error codes that mean "this token is bad" (as opposed to "the IdP could not be reached"). */
const TOKEN_FAULTS = new Set([
  'ERR_JOSE_ALG_NOT_ALLOWED',
  'ERR_JOSE_NOT_SUPPORTED',
  'ERR_JWS_INVALID',
  'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  'ERR_JWT_INVALID',
  'ERR_JWT_CLAIM_VALIDATION_FAILED',
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWKS_MULTIPLE_MATCHING_KEYS',
  'ERR_JWK_INVALID',
]);

function invalid(message: string, cause?: unknown): AuthError {
  return new AuthError(401, 'invalid_token', message, { cause });
}

function stringClaim(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function claimAt(payload: JWTPayload, name: string): unknown {
  if (name in payload) return payload[name];
  let value: unknown = payload;
  for (const part of name.split('.')) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** Normalizes a groups claim: string[] as is, a string split on whitespace/commas, missing → []. */
export function parseGroups(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  let items: unknown[];
  if (typeof value === 'string') items = value.split(/[\s,]+/);
  else if (Array.isArray(value)) items = value;
  else throw invalid('groups claim is neither a string nor an array of strings');
  const groups: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string') throw invalid('groups claim contains a non-string value');
    const group = item.trim();
    if (group && !groups.includes(group)) groups.push(group);
  }
  return groups;
}

/** Maps verified access token claims to an Identity (exported for the hub's tests). */
export function identityFromClaims(payload: JWTPayload, groupsClaim = 'groups'): Identity {
  const sub = stringClaim(payload, 'sub');
  const clientId = stringClaim(payload, 'client_id') ?? stringClaim(payload, 'azp');
  const subject = sub ?? clientId;
  if (!subject) throw invalid('token has neither sub nor client_id');
  const kind = sub === undefined || sub === clientId ? 'agent' : 'person';
  const name =
    stringClaim(payload, 'name') ??
    stringClaim(payload, 'preferred_username') ??
    stringClaim(payload, 'client_name') ??
    subject;
  const identity: Identity = { subject, name, groups: parseGroups(claimAt(payload, groupsClaim)), kind };
  const email = kind === 'person' ? stringClaim(payload, 'email') : undefined;
  if (email) identity.email = email;
  if (clientId) identity.clientId = clientId;
  return identity;
}

function discoveryUrl(issuer: string): URL {
  return new URL(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`);
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const { issuer, audience } = options;
  if (!issuer || !URL.canParse(issuer)) throw new TypeError('TokenVerifierOptions.issuer must be a URL');
  if (!audience) throw new TypeError('TokenVerifierOptions.audience must be a non-empty string');
  const groupsClaim = options.groupsClaim ?? 'groups';
  const clockTolerance = options.clockToleranceSeconds ?? 30;
  const algorithms = checkedAlgorithms(options.algorithms);
  // A tunnel opening connections presents the same token for each proof: its RSA check is the costliest
  // part of the request, and answers the same until the token expires.
  const verified = verifiedTokens(options.verifiedTtlMs ?? 60_000);
  const keyResolver = options.getKey ? () => Promise.resolve(options.getKey!) : discoveredKeys(options);

  async function verify(authorizationHeader: string | undefined): Promise<Identity> {
    const token = bearerToken(authorizationHeader, algorithms, issuer);
    const payload = verified.get(token) ?? (await verifySignature(token));
    if (payload.exp! <= Math.floor(Date.now() / 1000) - clockTolerance) {
      verified.forget(token);
      throw new AuthError(401, 'expired', 'the token has expired');
    }
    return identityFromClaims(payload, groupsClaim);
  }

  async function verifySignature(token: string): Promise<JWTPayload> {
    const getKey = await keyResolver();
    try {
      const { payload } = await jwtVerify(token, getKey, {
        issuer,
        audience,
        algorithms,
        clockTolerance,
        requiredClaims: ['exp'],
      });
      verified.remember(token, payload);
      return payload;
    } catch (error) {
      throw mapVerifyError(error);
    }
  }

  return { verify };
}

function checkedAlgorithms(given: readonly AsymmetricAlgorithm[] | undefined): string[] {
  const algorithms: string[] = [...(given ?? ASYMMETRIC_ALGORITHMS)];
  for (const alg of algorithms) {
    if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new TypeError(`TokenVerifierOptions.algorithms: ${alg} is not an asymmetric JWS algorithm`);
    }
  }
  return algorithms;
}

/** The IdP's keys through discovery, looked up once; a failed discovery is tried again on the next request. */
function discoveredKeys(options: TokenVerifierOptions): () => Promise<JWTVerifyGetKey> {
  let keys: Promise<JWTVerifyGetKey> | undefined;
  return () => {
    if (!keys) {
      const pending = discover(options);
      keys = pending;
      pending.catch(() => {
        if (keys === pending) keys = undefined; // retry discovery on the next request
      });
    }
    return keys;
  };
}

async function discover(options: TokenVerifierOptions): Promise<JWTVerifyGetKey> {
  const { issuer } = options;
  const timeoutMs = options.timeoutMs ?? 5000;
  const doFetch: FetchLike = options.fetch ?? ((url, init) => fetch(url, init));
  const url = discoveryUrl(issuer);
  let metadata: { issuer?: unknown; jwks_uri?: unknown };
  try {
    const res = await doFetch(url.href, {
      headers: new Headers({ accept: 'application/json' }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    metadata = (await res.json()) as typeof metadata;
  } catch (cause) {
    throw new AuthError(503, 'idp_unavailable', `cannot read ${url.href}`, { cause });
  }
  if (metadata.issuer !== issuer) {
    throw new AuthError(
      503,
      'idp_unavailable',
      `discovery at ${url.href} names issuer ${String(metadata.issuer)}`,
    );
  }
  if (typeof metadata.jwks_uri !== 'string' || !URL.canParse(metadata.jwks_uri)) {
    throw new AuthError(503, 'idp_unavailable', `discovery at ${url.href} has no valid jwks_uri`);
  }
  return createRemoteJWKSet(new URL(metadata.jwks_uri), {
    timeoutDuration: timeoutMs,
    [customFetch]: (jwksUrl, init) => doFetch(jwksUrl, init),
  });
}

/**
 * The token of a Bearer header, after the cheap checks on the unverified token: they choose the error code
 * and spare the IdP a JWKS fetch for tokens that cannot pass. jwtVerify checks all of it again.
 */
function bearerToken(authorizationHeader: string | undefined, algorithms: string[], issuer: string): string {
  const header = authorizationHeader?.trim();
  if (!header) throw new AuthError(401, 'missing_token', 'no Authorization header');
  if (!/^Bearer(\s|$)/i.test(header)) {
    throw new AuthError(401, 'missing_token', 'the Authorization header is not a Bearer token');
  }
  if (header.length > MAX_TOKEN_LENGTH) throw invalid('token too large');
  const token = BEARER.exec(header)?.[1];
  if (!token) throw invalid('malformed Bearer token');
  if (token.split('.').length !== 3) throw invalid('the token is not a signed JWT');

  let alg: unknown;
  let claimedIssuer: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
    claimedIssuer = decodeJwt(token).iss;
  } catch (cause) {
    throw invalid('the token is not a well-formed JWT', cause);
  }
  if (typeof alg !== 'string' || !algorithms.includes(alg)) {
    throw invalid(`signing algorithm ${String(alg)} is not accepted`);
  }
  if (claimedIssuer !== issuer) {
    throw new AuthError(401, 'wrong_issuer', `token issued by ${String(claimedIssuer)}, expected ${issuer}`);
  }
  return token;
}

/** Tokens whose signature and claims checked out, with their claims, each for `ttlMs` at most. */
function verifiedTokens(ttlMs: number) {
  const entries = new Map<string, { payload: JWTPayload; until: number }>();
  return {
    get(token: string): JWTPayload | undefined {
      const entry = entries.get(token);
      if (!entry) return undefined;
      if (entry.until > Date.now()) return entry.payload;
      entries.delete(token);
      return undefined;
    },
    remember(token: string, payload: JWTPayload): void {
      if (ttlMs <= 0) return;
      entries.set(token, { payload, until: Date.now() + ttlMs });
      if (entries.size > VERIFIED_TOKENS) entries.delete(entries.keys().next().value!);
    },
    forget(token: string): void {
      entries.delete(token);
    },
  };
}

function mapVerifyError(error: unknown): AuthError {
  if (error instanceof AuthError) return error;
  if (error instanceof errors.JWTExpired) {
    return new AuthError(401, 'expired', 'the token has expired', { cause: error });
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') {
      return new AuthError(401, 'wrong_audience', 'the token is not for this audience', { cause: error });
    }
    if (error.claim === 'iss') {
      return new AuthError(401, 'wrong_issuer', 'the token is from another issuer', { cause: error });
    }
    return invalid(`claim ${error.claim} failed validation: ${error.message}`, error);
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    // Nearly always a token from before the IdP changed its keys (a development IdP restarted afresh).
    return new AuthError(
      401,
      'unknown_signing_key',
      'your sign-in is from a previous run of the identity provider (it no longer has the key that signed it)',
      { cause: error },
    );
  }
  if (error instanceof errors.JOSEError && TOKEN_FAULTS.has(error.code)) {
    return invalid(error.message, error);
  }
  // JWKS timeouts, non-200 JWKS responses, network failures: the IdP is unreachable, not the token bad.
  return new AuthError(503, 'idp_unavailable', 'cannot fetch the identity provider keys', { cause: error });
}
