import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import {
  DEMO_AGENT,
  DEMO_USERS,
  HttpSignInError,
  signInOverHttp,
  startDevIdp,
  type DevIdp,
  type DevUser,
} from '../../hub/dev-idp/index.ts';

const AUDIENCE = 'portcullis-hub';
const insecure = { execute: [client.allowInsecureRequests] };
const marcus = DEMO_USERS.find((u) => u.groups.includes('oncall')) as DevUser;

/** A real loopback redirect listener, as the desktop app and CLI run one (RFC 8252 §7.3). */
interface Loopback {
  redirectUri: string;
  received: Promise<URL>;
  close(): Promise<void>;
}

async function startLoopback(path = '/callback'): Promise<Loopback> {
  let resolveReceived!: (url: URL) => void;
  const received = new Promise<URL>((resolve) => (resolveReceived = resolve));
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    res.setHeader('content-type', 'text/plain');
    res.end('Signed in. You can close this window.');
    if (url.pathname === path) resolveReceived(url);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    redirectUri: `http://127.0.0.1:${port}${path}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface AuthorizationRequest {
  url: URL;
  verifier: string;
  state: string;
}

async function authorizationRequest(
  config: client.Configuration,
  redirectUri: string,
  extra: Record<string, string> = {},
): Promise<AuthorizationRequest> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email groups offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...extra,
  });
  return { url, verifier, state };
}

describe('development IdP', () => {
  let idp: DevIdp;
  let publicConfig: client.Configuration;

  beforeAll(async () => {
    idp = await startDevIdp({ audience: AUDIENCE });
    publicConfig = await client.discovery(
      new URL(idp.issuer),
      idp.publicClientId,
      undefined,
      client.None(),
      insecure,
    );
  });
  afterAll(async () => {
    await idp?.close();
  });

  it('serves discovery and an RS256 signing key on 127.0.0.1 only', async () => {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const metadata = publicConfig.serverMetadata();
    expect(metadata.issuer).toBe(idp.issuer);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.grant_types_supported).toEqual(
      expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials']),
    );
    const jwks = (await (await fetch(metadata.jwks_uri as string)).json()) as {
      keys: Record<string, unknown>[];
    };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');

    const port = new URL(idp.issuer).port;
    await expect(fetch(`http://[::1]:${port}/.well-known/openid-configuration`)).rejects.toThrow();
  });

  it('signs a person in over HTTP with PKCE and a loopback redirect, and issues a JWT access token', async () => {
    const loopback = await startLoopback();
    try {
      const request = await authorizationRequest(publicConfig, loopback.redirectUri);
      const redirect = await signInOverHttp(request.url, {
        username: marcus.username,
        password: marcus.password,
      });
      expect(redirect.origin + redirect.pathname).toBe(loopback.redirectUri);
      // Deliver the redirect to the real loopback listener, as the system browser would.
      expect((await fetch(redirect)).status).toBe(200);
      const callback = await loopback.received;
      expect(callback.searchParams.get('code')).toBeTruthy();

      const tokens = await client.authorizationCodeGrant(publicConfig, callback, {
        pkceCodeVerifier: request.verifier,
        expectedState: request.state,
      });
      expect(tokens.token_type.toLowerCase()).toBe('bearer');
      expect(tokens.refresh_token).toBeTruthy();

      expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
      const claims = decodeJwt(tokens.access_token);
      expect(claims).toMatchObject({
        iss: idp.issuer,
        aud: AUDIENCE,
        sub: marcus.username,
        client_id: idp.publicClientId,
        name: marcus.name,
        email: marcus.email,
        groups: marcus.groups,
      });
      expect((claims.exp as number) - (claims.iat as number)).toBe(900);

      expect(tokens.claims()).toMatchObject({
        sub: marcus.username,
        aud: idp.publicClientId,
        name: marcus.name,
        email: marcus.email,
        groups: marcus.groups,
      });
    } finally {
      await loopback.close();
    }
  });

  it('accepts any loopback port but only the registered path and loopback hosts', async () => {
    const user = DEMO_USERS[0] as DevUser;
    for (const redirectUri of [
      'http://127.0.0.1:1024/callback',
      'http://127.0.0.1:49152/callback',
      'http://127.0.0.1:65535/callback',
      'http://[::1]:50000/callback',
    ]) {
      const request = await authorizationRequest(publicConfig, redirectUri);
      const redirect = await signInOverHttp(request.url, {
        username: user.username,
        password: user.password,
      });
      expect(redirect.origin + redirect.pathname).toBe(redirectUri);
      expect(redirect.searchParams.get('code')).toBeTruthy();
    }
    for (const redirectUri of [
      'http://127.0.0.1:8080/elsewhere',
      'http://localhost:8080/callback',
      'http://attacker.example.com:8080/callback',
      'https://127.0.0.1:8080/callback',
    ]) {
      const request = await authorizationRequest(publicConfig, redirectUri);
      const res = await fetch(request.url, { redirect: 'manual' });
      expect(res.status, redirectUri).toBe(400);
      expect(await res.text()).toContain('redirect_uri');
    }
  });

  it('refuses an authorization request without PKCE and a token request with the wrong verifier', async () => {
    const noPkce = client.buildAuthorizationUrl(publicConfig, {
      redirect_uri: 'http://127.0.0.1:4000/callback',
      scope: 'openid',
    });
    const res = await fetch(noPkce, { redirect: 'manual' });
    const location = new URL(res.headers.get('location') ?? '');
    expect(location.origin).toBe('http://127.0.0.1:4000');
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/PKCE/);

    const request = await authorizationRequest(publicConfig, 'http://127.0.0.1:4000/callback');
    const redirect = await signInOverHttp(request.url, {
      username: marcus.username,
      password: marcus.password,
    });
    await expect(
      client.authorizationCodeGrant(publicConfig, redirect, {
        pkceCodeVerifier: client.randomPKCECodeVerifier(),
        expectedState: request.state,
      }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('shows the form again with an error for a wrong password and issues no code', async () => {
    const request = await authorizationRequest(publicConfig, 'http://127.0.0.1:4001/callback');
    const failure: unknown = await signInOverHttp(request.url, {
      username: marcus.username,
      password: 'wrong',
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(HttpSignInError);
    const { status, body } = failure as HttpSignInError;
    expect(status).toBe(401);
    expect(body).toContain('id="login-error"');
    expect(body).toContain('Invalid username or password.');
    expect(body).toContain('id="login-form"');
    expect(body).not.toContain('code=');

    // An unknown user gets the same answer.
    const unknown = (await signInOverHttp(request.url, { username: 'mallory', password: 'x' }).catch(
      (error: unknown) => error,
    )) as HttpSignInError;
    expect(unknown.status).toBe(401);
    expect(unknown.body).toContain('Invalid username or password.');
  });

  it('lets the person cancel at the form', async () => {
    const request = await authorizationRequest(publicConfig, 'http://127.0.0.1:4002/callback');
    const cookies: string[] = [];
    let res = await fetch(request.url, { redirect: 'manual' });
    cookies.push(...res.headers.getSetCookie().map((c) => c.split(';')[0] as string));
    const interaction = new URL(res.headers.get('location') as string, idp.issuer);
    res = await fetch(new URL(`${interaction.pathname}/abort`, idp.issuer), {
      headers: { cookie: cookies.join('; ') },
      redirect: 'manual',
    });
    cookies.push(...res.headers.getSetCookie().map((c) => c.split(';')[0] as string));
    res = await fetch(new URL(res.headers.get('location') as string, idp.issuer), {
      headers: { cookie: cookies.join('; ') },
      redirect: 'manual',
    });
    const location = new URL(res.headers.get('location') as string);
    expect(location.origin).toBe('http://127.0.0.1:4002');
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.get('state')).toBe(request.state);
  });

  it('refreshes and rotates the refresh token', async () => {
    const request = await authorizationRequest(publicConfig, 'http://127.0.0.1:4003/callback');
    const redirect = await signInOverHttp(request.url, {
      username: marcus.username,
      password: marcus.password,
    });
    const tokens = await client.authorizationCodeGrant(publicConfig, redirect, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
    });
    const refreshed = await client.refreshTokenGrant(publicConfig, tokens.refresh_token as string);
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(decodeJwt(refreshed.access_token)).toMatchObject({
      sub: marcus.username,
      aud: AUDIENCE,
      groups: marcus.groups,
    });
    // A rotated refresh token is spent.
    await expect(
      client.refreshTokenGrant(publicConfig, tokens.refresh_token as string),
    ).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('issues agents a JWT access token by client credentials', async () => {
    const agentConfig = await client.discovery(
      new URL(idp.issuer),
      DEMO_AGENT.clientId,
      undefined,
      client.ClientSecretBasic(DEMO_AGENT.clientSecret),
      insecure,
    );
    const tokens = await client.clientCredentialsGrant(agentConfig);
    expect(tokens.refresh_token).toBeUndefined();
    const claims = decodeJwt(tokens.access_token);
    expect(claims).toMatchObject({
      iss: idp.issuer,
      aud: AUDIENCE,
      sub: DEMO_AGENT.clientId,
      client_id: DEMO_AGENT.clientId,
      name: DEMO_AGENT.name,
      groups: DEMO_AGENT.groups,
    });
    expect(claims).not.toHaveProperty('email');

    const wrongSecret = await client.discovery(
      new URL(idp.issuer),
      DEMO_AGENT.clientId,
      undefined,
      client.ClientSecretBasic('guessed'),
      insecure,
    );
    await expect(client.clientCredentialsGrant(wrongSecret)).rejects.toMatchObject({
      status: 401,
      cause: [expect.objectContaining({ parameters: expect.objectContaining({ error: 'invalid_client' }) })],
    });
  });

  it('refuses configurations where a username could pass for a client id', async () => {
    await expect(
      startDevIdp({
        audience: AUDIENCE,
        users: [{ ...marcus, username: DEMO_AGENT.clientId }],
      }),
    ).rejects.toThrow(/collides/);
  });
});
