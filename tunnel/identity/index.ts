/** Identity for the engine: people (browser + PKCE), agents (client credentials), tokens and their store. */
export { IdentityError, type IdentityErrorCode } from './errors.ts';
export {
  discoverIssuer,
  identityOf,
  isLoopbackUrl,
  tokenSetFromResponse,
  type IssuerOptions,
  type TokenEndpointAuthMethod,
  type TokenSet,
} from './oidc.ts';
export {
  DEFAULT_LOGIN_TIMEOUT_MS,
  DEFAULT_SCOPE,
  loginWithBrowser,
  scopeFor,
  type BrowserLoginOptions,
} from './login.ts';
export {
  DEFAULT_REFRESH_AHEAD_SECONDS,
  TokenManager,
  loadPersonSession,
  personTokenManager,
  refreshTokens,
  type PersonSessionOptions,
  type RefreshOptions,
  type SignOutResult,
  type TokenManagerOptions,
} from './refresh.ts';
export {
  CLIENT_ID_ENV,
  CLIENT_SECRET_ENV,
  agentCredentialsFromEnv,
  clientCredentialsLogin,
  requestClientCredentials,
  type AgentCredentials,
  type ClientCredentialsOptions,
  type ClientCredentialsRequest,
} from './client-credentials.ts';
export {
  FileTokenStore,
  MemoryTokenStore,
  TokenStoreError,
  configDirectory,
  defaultTokenPath,
  parseStoredTokens,
  type StoredTokens,
  type TokenStore,
} from './token-store.ts';
export { browserCommand, openSystemBrowser, printAuthorizationUrl, type BrowserCommand } from './browser.ts';
