import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { serialize } from 'pg-protocol';
import type { Decision, DecisionPoint, SessionPolicy, StatementRoute } from '../policy/decision-point.ts';
import type { ClientInfo, RecordingPoint, SessionEvent } from '../recorder/recording-point.ts';
import { Coalescer } from './coalescer.ts';
import { FramingError, InvalidStartupPacket, MessageFramer, TLS_RECORD } from './wire/framer.ts';
import { ProtocolViolation } from './wire/reader.ts';
import { LocalHandshake, type HandshakeStep } from './local-auth.ts';
import { ALPN_POSTGRESQL, type LocalTls } from './local-tls.ts';
import { Backend, Frontend, MAX_AUTHENTICATION_MESSAGE_LENGTH } from './wire/codes.ts';
import { backendKeyData } from './wire/session-status.ts';
import { errorResponse, noticeResponse } from './wire/notices.ts';
import { PendingPlan } from './result-attribution.ts';
import { ProxyProtocol } from './proxy-protocol.ts';
import type { ScramVerifier } from './wire/scram.ts';
import type { UpstreamConfig } from './connection-string.ts';
import { startupSettings, StartupOptionsError, type StartupSetting } from './wire/startup-options.ts';
import { TurnWrites } from './turn-writes.ts';
import { connectUpstream, UpstreamError, type BackendKey, type UpstreamConnection } from './upstream.ts';
import type { UpstreamCredentials } from './upstream-credentials.ts';

export interface SessionOptions {
  /** The tunnel's own id for this client connection (not the hub session the tunnel serves). */
  connectionId: string;
  upstream: UpstreamConfig;
  /** Answers the upstream's password requests for this connection; the connection string's password by default. */
  upstreamCredentials?: UpstreamCredentials;
  verifier: ScramVerifier;
  decisions: DecisionPoint;
  recorder: RecordingPoint;
  maxMessageSize: number;
  /** How long a client may take to authenticate; 60 s unless said otherwise. */
  authenticationTimeoutMs?: number;
  /** TLS for clients that ask for it; without it SSLRequest is answered 'N'. */
  tls?: LocalTls;
  /**
   * The tunnel is full: read the startup packet (a CancelRequest is still served, as PostgreSQL does),
   * then refuse the connection with this FATAL instead of authenticating it.
   */
  refuseAfterStartup?: { code: string; message: string };
  /**
   * The secret key to hand the client beside the server's real pid in BackendKeyData; the tunnel
   * remembers it, so that a CancelRequest naming both finds this session.
   */
  issueCancelKey(processId: number): Buffer;
  /**
   * Asked once the client has authenticated, before the upstream is opened: rejecting (with an
   * AdmissionRefused, say) ends the connection with that message — e.g. the user's sign-in or grant ended.
   */
  admit?: (client: ClientInfo) => Promise<void>;
  /**
   * A CancelRequest arrived on a new local connection; settles once it has been dealt with (forwarded
   * to the server and processed there, or found to name no session).
   */
  onCancelRequest(processId: number, secretKey: Buffer): Promise<void>;
  /**
   * The client has already authenticated elsewhere (a relay's own handshake, which told it
   * AuthenticationOk): the session starts with the upstream, for these startup parameters.
   */
  authenticated?: { parameters: Map<string, string> };
  log(message: string): void;
}

/** The tunnel will not let this client through now; the message tells the client why. */
export class AdmissionRefused extends Error {
  override name = 'AdmissionRefused';
  constructor(
    message: string,
    /** SQLSTATE for the client; 28000 (invalid authorization) unless said otherwise. */
    readonly code = '28000',
  ) {
    super(message);
  }
}

export interface SessionStats {
  statements: number;
  denied: number;
  maskedCells: number;
  bytesFromClient: number;
  bytesToClient: number;
}

/** How long a dismissed client gets to read its FATAL before its socket is destroyed regardless. */
const DISMISS_DEADLINE_MS = 2000;
/** What a dismissed client may still send, dropped, before the tunnel stops reading it. */
const DISMISS_READ_BYTES = 256 * 1024;

/**
 * One client connection through the tunnel: the local handshake, then the proxy loop.
 *
 * Data path: client bytes → framer → decision point → upstream; upstream bytes → framer → inspection
 * (recording, protocol state) → client. Untouched messages are forwarded as views of the received
 * chunks, and each side's socket is paused while the other cannot keep up, so memory stays bounded.
 */
export class PostgresSession {
  readonly stats: SessionStats = {
    statements: 0,
    denied: 0,
    maskedCells: 0,
    bytesFromClient: 0,
    bytesToClient: 0,
  };
  private phase: 'handshake' | 'connecting' | 'proxy' | 'closed' = 'handshake';
  private readonly clientFramer: MessageFramer;
  private readonly upstreamFramer: MessageFramer;
  private readonly handshake: LocalHandshake;
  private readonly policy: SessionPolicy;
  private upstream: UpstreamConnection | undefined;
  /** The protocol state once both sides are signed in: routes, denials, result attribution. */
  private readonly protocol: ProxyProtocol;

  /** Client frames waiting while a decision is pending or the upstream is being opened. */
  private inbox: { type: number; frame: Buffer }[] = [];
  private deciding = false;
  /** CancelRequests on their way to the server: the client's later messages wait for them. */
  private cancelsInFlight = 0;
  /** Messages bound for each side while one received chunk is processed; see Coalescer. */
  private readonly toUpstream = new Coalescer();
  private readonly toClient = new Coalescer();
  /** The client's writes of one event-loop turn, released together after the recording's flush. */
  private readonly turn: TurnWrites;
  /** Messages for the server are being gathered (see sendingToServer). */
  private batchingUpstream = false;
  /** While a masking plan is prepared, the server's messages (from the one waiting) and chunks wait here. */
  private heldFrames: { type: number; frame: Buffer }[] | undefined;
  private heldChunks: Buffer[] | undefined;
  private endReason = 'client disconnected';
  private terminating = false;
  /** The server closed while its stream was held for a masking plan; handled once the hold is over. */
  private upstreamClosedWhileHeld = false;
  /** The client was let go (refused, timed out, terminated): what it sends now is dropped unread. */
  private dismissed = false;
  private authenticated = false;
  private dismissTimer: NodeJS.Timeout | undefined;
  private markClosed: () => void = () => {};
  /** Settles once both connections are gone and the session's end is recorded. */
  readonly closed = new Promise<void>((resolve) => (this.markClosed = resolve));

  /** The client's connection: the accepted socket, or the TLS socket over it once TLS has started. */
  private client: Socket;
  /** The client's address, as the accepted socket saw it (a TLS socket over a stream has none). */
  private readonly peer: { address: string; port: number };
  /** SSLRequest was accepted: TLS starts once the chunk that carried it is done, if nothing followed it. */
  private tlsRequest: 'pending' | 'followed-by-data' | undefined;

  constructor(
    client: Socket,
    private readonly options: SessionOptions,
  ) {
    this.client = client;
    this.peer = { address: client.remoteAddress ?? '', port: client.remotePort ?? 0 };
    // Until the client has authenticated, no message of it may cost more than a few kilobytes.
    this.clientFramer = new MessageFramer({
      maxMessageSize: Math.min(options.maxMessageSize, MAX_AUTHENTICATION_MESSAGE_LENGTH),
      startup: true,
    });
    this.upstreamFramer = new MessageFramer({ maxMessageSize: options.maxMessageSize });
    this.turn = new TurnWrites(() => options.recorder.flush?.());
    this.handshake = new LocalHandshake(options.verifier, { offersTls: options.tls !== undefined });
    this.policy = options.decisions.openSession({
      connectionId: options.connectionId,
      hooks: {
        notice: (message) => this.send(noticeResponse({ code: '00000', message })),
        record: (event) => options.recorder.record(options.connectionId, event),
      },
    });
    this.protocol = new ProxyProtocol({
      ...(this.policy.results ? { planner: this.policy.results } : {}),
      counts: this.stats,
      record: (event) => options.recorder.record(options.connectionId, event),
      toServer: (bytes) => this.sendUpstream(bytes),
      ...(this.policy.onParameterStatus
        ? { onParameterStatus: this.policy.onParameterStatus.bind(this.policy) }
        : {}),
      ...(this.policy.onReadyForQuery
        ? { onReadyForQuery: this.policy.onReadyForQuery.bind(this.policy) }
        : {}),
    });
    client.setNoDelay(true);
    // Like PostgreSQL's authentication_timeout: a client that never finishes signing in is let go.
    const authTimer = setTimeout(() => {
      if (this.phase === 'handshake') this.terminate('authentication timed out', '08006');
    }, options.authenticationTimeoutMs ?? 60_000);
    authTimer.unref();
    this.closed.then(
      () => {
        clearTimeout(authTimer);
        clearTimeout(this.dismissTimer);
      },
      () => {},
    );
    client.on('data', this.onClientChunk);
    client.on('error', (error) => this.close(`client error: ${error.message}`));
    client.on('close', () => this.close(this.endReason));
    if (options.authenticated) this.signedIn(options.authenticated.parameters);
  }

  private readonly onClientChunk = (chunk: Buffer): void => this.onClientData(chunk);

  get id(): string {
    return this.options.connectionId;
  }

  /** Not signed in (still signing in, or refused): what the tunnel's cap on such connections counts. */
  get unauthenticated(): boolean {
    return !this.authenticated;
  }

  /**
   * The client asked, on a connection of its own, to cancel what this session runs. A pending hold
   * ends as cancelled; otherwise `forward` sends the request to the server with the upstream key, and
   * this session's later client messages wait until the server has processed it, so that a cancel
   * meant for one statement can never reach the next one. Settles once that is done.
   */
  async cancel(forward: (key: BackendKey, tls: boolean) => Promise<void>): Promise<void> {
    const endedHold = this.policy.cancelHold?.() ?? false;
    const upstream = this.upstream;
    const forwarded = !endedHold && upstream !== undefined && this.phase === 'proxy';
    this.options.recorder.record(this.id, { type: 'cancel', forwarded });
    if (!forwarded) return;
    this.cancelsInFlight++;
    try {
      await forward(upstream.backendKey, upstream.tls);
    } catch (error) {
      this.options.log(
        `session ${this.id}: cancel request could not be forwarded: ${(error as Error).message}`,
      );
    } finally {
      this.cancelsInFlight--;
      this.drain();
    }
  }

  /** Ends the session from outside (tunnel shutdown, revocation), telling the client why. */
  terminate(message: string, code = '57P01'): void {
    if (this.phase === 'closed' || this.terminating) return;
    this.terminating = true;
    this.endReason = message;
    this.dismiss(errorResponse({ severity: 'FATAL', code, message }));
    const upstream = this.upstream?.socket;
    if (upstream && !upstream.destroyed && !upstream.writableEnded) upstream.end(serialize.end());
  }

  /**
   * Lets the client go: sends `farewell` (a FATAL) and drops whatever the client sends from now on;
   * the socket is destroyed once the client has closed its end after the farewell, or after a short
   * deadline, so a client that keeps its end open holds neither memory nor a descriptor for long.
   *
   * Not as soon as the farewell is flushed: closing a socket with bytes the client kept sending still
   * unread makes the kernel answer with a reset, and a client still writing then fails on its next
   * write before it has read the FATAL (29 of 30 refused clients busy for 300 ms never saw theirs). So
   * after the farewell a little more is read and dropped, then reading stops until the deadline.
   */
  private dismiss(farewell?: Buffer): void {
    if (this.dismissed) return;
    this.dismissed = true;
    this.inbox = [];
    this.client.resume();
    const destroy = (): void => {
      this.client.destroy();
    };
    this.client.once('end', () => {
      if (this.client.writableFinished) destroy();
      else this.client.once('finish', destroy);
    });
    this.client.once('finish', () => this.stopReadingAfter(DISMISS_READ_BYTES));
    this.dismissTimer = setTimeout(destroy, DISMISS_DEADLINE_MS);
    this.dismissTimer.unref();
    this.turn.release();
    this.options.recorder.flush?.();
    if (farewell) this.client.end(farewell);
    else this.client.end();
  }

  /** Reads (and drops) `bytes` more from a dismissed client, then leaves the rest to the kernel. */
  private stopReadingAfter(bytes: number): void {
    let left = bytes;
    const client = this.client;
    const count = (chunk: Buffer): void => {
      left -= chunk.length;
      if (left > 0) return;
      client.off('data', count);
      client.pause();
    };
    client.on('data', count);
  }

  private onClientData(chunk: Buffer): void {
    const first = this.stats.bytesFromClient === 0;
    this.stats.bytesFromClient += chunk.length;
    if (this.dismissed) return;
    if (first && chunk[0] === TLS_RECORD && this.options.tls) {
      // Direct TLS (sslnegotiation=direct): the connection opens with a ClientHello.
      this.startTls(this.options.tls.direct(this.client, chunk), true);
      return;
    }
    this.sendingToServer(() => {
      try {
        this.clientFramer.push(chunk, (type, frame) => {
          if (this.phase === 'handshake') this.onHandshakeFrame(type, frame);
          else this.enqueue(type, frame);
        });
      } catch (error) {
        this.failClient(error);
      }
    });
    if (this.tlsRequest) this.answerTlsRequest();
  }

  /**
   * Answers an accepted SSLRequest. Bytes sent after it, before TLS, would be read as if they had
   * come through TLS (CVE-2021-23214): like PostgreSQL, the tunnel refuses them instead of answering 'S'.
   */
  private answerTlsRequest(): void {
    const followed = this.tlsRequest === 'followed-by-data' || this.clientFramer.bufferedBytes > 0;
    this.tlsRequest = undefined;
    if (this.dismissed || this.phase !== 'handshake') return;
    if (followed) {
      this.terminate('received unencrypted data after SSL request', '08P01');
      return;
    }
    this.client.write('S');
    this.startTls(this.options.tls!.negotiated(this.client), false);
  }

  /** From now on the client speaks through `secure`; a direct one must have chosen ALPN "postgresql". */
  private startTls(secure: TLSSocket, direct: boolean): void {
    const plain = this.client;
    plain.off('data', this.onClientChunk);
    this.client = secure;
    secure.on('data', this.onClientChunk);
    secure.on('error', (error) => this.close(`client TLS error: ${error.message}`));
    secure.on('close', () => this.close(this.endReason));
    secure.once('secure', () => {
      if (direct && secure.alpnProtocol !== ALPN_POSTGRESQL) {
        this.terminate(
          'received direct SSL connection request without ALPN protocol negotiation extension',
          '08P01',
        );
      }
    });
  }

  private failClient(error: unknown): void {
    if (error instanceof InvalidStartupPacket) {
      // PostgreSQL closes without a word on a startup packet it cannot read; so does the tunnel.
      this.endReason = error.message;
      this.phase = 'closed';
      this.client.destroy();
      return;
    }
    if (error instanceof FramingError || error instanceof ProtocolViolation) {
      this.terminate(error.message, error.code);
      return;
    }
    this.terminate(`internal error in the tunnel: ${(error as Error).message}`, 'XX000');
  }

  private onHandshakeFrame(type: number, frame: Buffer): void {
    if (this.tlsRequest) {
      this.tlsRequest = 'followed-by-data';
      return;
    }
    const step = this.capacityCheck(this.handshake.step(type, frame));
    switch (step.kind) {
      case 'start-tls':
        this.tlsRequest = 'pending';
        return;
      case 'reply':
        this.client.write(step.bytes);
        if (step.expectTagged) this.clientFramer.expectTagged();
        return;
      case 'cancel':
        this.endReason = 'cancel request';
        this.phase = 'closed';
        this.client.pause();
        // libpq and pgjdbc wait for this connection to close before they go on, as the server closes
        // it only once the backend has been signalled: so it stays open until the forward is done.
        void this.options
          .onCancelRequest(step.processId, step.secretKey)
          .catch(() => {})
          .finally(() => this.dismiss());
        return;
      case 'drop':
        this.endReason = step.reason;
        this.client.destroy();
        return;
      case 'refuse':
        this.options.recorder.record(this.id, {
          type: 'auth.failed',
          client: {
            address: this.peer.address,
            port: this.peer.port,
            user: step.user,
          },
          reason: step.reason,
        });
        this.endReason = `refused: ${step.reason}`;
        this.phase = 'closed';
        this.dismiss(errorResponse({ severity: 'FATAL', code: step.code, message: step.message }));
        return;
      case 'authenticated':
        this.client.write(step.bytes);
        this.signedIn(step.parameters);
        return;
    }
  }

  private signedIn(parameters: Map<string, string>): void {
    this.authenticated = true;
    if (this.options.authenticated) this.clientFramer.expectTagged();
    this.clientFramer.limitMessageSize(this.options.maxMessageSize);
    this.phase = 'connecting';
    this.client.pause();
    void this.openUpstream(parameters);
  }

  /**
   * A tunnel that is full answers a startup packet with its FATAL instead of authenticating; a cancel
   * request, an encryption request or a stray TLS hello takes its usual way.
   */
  private capacityCheck(step: HandshakeStep): HandshakeStep {
    const full = this.options.refuseAfterStartup;
    if (!full || step.kind === 'cancel' || step.kind === 'drop') return step;
    if (step.kind === 'reply' && !step.expectTagged) return step;
    return { kind: 'refuse', code: full.code, message: full.message, reason: 'too many connections' };
  }

  private async openUpstream(parameters: Map<string, string>): Promise<void> {
    const { upstream: config } = this.options;
    const client: ClientInfo = {
      address: this.peer.address,
      port: this.peer.port,
      user: parameters.get('user') ?? '',
      database: parameters.get('database') ?? parameters.get('user') ?? '',
      applicationName: parameters.get('application_name'),
    };
    if (this.options.admit) {
      try {
        await this.options.admit(client);
      } catch (error) {
        const refused = error instanceof AdmissionRefused ? error : undefined;
        const message = refused
          ? refused.message
          : `the tunnel could not admit this connection: ${(error as Error).message}`;
        this.options.recorder.record(this.id, { type: 'auth.failed', client, reason: message });
        this.refuseConnection(refused?.code ?? '28000', message);
        return;
      }
      if (this.phase === 'closed') return;
    }
    const settings = this.startupSettings(parameters);
    if (!settings) return;
    try {
      this.upstream = await connectUpstream(config, settings.passed, this.options.upstreamCredentials);
    } catch (error) {
      const upstreamError = error instanceof UpstreamError ? error : undefined;
      this.options.log(`session ${this.id}: upstream refused: ${(error as Error).message}`);
      this.terminate(
        `upstream ${config.host}:${config.port}: ${(error as Error).message}`,
        upstreamError?.code ?? '08006',
      );
      return;
    }
    if (this.phase === 'closed') {
      this.upstream.socket.destroy();
      return;
    }
    this.startProxying(this.upstream, { ...client, settings: settings.passed }, settings.observed);
  }

  /**
   * The settings of the startup packet (`options` switches included), each judged as the SET that
   * would make it. Undefined once one is refused: the client has been told which and why, and goes.
   */
  private startupSettings(
    parameters: Map<string, string>,
  ): { passed: Record<string, string>; observed: SessionEvent[] } | undefined {
    let settings: StartupSetting[];
    try {
      settings = startupSettings(parameters);
    } catch (error) {
      if (!(error instanceof StartupOptionsError)) throw error;
      this.refuseConnection(error.code, `invalid options in the startup packet: ${error.message}`);
      return undefined;
    }
    const passed: Record<string, string> = {};
    const observed: SessionEvent[] = [];
    for (const setting of settings) {
      const decision = this.policy.startupSetting?.(setting) ?? { action: 'allow' };
      const sql = `SET ${setting.name} = '${setting.value.replaceAll("'", "''")}'`;
      const event = {
        type: 'statement',
        protocol: 'startup',
        sql,
        decision: decision.action,
        ...(decision.rule ? { rule: decision.rule } : {}),
        ...(decision.classes ? { classes: decision.classes } : {}),
      } as const;
      if (decision.action === 'deny') {
        this.stats.denied++;
        this.options.recorder.record(this.id, { ...event, reason: decision.message });
        this.refuseConnection(
          decision.code ?? '42501',
          `Portcullis refused the startup setting ${setting.name}=${setting.value} (rule: ${decision.rule}): ${decision.message}`,
          'Leave it out of the connection settings; once connected, SET is judged by the same rules.',
        );
        return undefined;
      }
      passed[setting.name] = setting.value;
      if (decision.wouldHave) observed.push({ ...event, wouldHave: decision.wouldHave });
    }
    return { passed, observed };
  }

  /** Ends a connection the tunnel will not let through, before any upstream connection exists. */
  private refuseConnection(code: string, message: string, hint?: string): void {
    this.endReason = `refused: ${message}`;
    this.phase = 'closed';
    this.dismiss(errorResponse({ severity: 'FATAL', code, message, ...(hint ? { hint } : {}) }));
  }

  private startProxying(upstream: UpstreamConnection, client: ClientInfo, observed: SessionEvent[]): void {
    const { upstream: config } = this.options;
    this.options.recorder.record(this.id, {
      type: 'session.start',
      client,
      upstream: {
        host: config.host,
        port: config.port,
        database: config.database,
        user: config.user,
        tls: upstream.tls,
        authMechanism: upstream.authMechanism,
      },
    });
    // Under observe: the startup settings enforcement would have refused.
    for (const event of observed) this.options.recorder.record(this.id, event);
    // Replay the server's startup messages: its real pid, with a secret key of the tunnel's own.
    const { processId } = upstream.backendKey;
    const replay = upstream.startupMessages.map((message) =>
      message[0] === Backend.backendKeyData
        ? backendKeyData(processId, this.options.issueCancelKey(processId))
        : message,
    );
    this.send(Buffer.concat(replay));
    for (const [name, value] of upstream.parameters) this.policy.onParameterStatus?.(name, value);
    upstream.socket.setNoDelay(true);
    upstream.socket.on('data', (chunk: Buffer) => this.onUpstreamData(chunk));
    upstream.socket.on('error', (error) => this.close(`upstream error: ${error.message}`));
    upstream.socket.on('close', () => this.onUpstreamClosed());
    upstream.socket.resume();
    if (upstream.leftover.length > 0) this.onUpstreamData(upstream.leftover);
    this.phase = 'proxy';
    this.client.resume();
    this.drain();
  }

  private onUpstreamClosed(): void {
    if (this.phase === 'closed') return;
    if (this.heldChunks) {
      // What the server sent last (its FATAL, perhaps) is still waiting behind a masking plan.
      this.upstreamClosedWhileHeld = true;
      return;
    }
    // The client said goodbye and the server hung up in turn: nothing to tell anyone.
    if (this.protocol.terminatedByClient) this.close(this.endReason);
    // The server said why in its own FATAL, already passed on: a second one would be an error too many.
    else if (this.protocol.endedByServer) this.finish('the server ended the session');
    else this.terminate('the upstream server closed the connection', '08006');
  }

  // ---- client → upstream -------------------------------------------------------------------------

  /** A decision or a cancel request is under way: the client's next messages wait behind it. */
  private get waiting(): boolean {
    return this.deciding || this.cancelsInFlight > 0;
  }

  private enqueue(type: number, frame: Buffer): void {
    if (this.phase !== 'proxy' || this.waiting || this.inbox.length > 0) {
      // Frames keep their order behind a pending decision, a cancel, or an upstream still opening.
      this.inbox.push({ type, frame });
      if (this.cancelsInFlight > 0) this.client.pause();
      return;
    }
    this.handleClientFrame(type, frame);
  }

  private drain(): void {
    this.sendingToServer(() => {
      while (this.phase === 'proxy' && !this.waiting && this.inbox.length > 0) {
        const next = this.inbox.shift()!;
        this.handleClientFrame(next.type, next.frame);
      }
    });
    if (this.phase === 'proxy' && !this.waiting && this.inbox.length === 0) this.client.resume();
  }

  private handleClientFrame(type: number, frame: Buffer): void {
    try {
      this.routeClientFrame(type, frame);
    } catch (error) {
      this.failClient(error);
    }
  }

  private routeClientFrame(type: number, frame: Buffer): void {
    const step = this.protocol.fromClient(type, frame);
    if (type === Frontend.terminate) this.endReason = 'client terminated';
    if (step === 'forward') this.protocol.forward(frame);
    else if (step !== 'discard') this.decideThen(step, frame);
  }

  private decideThen(route: StatementRoute, frame: Buffer): void {
    const decision = this.policy.decide({
      route,
      transactionStatus: this.protocol.transactionStatus,
      startsBatch: this.protocol.startsBatch,
    });
    if (!(decision instanceof Promise)) {
      this.protocol.decided(decision, route, frame);
      return;
    }
    this.deciding = true;
    this.client.pause();
    decision
      .catch((error: unknown): Decision => ({
        action: 'deny',
        rule: 'policy-error',
        message: `the policy could not decide: ${(error as Error).message}`,
      }))
      .then((settled) => {
        this.deciding = false;
        if (this.phase !== 'proxy') return;
        this.sendingToServer(() => {
          this.protocol.decided(settled, route, frame);
          this.drain();
        });
      })
      .catch((error: unknown) => this.failClient(error));
  }

  private sendUpstream(frame: Buffer): void {
    if (this.batchingUpstream) this.toUpstream.add(frame);
    else this.writeUpstream([frame]);
  }

  /**
   * Runs `work` and sends what it sends to the server in one write as soon as it is done — not at the
   * end of the event-loop turn like the client's writes: nothing the server receives needs the
   * recording written first (the client sees no outcome before its own release, which follows the
   * recording's flush), so the statement leaves at once and the recording is written while the
   * server runs it, off the statement's round trip.
   */
  private sendingToServer(work: () => void): void {
    if (this.batchingUpstream) {
      work();
      return;
    }
    this.batchingUpstream = true;
    try {
      work();
    } finally {
      this.batchingUpstream = false;
      this.writeUpstream(this.toUpstream.take());
    }
  }

  private writeUpstream(pieces: readonly Buffer[]): void {
    const upstream = this.upstream?.socket;
    if (pieces.length === 0 || !upstream || upstream.destroyed || upstream.writableEnded) return;
    // Corked, pieces that did not merge into one view still leave in one writev.
    if (pieces.length > 1) upstream.cork();
    let flowing = true;
    for (const piece of pieces) flowing = upstream.write(piece);
    if (pieces.length > 1) upstream.uncork();
    if (!flowing && !this.client.isPaused()) {
      this.client.pause();
      upstream.once('drain', () => {
        if (!this.waiting && this.phase === 'proxy') this.client.resume();
      });
    }
  }

  // ---- upstream → client -------------------------------------------------------------------------

  private onUpstreamData(chunk: Buffer): void {
    if (this.heldChunks) {
      this.heldChunks.push(chunk);
      return;
    }
    try {
      this.upstreamFramer.push(chunk, this.onBackendFrame);
    } catch (error) {
      this.toClient.flush(this.send);
      this.terminate(`upstream sent an invalid message: ${(error as Error).message}`, '08P01');
      return;
    }
    this.toClient.flush(this.send);
  }

  private readonly onBackendFrame = (type: number, frame: Buffer): void => {
    if (this.heldFrames) {
      this.heldFrames.push({ type, frame });
      return;
    }
    const replacement = this.protocol.fromServer(type, frame);
    if (replacement instanceof PendingPlan) this.holdBackend(replacement.ready, type, frame);
    else if (replacement === undefined) this.toClient.add(frame);
    else if (replacement) this.toClient.add(replacement);
  };

  /**
   * Stops the server's stream at this message until `ready` settles (a masking plan that needs the
   * catalog): it and later messages wait, in order, and the upstream socket is paused meanwhile.
   */
  private holdBackend(ready: Promise<void>, type: number, frame: Buffer): void {
    this.heldFrames = [{ type, frame }];
    this.heldChunks = [];
    this.upstream?.socket.pause();
    ready
      .then(
        () => true,
        (error: unknown) => {
          this.terminate(`could not prepare masking for this result: ${(error as Error).message}`, 'XX000');
          return false;
        },
      )
      .then((ok) => {
        const frames = this.heldFrames ?? [];
        const chunks = this.heldChunks ?? [];
        this.heldFrames = undefined;
        this.heldChunks = undefined;
        if (ok && this.phase === 'proxy') this.replay(frames, chunks);
      })
      .catch((error: unknown) => this.failClient(error));
  }

  /** Offers held messages again, then held chunks; stops where another plan must be waited for. */
  private replay(frames: { type: number; frame: Buffer }[], chunks: Buffer[]): void {
    while (frames.length > 0) {
      const held = frames.shift()!;
      this.onBackendFrame(held.type, held.frame);
      if (this.heldFrames && this.heldChunks) {
        this.heldFrames.push(...frames);
        this.heldChunks.push(...chunks);
        this.toClient.flush(this.send);
        return;
      }
    }
    this.toClient.flush(this.send);
    for (const chunk of chunks) this.onUpstreamData(chunk);
    if (this.heldChunks) return;
    this.upstream?.socket.resume();
    if (this.upstreamClosedWhileHeld) this.onUpstreamClosed();
  }

  private readonly send = (bytes: Buffer): void => {
    this.stats.bytesToClient += bytes.length;
    // Released at the end of the turn, after the recording's flush: what the client is about to see
    // the outcome of is recorded first.
    if (!this.turn.write(this.client, bytes) && this.upstream && !this.upstream.socket.isPaused()) {
      const upstream = this.upstream.socket;
      upstream.pause();
      this.client.once('drain', () => upstream.resume());
    }
  };

  // ---- end ---------------------------------------------------------------------------------------

  /** Closes the client's connection once what was sent to it has gone out, adding nothing. */
  private finish(reason: string): void {
    this.terminating = true;
    this.endReason = reason;
    this.dismiss();
  }

  /** Drops both connections at once (shutdown after the grace period). */
  destroy(): void {
    this.client.destroy();
    this.upstream?.socket.destroy();
  }

  private close(reason: string): void {
    if (this.phase === 'closed') {
      this.upstream?.socket.destroy();
      this.markClosed();
      return;
    }
    const wasProxying = this.phase === 'proxy';
    this.phase = 'closed';
    this.client.destroy();
    this.upstream?.socket.destroy();
    if (wasProxying) {
      this.options.recorder.record(this.id, {
        type: 'session.end',
        reason,
        bytesFromClient: this.stats.bytesFromClient,
        bytesToClient: this.stats.bytesToClient,
        statements: this.stats.statements,
      });
    }
    this.policy.close?.();
    this.markClosed();
  }
}
