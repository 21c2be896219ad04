/**
 * What a relay's connections to one database role under one policy share, as a local tunnel's do: the
 * policy engine (its classifier, decision caches and routine catalog) and one catalog connection. Built
 * for each connection instead, every connection opened a second database connection (and asked the hub
 * for a second proof) and read the routine catalog before its first statement, then judged with cold
 * caches: pgbench through a relay ran at a fraction of the local tunnel's rate, and with -C at seconds
 * per transaction.
 *
 * The catalog connection is proven for one of the connections sharing it (the newest still served), and
 * reads only catalog metadata: every connection sharing it signs in as the same role. Holds go to the
 * approver of the connection that raised them, so each is asked on that connection's own hub session.
 * An engine no connection uses is kept `lingerMs`, for clients that connect once per transaction.
 *
 *   const lease = engines.acquire(admission, { proxyId, sessionId, approver });
 *   … lease.decisions, lease.side …
 *   lease.release();
 */
import type { ConnectionPurpose, RelayAdmission } from '../../hub/api/types.ts';
import type { HubClient } from '../hub-client/index.ts';
import { hubProver } from '../manager/hub-prover.ts';
import { policyFromSpec, upstreamFromConnection } from '../manager/session-material.ts';
import type { Approver, ApprovalRequest } from '../policy/approver.ts';
import type { DecisionPoint } from '../policy/decision-point.ts';
import { PolicyEngine } from '../policy/engine.ts';
import type { Policy } from '../policy/policy.ts';
import { DEFAULT_MAX_STATEMENT_SIZE, limitStatementSize } from '../policy/statement-size.ts';
import { sharedSideConnection, type SharedSideConnection } from '../postgres/side-connection.ts';
import { delegatedCredentials, type UpstreamCredentials } from '../postgres/upstream-credentials.ts';

/** How long an engine nobody uses is kept. */
export const DEFAULT_ENGINE_LINGER_MS = 60_000;

export interface RelayEnginesOptions {
  hub: HubClient;
  maskKey?: Buffer;
  lingerMs?: number;
}

/** One connection's use of a shared engine. */
export interface EngineUser {
  /** The id the connection's PostgresSession runs under (the approval requests name it). */
  proxyId: string;
  /** The connection's own hub session. */
  sessionId: string;
  approver: Approver;
}

export interface EngineLease {
  readonly policy: Policy;
  readonly decisions: DecisionPoint;
  readonly side: SharedSideConnection;
  release(): void;
}

interface SharedEngine {
  policy: Policy;
  decisions: DecisionPoint;
  side: SharedSideConnection;
  users: Map<string, EngineUser>;
  lingerTimer?: NodeJS.Timeout;
}

export class RelayEngines {
  private readonly engines = new Map<string, SharedEngine>();

  constructor(private readonly options: RelayEnginesOptions) {}

  /** Engines kept now (in use or lingering). */
  get size(): number {
    return this.engines.size;
  }

  acquire(admission: RelayAdmission, user: EngineUser): EngineLease {
    const key = engineKey(admission);
    let engine = this.engines.get(key);
    if (!engine) {
      engine = this.create(admission);
      this.engines.set(key, engine);
    }
    clearTimeout(engine.lingerTimer);
    engine.users.set(user.proxyId, user);
    const shared = engine;
    let released = false;
    return {
      policy: shared.policy,
      decisions: shared.decisions,
      side: shared.side,
      release: () => {
        if (released) return;
        released = true;
        shared.users.delete(user.proxyId);
        if (shared.users.size === 0) this.linger(key, shared);
      },
    };
  }

  /** Closes every catalog connection and forgets every engine. */
  close(): void {
    for (const engine of this.engines.values()) {
      clearTimeout(engine.lingerTimer);
      engine.side.close();
    }
    this.engines.clear();
  }

  private create(admission: RelayAdmission): SharedEngine {
    const policy = policyFromSpec(admission, this.options.maskKey);
    const users = new Map<string, EngineUser>();
    const side = sharedSideConnection(
      upstreamFromConnection(admission.connection),
      () => this.catalogCredentials(users),
      {
        applicationName: `portcullis relay catalog for ${admission.target.id}`,
        inUse: () => users.size > 0,
      },
    );
    const approver: Approver = {
      requestApproval(request: ApprovalRequest) {
        const owner = users.get(request.connectionId);
        if (!owner) return Promise.reject(new Error('the connection that held the statement has ended'));
        return owner.approver.requestApproval(request);
      },
    };
    const decisions = limitStatementSize(
      new PolicyEngine(policy, { approver, sideConnection: side.get }),
      DEFAULT_MAX_STATEMENT_SIZE,
    );
    return { policy, decisions, side, users };
  }

  private catalogCredentials(users: Map<string, EngineUser>): UpstreamCredentials {
    const newest = [...users.values()].at(-1);
    const purpose: ConnectionPurpose = 'catalog';
    return delegatedCredentials(
      hubProver({
        hub: this.options.hub,
        // No connection left (a lingering engine asked again): the hub refuses the proof, as it should.
        sessionId: newest?.sessionId ?? '00000000-0000-0000-0000-000000000000',
        purpose,
        connection: () => 0,
      }),
    );
  }

  private linger(key: string, engine: SharedEngine): void {
    clearTimeout(engine.lingerTimer);
    engine.lingerTimer = setTimeout(() => {
      if (engine.users.size > 0 || this.engines.get(key) !== engine) return;
      this.engines.delete(key);
      engine.side.close();
    }, this.options.lingerMs ?? DEFAULT_ENGINE_LINGER_MS);
    engine.lingerTimer.unref();
  }
}

/** Connections share an engine when they reach the same role of the same database under the same policy. */
function engineKey(admission: RelayAdmission): string {
  return JSON.stringify([
    admission.target.id,
    admission.connection,
    admission.policy,
    admission.holdTimeoutSeconds,
  ]);
}
