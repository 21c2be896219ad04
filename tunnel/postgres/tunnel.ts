import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { allowEverything, type DecisionPoint } from '../policy/decision-point.ts';
import { redactingPasswords } from '../policy/password-literals.ts';
import {
  boundingStatementText,
  DEFAULT_MAX_STATEMENT_SIZE,
  limitStatementSize,
} from '../policy/statement-size.ts';
import { recordNothing, type RecordingPoint } from '../recorder/recording-point.ts';
import { CancelKeys } from './cancel-keys.ts';
import type { UpstreamConfig } from './connection-string.ts';
import { DEFAULT_MAX_MESSAGE_SIZE } from './wire/framer.ts';
import { LocalTls, type LocalTlsMaterial } from './local-tls.ts';
import { createScramVerifier } from './wire/scram.ts';
import { errorResponse } from './wire/notices.ts';
import { PostgresSession, type SessionOptions } from './session.ts';
import { sendCancel } from './upstream.ts';
import type { UpstreamCredentials } from './upstream-credentials.ts';

export interface PostgresTunnelOptions {
  upstream: UpstreamConfig;
  /**
   * Answers the upstream's password requests for the connection with this proxy id (see the recorder);
   * the connection string's password by default.
   */
  upstreamCredentials?: (connectionId: string) => UpstreamCredentials;
  /** Loopback address to listen on; 127.0.0.1 unless asked otherwise. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  decisions?: DecisionPoint;
  /** The largest statement the decision point is asked about (default 1 MiB); larger ones are denied. */
  maxStatementSize?: number;
  recorder?: RecordingPoint;
  maxMessageSize?: number;
  /** How long a client may take to authenticate (default 60 s). */
  authenticationTimeoutMs?: number;
  /** Client connections at once, signed in or not (default 200); more are refused with FATAL 53300. */
  maxConnections?: number;
  /** Connections not signed in yet, at once (default 64); more are refused with FATAL 53300 unread. */
  maxUnauthenticated?: number;
  /** How long shutdown waits for clients to leave after telling them, before dropping them (default 2 s). */
  shutdownGraceMs?: number;
  /** The per-tunnel secret; generated when not given. */
  secret?: string;
  /** Asked for every authenticated client before its upstream connection opens; see SessionOptions.admit. */
  admit?: SessionOptions['admit'];
  /**
   * The local leg's certificate, its key and the authority that signed it (local-certificate.ts): TLS
   * for clients that ask for it. Without it SSLRequest is answered 'N'.
   */
  tls?: LocalTlsMaterial;
  log?: (message: string) => void;
}

/** What a local client needs to connect: shown to the user, never the upstream credentials. */
export interface TunnelEndpoint {
  kind: 'postgres';
  host: string;
  port: number;
  /** `host:port`, an IPv6 host in brackets: what the ready line calls `listen`. */
  listen: string;
  user: string;
  password: string;
  database: string;
  /** A libpq URI usable as is (sslmode=disable: the leg is loopback). */
  url: string;
  /** With TLS: the authority (PEM) that signed the local leg's certificate, for `sslrootcert`. */
  ca?: string;
}

/** Traffic through a tunnel since it started: live connections and everything they moved. */
export interface TunnelTraffic {
  /** Client connections open now. */
  connections: number;
  bytesFromClient: number;
  bytesToClient: number;
}

export const DEFAULT_MAX_CONNECTIONS = 200;
export const DEFAULT_MAX_UNAUTHENTICATED = 64;

/**
 * A local guarded tunnel to one Postgres target: a loopback listener whose clients authenticate with the
 * tunnel's own secret and are proxied, statement by statement, to the upstream with its real credentials.
 */
export class PostgresTunnel {
  private server: Server | undefined;
  private readonly sessions = new Set<PostgresSession>();
  /** The cancel keys handed to clients: the server's pid with a secret of the tunnel's own. */
  private readonly cancelKeys = new CancelKeys<PostgresSession>();
  private readonly secret: string;
  private readonly verifier;
  private endpointValue: TunnelEndpoint | undefined;
  /** Bytes of connections that have ended (live ones are read from their sessions). */
  private readonly ended = { bytesFromClient: 0, bytesToClient: 0 };
  private readonly capacity: CapacityLog;
  private readonly decisions: DecisionPoint;
  /**
   * Statements are recorded with their password literals redacted, wherever the recording goes; those
   * above the statement size limit by their size and hash only.
   */
  private readonly recorder: RecordingPoint;

  private readonly tls: LocalTls | undefined;

  constructor(private readonly options: PostgresTunnelOptions) {
    this.secret = options.secret ?? randomBytes(24).toString('base64url');
    this.verifier = createScramVerifier(this.secret);
    this.capacity = new CapacityLog((message) => this.log(message));
    this.decisions = options.decisions
      ? limitStatementSize(options.decisions, options.maxStatementSize ?? DEFAULT_MAX_STATEMENT_SIZE)
      : allowEverything;
    // Oversized text is replaced first: the redactor then never scans megabytes.
    this.recorder = options.recorder
      ? boundingStatementText(
          redactingPasswords(options.recorder),
          options.maxStatementSize ?? DEFAULT_MAX_STATEMENT_SIZE,
        )
      : recordNothing;
    this.tls = options.tls ? new LocalTls(options.tls) : undefined;
  }

  get endpoint(): TunnelEndpoint {
    if (!this.endpointValue) throw new Error('the tunnel is not listening');
    return this.endpointValue;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  traffic(): TunnelTraffic {
    const traffic = { connections: this.sessions.size, ...this.ended };
    for (const session of this.sessions) {
      traffic.bytesFromClient += session.stats.bytesFromClient;
      traffic.bytesToClient += session.stats.bytesToClient;
    }
    return traffic;
  }

  async listen(): Promise<TunnelEndpoint> {
    const host = this.options.host ?? '127.0.0.1';
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.log(`listener error: ${error.message}`));
    this.server = server;
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const { user, database } = this.options.upstream;
    const hostInUrl = host.includes(':') ? `[${host}]` : host;
    this.endpointValue = {
      kind: 'postgres',
      host,
      port,
      listen: `${hostInUrl}:${port}`,
      user,
      password: this.secret,
      database,
      url: `postgres://${encodeURIComponent(user)}:${encodeURIComponent(this.secret)}@${hostInUrl}:${port}/${encodeURIComponent(database)}?sslmode=disable`,
      ...(this.tls ? { ca: this.tls.material.ca } : {}),
    };
    return this.endpointValue;
  }

  /**
   * Stops accepting at once, then ends every session, telling each client why (FATAL 57P01); waits (up
   * to `graceMs`) for the sessions to wind down so that their last events are recorded, drops whatever
   * is left, and closes the recorder.
   */
  async close(
    reason = 'the tunnel is shutting down',
    graceMs = this.options.shutdownGraceMs ?? 2000,
  ): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const stopped = server ? new Promise<void>((resolve) => server.close(() => resolve())) : undefined;
    const sessions = [...this.sessions];
    for (const session of sessions) session.terminate(reason);
    const grace = setTimeout(() => sessions.forEach((s) => s.destroy()), graceMs);
    await Promise.all(sessions.map((s) => s.closed));
    clearTimeout(grace);
    await stopped;
    await this.options.recorder?.close?.();
  }

  private accept(socket: Socket): void {
    if (!this.server) {
      socket.destroy();
      return;
    }
    const maxUnauthenticated = this.options.maxUnauthenticated ?? DEFAULT_MAX_UNAUTHENTICATED;
    const unauthenticated = [...this.sessions].filter((s) => s.unauthenticated).length;
    if (unauthenticated >= maxUnauthenticated) {
      this.capacity.refused(`${unauthenticated} connections are signing in (limit ${maxUnauthenticated})`);
      refuseUnread(
        socket,
        `too many connections are signing in to this tunnel at once (limit ${maxUnauthenticated}); try again shortly`,
      );
      return;
    }
    const maxConnections = this.options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    const full = this.sessions.size >= maxConnections;
    if (full) this.capacity.refused(`${maxConnections} clients are connected (the limit)`);
    else this.capacity.accepted();
    this.startSession(
      socket,
      full
        ? {
            code: TOO_MANY_CONNECTIONS,
            message: `too many clients already: this tunnel serves at most ${maxConnections}`,
          }
        : undefined,
    );
  }

  private startSession(socket: Socket, refuseAfterStartup: SessionOptions['refuseAfterStartup']): void {
    let keyedAs: number | undefined;
    const connectionId = randomUUID();
    const session: PostgresSession = new PostgresSession(socket, {
      connectionId,
      upstream: this.options.upstream,
      ...(this.options.upstreamCredentials
        ? { upstreamCredentials: this.options.upstreamCredentials(connectionId) }
        : {}),
      verifier: this.verifier,
      decisions: this.decisions,
      recorder: this.recorder,
      maxMessageSize: this.options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      authenticationTimeoutMs: this.options.authenticationTimeoutMs,
      ...(this.tls ? { tls: this.tls } : {}),
      issueCancelKey: (processId) => {
        keyedAs = processId;
        return this.cancelKeys.issue(processId, session);
      },
      ...(refuseAfterStartup ? { refuseAfterStartup } : {}),
      ...(this.options.admit ? { admit: this.options.admit } : {}),
      onCancelRequest: (pid, key) => this.cancel(pid, key),
      log: (message) => this.log(message),
    });
    this.sessions.add(session);
    socket.once('close', () => {
      if (this.sessions.delete(session)) {
        this.ended.bytesFromClient += session.stats.bytesFromClient;
        this.ended.bytesToClient += session.stats.bytesToClient;
      }
      if (keyedAs !== undefined) this.cancelKeys.release(keyedAs, session);
    });
  }

  /** Settles once the request has reached the server and been processed there, or was ignored. */
  private async cancel(processId: number, secretKey: Buffer): Promise<void> {
    const session = this.cancelKeys.find(processId, secretKey);
    if (!session) {
      this.log('ignored a cancel request with an unknown key');
      return;
    }
    await session.cancel((key, tls) => sendCancel(this.options.upstream, key, tls));
  }

  private log(message: string): void {
    this.options.log?.(message);
  }
}

/** SQLSTATE too_many_connections, as PostgreSQL answers past max_connections. */
const TOO_MANY_CONNECTIONS = '53300';
const REFUSAL_DEADLINE_MS = 2000;

/** Answers a connection the tunnel will not read at all with a FATAL, and lets it go. */
function refuseUnread(socket: Socket, message: string): void {
  socket.on('error', () => {});
  socket.on('data', () => {});
  const destroy = (): void => {
    socket.destroy();
  };
  socket.once('finish', destroy);
  setTimeout(destroy, REFUSAL_DEADLINE_MS).unref();
  socket.end(errorResponse({ severity: 'FATAL', code: TOO_MANY_CONNECTIONS, message }));
}

/** Says once when the tunnel starts refusing connections for capacity, and once when it accepts again. */
class CapacityLog {
  private refusing = false;
  private count = 0;

  constructor(private readonly log: (message: string) => void) {}

  refused(why: string): void {
    this.count++;
    if (this.refusing) return;
    this.refusing = true;
    this.log(`refusing new connections: ${why}`);
  }

  accepted(): void {
    if (!this.refusing) return;
    this.refusing = false;
    this.log(`accepting connections again (${this.count} refused meanwhile)`);
    this.count = 0;
  }
}
