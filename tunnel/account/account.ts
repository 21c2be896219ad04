/**
 * The signed-in account: which hub, who is signed in (a person through the browser, or an agent with
 * client credentials), a TokenManager that keeps the access token fresh, and a hub client that uses it.
 *
 * A person's profile and tokens are written to the Portcullis home (home.ts) by `login`; an agent's secret is
 * never written anywhere: it is read from PORTCULLIS_CLIENT_SECRET each time, and an agent may skip `login`
 * altogether by setting PORTCULLIS_HUB too.
 */
import { readFile, unlink } from 'node:fs/promises';
import type { HubIdentity } from '../../hub/api/types.ts';
import { createHubClient, HubError, type HubClient } from '../hub-client/index.ts';
import {
  agentCredentialsFromEnv,
  CLIENT_ID_ENV,
  CLIENT_SECRET_ENV,
  clientCredentialsLogin,
  discoverIssuer,
  FileTokenStore,
  IdentityError,
  loadPersonSession,
  loginWithBrowser,
  personTokenManager,
  type AgentCredentials,
  type SignOutResult,
  type TokenManager,
  type TokenStore,
} from '../identity/index.ts';
import { writePrivateFile } from '../identity/private-file.ts';
import type { HomePaths } from './home.ts';

export const HUB_ENV = 'PORTCULLIS_HUB';

export interface Profile {
  version: 1;
  /** The hub's base URL. */
  hub: string;
  /** How the hub said to sign in, when the profile was made. */
  identity: HubIdentity;
  kind: 'person' | 'agent';
  /** An agent's client id (its secret stays in the environment). */
  agentClientId?: string;
}

export interface Account {
  profile: Profile;
  tokens: TokenManager;
  hub: HubClient;
}

/** Nobody is signed in, or the sign-in can no longer be used: the message says what to run. */
export class NotSignedInError extends Error {
  override name = 'NotSignedInError';
}

const LOGIN_HINT =
  'run `portcullis login --hub URL` (agents: set PORTCULLIS_HUB, PORTCULLIS_CLIENT_ID and PORTCULLIS_CLIENT_SECRET)';

function normaliseHubUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`--hub must be the hub's URL, e.g. http://127.0.0.1:8470; got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`--hub must be an http(s) URL; got "${value}"`);
  }
  return url.href.replace(/\/+$/, '');
}

/** Asks the hub how to sign in to it (GET /v1/identity). */
export async function discoverHub(hubUrl: string): Promise<{ hub: string; identity: HubIdentity }> {
  const hub = normaliseHubUrl(hubUrl);
  const identity = await createHubClient({ url: hub }).identity();
  return { hub, identity };
}

/**
 * A hub client whose requests carry the account's access token, renewed ahead of expiry; a request the
 * hub answers 401 (a token revoked or expired early) is sent once more with a freshly renewed token.
 */
export function authenticatedHubClient(hub: string, tokens: TokenManager): HubClient {
  const retryingFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (response.status !== 401) return response;
    let fresh: string;
    try {
      fresh = (await tokens.renew()).accessToken;
    } catch {
      return response;
    }
    await response.body?.cancel().catch(() => undefined);
    const headers = new Headers(init?.headers);
    headers.set('authorization', `Bearer ${fresh}`);
    return fetch(input, { ...init, headers });
  };
  return createHubClient({ url: hub, token: () => tokens.getAccessToken(), fetch: retryingFetch });
}

export async function readProfile(paths: HomePaths): Promise<Profile | undefined> {
  let text: string;
  try {
    text = await readFile(paths.profile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new NotSignedInError(`cannot read ${paths.profile}: ${(error as Error).message}`);
  }
  let value: Partial<Profile>;
  try {
    value = JSON.parse(text) as Partial<Profile>;
  } catch {
    throw new NotSignedInError(`${paths.profile} is not valid JSON; ${LOGIN_HINT}`);
  }
  if (
    value.version !== 1 ||
    typeof value.hub !== 'string' ||
    (value.kind !== 'person' && value.kind !== 'agent') ||
    typeof value.identity?.issuer !== 'string' ||
    typeof value.identity.clientId !== 'string'
  ) {
    throw new NotSignedInError(`${paths.profile} is not a Portcullis profile; ${LOGIN_HINT}`);
  }
  return value as Profile;
}

async function writeProfile(paths: HomePaths, profile: Profile): Promise<void> {
  await writePrivateFile(paths.profile, `${JSON.stringify(profile, null, 2)}\n`);
}

/** Where a person's tokens are kept: the CLI's 0600 file unless the caller brings its own (the desktop
 * app's safeStorage-backed store). */
function tokenStore(paths: HomePaths, store: TokenStore | undefined): TokenStore {
  return store ?? new FileTokenStore(paths.tokens);
}

export interface PersonSignIn {
  hubUrl: string;
  paths: HomePaths;
  store?: TokenStore;
  /** Opens (or prints) the authorization URL. */
  openBrowser: (url: string) => void | Promise<void>;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Signs a person in through the browser and saves the profile and the tokens. */
export async function signInPerson(options: PersonSignIn): Promise<Account> {
  const { hub, identity } = await discoverHub(options.hubUrl);
  const config = await discoverIssuer({ issuer: identity.issuer, clientId: identity.clientId });
  const store = tokenStore(options.paths, options.store);
  const tokens = await loginWithBrowser(config, {
    openBrowser: options.openBrowser,
    groupsClaim: identity.groupsClaim,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const manager = personTokenManager(config, { store });
  await manager.setTokens(tokens);
  const profile: Profile = { version: 1, hub, identity, kind: 'person' };
  await writeProfile(options.paths, profile);
  return { profile, tokens: manager, hub: authenticatedHubClient(hub, manager) };
}

async function agentAccount(
  hub: string,
  identity: HubIdentity,
  credentials: AgentCredentials,
): Promise<Account> {
  const tokens = await clientCredentialsLogin({
    issuer: identity.issuer,
    clientId: credentials.clientId,
    clientSecret: credentials.clientSecret,
    groupsClaim: identity.groupsClaim,
  });
  const profile: Profile = { version: 1, hub, identity, kind: 'agent', agentClientId: credentials.clientId };
  return { profile, tokens, hub: authenticatedHubClient(hub, tokens) };
}

function requireAgentCredentials(env: NodeJS.ProcessEnv): AgentCredentials {
  const credentials = agentCredentialsFromEnv(env);
  if (!credentials) {
    throw new NotSignedInError(`agents sign in with ${CLIENT_ID_ENV} and ${CLIENT_SECRET_ENV}; set both`);
  }
  return credentials;
}

/**
 * Signs an agent in with client credentials from the environment (proving they work) and saves a profile
 * naming the hub and the client id, never the secret.
 */
export async function signInAgent(options: {
  hubUrl: string;
  paths: HomePaths;
  env?: NodeJS.ProcessEnv;
  store?: TokenStore;
}): Promise<Account> {
  const credentials = requireAgentCredentials(options.env ?? process.env);
  const { hub, identity } = await discoverHub(options.hubUrl);
  const account = await agentAccount(hub, identity, credentials);
  await writeProfile(options.paths, account.profile);
  // A person's tokens from an earlier sign-in must not outlive the switch to the agent.
  await tokenStore(options.paths, options.store).clear();
  return account;
}

/**
 * The account to act as: an agent named by the environment (PORTCULLIS_HUB + client credentials), else
 * the saved profile. Throws NotSignedInError saying what to run when there is none or it cannot be used.
 */
export async function openAccount(options: {
  paths: HomePaths;
  env?: NodeJS.ProcessEnv;
  store?: TokenStore;
}): Promise<Account> {
  const env = options.env ?? process.env;
  const hubFromEnv = env[HUB_ENV];
  if (hubFromEnv && agentCredentialsFromEnv(env)) {
    const { hub, identity } = await discoverHub(hubFromEnv);
    return agentAccount(hub, identity, requireAgentCredentials(env));
  }
  const profile = await readProfile(options.paths);
  if (!profile) throw new NotSignedInError(`not signed in; ${LOGIN_HINT}`);
  if (profile.kind === 'agent') {
    const credentials = requireAgentCredentials(env);
    if (credentials.clientId !== profile.agentClientId) {
      throw new NotSignedInError(
        `${CLIENT_ID_ENV} is ${credentials.clientId}, but the profile was signed in as ${profile.agentClientId}; run \`portcullis login --client-credentials\` again`,
      );
    }
    return agentAccount(profile.hub, profile.identity, credentials);
  }
  const config = await discoverIssuer({
    issuer: profile.identity.issuer,
    clientId: profile.identity.clientId,
  });
  const tokens = await loadPersonSession(config, tokenStore(options.paths, options.store));
  if (!tokens) throw new NotSignedInError(`not signed in to ${profile.hub}; ${LOGIN_HINT}`);
  return { profile, tokens, hub: authenticatedHubClient(profile.hub, tokens) };
}

/**
 * Why a hub or identity call failed, in words that say what to do next. Sign-ins that can no longer be
 * renewed become NotSignedInError.
 */
export function explainAccountError(error: unknown): Error {
  if (error instanceof IdentityError) {
    if (error.code === 'session_expired' || error.code === 'not_signed_in') {
      return new NotSignedInError(`your sign-in has ended (${error.message}); ${LOGIN_HINT}`);
    }
    return error;
  }
  if (error instanceof HubError && error.status === 401 && error.code === 'unknown_signing_key') {
    return new NotSignedInError(`${error.message}; run \`portcullis login\``);
  }
  if (error instanceof HubError && error.status === 401) {
    return new NotSignedInError(`the hub no longer accepts your sign-in (${error.message}); ${LOGIN_HINT}`);
  }
  return error instanceof Error ? error : new Error(String(error));
}

export interface SignOutOutcome {
  /** Whether there was a sign-in to end. */
  signedOut: boolean;
  hub?: string;
  result?: SignOutResult;
}

/** Forgets the profile and the person's tokens (revoking the refresh token at the IdP when it can). */
export async function signOut(paths: HomePaths, customStore?: TokenStore): Promise<SignOutOutcome> {
  const profile = await readProfile(paths).catch(() => undefined);
  let result: SignOutResult | undefined;
  if (profile?.kind === 'person') {
    const store = tokenStore(paths, customStore);
    const stored = await store.load().catch(() => undefined);
    if (stored) {
      try {
        const config = await discoverIssuer({ issuer: stored.issuer, clientId: stored.clientId });
        result = await personTokenManager(config, { store, tokens: stored.tokens }).signOut();
      } catch {
        // The IdP is unreachable: the local tokens go anyway.
      }
    }
    await store.clear();
  }
  await unlink(paths.profile).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  return {
    signedOut: profile !== undefined,
    ...(profile ? { hub: profile.hub } : {}),
    ...(result ? { result } : {}),
  };
}
