export {
  HubConfigError,
  loadHubConfig,
  parseHubConfig,
  POLICY_PRESETS,
  SSL_MODES,
  type HubConfig,
  type PostgresTargetConfig,
  type TargetConfig,
  type TargetPolicy,
} from './hub-config.ts';
export { CredentialsError, resolveCredentials, type ResolvedCredentials } from './credentials.ts';
export { formatDuration, parseDuration } from '../api/duration.ts';
