/**
 * Runs a hub: configuration, store, services, token verifier, HTTP API and the sweep, as one unit that
 * the CLI (`portcullis hub`), the embedded demo and the tests start and stop.
 *
 *   const hub = await startHub({ configFile: 'hub.yaml', listen: '127.0.0.1:8470' });
 *   console.log(hub.url);
 *   await hub.close();
 *
 * Several hubs may share one PostgreSQL database (live events cross over through LISTEN/NOTIFY).
 */
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet } from 'jose';
import type { PolicyCheck } from './api/types.ts';
import { createTokenVerifier } from './auth/index.ts';
import { loadHubConfig, type HubConfig } from './config/index.ts';
import { openHubDatabase } from './db/index.ts';
import { buildHubApp, type LogLevel } from './http/index.ts';
import { createHubServices, type Clock, type HubServices } from './services/index.ts';

export { HubConfigError } from './config/index.ts';
export type { LogLevel } from './http/index.ts';

export interface StartHubOptions {
  /** hub.yaml; or pass `config` itself. */
  configFile?: string;
  config?: HubConfig;
  /** A postgres:// URL or an SQLite file; overrides `database` in hub.yaml. Default: hub.db beside hub.yaml. */
  database?: string;
  /** 'host:port', '[v6]:port' or 'port'. Default '127.0.0.1:0' (an ephemeral port on the loopback). */
  listen?: string;
  clock?: Clock;
  /** Where target password_env variables are read. Default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Default 'silent'; logs go to stderr as JSON lines. */
  logLevel?: LogLevel;
  /** How often grants and holds are expired. Default 5000 ms. */
  sweepIntervalMs?: number;
  /** SSE heartbeat interval. Default 15 000 ms. */
  heartbeatMs?: number;
  /** Leeway for token exp/nbf. Default 30 s. */
  clockToleranceSeconds?: number;
}

export interface RunningHub {
  /** http://host:port, no trailing slash. */
  url: string;
  config: HubConfig;
  services: HubServices;
  /** Where the store is: the URL (password hidden) or the SQLite file. */
  database: string;
  /** Ends event streams and waits, stops listening, stops sweeping, closes the store. Idempotent. */
  close(): Promise<void>;
}

/** A listen address that cannot be used. */
export class ListenAddressError extends Error {
  override name = 'ListenAddressError';
}

export function parseListenAddress(value: string): { host: string; port: number } {
  const match =
    /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value) ?? /^()()(\d{1,5})$/.exec(value);
  if (!match) throw new ListenAddressError(`listen address must be HOST:PORT or PORT, got "${value}"`);
  const port = Number(match[3]);
  if (port > 65_535) throw new ListenAddressError(`listen port ${port} is out of range`);
  const host = match[1] || match[2] || '127.0.0.1';
  return { host: host === 'localhost' ? '127.0.0.1' : host, port };
}

function redact(location: string): string {
  return location.replace(/^(postgres(?:ql)?:\/\/[^:/@]*):[^@]*@/i, '$1:***@');
}

/** How often every target's policy is checked against its database, besides at start and on demand. */
const POLICY_CHECK_INTERVAL_MS = 5 * 60_000;

function openPolicyChecks(services: HubServices): Promise<unknown> {
  return services.policyChecks.checkAll().catch(() => undefined);
}

export async function startHub(options: StartHubOptions): Promise<RunningHub> {
  let reportPolicyCheck: (check: PolicyCheck) => void = () => {};
  const listen = parseListenAddress(options.listen ?? '127.0.0.1:0');
  const config = options.config ?? configFrom(options.configFile);
  const location =
    options.database ?? config.database ?? path.join(path.dirname(path.resolve(config.file)), 'hub.db');
  const database = await openHubDatabase(location);
  const { services, app: running } = await serve(options, config, database, listen, (check) =>
    reportPolicyCheck(check),
  );
  const stopSweeping = services.startSweeping(options.sweepIntervalMs ?? 5000, (error) =>
    running.log.error({ err: error }, 'sweep failed'),
  );
  reportPolicyCheck = (check) => logPolicyCheck(running.log, check);
  const checkPolicies = (): void => void openPolicyChecks(services);
  checkPolicies();
  const policyTimer = setInterval(checkPolicies, POLICY_CHECK_INTERVAL_MS);
  policyTimer.unref();
  const { port } = running.server.address() as AddressInfo;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    config,
    services,
    database: redact(location),
    close() {
      closing ??= (async () => {
        stopSweeping();
        clearInterval(policyTimer);
        await running.close();
        await services.close();
        await database.close();
      })();
      return closing;
    },
  };
}

function configFrom(configFile: string | undefined): HubConfig {
  if (!configFile) throw new TypeError('startHub needs configFile or config');
  return loadHubConfig(configFile);
}

type HubApp = ReturnType<typeof buildHubApp>;

/** The services on DATABASE and the HTTP app listening on LISTEN; whatever started is closed on failure. */
async function serve(
  options: StartHubOptions,
  config: HubConfig,
  database: Awaited<ReturnType<typeof openHubDatabase>>,
  listen: { host: string; port: number },
  onPolicyChecked: (check: PolicyCheck) => void,
): Promise<{ services: HubServices; app: HubApp }> {
  let services: HubServices | undefined;
  let app: HubApp | undefined;
  try {
    services = await createHubServices({
      database,
      config,
      clock: options.clock,
      env: options.env,
      onPolicyChecked,
    });
    const verifier = createTokenVerifier({
      issuer: config.identity.issuer,
      audience: config.identity.audience,
      groupsClaim: config.identity.groupsClaim,
      clockToleranceSeconds: options.clockToleranceSeconds,
      getKey: config.identity.jwksUri ? createRemoteJWKSet(new URL(config.identity.jwksUri)) : undefined,
    });
    app = buildHubApp({ services, verifier, logLevel: options.logLevel, heartbeatMs: options.heartbeatMs });
    await app.listen({ host: listen.host, port: listen.port });
    return { services, app };
  } catch (error) {
    await app?.close().catch(() => {});
    await services?.close().catch(() => {});
    await database.close().catch(() => {});
    throw error;
  }
}

/** Admins see policies that name what their database lacks in the log as well as in the API. */
function logPolicyCheck(log: HubApp['log'], check: PolicyCheck): void {
  if (check.status === 'problems') {
    log.error(
      { target: check.targetId, policy: check.policy, problems: check.problems },
      'policy names what the target database does not have; sessions on it are refused',
    );
  } else if (check.status === 'unchecked') {
    log.warn(
      { target: check.targetId, policy: check.policy, error: check.error },
      'policy could not be checked against the target database',
    );
  }
}
