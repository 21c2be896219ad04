/**
 * One client connection to the local SSH leg: authenticated with the tunnel's own key pair or password
 * (nothing else gets in), admitted (sign-in, grant, recording), then given one upstream connection whose
 * channels mirror the client's — sessions through SessionChannel, `direct-tcpip` through the forwarding
 * policy — while everything the client may not do is refused and recorded.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Duplex } from 'node:stream';
import ssh2, { type AuthContext, type Client, type ClientInfo, type Connection } from 'ssh2';
import type { ValueDetector } from '../policy/masking/detectors.ts';
import type { Approver } from '../policy/approver.ts';
import type { Policy } from '../policy/policy.ts';
import type { RecordingPoint, SessionEvent } from '../recorder/recording-point.ts';
import { forwardDirectTcpip } from './forwarding.ts';
import { fingerprint, formatPublicKey, sameKey, type PublicKey } from './keys.ts';
import { SessionChannel } from './session-channel.ts';
import { SshGate } from './ssh-gate.ts';
import { connectSshUpstream, type Signer, type SshUpstreamConfig } from './upstream.ts';

// ssh2 is CommonJS: Node's ESM loader does not find utils as a named export.
const { utils } = ssh2;

/** How many failed sign-in attempts one connection gets before it is dropped. */
const MAX_AUTH_FAILURES = 6;

export interface SshConnectionOptions {
  connectionId: string;
  targetId: string;
  /** The key clients must present, and the per-tunnel password. */
  clientKey: PublicKey;
  password: string;
  upstream: Omit<SshUpstreamConfig, 'signer' | 'sock'> & { via?: string; dial?: () => Promise<Duplex> };
  signer: Signer;
  policy: Policy;
  approver: Approver | undefined;
  detector: ValueDetector | undefined;
  recorder: RecordingPoint;
  /** Asked once the client has signed in, before the upstream is dialled; a throw refuses the connection. */
  admit?: () => Promise<void>;
  authenticationTimeoutMs: number;
  log(message: string): void;
}

export class SshConnection {
  readonly closed: Promise<void>;
  readonly traffic = { fromClient: 0, toClient: 0 };
  private upstream: Promise<Client> | undefined;
  private upstreamClient: Client | undefined;
  private failures = 0;
  private nextChannel = 1;
  private execs = 0;
  private endReason = 'the client disconnected';
  private auth: 'publickey' | 'password' = 'publickey';
  private user = '';
  private readonly gate: SshGate;
  private readonly disconnected = new AbortController();

  constructor(
    private readonly connection: Connection,
    private readonly info: ClientInfo,
    private readonly options: SshConnectionOptions,
  ) {
    this.gate = new SshGate({
      connectionId: options.connectionId,
      targetId: options.targetId,
      policy: options.policy,
      approver: options.approver,
      record: (event) => this.record(event),
    });
    let resolveClosed!: () => void;
    this.closed = new Promise((resolve) => (resolveClosed = resolve));
    const authTimer = setTimeout(() => {
      this.endReason = 'the client did not sign in in time';
      connection.end();
    }, options.authenticationTimeoutMs);
    connection.on('authentication', (ctx) => this.authenticate(ctx));
    connection.on('ready', () => {
      clearTimeout(authTimer);
      this.upstream = this.connectUpstream();
      this.upstream.catch(() => undefined);
    });
    connection.on('session', (accept) => {
      const channel = this.nextChannel++;
      new SessionChannel(accept(), this.channelContext(channel));
    });
    connection.on(
      'tcpip',
      (accept, reject, info) =>
        void forwardDirectTcpip(accept, reject, info, this.channelContext(this.nextChannel++)),
    );
    this.refuseOtherForwarding();
    connection.on('error', (error) => options.log(`ssh client ${info.ip}:${info.port}: ${error.message}`));
    connection.on('close', () => {
      clearTimeout(authTimer);
      this.ended();
      resolveClosed();
    });
  }

  /** Remote forwarding (-R) and forwarding to Unix sockets are refused, and recorded. */
  private refuseOtherForwarding(): void {
    this.connection.on('openssh.streamlocal', (_accept, reject, info) => {
      reject();
      this.record({
        type: 'ssh.refused',
        what: 'forwarding to a Unix socket',
        detail: info.socketPath,
        rule: 'not supported by the tunnel',
      });
    });
    this.connection.on('request', (_accept, reject, name, info) => {
      reject?.();
      if (name.startsWith('cancel-')) return;
      const where =
        'bindAddr' in info
          ? `${info.bindAddr}:${info.bindPort}`
          : (info as { socketPath?: string }).socketPath;
      this.record({
        type: 'ssh.refused',
        what: 'remote forwarding',
        ...(where ? { detail: where } : {}),
        rule: 'not supported by the tunnel',
      });
    });
  }

  /** The client went: the upstream goes too, and a session that reached its target is recorded as ended. */
  private ended(): void {
    this.disconnected.abort();
    this.upstreamClient?.end();
    if (this.upstream) {
      this.record({
        type: 'session.end',
        reason: this.endReason,
        bytesFromClient: this.traffic.fromClient,
        bytesToClient: this.traffic.toClient,
        statements: this.execs,
      });
    }
  }

  /** Ends the connection for `reason` (the tunnel closes, access ended). */
  terminate(reason: string): void {
    this.endReason = reason;
    this.connection.end();
  }

  destroy(): void {
    this.upstreamClient?.end();
    (this.connection as unknown as { _sock?: { destroy(): void } })._sock?.destroy();
  }

  private record(event: SessionEvent): void {
    if (event.type === 'ssh.exec') this.execs++;
    this.options.recorder.record(this.options.connectionId, event);
  }

  private authenticate(ctx: AuthContext): void {
    this.user = ctx.username;
    if (ctx.method === 'publickey') {
      const { clientKey } = this.options;
      if (ctx.key.algo !== clientKey.type || !sameKey(ctx.key.data, clientKey.blob)) {
        return this.refuseSignIn(ctx, `a key that is not this tunnel's (${fingerprint(ctx.key.data)})`);
      }
      // Without a signature the client only asks whether the key would do.
      if (!ctx.signature) return ctx.accept();
      const key = utils.parseKey(formatPublicKey(clientKey));
      const valid =
        !(key instanceof Error) &&
        !Array.isArray(key) &&
        key.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true;
      if (!valid) return this.refuseSignIn(ctx, 'a signature that does not verify');
      this.auth = 'publickey';
      return ctx.accept();
    }
    if (ctx.method === 'password') {
      const given = Buffer.from(ctx.password, 'utf8');
      const expected = Buffer.from(this.options.password, 'utf8');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return this.refuseSignIn(ctx, 'a wrong password');
      }
      this.auth = 'password';
      return ctx.accept();
    }
    ctx.reject(['publickey', 'password']);
  }

  private refuseSignIn(ctx: AuthContext, reason: string): void {
    this.failures++;
    this.record({
      type: 'auth.failed',
      client: { address: this.info.ip, port: this.info.port, user: ctx.username },
      reason: `signed in with ${reason}`,
    });
    ctx.reject(['publickey', 'password']);
    if (this.failures >= MAX_AUTH_FAILURES) {
      this.endReason = 'too many failed sign-in attempts';
      this.connection.end();
    }
  }

  private async connectUpstream(): Promise<Client> {
    const { upstream } = this.options;
    try {
      await this.options.admit?.();
      const sock = upstream.dial ? await upstream.dial() : undefined;
      const { client, hostKey } = await connectSshUpstream({
        ...upstream,
        signer: this.options.signer,
        ...(sock ? { sock } : {}),
      });
      if (this.disconnected.signal.aborted) {
        // The client left while the target was answering: nobody will use or end this connection.
        client.end();
        throw new Error('the client left before the target connection was ready');
      }
      this.upstreamClient = client;
      client.on('close', () => {
        this.endReason = `${this.options.targetId} closed the connection`;
        this.connection.end();
      });
      client.on('error', (error) => this.options.log(`${this.options.targetId}: ${error.message}`));
      this.record({
        type: 'ssh.start',
        client: { address: this.info.ip, port: this.info.port, user: this.user, auth: this.auth },
        upstream: {
          host: upstream.host,
          port: upstream.port,
          user: upstream.user,
          hostKey: fingerprint(hostKey),
          ...(upstream.via ? { via: upstream.via } : {}),
        },
      });
      return client;
    } catch (error) {
      const message = (error as Error).message;
      // After the client left its session has ended, in the recording too: nothing more to say there.
      if (this.disconnected.signal.aborted) throw error;
      this.record({ type: 'error', code: 'ssh-upstream', message, severity: 'FATAL' });
      this.endReason = message;
      throw error;
    }
  }

  private channelContext(channel: number) {
    const { policy, detector, targetId } = this.options;
    return {
      channel,
      targetId,
      policy,
      gate: this.gate,
      detector,
      upstream: () => this.upstream ?? Promise.reject(new Error('not signed in')),
      record: (event: SessionEvent) => this.record(event),
      count: (direction: 'fromClient' | 'toClient', bytes: number) => {
        this.traffic[direction] += bytes;
      },
      disconnected: this.disconnected.signal,
      log: (message: string) => this.options.log(message),
    };
  }
}
