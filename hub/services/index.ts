/**
 * The hub's domain services over one database. Every authorization check happens in here: the HTTP layer
 * authenticates (hub/auth → Identity), calls a method, and maps HubServiceError.status to the response.
 */
import type { HubConfig } from '../config/hub-config.ts';
import type { HubDatabase } from '../db/database.ts';
import { ApprovalService } from './approvals.ts';
import { AuditService } from './audit.ts';
import { systemClock, type Clock } from './clock.ts';
import type { ServiceContext } from './context.ts';
import { EntitlementService } from './entitlements.ts';
import { EventRetention } from './event-retention.ts';
import { EventBus } from './events.ts';
import { HealthService } from './health.ts';
import { AccessRequestService, type SweepResult } from './access-requests.ts';
import type { PolicyCheck } from '../api/types.ts';
import { PolicyCheckService } from './policy-checks.ts';
import { RecordingService } from './recordings.ts';
import { ProofService, targetCredentials } from './proofs.ts';
import { ProvisioningService, type ReconcileResult } from './provisioning.ts';
import { RelayService } from './relays.ts';
import { SessionService } from './sessions.ts';
import { targetQuery, type TargetQuery } from './target-catalog.ts';

export interface HubServicesOptions {
  database: HubDatabase;
  /** The configuration, or a function returning the one in force (for reloads). */
  config: HubConfig | (() => HubConfig);
  clock?: Clock;
  /** Where password_env variables are read; process.env by default. */
  env?: Readonly<Record<string, string | undefined>>;
  /** How the policy checks read a target's catalog; a real connection with its credentials by default. */
  targetQuery?: TargetQuery;
  /** Told of every policy check (the hub logs those with problems). */
  onPolicyChecked?: (check: PolicyCheck) => void;
}

export interface SweepReport extends SweepResult {
  expiredApprovals: number;
  /** Closed sessions whose recording gap outlived the grace period. */
  brokenRecordings: number;
  /** Per-session database roles dropped (their session ended) or renewed (their lease ran low). */
  roles: ReconcileResult;
  /** Events past the event log's retention, deleted by this instance (0 when another one's turn). */
  prunedEvents: number;
  /** Relay connections closed because their relay stopped renewing their lease. */
  abandonedRelayConnections: number;
}

export interface HubServices {
  readonly database: HubDatabase;
  readonly clock: Clock;
  readonly events: EventBus;
  readonly entitlements: EntitlementService;
  readonly sessions: SessionService;
  /** Delegated authentication: answers a session's connection challenges. */
  readonly proofs: ProofService;
  /** Per-session database roles: created, renewed, dropped. */
  readonly provisioning: ProvisioningService;
  /** Admits the connections relays serve. */
  readonly relays: RelayService;
  readonly access: AccessRequestService;
  readonly approvals: ApprovalService;
  readonly recordings: RecordingService;
  readonly audit: AuditService;
  readonly policyChecks: PolicyCheckService;
  /** Whether the hub can serve (GET /healthz). */
  readonly health: HealthService;
  config(): HubConfig;
  /**
   * Runs every time-based transition once (grant and hold expiry, expiry warnings, recording gaps, relay
   * connections whose lease ran out), and prunes the event log when it is this instance's turn.
   */
  sweep(now?: Date): Promise<SweepReport>;
  /** Runs `sweep` every `intervalMs` until the returned function is called. Errors are passed to onError. */
  startSweeping(intervalMs?: number, onError?: (error: unknown) => void): () => void;
  /** Stops the event bus (subscribers end). The database stays open: its opener closes it. */
  close(): Promise<void>;
}

export async function createHubServices(options: HubServicesOptions): Promise<HubServices> {
  const clock = options.clock ?? systemClock;
  const config = typeof options.config === 'function' ? options.config : () => options.config as HubConfig;
  const events = await EventBus.start(options.database, clock);
  const ctx: ServiceContext = {
    hub: options.database,
    config,
    clock,
    events,
    env: options.env ?? process.env,
  };
  const entitlements = new EntitlementService(ctx);
  const provisioning = new ProvisioningService(ctx);
  const policyChecks = new PolicyCheckService(
    ctx,
    options.targetQuery ?? targetQuery(ctx.env),
    options.onPolicyChecked,
  );
  const sessions = new SessionService(ctx, entitlements, provisioning, policyChecks);
  const proofs = new ProofService(
    ctx,
    async (session, target) =>
      (await provisioning.credentialsFor(session.parent_id ?? session.id, target)) ??
      targetCredentials(ctx, target),
  );
  const access = new AccessRequestService(ctx);
  const approvals = new ApprovalService(ctx);
  const recordings = new RecordingService(ctx);
  const audit = new AuditService(ctx);
  const retention = new EventRetention(ctx);
  const relays = new RelayService(ctx);

  const sweep = sweeper({ access, approvals, recordings, provisioning, retention, relays }, clock);

  return {
    database: options.database,
    clock,
    events,
    entitlements,
    sessions,
    proofs,
    provisioning,
    relays,
    access,
    approvals,
    recordings,
    audit,
    policyChecks,
    health: new HealthService(ctx),
    config,
    sweep,
    startSweeping: sweepingEvery(sweep, provisioning),
    close: () => events.close(),
  };
}

/** The services with time-based transitions, each asked in turn by one sweep. */
interface Swept {
  access: AccessRequestService;
  approvals: ApprovalService;
  recordings: RecordingService;
  provisioning: ProvisioningService;
  retention: EventRetention;
  relays: RelayService;
}

function sweeper(swept: Swept, clock: Clock): HubServices['sweep'] {
  const { access, approvals, recordings, provisioning, retention, relays } = swept;
  return async (now: Date = clock.now()): Promise<SweepReport> => {
    const grants = await access.expireGrants(now);
    const expiredApprovals = await approvals.expireApprovals(now);
    const brokenRecordings = await recordings.finalizeRecordings(now);
    const roles = await provisioning.reconcile(now);
    const prunedEvents = await retention.run(now);
    const abandonedRelayConnections = await relays.closeAbandoned(now);
    return { ...grants, expiredApprovals, brokenRecordings, roles, prunedEvents, abandonedRelayConnections };
  };
}

/** Sweeps every interval, one sweep at a time (a sweep still running skips its turn). */
function sweepingEvery(
  sweep: HubServices['sweep'],
  provisioning: ProvisioningService,
): HubServices['startSweeping'] {
  return (intervalMs = 5000, onError = () => {}) => {
    let running = false;
    const run = (work: () => Promise<unknown>): void => {
      if (running) return;
      running = true;
      work()
        .catch(onError)
        .finally(() => (running = false));
    };
    // Roles left behind by sessions that ended while no hub was running go at once, not a sweep later.
    run(() => provisioning.reconcile());
    const timer = setInterval(() => run(sweep), intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  };
}

export { ApprovalService } from './approvals.ts';
export { AuditService } from './audit.ts';
export { ManualClock, systemClock, type Clock } from './clock.ts';
export { EntitlementService, type Access } from './entitlements.ts';
export {
  ConflictError,
  ForbiddenError,
  HubServiceError,
  NotFoundError,
  RateLimitedError,
  UnavailableError,
  ValidationError,
} from './errors.ts';
export { HealthService } from './health.ts';
export { EventBus, type Audience, type NewEvent, type Recipients, type SubscribeOptions } from './events.ts';
export { AccessRequestService, type SweepResult } from './access-requests.ts';
export { PolicyCheckService } from './policy-checks.ts';
export { RecordingService } from './recordings.ts';
export { ProofService } from './proofs.ts';
export { ProvisioningService, type ReconcileResult } from './provisioning.ts';
export { RelayService } from './relays.ts';
export { SessionService } from './sessions.ts';
