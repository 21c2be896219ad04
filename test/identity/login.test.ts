import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { startDevIdp, type DevIdp } from '../../hub/dev-idp/index.ts';
import { IdentityError } from '../../tunnel/identity/errors.ts';
import { DEFAULT_SCOPE, loginWithBrowser, scopeFor } from '../../tunnel/identity/login.ts';
import { discoverIssuer } from '../../tunnel/identity/oidc.ts';
import { demoUser, fakeBrowser, listening } from './browser-driver.ts';
import { rejectionOf } from '../support/rejection.ts';

const AUDIENCE = 'portcullis-hub';
const marcus = demoUser('marcus');

function redirectUriOf(authorizationUrl: string | URL): URL {
  return new URL(new URL(authorizationUrl).searchParams.get('redirect_uri') as string);
}

const failure = (promise: Promise<unknown>): Promise<IdentityError> => rejectionOf(promise, IdentityError);

describe('loginWithBrowser against the development IdP', () => {
  let idp: DevIdp;
  let config: client.Configuration;

  beforeAll(async () => {
    idp = await startDevIdp({ audience: AUDIENCE });
    config = await discoverIssuer({ issuer: idp.issuer, clientId: idp.publicClientId });
  });
  afterAll(async () => {
    await idp?.close();
  });

  it('signs a person in through the browser with PKCE, state and nonce', async () => {
    const browser = fakeBrowser(marcus);
    const before = Date.now();
    const tokens = await loginWithBrowser(config, { openBrowser: browser.openBrowser });
    const visit = await browser.visited;

    const params = visit.authorizationUrl.searchParams;
    expect(params.get('client_id')).toBe(idp.publicClientId);
    expect(params.get('response_type')).toBe('code');
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params.get('state')).toBeTruthy();
    expect(params.get('nonce')).toBeTruthy();
    expect(params.get('scope')).toBe(DEFAULT_SCOPE);
    const redirectUri = redirectUriOf(visit.authorizationUrl);
    expect(redirectUri.href).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(visit.redirect.searchParams.get('code')).toBeTruthy();

    expect(visit.status).toBe(200);
    expect(visit.page).toContain('You can close this window');
    expect(visit.page).toContain(marcus.name);

    expect(tokens).toMatchObject({
      subject: marcus.username,
      name: marcus.name,
      groups: marcus.groups,
    });
    expect(tokens.refreshToken).toBeTruthy();
    expect(tokens.idToken).toBeTruthy();
    expect(decodeJwt(tokens.accessToken)).toMatchObject({ sub: marcus.username, aud: AUDIENCE });
    expect(tokens.expiresAt).toBeGreaterThanOrEqual(before + 899_000);
    expect(tokens.expiresAt).toBeLessThanOrEqual(Date.now() + 900_000);

    expect(await listening(redirectUri)).toBe(false);
  });

  it('rejects a redirect whose state is not this sign-in’s, and shows an error page', async () => {
    const browser = fakeBrowser(marcus, {
      tamperRedirect: (url) => url.searchParams.set('state', 'forged-state'),
    });
    const error = await failure(loginWithBrowser(config, { openBrowser: browser.openBrowser }));
    expect(error.code).toBe('state_mismatch');
    const visit = await browser.visited;
    expect(visit.status).toBe(400);
    expect(visit.page).toContain('Sign-in failed');
    expect(visit.page).toContain('state mismatch');
    expect(await listening(redirectUriOf(visit.authorizationUrl))).toBe(false);
  });

  it('fails the code exchange when the ID token carries another nonce', async () => {
    const browser = fakeBrowser(marcus, {
      tamperRequest: (url) => url.searchParams.set('nonce', 'not-the-apps-nonce'),
    });
    const error = await failure(loginWithBrowser(config, { openBrowser: browser.openBrowser }));
    expect(error.code).toBe('token_exchange_failed');
    expect((await browser.visited).status).toBe(400);
  });

  it('reports access_denied when the person cancels at the IdP', async () => {
    let page = '';
    let status = 0;
    let browsing: Promise<void> = Promise.resolve();
    const openBrowser = (url: string): void => {
      browsing = cancelAtIdp(url);
    };
    const cancelAtIdp = async (url: string): Promise<void> => {
      // Open the login form, press Cancel, follow the redirects back to the app, as a browser would.
      const cookies: string[] = [];
      const keep = (res: Response) =>
        cookies.push(...res.headers.getSetCookie().map((c) => c.split(';')[0]!));
      let res = await fetch(url, { redirect: 'manual' });
      keep(res);
      const interaction = new URL(res.headers.get('location') as string, idp.issuer);
      res = await fetch(new URL(`${interaction.pathname}/abort`, idp.issuer), {
        headers: { cookie: cookies.join('; ') },
        redirect: 'manual',
      });
      keep(res);
      res = await fetch(new URL(res.headers.get('location') as string, idp.issuer), {
        headers: { cookie: cookies.join('; ') },
        redirect: 'manual',
      });
      const back = new URL(res.headers.get('location') as string);
      expect(back.searchParams.get('error')).toBe('access_denied');
      const answer = await fetch(back);
      status = answer.status;
      page = await answer.text();
    };
    const error = await failure(loginWithBrowser(config, { openBrowser }));
    await browsing;
    expect(error.code).toBe('access_denied');
    expect(error.message).toMatch(/cancelled or refused/);
    expect(status).toBe(400);
    expect(page).toContain('Sign-in failed');
  });

  it('times out when nobody comes back, and closes the listener', async () => {
    let opened = '';
    const error = await failure(
      loginWithBrowser(config, { openBrowser: (url) => void (opened = url), timeoutMs: 300 }),
    );
    expect(error.code).toBe('timeout');
    expect(await listening(redirectUriOf(opened))).toBe(false);
  });

  it('can be cancelled with an AbortSignal', async () => {
    const controller = new AbortController();
    let opened = '';
    const pending = loginWithBrowser(config, {
      openBrowser: (url) => {
        opened = url;
        setTimeout(() => controller.abort(), 50);
      },
      signal: controller.signal,
    });
    expect((await failure(pending)).code).toBe('aborted');
    expect(await listening(redirectUriOf(opened))).toBe(false);
  });

  it('fails with browser_failed when the browser cannot be opened', async () => {
    const error = await failure(
      loginWithBrowser(config, {
        openBrowser: () => Promise.reject(new Error('spawn xdg-open ENOENT')),
      }),
    );
    expect(error.code).toBe('browser_failed');
    expect(error.message).toContain('xdg-open');
  });

  it('answers other paths and stray requests on the loopback listener without ending the sign-in', async () => {
    const browser = fakeBrowser(marcus);
    const tokens = await loginWithBrowser(config, {
      openBrowser: async (url) => {
        const origin = redirectUriOf(url).origin;
        expect((await fetch(`${origin}/favicon.ico`)).status).toBe(404);
        expect((await fetch(`${origin}/callback`)).status).toBe(400);
        expect((await fetch(`${origin}/callback?code=x&state=y`, { method: 'POST' })).status).toBe(405);
        await browser.openBrowser(url);
      },
    });
    expect(tokens.subject).toBe(marcus.username);
  });

  it('asks only for scopes the IdP supports, and takes an explicit scope as is', () => {
    expect(scopeFor(config)).toBe(DEFAULT_SCOPE);
    expect(scopeFor(config, 'openid')).toBe('openid');
  });

  it('discovers the IdP, and refuses plain http away from loopback', async () => {
    expect(config.serverMetadata().issuer).toBe(idp.issuer);
    const insecure = await failure(discoverIssuer({ issuer: 'http://idp.example.com', clientId: 'x' }));
    expect(insecure.code).toBe('invalid_configuration');
    const closedPort = await failure(discoverIssuer({ issuer: 'http://127.0.0.1:9', clientId: 'x' }));
    expect(closedPort.code).toBe('discovery_failed');
  });
});
