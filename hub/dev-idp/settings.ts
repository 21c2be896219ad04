// The development IdP's options, checked and with their defaults filled in: what every other part reads.

import { DEFAULT_PUBLIC_CLIENT_ID, DEMO_AGENT, DEMO_USERS, type DevAgent, type DevUser } from './demo.ts';

export interface DevIdpOptions {
  /** 0 (the default) picks an ephemeral port. The IdP always binds to 127.0.0.1 only. */
  port?: number;
  /** The hub's API audience, e.g. 'portcullis-hub': the `aud` of every access token. */
  audience: string;
  /** Default DEMO_USERS. */
  users?: DevUser[];
  /** Default [DEMO_AGENT]. */
  agents?: DevAgent[];
  /** The desktop app / CLI public client. Default 'portcullis-desktop'. */
  publicClientId?: string;
  /** Lifetime of access tokens (people and agents). Default 900. */
  accessTokenTtlSeconds?: number;
  /** The claim that carries group names in access and ID tokens. Default 'groups'. */
  groupsClaim?: string;
  /**
   * Keep the signing key, cookie keys and stored sign-ins in this file (0600), so that tokens issued
   * before a restart still verify and refresh. Without it everything is generated at start and lost at exit.
   */
  stateFile?: string;
}

export interface DevIdpSettings {
  audience: string;
  /** The resource indicator (RFC 8707) of the hub API. */
  resource: string;
  users: DevUser[];
  agents: DevAgent[];
  usersByName: Map<string, DevUser>;
  agentsById: Map<string, DevAgent>;
  publicClientId: string;
  redirectUris: string[];
  groupsClaim: string;
  accessTokenTtl: number;
}

export const SIGNING_ALG = 'RS256';
const DEFAULT_ACCESS_TOKEN_TTL = 900;

/** Claims the IdP sets itself; a groups claim must not collide with them. */
const RESERVED_CLAIMS = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'client_id',
  'scope',
  'cnf',
  'name',
  'email',
  'email_verified',
  'preferred_username',
  'auth_time',
  'acr',
  'amr',
  'sid',
  'azp',
  'nonce',
]);

/** The settings OPTIONS ask for; throws a TypeError naming the option that is wrong. */
export function resolveSettings(options: DevIdpOptions): DevIdpSettings {
  const users = (options.users ?? DEMO_USERS).map((u) => ({ ...u, groups: [...u.groups] }));
  const agents = (options.agents ?? [DEMO_AGENT]).map((a) => ({ ...a, groups: [...a.groups] }));
  const publicClientId = options.publicClientId ?? DEFAULT_PUBLIC_CLIENT_ID;
  validate(options, users, agents, publicClientId);
  return {
    audience: options.audience,
    resource: resourceIndicatorFor(options.audience),
    users,
    agents,
    usersByName: new Map(users.map((u) => [u.username, u])),
    agentsById: new Map(agents.map((a) => [a.clientId, a])),
    publicClientId,
    redirectUris: ['http://127.0.0.1/callback', 'http://[::1]/callback'],
    groupsClaim: options.groupsClaim ?? 'groups',
    accessTokenTtl: options.accessTokenTtlSeconds ?? DEFAULT_ACCESS_TOKEN_TTL,
  };
}

function validate(
  options: DevIdpOptions,
  users: DevUser[],
  agents: DevAgent[],
  publicClientId: string,
): void {
  if (typeof options.audience !== 'string' || options.audience.length === 0) {
    throw new TypeError('DevIdpOptions.audience must be a non-empty string');
  }
  const ttl = options.accessTokenTtlSeconds ?? DEFAULT_ACCESS_TOKEN_TTL;
  if (!Number.isSafeInteger(ttl) || ttl <= 0) {
    throw new TypeError('DevIdpOptions.accessTokenTtlSeconds must be a positive integer');
  }
  const groupsClaim = options.groupsClaim ?? 'groups';
  if (!groupsClaim || RESERVED_CLAIMS.has(groupsClaim)) {
    throw new TypeError(`DevIdpOptions.groupsClaim '${groupsClaim}' collides with a standard claim`);
  }
  // A token is an agent's exactly when sub === client_id; keep the namespaces apart so that stays true.
  const ids = new Set<string>([publicClientId]);
  for (const user of users) {
    if (!user.username || ids.has(user.username)) {
      throw new TypeError(`dev IdP user '${user.username}' is empty or collides with another user or client`);
    }
    ids.add(user.username);
  }
  for (const agent of agents) {
    if (!agent.clientId || ids.has(agent.clientId)) {
      throw new TypeError(`dev IdP agent '${agent.clientId}' is empty or collides with a user or client`);
    }
    if (!agent.clientSecret) throw new TypeError(`dev IdP agent '${agent.clientId}' needs a clientSecret`);
    ids.add(agent.clientId);
  }
}

function resourceIndicatorFor(audience: string): string {
  // RFC 8707 resource indicators are absolute URIs; an audience such as 'portcullis-hub' is not one.
  return URL.canParse(audience) ? audience : `urn:portcullis:resource:${encodeURIComponent(audience)}`;
}
