/**
 * Held statements: the tunnel holds a statement its policy sends for approval and asks the hub; an
 * approver of the target (not the requester) approves or denies it with a comment; the tunnel waits for
 * the decision (waitForDecision), or withdraws the request when the client cancels or gives up. Pending
 * requests expire (default 5 min) through the sweep.
 */
import { randomUUID } from 'node:crypto';
import type { CommandApproval, DecisionInput, HoldInput, Identity } from '../api/types.ts';
import { addSeconds, iso } from './clock.ts';
import { findTarget, isAuditor, memberOf, type Db, type ServiceContext } from './context.ts';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from './errors.ts';
import type { NewEvent } from './events.ts';
import { clampLimit, readComment, readDecisionChannel, readHoldContext } from './input.ts';
import { commandApproval, type CommandApprovalRow } from './rows.ts';

const MAX_SQL = 100_000;

export class CommandApprovalService {
  constructor(private readonly ctx: ServiceContext) {}

  /** The session's owner asks for a held statement to be decided. */
  async create(identity: Identity, input: HoldInput): Promise<CommandApproval> {
    if (typeof input.sql !== 'string' || input.sql.trim() === '')
      throw new ValidationError('sql', 'is required');
    if (input.sql.length > MAX_SQL) throw new ValidationError('sql', `must be at most ${MAX_SQL} characters`);
    if (
      !Array.isArray(input.classes) ||
      !input.classes.every((c) => typeof c === 'string' && c.length <= 64)
    ) {
      throw new ValidationError('classes', 'must be a list of statement classes');
    }
    if (typeof input.rule !== 'string' || input.rule.length > 500) {
      throw new ValidationError('rule', 'must name the rule (at most 500 characters)');
    }
    const context = readHoldContext(input.context);
    const config = this.ctx.config();
    let timeout = config.approvals.holdTimeoutSeconds;
    if (input.timeoutSeconds !== undefined) {
      if (!Number.isSafeInteger(input.timeoutSeconds) || input.timeoutSeconds <= 0) {
        throw new ValidationError('timeoutSeconds', 'must be a whole number of seconds above 0');
      }
      timeout = Math.min(input.timeoutSeconds, config.approvals.maxHoldTimeoutSeconds);
    }

    const session = await this.ctx.hub.db
      .selectFrom('sessions')
      .select(['id', 'subject', 'target_id', 'status'])
      .where('id', '=', String(input.sessionId))
      .executeTakeFirst();
    if (!session) throw new NotFoundError(`no session ${input.sessionId}`);
    if (session.subject !== identity.subject) {
      throw new ForbiddenError(`session ${input.sessionId} belongs to someone else`);
    }
    if (session.status !== 'open') throw new ConflictError(`session ${input.sessionId} is ${session.status}`);
    const target = findTarget(config, session.target_id);
    if (!target || target.approvers.length === 0) {
      throw new ConflictError(`target ${session.target_id} has no approvers for held statements`);
    }

    const now = this.ctx.clock.now();
    const row: CommandApprovalRow = {
      id: randomUUID(),
      session_id: session.id,
      target_id: session.target_id,
      requester_subject: identity.subject,
      requester_name: identity.name,
      sql: input.sql,
      classes: JSON.stringify([...input.classes]),
      rule: input.rule,
      state: 'pending',
      created_at: iso(now),
      expires_at: iso(addSeconds(now, timeout)),
      decided_at: null,
      decided_by_subject: null,
      decided_by_name: null,
      comment: null,
      context: context === null ? null : JSON.stringify(context),
      decided_via: null,
    };
    await this.ctx.hub.db.transaction().execute(async (trx) => {
      await trx.insertInto('command_approvals').values(row).execute();
      await this.ctx.events.appendIn(trx, [
        {
          type: 'approval.requested',
          payload: { approval: commandApproval(row) },
          to: { groups: target.approvers, exceptSubject: identity.subject },
        },
      ]);
    });
    this.ctx.events.poke();
    return commandApproval(row);
  }

  /** One request: for its requester, the target's approvers, auditors and admins. */
  async get(identity: Identity, approvalId: string): Promise<CommandApproval> {
    const row = await this.load(this.ctx.hub.db, approvalId);
    this.maySee(identity, row);
    return commandApproval(row);
  }

  /** Held statements the caller may decide now, oldest first. */
  async listPendingFor(identity: Identity): Promise<CommandApproval[]> {
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
    return rows.map(commandApproval);
  }

  /** The caller's own held statements, newest first (whatever their state). */
  async listMine(identity: Identity, options: { limit?: number } = {}): Promise<CommandApproval[]> {
    const rows = await this.ctx.hub.db
      .selectFrom('command_approvals')
      .selectAll()
      .where('requester_subject', '=', identity.subject)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(clampLimit(options.limit, 200))
      .execute();
    return rows.map(commandApproval);
  }

  /** An approver of the target (not the requester) approves or denies the statement. */
  async decide(identity: Identity, approvalId: string, input: DecisionInput): Promise<CommandApproval> {
    if (typeof input.approve !== 'boolean') throw new ValidationError('approve', 'must be true or false');
    const comment = readComment(input.comment);
    const via = readDecisionChannel(input.via);
    const outcome = await this.ctx.hub.db.transaction().execute(async (trx) => {
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
        return 'expired' as const;
      }
      return this.finish(trx, row, {
        state: input.approve ? 'approved' : 'denied',
        decided_at: iso(now),
        decided_by_subject: identity.subject,
        decided_by_name: identity.name,
        comment,
        decided_via: via,
      });
    });
    this.ctx.events.poke();
    if (outcome === 'expired')
      throw new ConflictError(`held statement ${approvalId} expired before a decision`);
    return outcome;
  }

  /** The requester no longer waits (client cancelled, timed out, session ended). */
  async withdraw(identity: Identity, approvalId: string, reason?: string | null): Promise<CommandApproval> {
    const text = readComment(reason, 'reason');
    const result = await this.ctx.hub.db.transaction().execute(async (trx) => {
      const row = await this.load(trx, approvalId, { lock: true });
      if (row.requester_subject !== identity.subject) {
        throw new ForbiddenError('only the requester withdraws a held statement');
      }
      if (row.state !== 'pending')
        throw new ConflictError(`held statement ${approvalId} is already ${row.state}`);
      return this.finish(trx, row, {
        state: 'withdrawn',
        decided_at: iso(this.ctx.clock.now()),
        comment: text,
      });
    });
    this.ctx.events.poke();
    return result;
  }

  /**
   * Resolves once the held statement is no longer pending (approved, denied, expired, withdrawn), as
   * seen through the event bus, so a decision taken on another hub instance arrives too. Rejects when the
   * signal aborts or the bus closes. Expiry comes from the sweep (expireApprovals).
   */
  async waitForDecision(
    identity: Identity,
    approvalId: string,
    signal?: AbortSignal,
  ): Promise<CommandApproval> {
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

  /** The sweep: pending held statements past their time expire. Safe on several instances at once. */
  async expireApprovals(now: Date = this.ctx.clock.now()): Promise<number> {
    const due = await this.ctx.hub.db
      .selectFrom('command_approvals')
      .selectAll()
      .where('state', '=', 'pending')
      .where('expires_at', '<=', iso(now))
      .execute();
    let expired = 0;
    for (const row of due) {
      const done = await this.ctx.hub.db.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable('command_approvals')
          .set({ state: 'expired', decided_at: iso(now) })
          .where('id', '=', row.id)
          .where('state', '=', 'pending')
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 0) return false;
        await this.ctx.events.appendIn(trx, this.announce(row, { state: 'expired', decided_at: iso(now) }));
        return true;
      });
      if (done) expired++;
    }
    if (expired > 0) this.ctx.events.poke();
    return expired;
  }

  private async finish(
    trx: Db,
    row: CommandApprovalRow,
    update: Partial<CommandApprovalRow>,
  ): Promise<CommandApproval> {
    await trx.updateTable('command_approvals').set(update).where('id', '=', row.id).execute();
    await this.ctx.events.appendIn(trx, this.announce(row, update));
    return commandApproval({ ...row, ...update });
  }

  /** The requester hears the outcome; the approvers' lists drop the request. */
  private announce(row: CommandApprovalRow, update: Partial<CommandApprovalRow>): NewEvent[] {
    const approval = commandApproval({ ...row, ...update });
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
  private maySee(identity: Identity, row: CommandApprovalRow): void {
    const config = this.ctx.config();
    const target = findTarget(config, row.target_id);
    const approver = target ? memberOf(identity, target.approvers) : false;
    if (row.requester_subject !== identity.subject && !approver && !isAuditor(config, identity)) {
      throw new ForbiddenError(`held statement ${row.id} is not yours to see`);
    }
  }

  private async load(
    db: Db,
    approvalId: string,
    options: { lock?: boolean } = {},
  ): Promise<CommandApprovalRow> {
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
