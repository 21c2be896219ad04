/**
 * Just-in-time access: a requester asks for a target for a while, with a reason; the target's approvers
 * decide (never their own request; once each); `min_approvals` distinct approvals grant it for the
 * requested duration from the deciding approval, one denial refuses it. The requester may cancel while it
 * is pending; the requester, an approver or an admin may revoke a grant, which asks its sessions to close.
 * A sweep expires grants on time, warns requesters before, and expires requests nobody decided.
 */
import { randomUUID } from 'node:crypto';
import type { AccessRequest, AccessRequestInput, DecisionInput, Identity } from '../api/types.ts';
import { formatDuration, parseDuration } from '../api/duration.ts';
import type { TargetConfig } from '../config/hub-config.ts';
import { addSeconds, iso } from './clock.ts';
import {
  decideInTransaction,
  EXPIRED,
  findTarget,
  isAdmin,
  isAuditor,
  memberOf,
  requireTarget,
  type Db,
  type ServiceContext,
} from './context.ts';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from './errors.ts';
import type { NewEvent } from './events.ts';
import { clampLimit, readComment } from './input.ts';
import { accessRequest, type AccessRequestRow } from './rows.ts';

export interface SweepResult {
  /** Grants whose time ran out. */
  expiredGrants: number;
  /** Requests nobody decided in time. */
  expiredRequests: number;
  /** Requesters told their grant ends soon. */
  warned: number;
}

/** Who ended a request or grant, and why. */
type ClosedBy = Pick<AccessRequestRow, 'closed_by_subject' | 'closed_by_name' | 'close_comment'>;

export class AccessRequestService {
  constructor(private readonly ctx: ServiceContext) {}

  async create(identity: Identity, input: AccessRequestInput): Promise<AccessRequest> {
    const target = requireTarget(this.ctx.config(), input.targetId);
    if (!target.jit) throw new ForbiddenError(`target ${target.id} does not offer just-in-time access`);
    if (!memberOf(identity, target.jit.requesters)) {
      throw new ForbiddenError(
        `only members of ${target.jit.requesters.join(', ')} may request access to ${target.id}`,
      );
    }
    const reason = input.reason.trim();
    if (reason === '') throw new ValidationError('reason', 'is required: say why you need access');
    const duration = requestedDuration(input, target);

    const now = this.ctx.clock.now();
    const row: AccessRequestRow = {
      id: randomUUID(),
      target_id: target.id,
      requester_subject: identity.subject,
      requester_name: identity.name,
      reason,
      duration_seconds: duration,
      state: 'pending',
      created_at: iso(now),
      decided_at: null,
      expires_at: null,
      min_approvals: target.jit.minApprovals,
      closed_by_subject: null,
      closed_by_name: null,
      close_comment: null,
      expiry_warned_at: null,
    };
    await this.ctx.hub.db.transaction().execute(async (trx) => {
      const open = await trx
        .selectFrom('access_requests')
        .select('id')
        .where('requester_subject', '=', identity.subject)
        .where('target_id', '=', target.id)
        .where('state', '=', 'pending')
        .where('created_at', '>', iso(addSeconds(now, -this.ctx.config().jit.pendingTtlSeconds)))
        .executeTakeFirst();
      if (open) throw new ConflictError(`a request for ${target.id} is already pending (${open.id})`);
      await trx.insertInto('access_requests').values(row).execute();
      const request = accessRequest(row, []);
      await this.ctx.events.appendIn(trx, [
        {
          type: 'access.requested',
          payload: { request },
          to: { groups: target.jit!.approvers, exceptSubject: identity.subject },
        },
      ]);
    });
    this.ctx.events.poke();
    return accessRequest(row, []);
  }

  /** One request: for its requester, the target's approvers, auditors and admins. */
  async get(identity: Identity, requestId: string): Promise<AccessRequest> {
    const row = await this.load(this.ctx.hub.db, requestId);
    const config = this.ctx.config();
    const target = findTarget(config, row.target_id);
    const approver = target?.jit ? memberOf(identity, target.jit.approvers) : false;
    if (row.requester_subject !== identity.subject && !approver && !isAuditor(config, identity)) {
      throw new ForbiddenError(`access request ${requestId} is not yours to see`);
    }
    return (await this.withDecisions(this.ctx.hub.db, [row]))[0]!;
  }

  /** The caller's own requests, newest first. */
  async listMine(identity: Identity, options: { limit?: number } = {}): Promise<AccessRequest[]> {
    const rows = await this.ctx.hub.db
      .selectFrom('access_requests')
      .selectAll()
      .where('requester_subject', '=', identity.subject)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(clampLimit(options.limit, 200))
      .execute();
    return this.withDecisions(this.ctx.hub.db, rows);
  }

  /** Pending requests the caller may decide: an approver of the target, not the requester, not yet decided. */
  async listPendingFor(identity: Identity): Promise<AccessRequest[]> {
    const config = this.ctx.config();
    const targets = config.targets
      .filter((t) => t.jit && memberOf(identity, t.jit.approvers))
      .map((t) => t.id);
    if (targets.length === 0) return [];
    const cutoff = iso(addSeconds(this.ctx.clock.now(), -config.jit.pendingTtlSeconds));
    const rows = await this.ctx.hub.db
      .selectFrom('access_requests as r')
      .selectAll('r')
      .where('r.state', '=', 'pending')
      .where('r.target_id', 'in', targets)
      .where('r.requester_subject', '<>', identity.subject)
      .where('r.created_at', '>', cutoff)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('access_decisions as d')
              .select('d.request_id')
              .whereRef('d.request_id', '=', 'r.id')
              .where('d.approver_subject', '=', identity.subject),
          ),
        ),
      )
      .orderBy('r.created_at')
      .execute();
    return this.withDecisions(this.ctx.hub.db, rows);
  }

  /** An approver's decision. One denial denies; `min_approvals` distinct approvals grant. */
  async decide(identity: Identity, requestId: string, input: DecisionInput): Promise<AccessRequest> {
    return decideInTransaction(
      this.ctx,
      async (trx) => {
        const row = await this.load(trx, requestId, { lock: true });
        const target = findTarget(this.ctx.config(), row.target_id);
        if (!target?.jit || !memberOf(identity, target.jit.approvers)) {
          throw new ForbiddenError(`you are not an approver of access to ${row.target_id}`);
        }
        if (row.requester_subject === identity.subject) {
          throw new ForbiddenError('you cannot approve or deny your own request');
        }
        if (identity.kind !== 'person') throw new ForbiddenError('only people decide access requests');
        if (row.state !== 'pending')
          throw new ConflictError(`access request ${requestId} is already ${row.state}`);
        const now = this.ctx.clock.now();
        if (this.pendingTooLong(row, now)) {
          await this.expireRequest(trx, row, target, now);
          return EXPIRED;
        }
        const update = await this.tally(trx, row, identity, input, now);
        if (update)
          await trx.updateTable('access_requests').set(update).where('id', '=', requestId).execute();
        const request = (await this.withDecisions(trx, [{ ...row, ...update }]))[0]!;
        const events: NewEvent[] = [
          {
            type: 'access.updated',
            payload: { request },
            to: { groups: target.jit.approvers, exceptSubject: row.requester_subject },
          },
        ];
        if (update) {
          events.push({
            type: 'access.decided',
            payload: { request },
            to: { subjects: [row.requester_subject] },
          });
        }
        await this.ctx.events.appendIn(trx, events);
        return request;
      },
      `access request ${requestId} expired before a decision`,
    );
  }

  /**
   * Records `identity`'s decision on the pending request `row` and says what the request becomes:
   * denied on a denial, approved once `min_approvals` distinct approvals are in, else unchanged.
   */
  private async tally(
    trx: Db,
    row: AccessRequestRow,
    identity: Identity,
    input: DecisionInput,
    now: Date,
  ): Promise<Partial<AccessRequestRow> | undefined> {
    const previous = await trx
      .selectFrom('access_decisions')
      .select('approve')
      .where('request_id', '=', row.id)
      .where('approver_subject', '=', identity.subject)
      .executeTakeFirst();
    if (previous) throw new ConflictError(`you already decided on access request ${row.id}`);
    await trx
      .insertInto('access_decisions')
      .values({
        request_id: row.id,
        approver_subject: identity.subject,
        approver_name: identity.name,
        approve: input.approve ? 1 : 0,
        comment: readComment(input.comment),
        at: iso(now),
        via: input.via ?? null,
      })
      .execute();

    let update: Partial<AccessRequestRow> | undefined;
    if (!input.approve) {
      update = { state: 'denied', decided_at: iso(now) };
    } else {
      const approvals = await trx
        .selectFrom('access_decisions')
        .select((eb) => eb.fn.countAll().as('count'))
        .where('request_id', '=', row.id)
        .where('approve', '=', 1)
        .executeTakeFirstOrThrow();
      if (Number(approvals.count) >= Number(row.min_approvals)) {
        update = {
          state: 'approved',
          decided_at: iso(now),
          expires_at: iso(addSeconds(now, Number(row.duration_seconds))),
        };
      }
    }
    return update;
  }

  /**
   * Ends a request: the requester (or an admin) cancels a pending one; the requester, an approver of the
   * target or an admin revokes an approved one, and its open sessions are asked to close.
   */
  async revoke(identity: Identity, requestId: string, comment?: string | null): Promise<AccessRequest> {
    const text = readComment(comment);
    return decideInTransaction(this.ctx, async (trx) => {
      const row = await this.load(trx, requestId, { lock: true });
      const config = this.ctx.config();
      const target = findTarget(config, row.target_id);
      const requester = row.requester_subject === identity.subject;
      const admin = isAdmin(config, identity);
      const approver = target?.jit ? memberOf(identity, target.jit.approvers) : false;
      const closedBy: ClosedBy = {
        closed_by_subject: identity.subject,
        closed_by_name: identity.name,
        close_comment: text,
      };

      if (row.state === 'pending') {
        if (!requester && !admin)
          throw new ForbiddenError('only the requester (or an admin) cancels a request');
        return this.close(trx, row, 'cancelled', closedBy, target);
      }
      if (row.state === 'approved') {
        if (!requester && !admin && !approver) {
          throw new ForbiddenError(
            'only the requester, an approver of the target or an admin revokes a grant',
          );
        }
        if (row.expires_at !== null && row.expires_at <= iso(this.ctx.clock.now())) {
          throw new ConflictError(`the grant ${requestId} has already expired`);
        }
        return this.close(trx, row, 'revoked', closedBy, target);
      }
      if (!requester && !admin && !approver)
        throw new ForbiddenError(`access request ${requestId} is not yours`);
      throw new ConflictError(`access request ${requestId} is already ${row.state}`);
    });
  }

  /** Cancels a pending request or revokes a grant (whose open sessions are asked to close), and says so. */
  private async close(
    trx: Db,
    row: AccessRequestRow,
    state: 'cancelled' | 'revoked',
    closedBy: ClosedBy,
    target: TargetConfig | undefined,
  ): Promise<AccessRequest> {
    const updated: AccessRequestRow = { ...row, state, ...closedBy };
    await trx
      .updateTable('access_requests')
      .set({ state, ...closedBy })
      .where('id', '=', row.id)
      .execute();
    const request = (await this.withDecisions(trx, [updated]))[0]!;
    const sessions = state === 'revoked' ? await closeGrantSessions(trx, row.id, 'grant-revoked') : [];
    await this.ctx.events.appendIn(trx, [
      {
        type: state === 'revoked' ? 'access.revoked' : 'access.cancelled',
        payload: { request },
        to: { groups: target?.jit?.approvers ?? [], subjects: [row.requester_subject] },
      },
      ...sessions.map((s) => sessionRevoked(s, 'grant-revoked')),
    ]);
    return request;
  }

  /**
   * The sweep (run it every few seconds, on any instance): grants whose time is up expire and their
   * sessions are asked to close; requesters hear shortly before; requests nobody decided expire.
   * Safe to run concurrently: each change is a conditional update, announced once.
   */
  async expireGrants(now: Date = this.ctx.clock.now()): Promise<SweepResult> {
    const config = this.ctx.config();
    const db = this.ctx.hub.db;
    const result: SweepResult = { expiredGrants: 0, expiredRequests: 0, warned: 0 };

    const due = await db
      .selectFrom('access_requests')
      .selectAll()
      .where('state', '=', 'approved')
      .where('expires_at', '<=', iso(now))
      .execute();
    for (const row of due) {
      if (await db.transaction().execute((trx) => this.expireGrant(trx, row))) result.expiredGrants++;
    }

    const soon = await db
      .selectFrom('access_requests')
      .selectAll()
      .where('state', '=', 'approved')
      .where('expires_at', '>', iso(now))
      .where('expires_at', '<=', iso(addSeconds(now, config.jit.expiryWarningSeconds)))
      .where('expiry_warned_at', 'is', null)
      .execute();
    for (const row of soon) {
      if (await db.transaction().execute((trx) => this.warnExpiring(trx, row, now))) result.warned++;
    }

    const stale = await db
      .selectFrom('access_requests')
      .selectAll()
      .where('state', '=', 'pending')
      .where('created_at', '<=', iso(addSeconds(now, -config.jit.pendingTtlSeconds)))
      .execute();
    for (const row of stale) {
      const changed = await db
        .transaction()
        .execute((trx) => this.expireRequest(trx, row, findTarget(config, row.target_id), now));
      if (changed) result.expiredRequests++;
    }
    if (result.expiredGrants + result.expiredRequests + result.warned > 0) this.ctx.events.poke();
    return result;
  }

  /** Expires a grant whose time is up, unless another sweep did; its sessions are asked to close. */
  private async expireGrant(trx: Db, row: AccessRequestRow): Promise<boolean> {
    const updated = await trx
      .updateTable('access_requests')
      .set({ state: 'expired' })
      .where('id', '=', row.id)
      .where('state', '=', 'approved')
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) return false;
    const request = (await this.withDecisions(trx, [{ ...row, state: 'expired' }]))[0]!;
    const sessions = await closeGrantSessions(trx, row.id, 'grant-expired');
    await this.ctx.events.appendIn(trx, [
      { type: 'access.expired', payload: { request }, to: { subjects: [row.requester_subject] } },
      ...sessions.map((s) => sessionRevoked(s, 'grant-expired')),
    ]);
    return true;
  }

  /** Tells the requester their grant ends soon, once. */
  private async warnExpiring(trx: Db, row: AccessRequestRow, now: Date): Promise<boolean> {
    const updated = await trx
      .updateTable('access_requests')
      .set({ expiry_warned_at: iso(now) })
      .where('id', '=', row.id)
      .where('state', '=', 'approved')
      .where('expiry_warned_at', 'is', null)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) return false;
    const request = (await this.withDecisions(trx, [{ ...row, expiry_warned_at: iso(now) }]))[0]!;
    await this.ctx.events.appendIn(trx, [
      {
        type: 'access.expiring',
        payload: { request, expiresAt: row.expires_at },
        to: { subjects: [row.requester_subject] },
      },
    ]);
    return true;
  }

  private pendingTooLong(row: AccessRequestRow, now: Date): boolean {
    return row.created_at <= iso(addSeconds(now, -this.ctx.config().jit.pendingTtlSeconds));
  }

  private async expireRequest(
    trx: Db,
    row: AccessRequestRow,
    target: TargetConfig | undefined,
    now: Date,
  ): Promise<boolean> {
    const updated = await trx
      .updateTable('access_requests')
      .set({ state: 'expired', decided_at: iso(now) })
      .where('id', '=', row.id)
      .where('state', '=', 'pending')
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) return false;
    const request = (await this.withDecisions(trx, [{ ...row, state: 'expired', decided_at: iso(now) }]))[0]!;
    await this.ctx.events.appendIn(trx, [
      {
        type: 'access.expired',
        payload: { request },
        to: { subjects: [row.requester_subject], groups: target?.jit?.approvers ?? [] },
      },
    ]);
    return true;
  }

  private async load(db: Db, requestId: string, options: { lock?: boolean } = {}): Promise<AccessRequestRow> {
    const row = await db
      .selectFrom('access_requests')
      .selectAll()
      .where('id', '=', String(requestId))
      .$if(options.lock === true && this.ctx.hub.dialect === 'postgres', (qb) => qb.forUpdate())
      .executeTakeFirst();
    if (!row) throw new NotFoundError(`no access request ${requestId}`);
    return row;
  }

  private async withDecisions(db: Db, rows: readonly AccessRequestRow[]): Promise<AccessRequest[]> {
    if (rows.length === 0) return [];
    const decisions = await db
      .selectFrom('access_decisions')
      .selectAll()
      .where(
        'request_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('at')
      .orderBy('approver_subject')
      .execute();
    return rows.map((row) => accessRequest(row, decisions));
  }
}

/** Asks a grant's open sessions to close; returns them for the owners' events. */
async function closeGrantSessions(
  trx: Db,
  grantId: string,
  reason: 'grant-revoked' | 'grant-expired',
): Promise<{ id: string; subject: string; target_id: string }[]> {
  const sessions = await trx
    .selectFrom('sessions')
    .select(['id', 'subject', 'target_id'])
    .where('grant_id', '=', grantId)
    .where('status', '=', 'open')
    .execute();
  if (sessions.length > 0) {
    await trx
      .updateTable('sessions')
      .set({ status: 'closing', close_reason: reason })
      .where('grant_id', '=', grantId)
      .where('status', '=', 'open')
      .execute();
  }
  return sessions;
}

function sessionRevoked(
  session: { id: string; subject: string; target_id: string },
  reason: 'grant-revoked' | 'grant-expired',
): NewEvent {
  return {
    type: 'session.revoked',
    payload: { sessionId: session.id, targetId: session.target_id, reason },
    to: { subjects: [session.subject] },
  };
}

function requestedDuration(input: AccessRequestInput, target: TargetConfig): number {
  const max = target.jit!.maxDurationSeconds;
  let seconds: number;
  let field = 'durationSeconds';
  if (input.durationSeconds !== undefined) {
    seconds = input.durationSeconds;
  } else if (input.duration !== undefined) {
    field = 'duration';
    const parsed = parseDuration(input.duration);
    if (parsed === undefined) throw new ValidationError(field, 'must be a duration such as 30m or 4h');
    seconds = parsed;
  } else {
    return max;
  }
  if (seconds > max) {
    throw new ValidationError(field, `must be at most ${formatDuration(max)} (max_duration of ${target.id})`);
  }
  return seconds;
}
