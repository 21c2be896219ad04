import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { startDevIdp, type DevIdp } from '../../hub/dev-idp/index.ts';
import { IdentityError } from '../../tunnel/identity/errors.ts';
import { loginWithBrowser } from '../../tunnel/identity/login.ts';
import { discoverIssuer, type TokenSet } from '../../tunnel/identity/oidc.ts';
import {
  TokenManager,
  loadPersonSession,
  personTokenManager,
  refreshTokens,
} from '../../tunnel/identity/refresh.ts';
import { FileTokenStore, MemoryTokenStore } from '../../tunnel/identity/token-store.ts';
import { demoUser, fakeBrowser } from './browser-driver.ts';
import { rejectionOf } from '../support/rejection.ts';

const AUDIENCE = 'portcullis-hub';
const priya = demoUser('priya');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const failure = (promise: Promise<unknown>): Promise<IdentityError> => rejectionOf(promise, IdentityError);

describe('refresh and sign-out against the development IdP (2 s access tokens)', () => {
  let idp: DevIdp;
  let config: client.Configuration;
  let dir: string;
  let tokenRequests = 0;

  async function signIn(): Promise<TokenSet> {
    return loginWithBrowser(config, { openBrowser: fakeBrowser(priya).openBrowser });
  }

  beforeAll(async () => {
    idp = await startDevIdp({ audience: AUDIENCE, accessTokenTtlSeconds: 2 });
    config = await discoverIssuer({ issuer: idp.issuer, clientId: idp.publicClientId });
    // Count the requests that reach the token endpoint (code exchanges and refreshes).
    const tokenEndpoint = config.serverMetadata().token_endpoint as string;
    config[client.customFetch] = (url, options) => {
      if (url === tokenEndpoint) tokenRequests++;
      return fetch(url, options);
    };
    dir = await mkdtemp(join(tmpdir(), 'portcullis-identity-'));
  });
  afterAll(async () => {
    await idp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refreshes ahead of expiry and persists the rotated refresh token', async () => {
    const store = new FileTokenStore(join(dir, 'refresh', 'tokens.json'));
    // The manager reads a clock the test moves: in real time the first half of a 2 s token's life (when
    // it is used as it is) could pass on a loaded machine before the test looked.
    let clock = Date.now();
    const manager = personTokenManager(config, { store, now: () => clock });
    const first = await signIn();
    expect(first.expiresAt - Date.now()).toBeLessThanOrEqual(2000);
    clock = first.expiresAt - 2000;
    await manager.setTokens(first);
    expect((await store.load())?.tokens.refreshToken).toBe(first.refreshToken);

    // Fresh tokens are used as they are (the refresh-ahead window is capped at half a 2 s lifetime).
    expect(await manager.getAccessToken()).toBe(first.accessToken);
    clock = first.expiresAt - 900;
    // Now within a second of expiry: renewed before it lapses.
    expect(manager.isDue()).toBe(true);
    const renewedFrom = Date.now();
    const accessToken = await manager.getAccessToken();
    expect(accessToken).not.toBe(first.accessToken);
    const held = manager.tokens as TokenSet;
    expect(held).toMatchObject({ subject: priya.username, name: priya.name, groups: priya.groups });
    expect(held.refreshToken).toBeTruthy();
    expect(held.refreshToken).not.toBe(first.refreshToken);
    // The IdP counts lifetimes in whole seconds: a token renewed within the first one's first second may
    // say it has 1 s left, so its end is measured from the renewal, not against the first token's end.
    expect(held.expiresAt).toBeGreaterThan(renewedFrom);

    const stored = await store.load();
    expect(stored).toMatchObject({ issuer: idp.issuer, clientId: idp.publicClientId });
    expect(stored?.tokens.refreshToken).toBe(held.refreshToken);
    expect(stored?.tokens.accessToken).toBe(accessToken);

    // The old refresh token is spent.
    const spent = await failure(refreshTokens(config, first));
    expect(spent.code).toBe('session_expired');

    // A new process picks the session up from the store.
    const restored = await loadPersonSession(config, store);
    expect(restored?.tokens?.refreshToken).toBe(held.refreshToken);
    expect(await loadPersonSession(config, new MemoryTokenStore())).toBeUndefined();
    const otherClient = new MemoryTokenStore({
      ...(stored as NonNullable<typeof stored>),
      clientId: 'other',
    });
    expect(await loadPersonSession(config, otherClient)).toBeUndefined();
  });

  it('renews with the refresh token another process on the same store rotated, instead of the spent one', async () => {
    const store = new FileTokenStore(join(dir, 'two-processes', 'tokens.json'));
    const tokens = await signIn();
    await store.save({ issuer: idp.issuer, clientId: idp.publicClientId, tokens });
    // Two tunnels of one person, each having loaded the same tokens from the store.
    const first = (await loadPersonSession(config, store))!;
    const second = (await loadPersonSession(config, store))!;
    const rotated = await first.renew();
    expect(rotated.refreshToken).not.toBe(tokens.refreshToken);

    const renewed = await second.renew();
    expect(renewed.subject).toBe(priya.username);
    expect((await store.load())?.tokens.refreshToken).toBe(renewed.refreshToken);
    // The sign-in is still alive for both: nobody spent a rotated token.
    await expect(first.renew()).resolves.toMatchObject({ subject: priya.username });
    await expect(second.renew()).resolves.toMatchObject({ subject: priya.username });
  });

  it('shares one refresh among concurrent callers', async () => {
    const tokens = await signIn();
    const store = new MemoryTokenStore();
    // Already expired: every caller needs a new token.
    const manager = personTokenManager(config, { store, tokens: { ...tokens, expiresAt: Date.now() - 1 } });
    const before = tokenRequests;
    const results = await Promise.all(Array.from({ length: 8 }, () => manager.getAccessToken()));
    expect(tokenRequests - before).toBe(1);
    expect(new Set(results).size).toBe(1);
    expect(results[0]).not.toBe(tokens.accessToken);
    // A second refresh with the rotated token would have failed had two run: this one succeeds.
    expect((await store.load())?.tokens.accessToken).toBe(results[0]);
    await expect(manager.renew()).resolves.toMatchObject({ subject: priya.username });
  });

  it('signs out: clears the store, revokes the refresh token, and needs a new sign-in', async () => {
    const store = new FileTokenStore(join(dir, 'signout', 'tokens.json'));
    const manager = personTokenManager(config, { store });
    const tokens = await signIn();
    await manager.setTokens(tokens);
    expect(await store.load()).toBeDefined();

    const result = await manager.signOut();
    expect(result.revoked).toBe(true);
    expect(result.endSessionUrl).toMatch(new RegExp(`^${idp.issuer}/session/end\\?`));
    expect(new URL(result.endSessionUrl as string).searchParams.get('id_token_hint')).toBe(tokens.idToken);
    expect(await store.load()).toBeUndefined();
    expect(manager.tokens).toBeUndefined();
    expect((await failure(manager.getAccessToken())).code).toBe('not_signed_in');
    expect((await failure(refreshTokens(config, tokens))).code).toBe('session_expired');
  });
});

describe('TokenManager', () => {
  const tokenSet = (n: number, expiresAt: number): TokenSet => ({
    accessToken: `access-${n}`,
    refreshToken: `refresh-${n}`,
    expiresAt,
    subject: 'priya',
    name: 'Priya Shah',
  });

  it('renews once for concurrent callers, retries after a failure, and keeps the clock injectable', async () => {
    let now = 1_000_000;
    let calls = 0;
    let fail = false;
    const manager = new TokenManager({
      issuer: 'https://idp.example.com',
      clientId: 'portcullis-desktop',
      now: () => now,
      tokens: tokenSet(0, now + 120_000),
      renew: async () => {
        calls++;
        await sleep(20);
        if (fail) throw new IdentityError('refresh_failed', 'IdP unreachable');
        return tokenSet(calls, now + 300_000);
      },
    });
    expect(await manager.getAccessToken()).toBe('access-0');
    now += 61_000; // 59 s left: inside the default 60 s window
    const tokens = await Promise.all([manager.getAccessToken(), manager.getAccessToken()]);
    expect(tokens).toEqual(['access-1', 'access-1']);
    expect(calls).toBe(1);

    now += 300_000;
    fail = true;
    await expect(manager.getAccessToken()).rejects.toMatchObject({ code: 'refresh_failed' });
    fail = false;
    expect(await manager.getAccessToken()).toBe('access-3');
  });

  it('does not save tokens of a renewal that finishes after sign-out', async () => {
    const store = new MemoryTokenStore();
    let release!: () => void;
    const manager = new TokenManager({
      issuer: 'https://idp.example.com',
      clientId: 'portcullis-desktop',
      store,
      tokens: tokenSet(0, 0),
      renew: () =>
        new Promise<TokenSet>((resolve) => (release = () => resolve(tokenSet(1, Date.now() + 1e6)))),
    });
    const renewing = manager.getAccessToken();
    const signingOut = manager.signOut();
    release();
    await expect(renewing).rejects.toMatchObject({ code: 'not_signed_in' });
    expect(await signingOut).toEqual({ revoked: false });
    expect(await store.load()).toBeUndefined();
    expect(manager.tokens).toBeUndefined();
  });
});
