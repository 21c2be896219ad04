/**
 * The upstream server's libpq URI: postgres://USER:PASS@HOST:PORT/DB?sslmode=…
 *
 * Parsed the way libpq parses it (percent-decoding only, '+' is a literal plus), restricted to one
 * TCP host. Parameters we do not honour are refused rather than silently ignored, so a setting the
 * operator relies on for security (sslcert, require_auth, target_session_attrs…) never goes missing.
 */
import { isIP, type Socket } from 'node:net';

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

/** libpq's `channel_binding`: whether SCRAM-SHA-256-PLUS is used, or even demanded. */
export type ChannelBindingMode = 'disable' | 'prefer' | 'require';

export interface UpstreamConfig {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  sslmode: SslMode;
  /** A PEM file of trusted CAs, or "system" for the default CA store. */
  sslrootcert?: string;
  /** Trusted CAs given inline (PEM), as the hub hands them to tunnels; used instead of `sslrootcert`. */
  sslrootcertPem?: string;
  /** The name checked against the certificate (and sent as SNI) instead of `host`. */
  sslservername?: string;
  /** Allow the cleartext `password` method over a connection without TLS (not a libpq option). */
  allowCleartextPassword: boolean;
  /** 0 waits indefinitely. */
  connectTimeoutMs: number;
  /** Every connection's application_name, whatever the client sent (libpq's `application_name`). */
  applicationName?: string;
  /** The application_name of a client that sends none (libpq's `fallback_application_name`). */
  fallbackApplicationName?: string;
  /** Defaults to 'prefer', as in libpq. */
  channelBinding?: ChannelBindingMode;
  /** Opens the connection to host:port some other way than TCP: through an SSH bastion. */
  dial?: (host: string, port: number) => Promise<Socket>;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];
const CHANNEL_BINDING_MODES: readonly ChannelBindingMode[] = ['disable', 'prefer', 'require'];
const DEFAULT_PORT = 5432;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** libpq rounds shorter connect timeouts up to two seconds. */
const MIN_CONNECT_TIMEOUT_MS = 2_000;

/** libpq parameters that change nothing for a single TCP connection opened by the tunnel. */
const HARMLESS_PARAMETERS = new Set([
  'keepalives',
  'keepalives_idle',
  'keepalives_interval',
  'keepalives_count',
  'tcp_user_timeout',
  'sslcompression',
  'sslsni',
]);

/** Accepted only with the value that means "what we do anyway". */
const ACCEPTED_VALUES: Record<string, readonly string[]> = {
  target_session_attrs: ['any'],
  gssencmode: ['disable', 'prefer'],
  sslnegotiation: ['postgres'],
  load_balance_hosts: ['disable'],
};

const HANDLED_PARAMETERS = new Set([
  'host',
  'port',
  'user',
  'password',
  'dbname',
  'sslmode',
  'sslrootcert',
  'sslservername',
  'application_name',
  'fallback_application_name',
  'connect_timeout',
  'channel_binding',
  'allow_cleartext',
]);

export function parseUpstreamUrl(url: string): UpstreamConfig {
  const scheme = /^postgres(?:ql)?:\/\//i.exec(url);
  if (!scheme) throw new ConfigError('the upstream must be a postgres:// or postgresql:// URI');
  const rest = url.slice(scheme[0].length);

  const queryAt = rest.indexOf('?');
  const beforeQuery = queryAt < 0 ? rest : rest.slice(0, queryAt);
  const params = parseQuery(queryAt < 0 ? '' : rest.slice(queryAt + 1));

  const pathAt = beforeQuery.indexOf('/');
  const authority = pathAt < 0 ? beforeQuery : beforeQuery.slice(0, pathAt);
  const path = pathAt < 0 ? '' : beforeQuery.slice(pathAt + 1);

  // Hosts never contain '@', so the last one ends the credentials even if a password has a raw '@'.
  const credentialsAt = authority.lastIndexOf('@');
  const credentials = credentialsAt < 0 ? '' : authority.slice(0, credentialsAt);
  const hostPort = authority.slice(credentialsAt + 1);
  const colonAt = credentials.indexOf(':');
  const uriUser = decode(colonAt < 0 ? credentials : credentials.slice(0, colonAt), 'user name');
  const uriPassword = colonAt < 0 ? undefined : decode(credentials.slice(colonAt + 1), 'password');
  const { host: uriHost, port: uriPort } = splitHostPort(hostPort);

  const host = params.get('host') ?? uriHost;
  const user = params.get('user') ?? uriUser;
  const password = params.get('password') ?? uriPassword;
  if (!host) throw new ConfigError('the upstream URI names no host');
  if (host.includes(',')) throw new ConfigError('several upstream hosts are not supported');
  if (host.startsWith('/') || host.startsWith('@')) {
    throw new ConfigError('Unix-domain sockets are not supported; give a TCP host');
  }
  if (!user) throw new ConfigError('the upstream URI names no user');

  checkParameters(params);
  const sslrootcert = params.get('sslrootcert') || undefined;
  const config: UpstreamConfig = {
    host,
    port: parsePort(params.get('port') ?? uriPort),
    user,
    password: password === '' ? undefined : password,
    database: params.get('dbname') || decode(path, 'database name') || user,
    sslmode: parseSslMode(params.get('sslmode'), sslrootcert),
    allowCleartextPassword: parseBoolean('allow_cleartext', params.get('allow_cleartext') ?? '0'),
    connectTimeoutMs: parseConnectTimeout(params.get('connect_timeout')),
    channelBinding: parseChoice(
      'channel_binding',
      params.get('channel_binding') ?? 'prefer',
      CHANNEL_BINDING_MODES,
    ),
  };
  if (sslrootcert) config.sslrootcert = sslrootcert;
  const servername = params.get('sslservername');
  if (servername) config.sslservername = servername;
  const applicationName = params.get('application_name');
  if (applicationName) config.applicationName = applicationName;
  const fallbackApplicationName = params.get('fallback_application_name');
  if (fallbackApplicationName) config.fallbackApplicationName = fallbackApplicationName;
  return config;
}

function parseQuery(query: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const equalsAt = pair.indexOf('=');
    // The pair is not echoed: it may be the tail of a password with an unencoded '&'.
    if (equalsAt < 0) throw new ConfigError('an upstream URI parameter has no value');
    const name = decode(pair.slice(0, equalsAt), 'parameter name');
    const value = decode(pair.slice(equalsAt + 1), name === 'password' ? 'password' : `parameter ${name}`);
    if (params.has(name)) throw new ConfigError(`upstream URI parameter "${name}" is given twice`);
    params.set(name, value);
  }
  return params;
}

/** Percent-decoding as libpq does it; the message names the part, never its (secret) value. */
function decode(text: string, what: string): string {
  if (!/^(?:[^%]|%[0-9A-Fa-f]{2})*$/.test(text)) throw new ConfigError(`invalid percent-encoding in ${what}`);
  if (/%00/.test(text)) throw new ConfigError(`${what} contains a NUL byte`);
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ConfigError(`${what} is not valid UTF-8 once percent-decoded`);
  }
}

function splitHostPort(hostPort: string): { host: string; port: string | undefined } {
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0) throw new ConfigError('unterminated [ in the upstream host');
    const host = hostPort.slice(1, close);
    if (isIP(host) !== 6) throw new ConfigError('only an IPv6 address may be written in [brackets]');
    const after = hostPort.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) throw new ConfigError('unexpected text after the IPv6 host');
    return { host, port: after === '' ? undefined : after.slice(1) };
  }
  const colonAt = hostPort.indexOf(':');
  if (colonAt < 0) return { host: decode(hostPort, 'host'), port: undefined };
  if (hostPort.indexOf(':', colonAt + 1) >= 0) throw new ConfigError('write an IPv6 host in [brackets]');
  return { host: decode(hostPort.slice(0, colonAt), 'host'), port: hostPort.slice(colonAt + 1) };
}

function parsePort(text: string | undefined): number {
  if (text === undefined || text === '') return DEFAULT_PORT;
  const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  // Not echoed: a malformed URI can put part of the password where the port should be.
  if (!(port >= 1 && port <= 65535)) throw new ConfigError('invalid upstream port (expected 1-65535)');
  return port;
}

function parseChoice<T extends string>(name: string, value: string, choices: readonly T[]): T {
  const choice = choices.find((c) => c === value);
  if (!choice) throw new ConfigError(`invalid ${name} "${value}"; expected one of ${choices.join(', ')}`);
  return choice;
}

function parseSslMode(value: string | undefined, sslrootcert: string | undefined): SslMode {
  // As libpq 16+: the system CA store only makes sense with hostname checking, so it implies verify-full
  // and refuses anything weaker (any public CA could otherwise vouch for the server).
  if (sslrootcert === 'system') {
    if (value !== undefined && value !== 'verify-full') {
      throw new ConfigError(`sslmode=${value} cannot be used with sslrootcert=system (use verify-full)`);
    }
    return 'verify-full';
  }
  return value === undefined ? 'prefer' : parseChoice('sslmode', value, SSL_MODES);
}

function parseBoolean(name: string, value: string): boolean {
  if (/^(?:1|true|yes|on)$/i.test(value)) return true;
  if (/^(?:0|false|no|off)$/i.test(value)) return false;
  throw new ConfigError(`invalid ${name} "${value}"; expected 1 or 0`);
}

function parseConnectTimeout(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_CONNECT_TIMEOUT_MS;
  if (!/^[0-9]+$/.test(value)) throw new ConfigError(`invalid connect_timeout "${value}"; expected seconds`);
  const seconds = Number(value);
  return seconds === 0 ? 0 : Math.max(seconds * 1000, MIN_CONNECT_TIMEOUT_MS);
}

function checkParameters(params: Map<string, string>): void {
  const unknown: string[] = [];
  for (const [name, value] of params) {
    if (HANDLED_PARAMETERS.has(name) || HARMLESS_PARAMETERS.has(name)) continue;
    const accepted = ACCEPTED_VALUES[name];
    if (accepted) {
      if (!accepted.includes(value)) throw new ConfigError(`${name}=${value} is not supported`);
      continue;
    }
    unknown.push(name);
  }
  if (unknown.length > 0) {
    throw new ConfigError(
      `unsupported upstream URI parameter${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`,
    );
  }
}
