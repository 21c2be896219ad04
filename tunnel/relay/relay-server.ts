/**
 * The relay: the tunnel's engine run as a service next to the databases, for targets whose client machines
 * are not trusted (`enforcement: relay`). It keeps no state of its own beyond its recording spool: each
 * connection names the user's session and presents the user's access token, and the hub admits it (or
 * not), says where the database is and which policy applies, proves each database connection, decides
 * holds, and tells the relay which connections to end. Several relays can serve behind one address.
 * The relay renews the hub's lease on each connection it serves with every poll: should the relay die,
 * the hub closes its connections' sessions once their leases run out.
 *
 *   const relay = new RelayServer({ hub, tls: { cert, key }, spool, port: 6433 });
 *   await relay.listen();
 *   …
 *   await relay.close();
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { HubClient } from '../hub-client/index.ts';
import { HubError } from '../hub-client/index.ts';
import { CancelKeys } from '../postgres/cancel-keys.ts';
import { errorResponse } from '../postgres/wire/notices.ts';
import { createScramVerifier } from '../postgres/wire/scram.ts';
import type { RecordingSpool } from '../recorder/spool.ts';
import { RelayConnection } from './relay-connection.ts';
import { RelayEngines } from './relay-engines.ts';
import { relayHandshake, RelayRefusal, type RelayStart } from './relay-handshake.ts';

export interface RelayServerOptions {
  /** The hub, signed in as the relay's own identity (an agent in one of the hub's `relays` groups). */
  hub: HubClient;
  /** The relay's certificate (chain) and key, PEM: tunnels verify it (verify-full). */
  tls: { cert: string | Buffer; key: string | Buffer };
  spool: RecordingSpool;
  /** Default 0.0.0.0; port 0 (the default) picks a free one. */
  host?: string;
  port?: number;
  maskKey?: Buffer;
  /** How often to renew the connections' leases and ask the hub which must end. Default 5 s. */
  revocationPollMs?: number;
  /** How long a connection may take to present its session and token. Default 30 s. */
  handshakeTimeoutMs?: number;
  /** Connections at once; more are refused with FATAL 53300. Default 500. */
  maxConnections?: number;
  log?: (message: string) => void;
}

export class RelayServer {
  private server: Server | undefined;
  private readonly connections = new Map<string, RelayConnection>();
  private readonly starting = new Set<Socket>();
  private readonly cancelKeys = new CancelKeys<RelayConnection>();
  private readonly secureContext;
  private readonly verifier = createScramVerifier(randomBytes(24).toString('base64url'));
  private readonly engines: RelayEngines;
  private pollTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: RelayServerOptions) {
    this.secureContext = createSecureContext({
      cert: options.tls.cert,
      key: options.tls.key,
      minVersion: 'TLSv1.2',
    });
    this.engines = new RelayEngines({
      hub: options.hub,
      ...(options.maskKey ? { maskKey: options.maskKey } : {}),
    });
  }

  /** The connections served now, by their hub session. */
  get active(): ReadonlyMap<string, RelayConnection> {
    return this.connections;
  }

  async listen(): Promise<{ host: string; port: number }> {
    const server = createServer((socket) => void this.accept(socket));
    const host = this.options.host ?? '0.0.0.0';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.log(`listener error: ${error.message}`));
    this.server = server;
    this.pollTimer = setInterval(() => void this.poll(), this.options.revocationPollMs ?? 5000);
    this.pollTimer.unref();
    const address = server.address();
    return { host, port: typeof address === 'object' && address ? address.port : 0 };
  }

  /** Renews the leases of the connections served now; ends those the hub has closed. */
  async renewLeases(): Promise<void> {
    if (this.connections.size === 0) return;
    try {
      const { closed } = await this.options.hub.renewRelayLeases({
        sessionIds: [...this.connections.keys()],
      });
      for (const { sessionId, reason } of closed) this.connections.get(sessionId)?.end(reason);
    } catch (error) {
      this.log(`renewing the connections' leases at the hub: ${(error as Error).message}`);
    }
  }

  /** Ends the connections whose user session, grant or own session the hub says are over. */
  async checkRevocations(): Promise<void> {
    if (this.connections.size === 0) return;
    try {
      for (const entry of await this.options.hub.sessionsToClose()) {
        const connection = this.connections.get(entry.sessionId);
        if (!connection) continue;
        connection.end(
          entry.reason === 'session-closed'
            ? `the session ${connection.admission.sessionId} was closed`
            : `your access to ${entry.targetId} has ${entry.reason === 'grant-expired' ? 'expired' : 'been revoked'}`,
        );
      }
    } catch (error) {
      this.log(`asking the hub which connections to end: ${(error as Error).message}`);
    }
  }

  /** Stops accepting, ends every connection with `reason`, and waits for their recordings to end. */
  async close(reason = 'the relay is shutting down'): Promise<void> {
    clearInterval(this.pollTimer);
    const server = this.server;
    this.server = undefined;
    const stopped = server ? new Promise<void>((resolve) => server.close(() => resolve())) : undefined;
    for (const socket of this.starting) socket.destroy();
    const open = [...this.connections.values()];
    for (const connection of open) connection.end(reason);
    await Promise.all(open.map((connection) => connection.closed));
    this.engines.close();
    await stopped;
  }

  private async poll(): Promise<void> {
    await this.renewLeases();
    await this.checkRevocations();
  }

  private async accept(socket: Socket): Promise<void> {
    socket.on('error', () => {});
    socket.setNoDelay(true);
    if (!this.server) return void socket.destroy();
    const max = this.options.maxConnections ?? 500;
    if (this.connections.size + this.starting.size >= max) {
      socket.end(
        errorResponse({
          severity: 'FATAL',
          code: '53300',
          message: `the relay serves at most ${max} connections`,
        }),
      );
      return;
    }
    this.starting.add(socket);
    let start: RelayStart;
    try {
      start = await relayHandshake(socket, this.secureContext, this.options.handshakeTimeoutMs ?? 30_000);
    } catch (error) {
      this.starting.delete(socket);
      return this.refuse(error, socket);
    }
    if (start.kind === 'cancel') {
      this.starting.delete(socket);
      socket.destroy();
      await this.cancel(start.processId, start.secretKey);
      return;
    }
    try {
      await this.admit(start);
    } catch (error) {
      this.refuse(error, start.socket);
    } finally {
      this.starting.delete(socket);
    }
  }

  private async admit(start: Extract<RelayStart, { kind: 'connect' }>): Promise<void> {
    const { socket } = start;
    let admission;
    try {
      admission = await this.options.hub.admitRelayConnection({
        sessionId: start.sessionId,
        accessToken: start.token,
        client: { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
      });
    } catch (error) {
      if (!(error instanceof HubError) || error.status === 0 || error.status >= 500) {
        throw new RelayRefusal(
          `the hub could not admit this connection: ${(error as Error).message}`,
          '08006',
          socket,
        );
      }
      throw new RelayRefusal(error.message, error.status === 429 ? '53300' : '28000', socket);
    }
    if (!this.server) throw new RelayRefusal('the relay is shutting down', '57P01', socket);
    socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0])); // AuthenticationOk
    const connection = new RelayConnection(admission, socket, start.parameters, {
      hub: this.options.hub,
      spool: this.options.spool,
      engines: this.engines,
      verifier: this.verifier,
      issueCancelKey: (processId, owner) => this.cancelKeys.issue(processId, owner),
      releaseCancelKey: (processId, owner) => this.cancelKeys.release(processId, owner),
      onCancelRequest: (processId, secretKey) => this.cancel(processId, secretKey),
      log: (message) => this.log(`${admission.connectionSessionId}: ${message}`),
    });
    this.connections.set(connection.sessionId, connection);
    void connection.closed.then(() => this.connections.delete(connection.sessionId));
    this.log(
      `serving ${admission.owner.name} on ${admission.target.id} (connection ${connection.sessionId})`,
    );
  }

  private async cancel(processId: number, secretKey: Buffer): Promise<void> {
    const connection = this.cancelKeys.find(processId, secretKey);
    if (!connection) return this.log('ignored a cancel request with an unknown key');
    await connection.cancel().catch((error: Error) => this.log(`forwarding a cancel: ${error.message}`));
  }

  private refuse(error: unknown, fallback: Socket): void {
    const refusal = error instanceof RelayRefusal ? error : undefined;
    const socket = refusal ? refusal.socket : fallback;
    this.log(`refused a connection: ${(error as Error).message}`);
    if (!socket || socket.destroyed) return void fallback.destroy();
    const message = refusal?.message ?? `the relay failed: ${(error as Error).message}`;
    socket.end(errorResponse({ severity: 'FATAL', code: refusal?.code ?? '08006', message }));
    setTimeout(() => socket.destroy(), 2000).unref();
  }

  private log(message: string): void {
    this.options.log?.(`relay: ${message}`);
  }
}
