/**
 * Opening the tunnel's upstream leg: TCP, TLS negotiated by libpq's `sslmode` rules, authentication
 * with the real credentials, and the server's startup messages, then the socket is handed over.
 */
import { readFile } from 'node:fs/promises';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type TLSSocket } from 'node:tls';
import { serialize } from 'pg-protocol';
import type { UpstreamConfig } from './connection-string.ts';
import { readAuthenticationRequest, readSaslMechanisms } from './wire/authentication.ts';
import { AuthCode, Backend, TAGGED_HEADER_LENGTH } from './wire/codes.ts';
import { readNoticeFieldList } from './wire/notices.ts';
import { ProtocolViolation } from './wire/reader.ts';
import { readBackendKeyData, readParameterStatus } from './wire/session-status.ts';
import { cancelRequest, startupMessage } from './wire/startup.ts';
import { ScramError, tlsServerEndPoint, type ScramClient } from './wire/scram.ts';
import { CredentialsError, passwordCredentials, type UpstreamCredentials } from './upstream-credentials.ts';

export interface BackendKey {
  processId: number;
  secretKey: Buffer;
}

export type AuthMechanism = 'trust' | 'cleartext' | 'md5' | 'SCRAM-SHA-256' | 'SCRAM-SHA-256-PLUS';

export interface UpstreamConnection {
  /** A tls.TLSSocket when TLS was negotiated; paused, with none of our listeners left attached. */
  socket: Socket;
  tls: boolean;
  /** How the server authenticated us; 'trust' when it asked for nothing. */
  authMechanism: AuthMechanism;
  backendKey: BackendKey;
  /** ParameterStatus values the server reported during startup. */
  parameters: Map<string, string>;
  /**
   * Raw bytes of every message after AuthenticationOk up to and including ReadyForQuery, so the
   * proxy can replay them to its client with its own BackendKeyData substituted.
   */
  startupMessages: Buffer[];
  /** Bytes received after ReadyForQuery (normally none). */
  leftover: Buffer;
}

export class UpstreamError extends Error {
  override name = 'UpstreamError';
  /** SQLSTATE, when the server sent an ErrorResponse. */
  code?: string;
  /** The ErrorResponse fields keyed by their one-letter codes. */
  fields?: Record<string, string>;

  constructor(
    message: string,
    options: { code?: string; fields?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (options.code !== undefined) this.code = options.code;
    if (options.fields !== undefined) this.fields = options.fields;
  }
}

// ---------------------------------------------------------------------------------------------
// Startup parameters

/** Startup parameters the upstream leg owns: the tunnel's identity, no replication, no protocol options. */
const RESERVED_PARAMETERS = new Set(['user', 'database', 'replication', 'options']);

/**
 * The startup parameters that may reach the upstream: the settings the session judged (see
 * startup-options.ts and the policy's startupSetting), without `user` and `database` (the tunnel's own
 * come from the config), `replication`, `options` (its switches arrive as settings of their own) and
 * protocol extensions (`_pq_.*`).
 */
export function filterStartupParameters(params: Record<string, string>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    const key = name.toLowerCase();
    if (RESERVED_PARAMETERS.has(key) || key.startsWith('_pq_') || value.includes('\0')) continue;
    kept[name] = value;
  }
  return kept;
}

// ---------------------------------------------------------------------------------------------
// Reading the server during startup

const UNSUPPORTED_AUTH: Record<number, string> = {
  2: 'Kerberos V5',
  6: 'SCM credentials',
  7: 'GSSAPI',
  8: 'GSSAPI',
  9: 'SSPI',
};

/** Startup messages are small; a bigger one means a confused or hostile server. */
const MAX_STARTUP_MESSAGE = 1 << 20;

interface BackendMessage {
  type: number;
  bytes: Buffer;
}

/** Buffers a socket's bytes until asked for a message; detaching hands back what is left. */
class StartupReader {
  private buffered: Buffer = Buffer.alloc(0);
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  private readonly onData = (chunk: Buffer): void => {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    this.notify();
  };
  private readonly onError = (error: Error): void => {
    this.failure ??= error;
    this.notify();
  };
  private readonly onEnd = (): void => {
    this.failure ??= new UpstreamError('upstream closed the connection during startup');
    this.notify();
  };

  constructor(private readonly socket: Socket) {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.resume(); // a socket another reader detached from is paused
  }

  /** The single-byte answer to SSLRequest. */
  async readByte(): Promise<number> {
    await this.fill(1);
    const byte = this.buffered[0]!;
    this.buffered = this.buffered.subarray(1);
    return byte;
  }

  async readMessage(): Promise<BackendMessage> {
    await this.fill(5);
    const length = this.buffered.readUInt32BE(1);
    if (length < 4 || length > MAX_STARTUP_MESSAGE) {
      throw new UpstreamError('upstream sent a malformed message during startup');
    }
    await this.fill(1 + length);
    const bytes = this.buffered.subarray(0, 1 + length);
    this.buffered = this.buffered.subarray(1 + length);
    return { type: bytes[0]!, bytes };
  }

  /** Stops reading and returns the bytes received but not consumed; the socket is left paused. */
  detach(): Buffer {
    this.socket.off('data', this.onData);
    this.socket.off('error', this.onError);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.pause();
    const leftover = this.buffered;
    this.buffered = Buffer.alloc(0);
    return leftover;
  }

  private async fill(size: number): Promise<void> {
    while (this.buffered.length < size) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** Reads one startup message with a wire reader, a malformed one refused as the server's fault. */
function readFromServer<T>(read: () => T, malformed = 'upstream sent a malformed message during startup'): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof ProtocolViolation) throw new UpstreamError(malformed);
    throw error;
  }
}

function serverError(frame: Buffer): UpstreamError {
  const { fields: list, end } = readNoticeFieldList(frame);
  if (end < 0) throw new UpstreamError('upstream sent a malformed message during startup');
  const fields = Object.fromEntries(list);
  const sqlstate = fields.C ? ` (SQLSTATE ${fields.C})` : '';
  return new UpstreamError(`upstream refused the connection: ${fields.M ?? 'no message'}${sqlstate}`, {
    code: fields.C,
    fields,
  });
}

// ---------------------------------------------------------------------------------------------
// Connecting

function describeEndpoint(config: UpstreamConfig): string {
  return `${isIP(config.host) === 6 ? `[${config.host}]` : config.host}:${config.port}`;
}

/** Owns every socket of one connection attempt and destroys them all when the time is up. */
class ConnectScope {
  private readonly sockets = new Set<Socket>();
  private readonly timer: NodeJS.Timeout | undefined;
  private expired: UpstreamError | undefined;

  constructor(config: UpstreamConfig) {
    if (config.connectTimeoutMs > 0) {
      this.timer = setTimeout(() => {
        this.expired = new UpstreamError(
          `timed out after ${config.connectTimeoutMs} ms connecting to upstream ${describeEndpoint(config)}`,
        );
        for (const socket of this.sockets) socket.destroy(this.expired);
      }, config.connectTimeoutMs);
    }
  }

  /** `replacing` is a socket now wrapped by this one (TLS over TCP), which goes with it. */
  track<T extends Socket>(socket: T, replacing?: Socket): T {
    if (replacing) this.sockets.delete(replacing);
    this.sockets.add(socket);
    if (this.expired) socket.destroy(this.expired);
    return socket;
  }

  /** Destroys every socket except `keep`, and stops the clock. */
  close(keep?: Socket): void {
    clearTimeout(this.timer);
    for (const socket of this.sockets) if (socket !== keep) socket.destroy();
    this.sockets.clear();
  }

  discardSockets(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}

function openSocket(config: UpstreamConfig, scope: ConnectScope): Promise<Socket> {
  if (config.dial) return config.dial(config.host, config.port).then((socket) => scope.track(socket));
  return new Promise((resolve, reject) => {
    const socket = scope.track(netConnect({ host: config.host, port: config.port }));
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.setNoDelay(true);
      socket.setKeepAlive(true);
      resolve(socket);
    });
  });
}

type Verification = 'none' | 'chain' | 'full';

function verificationFor(config: UpstreamConfig): Verification {
  if (config.sslmode === 'verify-full') return 'full';
  if (config.sslmode === 'verify-ca') return 'chain';
  // libpq verifies the chain whenever it has a root certificate, whatever the weaker sslmode.
  return config.sslrootcert || config.sslrootcertPem ? 'chain' : 'none';
}

async function trustedRoots(config: UpstreamConfig): Promise<string | undefined> {
  if (config.sslrootcertPem) return config.sslrootcertPem;
  if (!config.sslrootcert || config.sslrootcert === 'system') return undefined;
  try {
    return await readFile(config.sslrootcert, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new UpstreamError(`cannot read sslrootcert ${config.sslrootcert}: ${code}`, { cause: error });
  }
}

type SslAnswer = 'accepted' | 'refused' | 'error';

/** Sends SSLRequest and reads the one-byte answer, leaving the socket ready for TLS or startup. */
async function requestTls(socket: Socket): Promise<SslAnswer> {
  const reader = new StartupReader(socket);
  socket.write(serialize.requestSsl());
  const answer = await reader.readByte();
  const extra = reader.detach();
  if (answer === 0x45) return 'error'; // an ErrorResponse from a server too old to know SSLRequest
  if (extra.length > 0) {
    // CVE-2021-23222: bytes sent before the handshake would be read as if they came through TLS.
    throw new UpstreamError('upstream sent unexpected data after its answer to the TLS request');
  }
  if (answer === 0x53) return 'accepted'; // S
  if (answer === 0x4e) return 'refused'; // N
  throw new UpstreamError('upstream sent an invalid answer to the TLS request');
}

async function startTls(socket: Socket, config: UpstreamConfig, scope: ConnectScope): Promise<TLSSocket> {
  const verification = verificationFor(config);
  const ca = verification === 'none' ? undefined : await trustedRoots(config);
  const expectedName = config.sslservername ?? config.host;
  const tlsSocket = scope.track(
    tlsConnect({
      socket,
      // SNI carries host names only (RFC 6066).
      servername: isIP(expectedName) ? undefined : expectedName,
      ca,
      rejectUnauthorized: verification !== 'none',
      checkServerIdentity: (_host, cert) =>
        verification === 'full' ? checkServerIdentity(expectedName, cert) : undefined,
      minVersion: 'TLSv1.2',
      ALPNProtocols: ['postgresql'],
    }),
    socket,
  );
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error): void => {
      const where = describeEndpoint(config);
      reject(
        error instanceof UpstreamError
          ? error
          : new UpstreamError(`TLS with upstream ${where} failed: ${error.message}`, { cause: error }),
      );
    };
    tlsSocket.once('error', fail);
    tlsSocket.once('secureConnect', () => {
      tlsSocket.off('error', fail);
      resolve();
    });
  });
  return tlsSocket;
}

/** Thrown inside an sslmode=prefer attempt to start over without TLS, as libpq does. */
class RetryWithoutTls extends Error {}

type Transport = 'plain' | 'tls' | 'tls-if-available';

/** What one connection attempt authenticates with. */
interface Login {
  config: UpstreamConfig;
  params: Record<string, string>;
  credentials: UpstreamCredentials;
}

async function attempt(
  login: Login,
  transport: Transport,
  scope: ConnectScope,
  progress: { tls: boolean },
): Promise<UpstreamConnection> {
  const { config } = login;
  let socket = await openSocket(config, scope);
  if (transport !== 'plain') {
    const answer = await requestTls(socket);
    if (answer === 'accepted') {
      try {
        socket = await startTls(socket, config, scope);
      } catch (error) {
        // libpq's prefer falls back to plaintext when the handshake fails, but never when a
        // certificate check was asked for: that failure is what verification exists to catch.
        if (transport === 'tls-if-available' && verificationFor(config) === 'none') {
          throw new RetryWithoutTls();
        }
        throw error;
      }
      progress.tls = true;
    } else if (transport === 'tls') {
      throw new UpstreamError(
        answer === 'refused'
          ? `upstream ${describeEndpoint(config)} does not support TLS, which sslmode=${config.sslmode} requires`
          : `upstream ${describeEndpoint(config)} rejected the TLS request, which sslmode=${config.sslmode} requires`,
      );
    } else if (answer === 'error') {
      throw new RetryWithoutTls();
    }
  }
  return authenticate(socket, progress.tls, login);
}

/**
 * Opens an upstream connection as `config.user`; the server's password requests are answered by
 * `credentials` (by default, the connection string's password).
 */
export async function connectUpstream(
  config: UpstreamConfig,
  startupParameters: Record<string, string>,
  credentials: UpstreamCredentials = passwordCredentials(config.password),
): Promise<UpstreamConnection> {
  const scope = new ConnectScope(config);
  const params: Record<string, string> = {
    ...(config.fallbackApplicationName === undefined
      ? {}
      : { application_name: config.fallbackApplicationName }),
    ...filterStartupParameters(startupParameters),
    // An application_name in the operator's connection string beats the client's.
    ...(config.applicationName === undefined ? {} : { application_name: config.applicationName }),
    user: config.user,
    database: config.database,
  };
  try {
    const connection = await connectBySslMode(config, params, scope, credentials);
    scope.close(connection.socket);
    return connection;
  } catch (error) {
    scope.close();
    throw asUpstreamError(error, config);
  }
}

async function connectBySslMode(
  config: UpstreamConfig,
  params: Record<string, string>,
  scope: ConnectScope,
  credentials: UpstreamCredentials,
): Promise<UpstreamConnection> {
  const first = { tls: false };
  const run = (transport: Transport, progress: { tls: boolean }) =>
    attempt({ config, params, credentials }, transport, scope, progress);
  switch (config.sslmode) {
    case 'disable':
      return run('plain', first);
    case 'allow':
      // libpq: plaintext first; TLS only if the server refuses the plaintext connection.
      try {
        return await run('plain', first);
      } catch (error) {
        if (!isServerRefusal(error)) throw error;
        scope.discardSockets();
        return run('tls', { tls: false });
      }
    case 'prefer':
      // libpq: TLS if the server offers it; plaintext again if it refuses us over TLS.
      try {
        return await run('tls-if-available', first);
      } catch (error) {
        if (!(error instanceof RetryWithoutTls) && !(first.tls && isServerRefusal(error))) throw error;
        scope.discardSockets();
        return run('plain', { tls: false });
      }
    default:
      return run('tls', first);
  }
}

function isServerRefusal(error: unknown): boolean {
  return error instanceof UpstreamError && error.fields !== undefined;
}

const SOCKET_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed',
};

function asUpstreamError(error: unknown, config: UpstreamConfig): UpstreamError {
  if (error instanceof UpstreamError) return error;
  if (error instanceof CredentialsError)
    return new UpstreamError(error.message, { code: error.code, cause: error });
  const where = describeEndpoint(config);
  if (error instanceof ScramError) {
    return new UpstreamError(`SCRAM authentication with upstream ${where} failed: ${error.message}`, {
      cause: error,
    });
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason = code ? SOCKET_ERRORS[code] : undefined;
  if (reason) return new UpstreamError(`cannot reach upstream ${where}: ${reason}`, { cause: error });
  const message = error instanceof Error ? error.message : String(error);
  return new UpstreamError(`connecting to upstream ${where} failed: ${message}`, { cause: error });
}

// ---------------------------------------------------------------------------------------------
// Authentication and startup

async function authenticate(socket: Socket, tls: boolean, login: Login): Promise<UpstreamConnection> {
  const reader = new StartupReader(socket);
  socket.write(startupMessage(login.params));
  const authMechanism = await exchangeCredentials(reader, socket, tls, login);

  const parameters = new Map<string, string>();
  const startupMessages: Buffer[] = [];
  let backendKey: BackendKey | undefined;
  for (;;) {
    const message = await reader.readMessage();
    switch (message.type) {
      case Backend.errorResponse:
        throw serverError(message.bytes);
      case Backend.parameterStatus: {
        const { name, value } = readFromServer(() => readParameterStatus(message.bytes));
        parameters.set(name, value);
        break;
      }
      case Backend.backendKeyData:
        backendKey = readFromServer(
          () => readBackendKeyData(message.bytes),
          'upstream sent a malformed BackendKeyData',
        );
        break;
      case Backend.noticeResponse:
      case Backend.readyForQuery:
        break;
      default:
        throw new UpstreamError(
          `upstream sent an unexpected message '${String.fromCharCode(message.type)}' during startup`,
        );
    }
    startupMessages.push(message.bytes);
    if (message.type !== Backend.readyForQuery) continue;
    if (!backendKey)
      throw new UpstreamError('upstream sent no BackendKeyData, so queries could not be cancelled');
    const leftover = reader.detach();
    return { socket, tls, authMechanism, backendKey, parameters, startupMessages, leftover };
  }
}

/** The server's next AuthenticationRequest; an ErrorResponse refuses the login, notices pass. */
async function nextAuthenticationRequest(reader: StartupReader): Promise<{ request: number; data: Buffer }> {
  for (;;) {
    const message = await reader.readMessage();
    if (message.type === Backend.errorResponse) throw serverError(message.bytes);
    if (message.type === Backend.noticeResponse) continue;
    if (message.type !== Backend.authentication || message.bytes.length < TAGGED_HEADER_LENGTH + 4) {
      throw new UpstreamError(
        `upstream sent an unexpected message '${String.fromCharCode(message.type)}' during authentication`,
      );
    }
    return readAuthenticationRequest(message.bytes);
  }
}

/** Refuses an AuthenticationOk that came without the proof the login asked for. */
function checkAuthenticated(
  config: UpstreamConfig,
  mechanism: AuthMechanism,
  scram: ScramClient | undefined,
): void {
  // A server that skips SASLFinal would never have proven it knows the password.
  if (scram && !scram.serverVerified) {
    throw new UpstreamError('upstream ended SCRAM authentication without proving its identity');
  }
  if (config.channelBinding === 'require' && mechanism !== 'SCRAM-SHA-256-PLUS') {
    throw new UpstreamError('channel_binding=require, but upstream authenticated us without channel binding');
  }
}

/** Answers the server's authentication requests until AuthenticationOk. */
async function exchangeCredentials(
  reader: StartupReader,
  socket: Socket,
  tls: boolean,
  { config, credentials }: Login,
): Promise<AuthMechanism> {
  let mechanism: AuthMechanism = 'trust';
  let scram: ScramClient | undefined;
  for (;;) {
    const { request, data } = await nextAuthenticationRequest(reader);
    switch (request) {
      case AuthCode.ok:
        checkAuthenticated(config, mechanism, scram);
        return mechanism;
      case AuthCode.cleartextPassword:
        if (!tls && !config.allowCleartextPassword) {
          throw new UpstreamError(
            'upstream asked for the password in cleartext over a connection without TLS; ' +
              'use TLS (sslmode=require or stronger) or set allow_cleartext=1 to permit it',
          );
        }
        mechanism = 'cleartext';
        socket.write(serialize.password(await credentials.cleartext()));
        break;
      case AuthCode.md5Password:
        if (data.length !== 4) throw new UpstreamError('upstream sent a malformed MD5 salt');
        mechanism = 'md5';
        socket.write(serialize.password(await credentials.md5(config.user, Buffer.from(data))));
        break;
      case AuthCode.sasl: {
        if (scram) throw new UpstreamError('upstream restarted SASL authentication');
        const offered = readFromServer(() => readSaslMechanisms(data));
        scram = chooseScram(offered, socket, tls, config, credentials);
        mechanism = scram.mechanism;
        socket.write(serialize.sendSASLInitialResponseMessage(scram.mechanism, scram.clientFirst()));
        break;
      }
      case AuthCode.saslContinue:
        if (!scram) throw new UpstreamError('upstream sent SASLContinue before SASL');
        socket.write(
          serialize.sendSCRAMClientFinalMessage(await scram.answerServerFirst(data.toString('utf8'))),
        );
        break;
      case AuthCode.saslFinal:
        if (!scram) throw new UpstreamError('upstream sent SASLFinal before SASL');
        scram.verifyServerFinal(data.toString('utf8'));
        break;
      default:
        throw new UpstreamError(
          `upstream asked for ${UNSUPPORTED_AUTH[request] ?? `authentication method ${request}`}, which is not supported`,
        );
    }
  }
}

function chooseScram(
  offered: string[],
  socket: Socket,
  tls: boolean,
  config: UpstreamConfig,
  credentials: UpstreamCredentials,
): ScramClient {
  const mayBind = tls && config.channelBinding !== 'disable';
  if (offered.includes('SCRAM-SHA-256-PLUS')) {
    // Only a server on TLS can bind; offering it in plaintext means someone rewrote the list.
    if (!tls) throw new UpstreamError('upstream offered SCRAM-SHA-256-PLUS over a connection without TLS');
    if (mayBind) {
      const certificate = (socket as TLSSocket).getPeerX509Certificate();
      if (!certificate) throw new UpstreamError('upstream presented no certificate for channel binding');
      const data = tlsServerEndPoint(certificate.raw);
      return credentials.scram({ channelBinding: { type: 'tls-server-end-point', data } });
    }
  }
  if (config.channelBinding === 'require') {
    throw new UpstreamError(
      tls
        ? 'channel_binding=require, but upstream does not offer SCRAM-SHA-256-PLUS'
        : 'channel_binding=require needs TLS to the upstream',
    );
  }
  if (!offered.includes('SCRAM-SHA-256')) {
    throw new UpstreamError(`upstream offered no supported SASL mechanism (${offered.join(', ') || 'none'})`);
  }
  return credentials.scram({ clientSupportsBinding: mayBind });
}

// ---------------------------------------------------------------------------------------------
// Cancelling

/**
 * Sends a CancelRequest for `key` on a new connection. With `useTls` the request travels inside
 * TLS verified like the main connection (a cleartext key would let eavesdroppers cancel queries);
 * resolves once the server has read it and closed the connection.
 */
export async function sendCancel(config: UpstreamConfig, key: BackendKey, useTls: boolean): Promise<void> {
  const scope = new ConnectScope(config);
  try {
    let socket = await openSocket(config, scope);
    if (useTls) {
      const answer = await requestTls(socket);
      if (answer !== 'accepted') {
        throw new UpstreamError(`upstream ${describeEndpoint(config)} refused TLS for the cancel request`);
      }
      socket = await startTls(socket, config, scope);
    }
    const connection = socket;
    await new Promise<void>((resolve, reject) => {
      // The server may reset rather than close once it has the request; only our deadline counts.
      connection.on('error', (error) => {
        if (error instanceof UpstreamError) reject(error);
      });
      connection.once('close', () => resolve());
      connection.end(cancelRequest(key.processId, key.secretKey));
      connection.resume();
    });
  } catch (error) {
    throw asUpstreamError(error, config);
  } finally {
    scope.close();
  }
}
