/**
 * Held statements: the tunnel holds a statement its policy sends for approval and asks the hub; an
 * approver of the target (not the requester) approves or denies it with a comment; the tunnel waits for
 * the decision (waitForDecision), or withdraws the request when the client cancels or gives up. Pending
 * requests expire (default 5 min), or when their session ends, through the sweep. Flood limits: see
 * hold-limits.ts.
 */
import { randomUUID } from 'node:crypto';
import type { Approval, DecisionInput, HoldContext, HoldInput, Identity } from '../api/types.ts';
import { addSeconds, iso } from './clock.ts';
import {
  actsFor,
  decideInTransaction,
  EXPIRED,
  findTarget,
  isAuditor,
  isRelay,
  memberOf,
  type Db,
  type ServiceContext,
} from './context.ts';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from './errors.ts';
import type { NewEvent } from './events.ts';
import { checkHoldLimits, requireAuthenticatedConnection, serializeRequester } from './hold-limits.ts';
import { clampLimit, readComment } from './input.ts';
import { approvalOf, type ApprovalRow } from './rows.ts';

/** A hold as the tunnel sent it (its shape checked by the route, hub/api/requests/holds.ts). */
interface Hold {
  connection: number;
  sql: string;
  classes: string[];
  rule: string;
  timeoutSeconds: number | undefined;
  context: HoldContext | null;
}

function readHold(input: HoldInput): Hold {
  // Connection 0 is the tunnel's own catalog connection: it signs in, but never holds a statement.
  if (!Number.isSafeInteger(input.connection) || input.connection < 1) {
    throw new ValidationError('connection', 'must name the tunnel connection the statement was held on');
  }
  if (input.sql.trim() === '') throw new ValidationError('sql', 'is required');
  return {
    connection: input.connection,
    sql: input.sql,
    classes: [...input.classes],
    rule: input.rule,
    timeoutSeconds: input.timeoutSeconds,
    context: input.context
      ? { ...input.context, estimatedRows: roundRows(input.context.estimatedRows) }
      : null,
  };
}

function roundRows(rows: number | null): number | null {
  return rows === null ? null : Math.round(rows);
}

export class ApprovalService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * The session's owner asks for a held statement to be decided. The statement must come from a live
   * session's connection the hub authenticated; an identical statement already pending in the session is
   * joined (one approval, `holds` counting the statements waiting on it) instead of asked again; anything
   * else new counts against the per-session and per-requester limits.
   */
  async create(identity: Identity, input: HoldInput): Promise<Approval> {
    const hold = readHold(input);
    const config = this.ctx.config();
    const timeout =
      hold.timeoutSeconds === undefined
        ? config.approvals.holdTimeoutSeconds
        : Math.min(hold.timeoutSeconds, config.approvals.maxHoldTimeoutSeconds);
    const session = await this.liveSession(identity, String(input.sessionId));
    const target = findTarget(config, session.target_id);
    if (!target || target.approvers.length === 0) {
      throw new ConflictError(`target ${session.target_id} has no approvers for held statements`);
    }
    const origin = { sessionId: session.id, connection: hold.connection, requester: session.subject };

    const outcome = await this.ctx.hub.db.transaction().execute(async (trx) => {
      await serializeRequester(trx, this.ctx.hub.dialect, session.subject);
      await requireAuthenticatedConnection(trx, origin);
      const now = this.ctx.clock.now();
      const joined = await this.joinIdentical(trx, session.id, hold, now);
      if (joined) return joined;
      await checkHoldLimits(trx, config.approvals, origin, now);
      const row: ApprovalRow = {
        id: randomUUID(),
        session_id: session.id,
        target_id: session.target_id,
        // A relay holds for the session's owner: the statement is theirs.
        requester_subject: session.subject,
        requester_name: session.display_name,
        sql: hold.sql,
        classes: JSON.stringify(hold.classes),
        rule: hold.rule,
        state: 'pending',
        created_at: iso(now),
        expires_at: iso(addSeconds(now, timeout)),
        decided_at: null,
        decided_by_subject: null,
        decided_by_name: null,
        comment: null,
        context: hold.context === null ? null : JSON.stringify(hold.context),
        decided_via: null,
        connection: hold.connection,
        holds: 1,
      };
      await trx.insertInto('command_approvals').values(row).execute();
      const requested = { type: 'approval.requested' as const, payload: { approval: approvalOf(row) } };
      await this.ctx.events.appendIn(trx, [
        { ...requested, to: { groups: target.approvers, exceptSubject: session.subject } },
        // Held at a relay: the owner's own tunnel learns of it this way, to tell them.
        ...(identity.subject === session.subject
          ? []
          : [{ ...requested, to: { subjects: [session.subject] } }]),
      ]);
      return approvalOf(row);
    });
    this.ctx.events.poke();
    return outcome;
  }

  /**
   * The caller's own session, still open: only a live session holds statements. A relay holds on the
   * connections it serves (actsFor).
   */
  private async liveSession(
    identity: Identity,
    sessionId: string,
  ): Promise<{ id: string; subject: string; display_name: string; target_id: string }> {
    const session = await this.ctx.hub.db
      .selectFrom('sessions')
      .select(['id', 'subject', 'display_name', 'target_id', 'status', 'parent_id'])
      .where('id', '=', sessionId)
      .executeTakeFirst();
    if (!session) throw new NotFoundError(`no session ${sessionId}`);
    if (!actsFor(this.ctx.config(), identity, session)) {
      throw new ForbiddenError(`session ${sessionId} belongs to someone else`);
    }
    if (session.status !== 'open') throw new ConflictError(`session ${sessionId} is ${session.status}`);
    return session;
  }

  /**
   * The same statement under the same rule already waits in this session: one more hold waits on it.
   * Approvers are not told again (a loop re-sending one statement costs them nothing); they see the count
   * when they look.
   */
  private async joinIdentical(trx: Db, sessionId: string, hold: Hold, now: Date): Promise<Approval | null> {
    const pending = await trx
      .selectFrom('command_approvals')
      .selectAll()
      .where('session_id', '=', sessionId)
      .where('state', '=', 'pending')
      .where('expires_at', '>', iso(now))
      .where('sql', '=', hold.sql)
      .where('rule', '=', hold.rule)
      .orderBy('created_at')
      .$if(this.ctx.hub.dialect === 'postgres', (qb) => qb.forUpdate())
      .executeTakeFirst();
    if (!pending) return null;
    await trx
      .updateTable('command_approvals')
      .set((eb) => ({ holds: eb('holds', '+', 1) }))
      .where('id', '=', pending.id)
      .execute();
    return approvalOf({ ...pending, holds: pending.holds + 1 });
  }

  /** One request: for its requester, the target's approvers, auditors and admins. */
  async get(identity: Identity, approvalId: string): Promise<Approval> {
    const row = await this.load(this.ctx.hub.db, approvalId);
    this.maySee(identity, row);
    return approvalOf(row);
  }

  /** Held statements the caller may decide now, oldest first. */
  async listPendingFor(identity: Identity): Promise<Approval[]> {
    const targets = this.ctx
      .config()
      .targets.filter((t) => memberOf(identity, t.approvers))
      .map((t) => t.id);
    if (targets.length === 0) return [];
    const rows = await this.ctx.hub.db
      .selectFrom('command_approvals')
      .selectAll()
      .where('state', '=', 'pending')
      .where('target_id', 'in', targets)
      .where('requester_subject', '<>', identity.subject)
      .where('expires_at', '>', iso(this.ctx.clock.now()))
      .orderBy('created_at')
      .execute();
    return rows.map(approvalOf);
  }

  /** The caller's own held statements, newest first (whatever their state). */
  async listMine(identity: Identity, options: { limit?: number } = {}): Promise<Approval[]> {
    const rows = await this.ctx.hub.db
      .selectFrom('command_approvals')
      .selectAll()
      .where('requester_subject', '=', identity.subject)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(clampLimit(options.limit, 200))
      .execute();
    return rows.map(approvalOf);
  }

  /** An approver of the target (not the requester) approves or denies the statement. */
  async decide(identity: Identity, approvalId: string, input: DecisionInput): Promise<Approval> {
    const comment = readComment(input.comment);
    const via = input.via ?? null;
    return decideInTransaction(
      this.ctx,
      async (trx) => {
        const row = await this.load(trx, approvalId, { lock: true });
        const target = findTarget(this.ctx.config(), row.target_id);
        if (!target || !memberOf(identity, target.approvers)) {
          throw new ForbiddenError(`you do not decide held statements on ${row.target_id}`);
        }
        if (row.requester_subject === identity.subject) {
          throw new ForbiddenError('you cannot approve or deny your own statement');
        }
        if (identity.kind !== 'person') throw new ForbiddenError('only people decide held statements');
        if (row.state !== 'pending')
          throw new ConflictError(`held statement ${approvalId} is already ${row.state}`);
        const now = this.ctx.clock.now();
        if (row.expires_at <= iso(now)) {
          await this.finish(trx, row, { state: 'expired', decided_at: iso(now) });
          return EXPIRED;
        }
        return this.finish(trx, row, {
          state: input.approve ? 'approved' : 'denied',
          decided_at: iso(now),
          decided_by_subject: identity.subject,
          decided_by_name: identity.name,
          comment,
          decided_via: via,
        });
      },
      `held statement ${approvalId} expired before a decision`,
    );
  }

  /** The requester no longer waits (client cancelled, timed out, session ended). */
  async withdraw(identity: Identity, approvalId: string, reason?: string | null): Promise<Approval> {
    const text = readComment(reason);
    return decideInTransaction(this.ctx, async (trx) => {
      const row = await this.load(trx, approvalId, { lock: true });
      if (row.requester_subject !== identity.subject && !this.relayOf(identity, row)) {
        throw new ForbiddenError('only the requester withdraws a held statement');
      }
      if (row.state !== 'pending')
        throw new ConflictError(`held statement ${approvalId} is already ${row.state}`);
      if (row.holds > 1) {
        // Another statement still waits on this decision: only this one leaves.
        await trx
          .updateTable('command_approvals')
          .set((eb) => ({ holds: eb('holds', '-', 1) }))
          .where('id', '=', row.id)
          .execute();
        return approvalOf({ ...row, holds: row.holds - 1 });
      }
      return this.finish(trx, row, {
        state: 'withdrawn',
        decided_at: iso(this.ctx.clock.now()),
        comment: text,
      });
    });
  }

  /**
   * Resolves once the held statement is no longer pending (approved, denied, expired, withdrawn), as
   * seen through the event bus, so a decision taken on another hub instance arrives too. Rejects when the
   * signal aborts or the bus closes. Expiry comes from the sweep (expireApprovals).
   */
  async waitForDecision(identity: Identity, approvalId: string, signal?: AbortSignal): Promise<Approval> {
    const events = this.ctx.events;
    let wake: () => void = () => {};
    let changed = true;
    const off = events.onEvent((event) => {
      const approval = event.payload['approval'] as { id?: unknown } | undefined;
      if (approval?.id === approvalId) {
        changed = true;
        wake();
      }
    });
    const offClose = events.onClose(() => wake());
    const onAbort = (): void => wake();
    signal?.addEventListener('abort', onAbort);
    try {
      for (;;) {
        if (signal?.aborted) throw signal.reason ?? new Error('aborted');
        if (events.isClosed) throw new Error('the hub is shutting down');
        if (changed) {
          changed = false;
          const current = await this.get(identity, approvalId);
          if (current.state !== 'pending') return current;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      off();
      offClose();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * The sweep: pending held statements past their time, or whose session is no longer open (closed, or
   * asked to close), expire. Safe on several instances at once.
   */
  async expireApprovals(now: Date = this.ctx.clock.now()): Promise<number> {
    const due = await this.ctx.hub.db
      .selectFrom('command_approvals')
      .selectAll()
      .where('state', '=', 'pending')
      .where('expires_at', '<=', iso(now))
      .execute();
    const orphaned = await this.ctx.hub.db
      .selectFrom('command_approvals as a')
      .innerJoin('sessions as s', 's.id', 'a.session_id')
      .selectAll('a')
      .where('a.state', '=', 'pending')
      .where('a.expires_at', '>', iso(now))
      .where('s.status', '<>', 'open')
      .execute();
    let expired = 0;
    for (const row of due) if (await this.expire(row, { state: 'expired', decided_at: iso(now) })) expired++;
    for (const row of orphaned) {
      const update = {
        state: 'expired',
        decided_at: iso(now),
        comment: 'the session ended before a decision',
      };
      if (await this.expire(row, update as Partial<ApprovalRow>)) expired++;
    }
    if (expired > 0) this.ctx.events.poke();
    return expired;
  }

  /** Expires one pending held statement, unless another instance got there first. */
  private async expire(row: ApprovalRow, update: Partial<ApprovalRow>): Promise<boolean> {
    return this.ctx.hub.db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('command_approvals')
        .set(update)
        .where('id', '=', row.id)
        .where('state', '=', 'pending')
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) return false;
      await this.ctx.events.appendIn(trx, this.announce(row, update));
      return true;
    });
  }

  private async finish(trx: Db, row: ApprovalRow, update: Partial<ApprovalRow>): Promise<Approval> {
    await trx.updateTable('command_approvals').set(update).where('id', '=', row.id).execute();
    await this.ctx.events.appendIn(trx, this.announce(row, update));
    return approvalOf({ ...row, ...update });
  }

  /** The requester hears the outcome; the approvers' lists drop the request. */
  private announce(row: ApprovalRow, update: Partial<ApprovalRow>): NewEvent[] {
    const approval = approvalOf({ ...row, ...update });
    const target = findTarget(this.ctx.config(), row.target_id);
    return [
      { type: 'approval.decided', payload: { approval }, to: { subjects: [row.requester_subject] } },
      {
        type: 'approval.updated',
        payload: { approval },
        to: { groups: target?.approvers ?? [], exceptSubject: row.requester_subject },
      },
    ];
  }

  /** The requester, the target's approvers, auditors and admins may see a held statement. */
  private maySee(identity: Identity, row: ApprovalRow): void {
    const config = this.ctx.config();
    const target = findTarget(config, row.target_id);
    const approver = target ? memberOf(identity, target.approvers) : false;
    const mayLook = approver || isAuditor(config, identity) || this.relayOf(identity, row);
    if (row.requester_subject !== identity.subject && !mayLook) {
      throw new ForbiddenError(`held statement ${row.id} is not yours to see`);
    }
  }

  /** A relay acts for the requester on targets enforced at a relay: it held the statement. */
  private relayOf(identity: Identity, row: ApprovalRow): boolean {
    const config = this.ctx.config();
    return findTarget(config, row.target_id)?.enforcement === 'relay' && isRelay(config, identity);
  }

  private async load(db: Db, approvalId: string, options: { lock?: boolean } = {}): Promise<ApprovalRow> {
    const row = await db
      .selectFrom('command_approvals')
      .selectAll()
      .where('id', '=', String(approvalId))
      .$if(options.lock === true && this.ctx.hub.dialect === 'postgres', (qb) => qb.forUpdate())
      .executeTakeFirst();
    if (!row) throw new NotFoundError(`no held statement ${approvalId}`);
    return row;
  }
}
