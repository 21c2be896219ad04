/** A person who can sign in at the development IdP's login form. `username` becomes the token's `sub`. */
export interface DevUser {
  username: string;
  password: string;
  name: string;
  email: string;
  groups: string[];
}

/** A machine client (client credentials grant). `clientId` becomes the token's `sub` and `client_id`. */
export interface DevAgent {
  clientId: string;
  clientSecret: string;
  name: string;
  groups: string[];
  /**
   * How the agent authenticates at the token endpoint. oidc-provider enforces the registered method, so an
   * openid-client caller must pass the matching `ClientSecretBasic(secret)` / `ClientSecretPost(secret)`.
   * Default 'client_secret_basic' (the method every OAuth server must support, RFC 6749 §2.3.1).
   */
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post';
}

/** The desktop app and the CLI: a public client (PKCE, loopback redirect). */
export const DEFAULT_PUBLIC_CLIENT_ID = 'portcullis-desktop';

/**
 * The embedded demo's people. Development credentials only: they are in the source on purpose.
 * - Priya Shah: an engineer, the everyday user.
 * - Marcus Reed: an engineer on call (broader access in the demo entitlements).
 * - Elena Garcia: an engineering manager who approves access requests and held commands.
 * - Tom Okafor: an auditor who reads recordings.
 */
export const DEMO_USERS: DevUser[] = [
  {
    username: 'priya',
    password: 'priya-demo-password',
    name: 'Priya Shah',
    email: 'priya.shah@example.com',
    groups: ['engineering'],
  },
  {
    username: 'marcus',
    password: 'marcus-demo-password',
    name: 'Marcus Reed',
    email: 'marcus.reed@example.com',
    groups: ['engineering', 'oncall'],
  },
  {
    username: 'elena',
    password: 'elena-demo-password',
    name: 'Elena Garcia',
    email: 'elena.garcia@example.com',
    groups: ['engineering', 'managers'],
  },
  {
    username: 'tom',
    password: 'tom-demo-password',
    name: 'Tom Okafor',
    email: 'tom.okafor@example.com',
    groups: ['auditors'],
  },
];

/** The embedded demo's agent: a nightly reporting job that reads the analytics replica. */
export const DEMO_AGENT: DevAgent = {
  clientId: 'nightly-report-agent',
  clientSecret: 'nightly-report-agent-demo-secret',
  name: 'Nightly report agent',
  groups: ['agents'],
};
