/**
 * Who may use which target now: standing access through a group, or an approved just-in-time grant that
 * has not expired. Admins see the whole catalogue (but use only what they are entitled to).
 */
import type { Identity, TargetEntitlement, TargetStatus } from '../api/types.ts';
import type { TargetConfig } from '../config/hub-config.ts';
import { iso } from './clock.ts';
import { isAdmin, memberOf, type Db, type ServiceContext } from './context.ts';

/** How a session may be opened on a target now. */
export type Access = { via: 'standing' } | { via: 'grant'; requestId: string; expiresAt: string };

export class EntitlementService {
  constructor(private readonly ctx: ServiceContext) {}

  /** The targets the caller may use now or may request, with status and grant expiry. */
  async targetsFor(identity: Identity): Promise<TargetEntitlement[]> {
    const config = this.ctx.config();
    const open = await this.openRequestsOf(identity);
    const admin = isAdmin(config, identity);
    const result: TargetEntitlement[] = [];
    for (const target of config.targets) {
      const entitlement = entitlementTo(target, identity, admin, open);
      if (entitlement) result.push(entitlement);
    }
    return result;
  }

  /** The caller's grants in force and pending requests, the latest of each per target. */
  private async openRequestsOf(identity: Identity): Promise<OpenRequests> {
    const now = iso(this.ctx.clock.now());
    const mine = await this.ctx.hub.db
      .selectFrom('access_requests')
      .select(['id', 'target_id', 'state', 'expires_at', 'created_at'])
      .where('requester_subject', '=', identity.subject)
      .where((eb) =>
        eb.or([
          eb.and([eb('state', '=', 'approved'), eb('expires_at', '>', now)]),
          eb('state', '=', 'pending'),
        ]),
      )
      .execute();
    const grants = new Map<string, { requestId: string; expiresAt: string }>();
    const pending = new Map<string, { id: string; createdAt: string }>();
    for (const row of mine) {
      if (row.state === 'approved') {
        const current = grants.get(row.target_id);
        if (!current || row.expires_at! > current.expiresAt) {
          grants.set(row.target_id, { requestId: row.id, expiresAt: row.expires_at! });
        }
      } else {
        const current = pending.get(row.target_id);
        if (!current || row.created_at > current.createdAt) {
          pending.set(row.target_id, { id: row.id, createdAt: row.created_at });
        }
      }
    }
    return { grants, pending };
  }

  /** Standing access first (it does not expire), else the grant that lasts longest; null without access. */
  async accessNow(
    identity: Identity,
    target: TargetConfig,
    db: Db = this.ctx.hub.db,
  ): Promise<Access | null> {
    if (memberOf(identity, target.access)) return { via: 'standing' };
    const grant = await db
      .selectFrom('access_requests')
      .select(['id', 'expires_at'])
      .where('requester_subject', '=', identity.subject)
      .where('target_id', '=', target.id)
      .where('state', '=', 'approved')
      .where('expires_at', '>', iso(this.ctx.clock.now()))
      .orderBy('expires_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return grant ? { via: 'grant', requestId: grant.id, expiresAt: grant.expires_at! } : null;
  }

  /** Why the caller may not open a session on the target, for the refusal's message. */
  explainRefusal(identity: Identity, target: TargetConfig): string {
    const parts = [`no access to target ${target.id}`];
    parts.push(
      target.access.length > 0
        ? `standing access is for ${target.access.join(', ')}`
        : 'the target has no standing access',
    );
    if (target.jit && memberOf(identity, target.jit.requesters)) {
      parts.push('no active grant: request just-in-time access');
    } else parts.push('and no active grant');
    return parts.join('; ');
  }
}

interface OpenRequests {
  grants: Map<string, { requestId: string; expiresAt: string }>;
  pending: Map<string, { id: string; createdAt: string }>;
}

/** What the caller may do with TARGET; undefined when they may not even see it. */
function entitlementTo(
  target: TargetConfig,
  identity: Identity,
  admin: boolean,
  { grants, pending }: OpenRequests,
): TargetEntitlement | undefined {
  const standing = memberOf(identity, target.access);
  const grant = standing ? undefined : grants.get(target.id);
  const canRequest = target.jit !== null && memberOf(identity, target.jit.requesters);
  const pendingId = pending.get(target.id)?.id ?? null;
  let status: TargetStatus;
  if (standing) status = 'standing';
  else if (grant) status = 'granted';
  else if (pendingId) status = 'pending';
  else if (canRequest) status = 'requestable';
  else if (admin) status = 'none';
  else return undefined;
  return {
    id: target.id,
    name: target.name,
    kind: target.kind,
    address: target.address,
    database: target.kind === 'postgres' ? target.database : null,
    policy: target.policy.name,
    status,
    usable: status === 'standing' || status === 'granted',
    grant: grant ?? null,
    pendingRequestId: pendingId,
    jit:
      canRequest && target.jit
        ? { maxDurationSeconds: target.jit.maxDurationSeconds, minApprovals: target.jit.minApprovals }
        : null,
    canApproveAccess: target.jit !== null && memberOf(identity, target.jit.approvers),
    canApproveStatements: memberOf(identity, target.approvers),
  };
}
