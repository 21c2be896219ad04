/**
 * The tunnel manager: opens local guarded tunnels from the hub's session material and keeps them honest.
 *
 * - Opening: the target must be usable now (standing access or an active grant); its stable local port is
 *   checked before the hub session is opened; the session material says where and as whom to connect, and
 *   each upstream connection is authenticated by the hub for this session (no target secret comes here);
 *   the policy the hub sends is parsed and enforced, held statements go to the
 *   hub (HubApprover), and every event goes to the local spool under the hub session's id.
 * - Each new client connection re-checks the sign-in (renewing the access token, so an expired one is
 *   refreshed instead of failing), the grant's expiry, and, under strict recording, the spool.
 * - Closing: when the grant expires (a local timer), when the hub revokes the grant or the session (its
 *   event stream, and a periodic `sessions/to-close` poll in case an event was missed), or when strict
 *   recording fails, the tunnel ends every client connection with the reason and closes the hub session.
 */
import { hostname } from 'node:os';
import type {
  ConnectionMaterial,
  ConnectionPurpose,
  OpenedSession,
  RelayMaterial,
  SshConnectionMaterial,
  SshHopMaterial,
  TargetEntitlement,
} from '../../hub/api/types.ts';
import type { HubClient } from '../hub-client/index.ts';
import { IdentityError, type TokenManager } from '../identity/index.ts';
import { allowEverything } from '../policy/decision-point.ts';
import { PolicyEngine } from '../policy/engine.ts';
import { estimateRows } from '../policy/held-statement-scope.ts';
import { checkPolicyCatalog, PolicyCatalogError } from '../policy/policy-catalog-check.ts';
import type { Policy } from '../policy/policy.ts';
import { AdmissionRefused } from '../postgres/session.ts';
import { sharedSideConnection } from '../postgres/side-connection.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../postgres/tunnel.ts';
import { delegatedCredentials, tokenCredentials } from '../postgres/upstream-credentials.ts';
import { SshBastion } from '../ssh/bastion.ts';
import { parsePublicKey } from '../ssh/keys.ts';
import { sshPaths } from '../ssh/local-identity.ts';
import type { SshEndpoint } from '../ssh/ssh-tunnel.ts';
import type { SessionEvent } from '../recorder/recording-point.ts';
import type { RecordingError, RecordingSpool } from '../recorder/spool.ts';
import { HubApprover, type HubApproverOptions } from './hub-approver.ts';
import { hubProver } from './hub-prover.ts';
import { hubSigner } from './hub-signer.ts';
import type { TunnelCertificate } from './tunnel-certificates.ts';
import { PortInUseError, SSH_PORT_RANGE, type PortRegistry } from './port-registry.ts';
import { isAlive } from './process-alive.ts';
import { policyFromSpec, upstreamFromMaterial } from './session-material.ts';
import { SshTargetTunnel } from './ssh-target-tunnel.ts';
import { TunnelRecording, type TunnelCounts } from './tunnel-recording.ts';

export type CloseCause = 'stopped' | 'grant-expired' | 'grant-revoked' | 'recording-failed';

export interface TunnelClosed {
  cause: CloseCause;
  /** For people, and sent to every client still connected. */
  reason: string;
}

export interface TunnelStats extends TunnelCounts {
  /** Client connections open now. */
  open: number;
  bytesFromClient: number;
  bytesToClient: number;
}

export interface OpenTunnel {
  readonly target: TargetEntitlement;
  readonly sessionId: string;
  /** How clients reach it: a Postgres endpoint, or an SSH one (`kind` tells them apart). */
  readonly endpoint: TunnelEndpoint | SshEndpoint;
  /** The policy's name as the hub gave it. */
  readonly policy: string;
  readonly grantExpiresAt: string | null;
  /** The local leg's certificate authority (PEM file) for clients' `sslrootcert`, when it offers TLS. */
  readonly caFile?: string;
  stats(): TunnelStats;
  /** Settles once the tunnel has closed, with why. */
  readonly closed: Promise<TunnelClosed>;
  close(reason?: string): Promise<TunnelClosed>;
}

/** The target cannot be opened now; the message says what the user can do. */
/** How long before a grant ends the person running the tunnel is warned (as the hub's default warns). */
const EXPIRY_WARNING_MS = 10 * 60_000;

export class TargetUnavailableError extends Error {
  override name = 'TargetUnavailableError';
}

export interface TunnelManagerOptions {
  hub: HubClient;
  /** The signed-in account's tokens: renewed when a client connects. */
  tokens: TokenManager;
  spool: RecordingSpool;
  ports: PortRegistry;
  /** The caller as the hub sees them, for the recording. */
  identity: { subject: string; name: string; kind: string };
  /** The key of the `hash` mask. */
  maskKey?: Buffer;
  log?: (message: string) => void;
  /** How often to ask the hub which sessions must close, besides listening to its events. Default 30 s. */
  revocationPollMs?: number;
  /** Loopback address of the tunnels. Default 127.0.0.1. */
  host?: string;
  /** Sees each client connection's event of every tunnel (the desktop app follows holds this way). */
  onEvent?: (tunnel: OpenTunnel, event: SessionEvent) => void;
  /** How long a tunnel's catalog connection stays open with no client connected (side-connection.ts). */
  catalogIdleMs?: number;
  /** The local leg's TLS certificate of each target (TunnelCertificateStore); plaintext only without. */
  certificates?: { forTarget(targetId: string): Promise<TunnelCertificate> };
  /** The Portcullis home: SSH targets keep their local keys, known_hosts and ssh_config include there. */
  home?: string;
}

export interface OpenOptions {
  /** The local port (remembered for the target from now on). */
  port?: number;
  /** The local secret clients authenticate with; a fresh random one when absent. */
  secret?: string;
}

function whatToDo(target: TargetEntitlement): string {
  switch (target.status) {
    case 'pending': {
      const request = target.pendingRequestId ? ` ${target.pendingRequestId}` : '';
      return `your access request${request} for ${target.id} is waiting for approval`;
    }
    case 'requestable':
      return `you have no access to ${target.id} now; ask for it with \`portcullis request ${target.id} --reason "…"\``;
    default:
      return `you are not entitled to ${target.id}`;
  }
}

export class TunnelManager {
  private readonly tunnels = new Map<string, ManagedTunnel>();
  private watching: AbortController | undefined;
  private pollTimer: NodeJS.Timeout | undefined;

  constructor(readonly options: TunnelManagerOptions) {}

  list(): OpenTunnel[] {
    return [...this.tunnels.values()];
  }

  async open(targetId: string, options: OpenOptions = {}): Promise<OpenTunnel> {
    const { hub } = this.options;
    const target = (await hub.targets()).find((t) => t.id === targetId);
    if (!target) {
      throw new TargetUnavailableError(`no target ${targetId}; \`portcullis targets\` lists yours`);
    }
    if (!target.usable) throw new TargetUnavailableError(whatToDo(target));
    if ([...this.tunnels.values()].some((t) => t.target.id === targetId)) {
      throw new TargetUnavailableError(`a tunnel to ${targetId} is already open`);
    }

    const ssh = target.kind === 'ssh';
    const port = await this.options.ports.portFor(targetId, options.port, ssh ? SSH_PORT_RANGE : undefined);
    // TLS is the Postgres local leg's; SSH brings its own encryption and host key.
    const certificate = ssh ? undefined : await this.options.certificates?.forTarget(targetId);
    const opened = await hub.openSession(targetId);
    let tunnel: ManagedTunnel;
    try {
      tunnel = new ManagedTunnel(target, opened, port, this.options, { secret: options.secret, certificate });
      await tunnel.start();
    } catch (error) {
      const reason = `the tunnel could not open: ${(error as Error).message}`;
      await hub.closeSession(opened.sessionId, reason).catch(() => undefined);
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new PortInUseError(targetId, port);
      throw error;
    }
    this.tunnels.set(opened.sessionId, tunnel);
    void tunnel.closed.then(() => {
      this.tunnels.delete(opened.sessionId);
      if (this.tunnels.size === 0) this.stopWatching();
    });
    this.watch();
    return tunnel;
  }

  /**
   * Ends, in the recording and at the hub, the sessions of tunnels whose process on this machine died
   * without closing them (killed, crashed, power lost): their events are already in the spool and sync
   * as usual; this adds the end. Sessions of processes still alive (another tunnel) are left alone.
   */
  endAbandonedSessions(): string[] {
    const { spool, hub } = this.options;
    const ended: string[] = [];
    for (const bounds of spool.sessionBounds()) {
      if (bounds.first.type !== 'tunnel.open') continue;
      if (bounds.last.type === 'tunnel.close' || bounds.last.type === 'tunnel.abandoned') continue;
      const owner = (bounds.first.payload as { process?: { pid?: unknown; host?: unknown } }).process;
      if (typeof owner?.pid !== 'number' || owner.host !== hostname() || isAlive(owner.pid)) continue;
      const reason = `the tunnel process (pid ${owner.pid}) ended without closing the session`;
      spool.record(bounds.sessionId, {
        type: 'tunnel.abandoned',
        reason,
        process: { pid: owner.pid, host: owner.host },
      });
      // Not awaited: an unreachable hub must not hold up the new tunnel (the recording says it anyway).
      void closeAtHub(hub, bounds.sessionId, reason, (message) => this.log(message));
      ended.push(bounds.sessionId);
    }
    return ended;
  }

  async closeAll(reason = 'the tunnel was stopped'): Promise<void> {
    await Promise.all([...this.tunnels.values()].map((t) => t.close(reason)));
    this.stopWatching();
  }

  /** Asks the hub now which sessions must close (it also happens every `revocationPollMs`). */
  async checkRevocations(): Promise<void> {
    if (this.tunnels.size === 0) return;
    const toClose = await this.options.hub.sessionsToClose();
    for (const entry of toClose) {
      // A user's own sessions end for their grant; `session-closed` is a relay's connections' reason.
      const cause = entry.reason === 'grant-expired' ? 'grant-expired' : 'grant-revoked';
      this.tunnels.get(entry.sessionId)?.end(cause, undefined);
    }
  }

  private watch(): void {
    if (this.watching) return;
    const abort = new AbortController();
    this.watching = abort;
    void (async () => {
      try {
        for await (const event of this.options.hub.events({
          signal: abort.signal,
          onError: (error) => this.log(`hub events: ${error.message}; reconnecting`),
          // Reconnecting resumes after the last event; a revocation missed meanwhile is caught by the poll.
          onOpen: () => void this.checkRevocations().catch(() => undefined),
        })) {
          if (event.type !== 'session.revoked') continue;
          const { sessionId, reason } = event.payload as { sessionId?: string; reason?: string };
          const tunnel = sessionId ? this.tunnels.get(sessionId) : undefined;
          tunnel?.end(reason === 'grant-expired' ? 'grant-expired' : 'grant-revoked', undefined);
        }
      } catch (error) {
        if (!abort.signal.aborted) this.log(`hub events stopped: ${(error as Error).message}`);
      }
    })();
    const every = this.options.revocationPollMs ?? 30_000;
    this.pollTimer = setInterval(() => {
      this.checkRevocations().catch((error: Error) => this.log(`checking revocations: ${error.message}`));
    }, every);
    this.pollTimer.unref();
  }

  private stopWatching(): void {
    this.watching?.abort();
    this.watching = undefined;
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  private log(message: string): void {
    this.options.log?.(message);
  }
}

const REASONS: Record<Exclude<CloseCause, 'stopped'>, (t: TargetEntitlement) => string> = {
  'grant-expired': (t) =>
    `your access to ${t.id} has expired; request it again with \`portcullis request ${t.id}\``,
  'grant-revoked': (t) => `your access to ${t.id} was revoked at the hub`,
  'recording-failed': (t) => `recording failed, and ${t.id}'s policy does not allow unrecorded sessions`,
};

class ManagedTunnel implements OpenTunnel {
  readonly sessionId: string;
  readonly policy: string;
  readonly grantExpiresAt: string | null;
  readonly caFile: string | undefined;
  readonly closed: Promise<TunnelClosed>;
  private settle!: (closed: TunnelClosed) => void;
  private readonly tunnel: PostgresTunnel | SshTargetTunnel;
  private readonly recording: TunnelRecording;
  /** Postgres targets: the catalog connection masking and hold context use. */
  private readonly side: ReturnType<typeof sharedSideConnection> | undefined;
  /** Postgres targets reached through an SSH bastion. */
  private readonly bastion: SshBastion | undefined;
  private readonly strict: boolean;
  /** Refuses a policy whose rules name what the target's database does not have. */
  private readonly checkPolicy: () => Promise<void>;
  private expiryTimer: NodeJS.Timeout | undefined;
  private warnTimer: NodeJS.Timeout | undefined;
  private closing: Promise<TunnelClosed> | undefined;

  constructor(
    readonly target: TargetEntitlement,
    private readonly opened: OpenedSession,
    private readonly port: number,
    private readonly options: TunnelManagerOptions,
    local: { secret?: string; certificate?: TunnelCertificate },
  ) {
    this.caFile = local.certificate?.caFile;
    this.sessionId = opened.sessionId;
    this.policy = opened.policy.name;
    this.grantExpiresAt = opened.grant?.expiresAt ?? null;
    this.closed = new Promise((resolve) => (this.settle = resolve));
    const policy = policyFromSpec(opened, options.maskKey);
    this.strict = policy.recording === 'strict';
    this.recording = new TunnelRecording(
      options.spool,
      opened.sessionId,
      (error) => this.recordingFailed(error),
      (event) => this.tell(event),
    );
    const { connection } = opened;
    if (connection.kind === 'ssh') {
      this.checkPolicy = async () => {}; // an SSH policy names no database objects
      this.tunnel = this.sshTunnel(connection, policy, port, local.secret);
      return;
    }
    const postgres = this.postgresTunnel(connection, policy, port, local);
    this.tunnel = postgres.tunnel;
    this.side = postgres.side;
    this.bastion = postgres.bastion;
    this.checkPolicy = postgres.checkPolicy;
  }

  /**
   * A Postgres target's tunnel: to the database (directly or through a bastion), its sign-ins proved by
   * the hub and its statements judged here; or to the relay that alone reaches it, which judges them.
   */
  private postgresTunnel(
    connection: ConnectionMaterial | RelayMaterial,
    policy: Policy,
    port: number,
    local: { secret?: string; certificate?: TunnelCertificate },
  ): {
    tunnel: PostgresTunnel;
    side: ReturnType<typeof sharedSideConnection>;
    bastion: SshBastion | undefined;
    checkPolicy: () => Promise<void>;
  } {
    const { options, opened } = this;
    const upstream = upstreamFromMaterial(opened);
    const bastion =
      connection.kind === 'postgres' && connection.via ? this.bastionFor(connection.via) : undefined;
    if (bastion) upstream.dial = (host, port) => bastion.dial(host, port);
    const relayed = connection.kind === 'relay';
    // At a relay the user's access token opens each connection (inside TLS the tunnel verified), and the
    // relay alone judges, masks and holds: this tunnel only carries and records what it carried.
    const proveThrough = (purpose: ConnectionPurpose, connectionNumber: () => number) =>
      relayed
        ? tokenCredentials(() => options.tokens.getAccessToken())
        : delegatedCredentials(
            hubProver({
              hub: options.hub,
              sessionId: opened.sessionId,
              purpose,
              connection: connectionNumber,
            }),
          );
    const side = sharedSideConnection(upstream, () => proveThrough('catalog', () => 0), {
      applicationName: `portcullis catalog for ${opened.sessionId}`,
      inUse: () => this.tunnel.sessionCount > 0,
      ...(options.catalogIdleMs === undefined ? {} : { idleMs: options.catalogIdleMs }),
    });
    const approver = this.approver(policy, async (sql, scope) => estimateRows(await side.get(), sql, scope));
    const tunnel = new PostgresTunnel({
      upstream,
      upstreamCredentials: (connectionId) =>
        proveThrough('client', () => this.recording.connectionNumber(connectionId)),
      host: options.host ?? '127.0.0.1',
      port,
      ...(local.secret ? { secret: local.secret } : {}),
      ...(local.certificate ? { tls: local.certificate } : {}),
      decisions: relayed ? allowEverything : new PolicyEngine(policy, { approver, sideConnection: side.get }),
      recorder: this.recording,
      admit: () => this.admit(),
      log: (message) => this.log(message),
    });
    // Through a relay the policy and the catalog are the relay's.
    const checkPolicy = relayed ? async () => {} : async () => checkPolicyCatalog(policy, await side.get());
    return { tunnel, side, bastion, checkPolicy };
  }

  /** An SSH target's tunnel: its local keys in the Portcullis home, its sign-ins signed by the hub. */
  private sshTunnel(
    connection: SshConnectionMaterial,
    policy: Policy,
    port: number,
    secret: string | undefined,
  ): SshTargetTunnel {
    const { options } = this;
    if (!options.home) throw new Error('SSH targets need a Portcullis home for their local keys');
    return new SshTargetTunnel({
      target: this.target,
      opened: { ...this.opened, connection },
      hub: options.hub,
      paths: sshPaths(options.home),
      policy,
      approver: this.approver(policy),
      recording: this.recording,
      host: options.host ?? '127.0.0.1',
      port,
      ...(secret ? { password: secret } : {}),
      admit: () => this.admit(),
      log: (message) => this.log(message),
    });
  }

  private approver(policy: Policy, estimate?: HubApproverOptions['estimateRows']): HubApprover {
    return new HubApprover(this.options.hub, {
      sessionId: this.opened.sessionId,
      connection: (connectionId) => this.recording.connectionNumber(connectionId),
      timeoutSeconds: Math.ceil(policy.holdTimeoutMs / 1000),
      log: (message) => this.log(message),
      ...(estimate ? { estimateRows: estimate } : {}),
    });
  }

  /** The bastion's SSH connection, signed in by the hub for this session (purpose `bastion`). */
  private bastionFor(via: SshHopMaterial): SshBastion {
    return new SshBastion({
      targetId: via.targetId,
      host: via.host,
      port: via.port,
      user: via.user,
      hostKeys: via.hostKeys.map(parsePublicKey),
      signer: hubSigner({
        hub: this.options.hub,
        sessionId: this.opened.sessionId,
        publicKey: via.publicKey,
        purpose: 'bastion',
        connection: () => 0,
        targetId: via.targetId,
      }),
      record: (event) => this.recordTunnelEvent(event),
      log: (message) => this.log(message),
    });
  }

  /** A tunnel-level event that must not throw (a failing spool is reported the usual way). */
  private recordTunnelEvent(event: SessionEvent): void {
    try {
      this.recording.recordTunnel(event);
    } catch (error) {
      this.log(`recording: ${(error as Error).message}`);
    }
  }

  get endpoint(): TunnelEndpoint | SshEndpoint {
    return this.tunnel.endpoint;
  }

  async start(): Promise<void> {
    if (this.strict && this.options.spool.failing) {
      throw new Error(`recording is failing (${this.options.spool.failureMessage ?? 'unknown'})`);
    }
    try {
      await this.checkPolicy();
    } catch (error) {
      this.side?.close();
      this.bastion?.close();
      if (error instanceof PolicyCatalogError) {
        throw new TargetUnavailableError(`${this.target.id}: ${error.message}`, { cause: error });
      }
      throw error;
    }
    const endpoint = await this.tunnel.listen();
    try {
      const { identity } = this.options;
      this.recording.recordTunnel({
        type: 'tunnel.open',
        identity: { subject: identity.subject, name: identity.name, kind: identity.kind },
        target: { id: this.target.id, name: this.target.name },
        listen: endpoint.listen,
        policy: this.policy,
        grantExpiresAt: this.grantExpiresAt,
        process: { pid: process.pid, host: hostname() },
      });
    } catch (error) {
      await this.tunnel.close('recording failed');
      this.side?.close();
      this.bastion?.close();
      throw new Error(`cannot record the session: ${(error as Error).message}`, { cause: error });
    }
    if (this.grantExpiresAt) {
      const delay = Date.parse(this.grantExpiresAt) - Date.now();
      // setTimeout holds at most ~24.8 days; longer grants are re-armed.
      this.armExpiry(delay);
      this.warnTimer = setTimeout(() => this.warnExpiring(), Math.max(0, delay - EXPIRY_WARNING_MS));
      this.warnTimer.unref();
    }
  }

  stats(): TunnelStats {
    const traffic = this.tunnel.traffic();
    return {
      ...this.recording.counts,
      open: traffic.connections,
      bytesFromClient: traffic.bytesFromClient,
      bytesToClient: traffic.bytesToClient,
    };
  }

  close(reason = 'the tunnel was stopped'): Promise<TunnelClosed> {
    return this.end('stopped', reason);
  }

  /** Ends the tunnel for `cause`; the first cause wins. */
  end(cause: CloseCause, reason: string | undefined): Promise<TunnelClosed> {
    this.closing ??= this.shutdown({
      cause,
      reason: reason ?? (cause === 'stopped' ? 'the tunnel was stopped' : REASONS[cause](this.target)),
    });
    return this.closing;
  }

  private async shutdown(closed: TunnelClosed): Promise<TunnelClosed> {
    clearTimeout(this.expiryTimer);
    clearTimeout(this.warnTimer);
    await this.tunnel.close(closed.reason);
    this.side?.close();
    this.bastion?.close();
    const stats = this.stats();
    try {
      this.recording.recordTunnel({
        type: 'tunnel.close',
        reason: closed.reason,
        connections: stats.connections,
        statements: stats.statements,
        blocked: stats.blocked,
        held: stats.held,
        maskedCells: stats.maskedCells,
        bytesFromClient: stats.bytesFromClient,
        bytesToClient: stats.bytesToClient,
      });
    } catch (error) {
      this.log(`the end of session ${this.sessionId} could not be recorded: ${(error as Error).message}`);
    }
    await closeAtHub(this.options.hub, this.sessionId, closed.reason, (message) => this.log(message));
    this.settle(closed);
    return closed;
  }

  private armExpiry(delayMs: number): void {
    const step = Math.min(Math.max(delayMs, 0), 2 ** 31 - 1);
    this.expiryTimer = setTimeout(() => {
      const left = Date.parse(this.grantExpiresAt!) - Date.now();
      if (left > 0) this.armExpiry(left);
      else void this.end('grant-expired', undefined);
    }, step);
    this.expiryTimer.unref();
  }

  /** Said where the user is looking while there is still time to ask again. */
  private warnExpiring(): void {
    if (this.closing || !this.grantExpiresAt) return;
    const minutes = Math.max(0, Math.round((Date.parse(this.grantExpiresAt) - Date.now()) / 60_000));
    this.log(
      `your access ends in ${minutes} min (at ${this.grantExpiresAt}); ` +
        `ask for more with \`portcullis request ${this.target.id} --reason "…"\``,
    );
  }

  private async admit(): Promise<void> {
    if (this.closing) throw new AdmissionRefused('the tunnel is closing', '57P01');
    this.openCatalog();
    if (this.grantExpiresAt && Date.parse(this.grantExpiresAt) <= Date.now()) {
      void this.end('grant-expired', undefined);
      throw new AdmissionRefused(REASONS['grant-expired'](this.target));
    }
    if (this.strict && this.options.spool.failing) {
      throw new AdmissionRefused(
        `${REASONS['recording-failed'](this.target)}: ${this.options.spool.failureMessage}`,
      );
    }
    try {
      await this.options.tokens.getAccessToken();
    } catch (error) {
      const ended =
        error instanceof IdentityError &&
        (error.code === 'session_expired' || error.code === 'not_signed_in');
      throw new AdmissionRefused(
        ended
          ? 'your Portcullis sign-in has ended; run `portcullis login` and connect again'
          : `your Portcullis sign-in could not be renewed (${(error as Error).message}); try again shortly`,
      );
    }
  }

  /**
   * The catalog connection opens as a client comes in, while the hub that authenticates both is surely
   * reachable: a later outage then stops only new client connections, not masking on those already
   * open (it stays open while any client is connected). With no client it closes once idle, so a tunnel
   * left open holds no server slot and does not stand in the way of `DROP DATABASE`.
   */
  private openCatalog(): void {
    // Through a relay the catalog is the relay's to read.
    if (this.opened.connection.kind === 'relay') return;
    this.side
      ?.get()
      .catch((error: Error) => this.log(`the catalog connection did not open: ${error.message}`));
  }

  private recordingFailed(error: RecordingError): void {
    if (this.strict)
      void this.end('recording-failed', `${REASONS['recording-failed'](this.target)}: ${error.message}`);
    else this.log(`recording: ${error.message}`);
  }

  /** Holds are worth a line where the user is looking: someone else has to act. */
  private tell(event: SessionEvent): void {
    this.options.onEvent?.(this, event);
    if (event.type === 'hold') {
      this.log(
        `held for approval as request ${event.request} (the approvers are notified): ${oneLine(event.sql)}`,
      );
    } else if (event.type === 'hold.resolved') {
      const by = event.by ? ` by ${event.by}` : '';
      this.log(`request ${event.request} ${event.outcome}${by}${event.comment ? `: ${event.comment}` : ''}`);
    }
  }

  private log(message: string): void {
    this.options.log?.(`${this.target.id}: ${message}`);
  }
}

/**
 * Tells the hub a session ended, now. Best effort: should the hub be unreachable, the recording's
 * tunnel.close (or tunnel.abandoned) closes the session there once it syncs.
 */
async function closeAtHub(
  hub: HubClient,
  sessionId: string,
  reason: string,
  log: (message: string) => void,
): Promise<void> {
  await hub.closeSession(sessionId, reason).catch((error: Error) => {
    log(
      `could not close session ${sessionId} at the hub: ${error.message}; its recording will once it syncs`,
    );
  });
}

function oneLine(sql: string, max = 80): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
