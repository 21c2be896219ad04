import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { DEMO_AGENT, startDevIdp, type DevIdp } from '../../hub/dev-idp/index.ts';
import {
  CLIENT_ID_ENV,
  CLIENT_SECRET_ENV,
  agentCredentialsFromEnv,
  clientCredentialsLogin,
} from '../../tunnel/identity/client-credentials.ts';
import { IdentityError } from '../../tunnel/identity/errors.ts';

const AUDIENCE = 'portcullis-hub';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const agentEnv = {
  [CLIENT_ID_ENV]: DEMO_AGENT.clientId,
  [CLIENT_SECRET_ENV]: DEMO_AGENT.clientSecret,
};

describe('client credentials against the development IdP (2 s access tokens)', () => {
  let idp: DevIdp;

  beforeAll(async () => {
    idp = await startDevIdp({ audience: AUDIENCE, accessTokenTtlSeconds: 2 });
  });
  afterAll(async () => {
    await idp?.close();
  });

  it('signs the agent in from PORTCULLIS_CLIENT_ID / PORTCULLIS_CLIENT_SECRET', async () => {
    const agent = await clientCredentialsLogin({ issuer: idp.issuer, env: agentEnv });
    expect(agent.clientId).toBe(DEMO_AGENT.clientId);
    const tokens = agent.tokens;
    expect(tokens).toMatchObject({
      subject: DEMO_AGENT.clientId,
      name: DEMO_AGENT.name,
      groups: DEMO_AGENT.groups,
    });
    expect(tokens?.refreshToken).toBeUndefined();
    expect(decodeJwt(await agent.getAccessToken())).toMatchObject({
      sub: DEMO_AGENT.clientId,
      client_id: DEMO_AGENT.clientId,
      aud: AUDIENCE,
    });
  });

  it('requests a new token ahead of expiry instead of refreshing', async () => {
    const agent = await clientCredentialsLogin({
      issuer: idp.issuer,
      clientId: DEMO_AGENT.clientId,
      clientSecret: DEMO_AGENT.clientSecret,
      resource: idp.resource,
      env: {},
    });
    const first = await agent.getAccessToken();
    expect(await agent.getAccessToken()).toBe(first);
    await sleep(1100);
    const [a, b] = await Promise.all([agent.getAccessToken(), agent.getAccessToken()]);
    expect(a).toBe(b);
    expect(a).not.toBe(first);
    expect(decodeJwt(a).exp).toBeGreaterThan(decodeJwt(first).exp as number);
  });

  it('fails clearly for a wrong secret', async () => {
    const error = await clientCredentialsLogin({
      issuer: idp.issuer,
      env: { ...agentEnv, [CLIENT_SECRET_ENV]: 'guessed' },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdentityError);
    expect(error).toMatchObject({ code: 'client_credentials_failed' });
    expect((error as Error).message).toContain('invalid_client');
    expect((error as Error).message).toContain(CLIENT_SECRET_ENV);
  });

  it('reads credentials from the environment, and refuses half of them', async () => {
    expect(agentCredentialsFromEnv({})).toBeUndefined();
    expect(agentCredentialsFromEnv(agentEnv)).toEqual({
      clientId: DEMO_AGENT.clientId,
      clientSecret: DEMO_AGENT.clientSecret,
    });
    expect(() => agentCredentialsFromEnv({ [CLIENT_ID_ENV]: 'x' })).toThrow(CLIENT_SECRET_ENV);
    await expect(clientCredentialsLogin({ issuer: idp.issuer, env: {} })).rejects.toMatchObject({
      code: 'invalid_configuration',
    });
  });
});
