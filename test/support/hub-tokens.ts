/** Real access tokens from the development IdP, for tests and benchmarks of the hub's HTTP API. */
import * as client from 'openid-client';
import { DEMO_USERS, signInOverHttp, type DevAgent, type DevIdp } from '../../hub/dev-idp/index.ts';

const insecure = { execute: [client.allowInsecureRequests] };

export interface PersonTokens {
  accessToken: string;
  idToken: string;
  refreshToken: string;
}

/** Signs a demo user in: authorization code + PKCE, the browser step driven over HTTP. */
export async function signIn(idp: DevIdp, username: string): Promise<PersonTokens> {
  const user =
    DEMO_USERS.find((u) => u.username === username) ?? idp.users.find((u) => u.username === username);
  if (!user) throw new Error(`no demo user ${username}`);
  const config = await client.discovery(
    new URL(idp.issuer),
    idp.publicClientId,
    undefined,
    client.None(),
    insecure,
  );
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: 'http://127.0.0.1:53682/callback',
    scope: 'openid profile email groups offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  const redirect = await signInOverHttp(url, { username: user.username, password: user.password });
  const tokens = await client.authorizationCodeGrant(config, redirect, {
    pkceCodeVerifier: verifier,
    expectedState: state,
  });
  return {
    accessToken: tokens.access_token,
    idToken: tokens.id_token as string,
    refreshToken: tokens.refresh_token as string,
  };
}

/** A new access token by the refresh token grant. */
export async function refreshAccessToken(idp: DevIdp, refreshToken: string): Promise<string> {
  const config = await client.discovery(
    new URL(idp.issuer),
    idp.publicClientId,
    undefined,
    client.None(),
    insecure,
  );
  return (await client.refreshTokenGrant(config, refreshToken)).access_token;
}

/** An agent's access token by the client credentials grant. */
export async function agentToken(idp: DevIdp, agent: DevAgent): Promise<string> {
  const config = await client.discovery(
    new URL(idp.issuer),
    agent.clientId,
    undefined,
    client.ClientSecretBasic(agent.clientSecret),
    insecure,
  );
  return (await client.clientCredentialsGrant(config)).access_token;
}
