import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  base64url,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  generateKeyPair,
  SignJWT,
} from 'jose';
import { DEMO_AGENT, DEMO_USERS, startDevIdp, type DevIdp } from '../../hub/dev-idp/index.ts';
import { agentToken, refreshAccessToken, signIn, type PersonTokens } from '../support/hub-tokens.ts';
import {
  AuthError,
  createTokenVerifier,
  identityFromClaims,
  parseGroups,
  type FetchLike,
  type TokenVerifier,
} from '../../hub/auth/index.ts';
import { rejectionOf } from '../support/rejection.ts';
import { parseHubConfig } from '../../hub/config/index.ts';
import { startHub } from '../../hub/server.ts';
import { explainAccountError } from '../../tunnel/account/account.ts';
import { createHubClient } from '../../tunnel/hub-client/index.ts';

const AUDIENCE = 'portcullis-hub';
const elena = DEMO_USERS.find((u) => u.groups.includes('managers'))!;

const rejection = (verifier: TokenVerifier, header: string | undefined): Promise<AuthError> =>
  rejectionOf(verifier.verify(header), AuthError);

const encode = (value: unknown): string => base64url.encode(JSON.stringify(value));

describe('access token verification against the development IdP', () => {
  let idp: DevIdp;
  /** A second IdP: another issuer with other keys, and 1-second access tokens. */
  let other: DevIdp;
  let verifier: TokenVerifier;
  let person: PersonTokens;

  beforeAll(async () => {
    [idp, other] = await Promise.all([
      startDevIdp({ audience: AUDIENCE }),
      startDevIdp({ audience: AUDIENCE, accessTokenTtlSeconds: 1 }),
    ]);
    verifier = createTokenVerifier({ issuer: idp.issuer, audience: AUDIENCE });
    person = await signIn(idp, elena.username);
  });
  afterAll(async () => {
    await Promise.all([idp?.close(), other?.close()]);
  });

  it("accepts a person's access token and maps the identity and groups", async () => {
    const identity = await verifier.verify(`Bearer ${person.accessToken}`);
    expect(identity).toEqual({
      subject: elena.username,
      name: elena.name,
      email: elena.email,
      groups: ['engineering', 'managers'],
      kind: 'person',
      clientId: idp.publicClientId,
    });
  });

  it('accepts the access token obtained by refresh', async () => {
    const accessToken = await refreshAccessToken(idp, person.refreshToken);
    expect(accessToken).not.toBe(person.accessToken);
    const identity = await verifier.verify(`bearer   ${accessToken}`);
    expect(identity).toMatchObject({ subject: elena.username, kind: 'person', groups: elena.groups });
  });

  it("accepts an agent's client credentials token as an agent", async () => {
    const identity = await verifier.verify(`Bearer ${await agentToken(idp, DEMO_AGENT)}`);
    expect(identity).toEqual({
      subject: DEMO_AGENT.clientId,
      name: DEMO_AGENT.name,
      groups: ['agents'],
      kind: 'agent',
      clientId: DEMO_AGENT.clientId,
    });
  });

  it('refuses an expired token', async () => {
    const strict = createTokenVerifier({
      issuer: other.issuer,
      audience: AUDIENCE,
      clockToleranceSeconds: 0,
    });
    const lenient = createTokenVerifier({ issuer: other.issuer, audience: AUDIENCE });
    const token = await agentToken(other, DEMO_AGENT);
    const { exp } = decodeJwt(token);
    expect(exp).toBeDefined();
    // The verifiers read the clock set here, not the time it takes a loaded machine to get here: a 1 s
    // token asked for late in a second had expired in real time before its first check.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime((exp! - 1) * 1000);
      await expect(strict.verify(`Bearer ${token}`)).resolves.toMatchObject({ kind: 'agent' });

      // jose counts a token as expired once the whole-second clock reaches exp.
      vi.setSystemTime(exp! * 1000);
      const error = await rejection(strict, `Bearer ${token}`);
      expect(error).toMatchObject({ status: 401, code: 'expired' });
      expect(error.wwwAuthenticate).toMatch(/^Bearer realm="portcullis", error="invalid_token"/);
      // Within the default 30 s tolerance the same token still passes.
      await expect(lenient.verify(`Bearer ${token}`)).resolves.toMatchObject({
        subject: DEMO_AGENT.clientId,
      });
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses a token for another audience, including an ID token', async () => {
    const elsewhere = createTokenVerifier({ issuer: idp.issuer, audience: 'billing-api' });
    expect(await rejection(elsewhere, `Bearer ${person.accessToken}`)).toMatchObject({
      status: 401,
      code: 'wrong_audience',
    });
    // The ID token is signed by the same key but addressed to the desktop client.
    expect(await rejection(verifier, `Bearer ${person.idToken}`)).toMatchObject({ code: 'wrong_audience' });
  });

  it('refuses a token from another issuer', async () => {
    const foreign = await agentToken(other, DEMO_AGENT);
    expect(await rejection(verifier, `Bearer ${foreign}`)).toMatchObject({
      status: 401,
      code: 'wrong_issuer',
    });
  });

  it('refuses a token whose signature was tampered with or forged', async () => {
    const [header, payload, signature] = person.accessToken.split('.') as [string, string, string];
    const bytes = base64url.decode(signature);
    bytes[10] = (bytes[10] as number) ^ 0xff;
    const flipped = `${header}.${payload}.${base64url.encode(bytes)}`;
    expect(await rejection(verifier, `Bearer ${flipped}`)).toMatchObject({
      status: 401,
      code: 'invalid_token',
    });

    // Claims changed, signature kept.
    const claims = decodeJwt(person.accessToken);
    const escalated = `${header}.${encode({ ...claims, groups: ['auditors', 'managers', 'admins'] })}.${signature}`;
    expect(await rejection(verifier, `Bearer ${escalated}`)).toMatchObject({ code: 'invalid_token' });

    // Signed by an attacker's own RSA key under the IdP's key id.
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ ...decodeProtectedHeader(person.accessToken), alg: 'RS256' })
      .sign(privateKey);
    expect(await rejection(verifier, `Bearer ${forged}`)).toMatchObject({ code: 'invalid_token' });
  });

  it('refuses alg "none" and HMAC tokens', async () => {
    const claims = decodeJwt(person.accessToken);
    const unsigned = `${encode({ alg: 'none', typ: 'at+jwt' })}.${encode(claims)}.`;
    const none = await rejection(verifier, `Bearer ${unsigned}`);
    expect(none).toMatchObject({ status: 401, code: 'invalid_token' });
    expect(none.message).toMatch(/none/);

    const guessed = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .sign(new TextEncoder().encode('secret'));
    expect(await rejection(verifier, `Bearer ${guessed}`)).toMatchObject({ code: 'invalid_token' });

    // Algorithm confusion: the IdP's public RSA modulus used as an HMAC secret.
    const jwks = (await (await fetch(`${idp.issuer}/jwks`)).json()) as { keys: { n: string; kid: string }[] };
    const key = jwks.keys[0]!;
    const confused = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: key.kid })
      .sign(new TextEncoder().encode(key.n));
    expect(await rejection(verifier, `Bearer ${confused}`)).toMatchObject({ code: 'invalid_token' });
  });

  it('refuses missing and garbled Authorization headers', async () => {
    for (const header of [undefined, '', '   ', `Basic ${btoa('priya:priya-demo-password')}`, 'Token abc']) {
      const error = await rejection(verifier, header);
      expect(error, String(header)).toMatchObject({ status: 401, code: 'missing_token' });
      expect(error.wwwAuthenticate).toBe('Bearer realm="portcullis"');
    }
    for (const header of [
      'Bearer',
      'Bearer not-a-jwt',
      'Bearer a.b.c',
      'Bearer a.b.c.d.e',
      `Bearer ${person.accessToken} extra`,
      `Bearer ${person.accessToken.slice(0, -20)}`,
      `Bearer ${'A'.repeat(20_000)}`,
    ]) {
      expect(await rejection(verifier, header), header.slice(0, 40)).toMatchObject({
        status: 401,
        code: 'invalid_token',
      });
    }
  });

  it('discovers the JWKS once, retries discovery after a failure, and reports an unreachable IdP as 503', async () => {
    const calls: string[] = [];
    let failNext = true;
    const flaky: FetchLike = async (url, init) => {
      calls.push(new URL(url).pathname);
      if (failNext) {
        failNext = false;
        throw new TypeError('fetch failed');
      }
      return fetch(url, init);
    };
    const fresh = createTokenVerifier({ issuer: idp.issuer, audience: AUDIENCE, fetch: flaky });
    expect(await rejection(fresh, `Bearer ${person.accessToken}`)).toMatchObject({
      status: 503,
      code: 'idp_unavailable',
    });
    for (let i = 0; i < 3; i++) {
      await expect(fresh.verify(`Bearer ${person.accessToken}`)).resolves.toMatchObject({ kind: 'person' });
    }
    expect(calls).toEqual([
      '/.well-known/openid-configuration',
      '/.well-known/openid-configuration',
      '/jwks',
    ]);
  });

  it('verifies with injected keys and no discovery', async () => {
    const jwks = (await (await fetch(`${idp.issuer}/jwks`)).json()) as Parameters<
      typeof createLocalJWKSet
    >[0];
    const local = createTokenVerifier({
      issuer: idp.issuer,
      audience: AUDIENCE,
      getKey: createLocalJWKSet(jwks),
      fetch: () => Promise.reject(new Error('no network expected')),
    });
    await expect(local.verify(`Bearer ${person.accessToken}`)).resolves.toMatchObject({
      subject: elena.username,
    });
  });

  it('checks a signature once per token for a while, and the token itself every time', async () => {
    const jwks = (await (await fetch(`${idp.issuer}/jwks`)).json()) as Parameters<
      typeof createLocalJWKSet
    >[0];
    const keys = createLocalJWKSet(jwks);
    const counting = (ttl: number | undefined) => {
      const asked = { count: 0 };
      const verifier = createTokenVerifier({
        issuer: idp.issuer,
        audience: AUDIENCE,
        ...(ttl === undefined ? {} : { verifiedTtlMs: ttl }),
        getKey: (header, token) => {
          asked.count++;
          return keys(header, token);
        },
      });
      return { verifier, asked };
    };
    const cached = counting(undefined);
    for (let i = 0; i < 3; i++) {
      await expect(cached.verifier.verify(`Bearer ${person.accessToken}`)).resolves.toMatchObject({
        subject: elena.username,
      });
    }
    expect(cached.asked.count).toBe(1);
    // A remembered token does not vouch for another one with its header and claims.
    const [header, payload, signature] = person.accessToken.split('.') as [string, string, string];
    const bytes = base64url.decode(signature);
    bytes[0] = (bytes[0] as number) ^ 0x01;
    expect(
      await rejection(cached.verifier, `Bearer ${header}.${payload}.${base64url.encode(bytes)}`),
    ).toMatchObject({ code: 'invalid_token' });

    const brief = counting(30);
    await brief.verifier.verify(`Bearer ${person.accessToken}`);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await brief.verifier.verify(`Bearer ${person.accessToken}`);
    expect(brief.asked.count).toBe(2);

    const never = counting(0);
    await never.verifier.verify(`Bearer ${person.accessToken}`);
    await never.verifier.verify(`Bearer ${person.accessToken}`);
    expect(never.asked.count).toBe(2);
  });
});

describe('identity mapping', () => {
  it('parses groups from arrays and space- or comma-separated strings', () => {
    expect(parseGroups(undefined)).toEqual([]);
    expect(parseGroups(['a', 'b', 'a'])).toEqual(['a', 'b']);
    expect(parseGroups('engineering oncall,managers, auditors')).toEqual([
      'engineering',
      'oncall',
      'managers',
      'auditors',
    ]);
    expect(() => parseGroups([1, 'a'])).toThrow(AuthError);
    expect(() => parseGroups({ admins: true })).toThrow(AuthError);
  });

  it('reads a custom or nested groups claim', () => {
    const base = { iss: 'x', sub: 'u1', client_id: 'app', preferred_username: 'jdoe' };
    expect(identityFromClaims({ ...base, roles: 'a b' }, 'roles')).toMatchObject({
      groups: ['a', 'b'],
      name: 'jdoe',
    });
    expect(
      identityFromClaims({ ...base, realm_access: { roles: ['ops'] } }, 'realm_access.roles').groups,
    ).toEqual(['ops']);
    expect(
      identityFromClaims({ ...base, 'https://example.com/groups': ['x'] }, 'https://example.com/groups')
        .groups,
    ).toEqual(['x']);
  });

  it('treats tokens without a person subject as agents', () => {
    expect(identityFromClaims({ client_id: 'job' })).toEqual({
      subject: 'job',
      name: 'job',
      groups: [],
      kind: 'agent',
      clientId: 'job',
    });
    expect(identityFromClaims({ sub: 'job', azp: 'job', email: 'x@example.com' })).toMatchObject({
      kind: 'agent',
    });
    expect(identityFromClaims({ sub: 'job', azp: 'job', email: 'x@example.com' })).not.toHaveProperty(
      'email',
    );
    expect(() => identityFromClaims({ iss: 'x' })).toThrow(AuthError);
  });
});

describe('a development IdP restarted on the same port', () => {
  let scratch: string;
  const running: { close(): Promise<void> }[] = [];
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'portcullis-idp-restart-'));
  });
  afterAll(async () => {
    await Promise.all(running.map((r) => r.close()));
    await rm(scratch, { recursive: true, force: true });
  });

  /** A hub trusting the IdP at `issuer`, asked with `token` as the CLI would ask it. */
  async function askHub(issuer: string, token: string): Promise<unknown> {
    const hub = await startHub({
      config: parseHubConfig(
        `identity: { issuer: '${issuer}', audience: ${AUDIENCE} }\ntargets: []\n`,
        'hub.yaml',
      ),
      database: ':memory:',
    });
    running.push(hub);
    return createHubClient({ url: hub.url, token: () => token })
      .me()
      .catch((error: unknown) => error);
  }

  it('keeps sign-ins when it keeps its state; without it the hub says the sign-in is from a previous run', async () => {
    const stateFile = path.join(scratch, 'idp-state.json');
    const first = await startDevIdp({ audience: AUDIENCE, stateFile });
    const port = Number(new URL(first.issuer).port);
    const person = await signIn(first, elena.username);
    await first.close();
    expect((await stat(stateFile)).mode & 0o777).toBe(0o600);

    const kept = await startDevIdp({ audience: AUDIENCE, port, stateFile });
    running.push(kept);
    expect(await askHub(kept.issuer, person.accessToken)).toMatchObject({ subject: elena.username });
    const renewed = await refreshAccessToken(kept, person.refreshToken);
    expect(await askHub(kept.issuer, renewed)).toMatchObject({ subject: elena.username });
    await kept.close();

    // Started afresh (new keys): the old token is not jargon, it is a sign-in to renew.
    const afresh = await startDevIdp({ audience: AUDIENCE, port });
    running.push(afresh);
    const refused = await askHub(afresh.issuer, person.accessToken);
    expect(refused).toMatchObject({
      status: 401,
      code: 'unknown_signing_key',
      message:
        'your sign-in is from a previous run of the identity provider (it no longer has the key that signed it)',
    });
    expect(explainAccountError(refused)).toMatchObject({
      name: 'NotSignedInError',
      message:
        'your sign-in is from a previous run of the identity provider (it no longer has the key that signed it); ' +
        'run `portcullis login`',
    });
  });

  it('refuses to start on a damaged state file, naming it', async () => {
    const stateFile = path.join(scratch, 'damaged.json');
    await writeFile(stateFile, '{"version": 1, "signingKey": ');
    await expect(startDevIdp({ audience: AUDIENCE, stateFile })).rejects.toThrow(
      `the identity provider's kept state ${stateFile} is damaged`,
    );
  });
});
