/**
 * Keeping a valid access token: refreshTokens() for one refresh, and TokenManager, which holds a token set,
 * hands out an access token that is not about to expire, renews ahead of expiry (one renewal at a time,
 * shared by concurrent callers), persists what it gets through a TokenStore, and signs out.
 *
 *   const manager = await loadPersonSession(config, new FileTokenStore());   // undefined: not signed in
 *   const hub = createHubClient({ url, token: () => manager.getAccessToken() });
 */
import * as client from 'openid-client';
import { IdentityError, describeError, oauthErrorOf } from './errors.ts';
import { identityOf, tokenSetFromResponse, type TokenSet } from './oidc.ts';
import type { StoredTokens, TokenStore } from './token-store.ts';

export const DEFAULT_REFRESH_AHEAD_SECONDS = 60;
/** Tokens another process saved are taken as they are while they have at least this long left. */
const STORED_TOKEN_MIN_LIFETIME_MS = 10_000;

export interface RefreshOptions {
  /** The claim with group names. Default 'groups'. */
  groupsClaim?: string;
  /** Extra token endpoint parameters, e.g. `resource`. */
  parameters?: Record<string, string>;
}

/**
 * One refresh token grant. The result keeps the old refresh token when the IdP did not rotate it, and the
 * old ID token and identity when it sent none. `session_expired` when the IdP no longer accepts the
 * refresh token (spent, revoked, expired): the person has to sign in again.
 */
export async function refreshTokens(
  config: client.Configuration,
  tokens: TokenSet,
  options: RefreshOptions = {},
): Promise<TokenSet> {
  if (!tokens.refreshToken) {
    throw new IdentityError(
      'session_expired',
      'the session cannot be renewed (no refresh token); sign in again',
    );
  }
  let response: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
  try {
    response = await client.refreshTokenGrant(config, tokens.refreshToken, options.parameters);
  } catch (error) {
    if (oauthErrorOf(error).error === 'invalid_grant') {
      throw new IdentityError('session_expired', 'the session has expired or was revoked; sign in again', {
        cause: error,
      });
    }
    throw new IdentityError('refresh_failed', `could not refresh the access token: ${describeError(error)}`, {
      cause: error,
    });
  }
  const next = tokenSetFromResponse(response, {
    previous: tokens,
    ...(options.groupsClaim ? { groupsClaim: options.groupsClaim } : {}),
  });
  if (next.subject !== tokens.subject) {
    throw new IdentityError('refresh_failed', 'the refreshed tokens belong to another subject');
  }
  return next;
}

export interface TokenManagerOptions {
  /** The issuer and client the tokens belong to (saved with them). */
  issuer: string;
  clientId: string;
  /**
   * Obtains new tokens when the held ones are due or missing (`current` undefined): a refresh for people,
   * a new client credentials request for agents.
   */
  renew(current: TokenSet | undefined): Promise<TokenSet>;
  /** Best-effort at signOut, e.g. revoking the refresh token. */
  revoke?(tokens: TokenSet): Promise<void>;
  /** The IdP's end-session URL for these tokens, when it has one; returned by signOut for the browser. */
  endSessionUrl?(tokens: TokenSet): string | undefined;
  /** Tokens to start with (e.g. loaded from the store). */
  tokens?: TokenSet;
  /** Where renewed tokens are saved (rotated refresh tokens included) and what signOut clears. */
  store?: TokenStore;
  /**
   * Renew this long before the access token expires. Default 60; capped at half the lifetime of tokens
   * the manager obtained itself, so short-lived tokens are not renewed on every call.
   */
  refreshAheadSeconds?: number;
  /** Clock in milliseconds, for tests. Default Date.now. */
  now?: () => number;
}

export interface SignOutResult {
  /** Whether the IdP confirmed the revocation (false: nothing to revoke, no endpoint, or it failed). */
  revoked: boolean;
  /** Why the revocation failed, when it did. */
  revocationError?: string;
  /**
   * The IdP's RP-initiated logout URL (OIDC end-session) for the browser session, when the IdP offers one:
   * opening it is the caller's choice (it is a browser flow, often with a confirmation page).
   */
  endSessionUrl?: string;
}

export class TokenManager {
  readonly issuer: string;
  readonly clientId: string;
  readonly #options: TokenManagerOptions;
  readonly #aheadMs: number;
  readonly #now: () => number;
  #tokens: TokenSet | undefined;
  /** Lifetime of the held access token when the manager saw it issued; undefined for loaded tokens. */
  #lifetimeMs: number | undefined;
  #renewing: Promise<TokenSet> | undefined;
  /** Bumped by signOut and setTokens: a renewal that started before does not overwrite their result. */
  #generation = 0;

  constructor(options: TokenManagerOptions) {
    const ahead = options.refreshAheadSeconds ?? DEFAULT_REFRESH_AHEAD_SECONDS;
    if (!Number.isFinite(ahead) || ahead < 0) {
      throw new IdentityError('invalid_configuration', 'refreshAheadSeconds must be a non-negative number');
    }
    this.issuer = options.issuer;
    this.clientId = options.clientId;
    this.#options = options;
    this.#aheadMs = ahead * 1000;
    this.#now = options.now ?? Date.now;
    this.#tokens = options.tokens;
  }

  /** The held tokens (possibly expired), or undefined. */
  get tokens(): TokenSet | undefined {
    return this.#tokens ? structuredClone(this.#tokens) : undefined;
  }

  /** Whether the held access token is missing or within the refresh-ahead window of its expiry. */
  isDue(): boolean {
    const tokens = this.#tokens;
    if (!tokens) return true;
    const ahead =
      this.#lifetimeMs === undefined ? this.#aheadMs : Math.min(this.#aheadMs, this.#lifetimeMs / 2);
    return this.#now() >= tokens.expiresAt - ahead;
  }

  /** A valid access token, renewing first when it is due. */
  async getAccessToken(): Promise<string> {
    return (await this.getTokens()).accessToken;
  }

  /** The held tokens, renewed first when due. */
  async getTokens(): Promise<TokenSet> {
    if (this.#tokens && !this.isDue()) return structuredClone(this.#tokens);
    return structuredClone(await this.renew());
  }

  /**
   * Renews now, whether due or not (e.g. after the hub answered 401). Concurrent calls share one renewal.
   * New tokens are saved to the store before the promise resolves; when saving fails the new tokens are
   * still held in memory and the store's error is thrown.
   */
  renew(): Promise<TokenSet> {
    if (this.#renewing) return this.#renewing;
    const generation = this.#generation;
    const current = this.#tokens;
    const renewing = (async () => {
      const next = await this.#options.renew(current);
      if (generation !== this.#generation) {
        if (!this.#tokens) throw new IdentityError('not_signed_in', 'signed out while renewing the tokens');
        return structuredClone(this.#tokens); // replaced by setTokens meanwhile
      }
      this.#hold(next);
      await this.#save(next);
      return next;
    })();
    this.#renewing = renewing;
    void renewing
      .finally(() => {
        if (this.#renewing === renewing) this.#renewing = undefined;
      })
      .catch(() => undefined);
    return renewing;
  }

  /** Holds freshly issued tokens (e.g. from loginWithBrowser) and saves them. */
  async setTokens(tokens: TokenSet): Promise<void> {
    this.#generation++;
    this.#hold(tokens);
    await this.#save(tokens);
  }

  /**
   * Forgets the tokens: in memory and in the store, then (best-effort) revokes them at the IdP. Waits for a
   * renewal in flight so that it cannot save tokens after the store was cleared.
   */
  async signOut(): Promise<SignOutResult> {
    this.#generation++;
    const tokens = this.#tokens;
    this.#tokens = undefined;
    this.#lifetimeMs = undefined;
    await this.#renewing?.catch(() => undefined);
    await this.#options.store?.clear();
    const result: SignOutResult = { revoked: false };
    if (!tokens) return result;
    const endSessionUrl = this.#options.endSessionUrl?.(tokens);
    if (endSessionUrl) result.endSessionUrl = endSessionUrl;
    if (this.#options.revoke) {
      try {
        await this.#options.revoke(tokens);
        result.revoked = true;
      } catch (error) {
        result.revocationError = describeError(error);
      }
    }
    return result;
  }

  #hold(tokens: TokenSet): void {
    this.#tokens = structuredClone(tokens);
    this.#lifetimeMs = Math.max(0, tokens.expiresAt - this.#now());
  }

  async #save(tokens: TokenSet): Promise<void> {
    const stored: StoredTokens = { issuer: this.issuer, clientId: this.clientId, tokens };
    await this.#options.store?.save(stored);
  }
}

export interface PersonSessionOptions extends RefreshOptions {
  store?: TokenStore;
  tokens?: TokenSet;
  refreshAheadSeconds?: number;
  now?: () => number;
}

/** A TokenManager for a person: renews by refresh token, revokes the refresh token at sign-out. */
export function personTokenManager(
  config: client.Configuration,
  options: PersonSessionOptions = {},
): TokenManager {
  const { issuer, clientId } = identityOf(config);
  const metadata = config.serverMetadata();
  return new TokenManager({
    issuer,
    clientId,
    ...(options.store ? { store: options.store } : {}),
    ...(options.tokens ? { tokens: options.tokens } : {}),
    ...(options.refreshAheadSeconds === undefined
      ? {}
      : { refreshAheadSeconds: options.refreshAheadSeconds }),
    ...(options.now ? { now: options.now } : {}),
    async renew(held) {
      let current = held;
      // Another process on this account (a second tunnel) may have renewed meanwhile: its refresh token is
      // the live one, and spending the rotated one held here would end the sign-in for both.
      const stored = await options.store?.load().catch(() => undefined);
      if (
        stored &&
        stored.issuer === issuer &&
        stored.clientId === clientId &&
        stored.tokens.subject === current?.subject &&
        stored.tokens.refreshToken !== current.refreshToken
      ) {
        const now = options.now?.() ?? Date.now();
        if (stored.tokens.expiresAt - now > STORED_TOKEN_MIN_LIFETIME_MS) return stored.tokens;
        current = stored.tokens;
      }
      if (!current) throw new IdentityError('not_signed_in', 'not signed in; sign in first');
      return refreshTokens(config, current, options);
    },
    async revoke(tokens) {
      if (!metadata.revocation_endpoint)
        throw new Error('the identity provider offers no revocation endpoint');
      if (!tokens.refreshToken) throw new Error('there is no refresh token to revoke');
      await client.tokenRevocation(config, tokens.refreshToken, { token_type_hint: 'refresh_token' });
    },
    endSessionUrl(tokens) {
      if (!metadata.end_session_endpoint) return undefined;
      return client
        .buildEndSessionUrl(config, tokens.idToken ? { id_token_hint: tokens.idToken } : {})
        .toString();
    },
  });
}

/**
 * The person's session from the store: a TokenManager holding the stored tokens, or undefined when the
 * store holds none (or holds tokens of another issuer or client, which are left alone).
 */
export async function loadPersonSession(
  config: client.Configuration,
  store: TokenStore,
  options: Omit<PersonSessionOptions, 'store' | 'tokens'> = {},
): Promise<TokenManager | undefined> {
  const stored = await store.load();
  if (!stored) return undefined;
  const { issuer, clientId } = identityOf(config);
  if (stored.issuer !== issuer || stored.clientId !== clientId) return undefined;
  return personTokenManager(config, { ...options, store, tokens: stored.tokens });
}
