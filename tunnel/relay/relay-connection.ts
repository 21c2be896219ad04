/**
 * One connection a relay serves, once the hub admitted it: the same session the local tunnel runs
 * (judging, masking, holds), with the database reached as the hub proves for this connection's own hub
 * session, holds asked on that session for the user, and the recording made here — by the relay, into the
 * connection's session — so nothing on the user's machine can leave it out.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { TLSSocket } from 'node:tls';
import type { RelayAdmission } from '../../hub/api/types.ts';
import type { HubClient } from '../hub-client/index.ts';
import { HubApprover } from '../manager/hub-approver.ts';
import { hubProver } from '../manager/hub-prover.ts';
import { upstreamFromConnection } from '../manager/session-material.ts';
import { TunnelRecording } from '../manager/tunnel-recording.ts';
import { estimateRows } from '../policy/held-statement-scope.ts';
import { redactingPasswords } from '../policy/password-literals.ts';
import { boundingStatementText, DEFAULT_MAX_STATEMENT_SIZE } from '../policy/statement-size.ts';
import type { BackendKey } from '../postgres/upstream.ts';
import { DEFAULT_MAX_MESSAGE_SIZE } from '../postgres/wire/framer.ts';
import type { ScramVerifier } from '../postgres/wire/scram.ts';
import { PostgresSession } from '../postgres/session.ts';
import { sendCancel } from '../postgres/upstream.ts';
import { delegatedCredentials } from '../postgres/upstream-credentials.ts';
import type { RecordingSpool } from '../recorder/spool.ts';
import type { EngineLease, RelayEngines } from './relay-engines.ts';

export interface RelayConnectionDeps {
  hub: HubClient;
  spool: RecordingSpool;
  /** Policy engines and catalog connections, shared with the relay's other connections to the same role. */
  engines: RelayEngines;
  /** Unused once signed in, but a session needs one. */
  verifier: ScramVerifier;
  issueCancelKey(processId: number, connection: RelayConnection): Buffer;
  releaseCancelKey(processId: number, connection: RelayConnection): void;
  onCancelRequest(processId: number, secretKey: Buffer): Promise<void>;
  log(message: string): void;
}

export class RelayConnection {
  readonly closed: Promise<void>;
  private readonly session: PostgresSession;
  private readonly recording: TunnelRecording;
  private readonly engine: EngineLease;
  private readonly upstream;
  private endReason = 'the client disconnected';
  /** The process id the client's cancel key was issued for, once it was. */
  private keyedAs: number | undefined;

  constructor(
    readonly admission: RelayAdmission,
    socket: TLSSocket,
    parameters: Map<string, string>,
    private readonly deps: RelayConnectionDeps,
  ) {
    const { hub } = deps;
    const sessionId = admission.connectionSessionId;
    this.upstream = upstreamFromConnection(admission.connection);
    const proxyId = randomUUID();
    this.engine = deps.engines.acquire(admission, {
      proxyId,
      sessionId,
      // Asked only once a statement runs, when the approver below exists.
      approver: { requestApproval: (request) => approver.requestApproval(request) },
    });
    // Held on the connection's own session, whose database sign-in the hub proved: it takes holds only
    // from connections it authenticated. The approval names the session's owner as the requester.
    const approver = new HubApprover(hub, {
      sessionId,
      connection: (connectionId) => this.recording.connectionNumber(connectionId),
      timeoutSeconds: Math.ceil(this.engine.policy.holdTimeoutMs / 1000),
      log: deps.log,
      estimateRows: async (sql, scope) => estimateRows(await this.engine.side.get(), sql, scope),
    });
    this.recording = this.openRecording(socket);
    this.session = this.startSession(socket, parameters, proxyId);
    this.closed = this.session.closed.then(async () => {
      if (this.keyedAs !== undefined) deps.releaseCancelKey(this.keyedAs, this);
      await this.finish();
    });
  }

  /** The connection's recording, opened with the relay.open event; a strict policy ends it if it fails. */
  private openRecording(socket: TLSSocket): TunnelRecording {
    const { admission, deps } = this;
    const sessionId = admission.connectionSessionId;
    const policy = this.engine.policy;
    const recording = new TunnelRecording(deps.spool, sessionId, (error) => {
      deps.log(`recording of ${sessionId} failed: ${error.message}`);
      if (policy.recording === 'strict')
        this.end('recording failed, and the policy does not allow unrecorded sessions');
    });
    recording.recordTunnel({
      type: 'relay.open',
      identity: admission.owner,
      target: admission.target,
      session: admission.sessionId,
      client: { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
      policy: admission.policy.name,
      grantExpiresAt: admission.grant?.expiresAt ?? null,
      process: { pid: process.pid, host: hostname() },
    });
    return recording;
  }

  /** The PostgreSQL session between the signed-in client and the target, signed in through the hub. */
  private startSession(socket: TLSSocket, parameters: Map<string, string>, proxyId: string): PostgresSession {
    const { deps } = this;
    return new PostgresSession(socket, {
      connectionId: proxyId,
      upstream: this.upstream,
      upstreamCredentials: delegatedCredentials(
        hubProver({
          hub: deps.hub,
          sessionId: this.admission.connectionSessionId,
          purpose: 'client',
          connection: () => this.recording.connectionNumber(proxyId),
        }),
      ),
      verifier: deps.verifier,
      decisions: this.engine.decisions,
      // Oversized text is replaced first: the redactor then never scans megabytes.
      recorder: boundingStatementText(redactingPasswords(this.recording), DEFAULT_MAX_STATEMENT_SIZE),
      maxMessageSize: DEFAULT_MAX_MESSAGE_SIZE,
      issueCancelKey: (processId) => {
        this.keyedAs = processId;
        return deps.issueCancelKey(processId, this);
      },
      onCancelRequest: (processId, secretKey) => deps.onCancelRequest(processId, secretKey),
      authenticated: { parameters },
      log: deps.log,
    });
  }

  /** Where the statements of this connection are recorded. */
  get sessionId(): string {
    return this.admission.connectionSessionId;
  }

  /** Forwards a client's cancel the way the local tunnel does (a pending hold ends as cancelled). */
  cancel(): Promise<void> {
    return this.session.cancel((key: BackendKey, tls: boolean) => sendCancel(this.upstream, key, tls));
  }

  /** Ends the connection, telling the client why (FATAL 57P01). */
  end(reason: string): void {
    this.endReason = reason;
    this.session.terminate(reason);
  }

  private async finish(): Promise<void> {
    this.engine.release();
    try {
      this.recording.recordTunnel({ type: 'relay.close', reason: this.endReason, ...this.recording.counts });
    } catch (error) {
      this.deps.log(`the end of ${this.sessionId} could not be recorded: ${(error as Error).message}`);
    }
    await this.deps.hub.closeSession(this.sessionId, this.endReason).catch((error: Error) => {
      this.deps.log(`closing ${this.sessionId} at the hub: ${error.message}`);
    });
  }
}
