/**
 * The real Approver: a held statement asks the hub for an approval (which notifies the target's
 * approvers), and the tunnel waits for the decision with the hub's long-poll, which answers the moment an
 * approver decides. A hub that cannot be reached while waiting is retried with backoff; the engine's hold
 * timeout bounds the whole wait, and a statement that stops waiting is withdrawn at the hub.
 */
import type { Approval, HoldContext } from '../../hub/api/types.ts';
import { redactPasswords } from '../policy/password-literals.ts';
import { HubError, type HubClient } from '../hub-client/index.ts';
import type {
  ApprovalOutcome,
  ApprovalRequest,
  ApprovalTicket,
  Approver,
  HeldStatementScope,
} from '../policy/approver.ts';
import { tableName } from '../policy/held-statement-scope.ts';
import { backoffDelay } from '../recorder/outbox.ts';

export interface HubApproverOptions {
  /** The hub session the held statements belong to (one per tunnel). */
  sessionId: string;
  /**
   * The number the hub knows a local connection by (the one its upstream sign-in was proved under): the
   * hub accepts held statements only from connections it authenticated.
   */
  connection: (connectionId: string) => number;
  /** How long the hub keeps the approval open; the engine's hold timeout, in whole seconds. */
  timeoutSeconds?: number;
  /** One long-poll's length. Default 60 s. */
  pollSeconds?: number;
  log?: (message: string) => void;
  /** The planner's estimate of the rows a held statement writes (estimateRows on the side connection). */
  estimateRows?: (sql: string, scope: HeldStatementScope) => Promise<number | null>;
}

/** What an approval that is no longer pending means for the held statement. */
export function outcomeOf(approval: Approval): ApprovalOutcome {
  const by = approval.decidedBy?.name;
  const decided = {
    ...(by ? { by } : {}),
    ...(approval.comment ? { comment: approval.comment } : {}),
  };
  switch (approval.state) {
    case 'approved':
      return { approved: true, ...decided };
    case 'denied':
      return { approved: false, ...decided };
    case 'expired':
      return { approved: false, comment: 'nobody decided before the approval expired at the hub' };
    case 'withdrawn':
      return { approved: false, comment: approval.comment ?? 'the approval was withdrawn' };
    case 'pending':
      throw new Error(`approval ${approval.id} is still pending`);
  }
}

const retryable = (error: unknown): boolean =>
  error instanceof HubError && (error.status === 0 || error.status >= 500 || error.status === 429);

export class HubApprover implements Approver {
  constructor(
    private readonly hub: HubClient,
    private readonly options: HubApproverOptions,
  ) {}

  async requestApproval(request: ApprovalRequest): Promise<ApprovalTicket> {
    const context = request.scope ? await this.context(request.sql, request.scope) : undefined;
    const approval = await this.hub.holdStatement({
      sessionId: this.options.sessionId,
      connection: this.options.connection(request.connectionId),
      // What approvers read: the statement, without the password it may set.
      sql: redactPasswords(request.sql),
      classes: request.classes,
      rule: request.rule,
      ...(this.options.timeoutSeconds ? { timeoutSeconds: this.options.timeoutSeconds } : {}),
      ...(context ? { context } : {}),
    });
    const stop = new AbortController();
    return {
      id: approval.id,
      decision: this.decision(approval, stop.signal),
      withdraw: (reason) => {
        stop.abort();
        this.hub.withdrawApproval(approval.id, reason).catch((error: Error) => {
          // Already decided or expired: nothing left to withdraw.
          if (!(error instanceof HubError && error.status === 409)) {
            this.options.log?.(`could not withdraw approval ${approval.id}: ${error.message}`);
          }
        });
      },
    };
  }

  /** What the approver is shown besides the SQL: the tables, and the rows the planner expects. */
  private async context(sql: string, scope: HeldStatementScope): Promise<HoldContext> {
    const estimate = this.options.estimateRows;
    return {
      tables: scope.tables.map(tableName),
      writes: scope.writes.map(tableName),
      estimatedRows: estimate ? await estimate(sql, scope).catch(() => null) : null,
    };
  }

  private async decision(first: Approval, signal: AbortSignal): Promise<ApprovalOutcome> {
    if (first.state !== 'pending') return outcomeOf(first);
    let failures = 0;
    while (!signal.aborted) {
      try {
        const answer = await this.hub.waitForApproval(
          first.id,
          { timeoutSeconds: this.options.pollSeconds ?? 60 },
          { signal },
        );
        failures = 0;
        if (answer && answer.state !== 'pending') return outcomeOf(answer);
      } catch (error) {
        if (signal.aborted) break;
        if (!retryable(error)) throw error;
        failures++;
        this.options.log?.(
          `waiting for approval ${first.id}: ${(error as Error).message}; trying again (attempt ${failures})`,
        );
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(failures, { maxMs: 10_000 })));
      }
    }
    // The engine stopped waiting (timeout, cancel); it has already resolved the hold itself.
    return { approved: false, comment: 'no longer waiting' };
  }
}
