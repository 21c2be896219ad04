/**
 * The SSH decision point: whether an exec command line or an interactive shell may start, holding it
 * for an approver through the hub when the policy says so — exactly as a held SQL statement is held. The
 * gate records every decision; the channel obeys it.
 */
import type { ApprovalOutcome, ApprovalTicket, Approver } from '../policy/approver.ts';
import type { Policy } from '../policy/policy.ts';
import { classifyExec, type ExecClassification } from '../policy/shell/exec-classifier.ts';
import { judgeExec, type ExecJudgement } from '../policy/ssh-policy.ts';
import type { SessionEvent } from '../recorder/recording-point.ts';

export type GateOutcome = { allowed: true; rule: string } | { allowed: false; rule: string; message: string };

export interface SshGateOptions {
  /**
   * The local connection held commands come from: the approver asks the hub under the number its
   * upstream sign-in was signed for, and the hub takes holds only from connections it signed in.
   */
  connectionId: string;
  targetId: string;
  policy: Policy;
  approver: Approver | undefined;
  record(event: SessionEvent): void;
}

/** How a channel talks to the person while a command waits: one line on their stderr. */
export interface Waiting {
  tell(line: string): void;
  /** Aborts when the client gives up (closes the channel, disconnects). */
  signal: AbortSignal;
}

type HoldEnd = ApprovalOutcome & { reason?: 'timeout' | 'cancelled' };

export class SshGate {
  constructor(private readonly options: SshGateOptions) {}

  private get observing(): boolean {
    return this.options.policy.preset === 'observe';
  }

  async exec(channel: number, command: string, waiting: Waiting): Promise<GateOutcome> {
    const classification = classifyExec(command);
    const judgement = judgeExec(this.options.policy.ssh, this.options.policy.preset, classification);
    const base = {
      type: 'ssh.exec' as const,
      channel,
      command,
      classes: [...classification.classes],
      commands: classification.commands.map((c) => ({ name: c.name, classes: c.classes })),
    };
    const message = describe(judgement, classification);
    const outcome = await this.enforce(judgement, message, command, base.classes, waiting);
    this.options.record({
      ...base,
      decision: outcome.allowed ? 'allow' : 'deny',
      rule: outcome.rule,
      ...(outcome.allowed ? {} : { reason: outcome.message }),
      ...(this.observing && judgement.verdict !== 'allow'
        ? { wouldHave: judgement.verdict === 'block' ? ('deny' as const) : ('hold' as const) }
        : {}),
    });
    return outcome;
  }

  async shell(channel: number, waiting: Waiting): Promise<GateOutcome> {
    const verdict = this.options.policy.ssh.shell;
    const judgement: ExecJudgement = {
      verdict: verdict === 'deny' ? 'block' : verdict,
      rule: `${this.options.policy.name}: ssh.shell ${verdict}`,
    };
    const message =
      verdict === 'deny'
        ? `interactive shells are not allowed on ${this.options.targetId}; run commands with \`ssh ${this.options.targetId} COMMAND\``
        : `an interactive shell on ${this.options.targetId} needs approval`;
    const outcome = await this.enforce(judgement, message, '(interactive shell)', ['shell'], waiting);
    this.options.record({
      type: 'ssh.shell',
      channel,
      decision: outcome.allowed ? 'allow' : 'deny',
      rule: outcome.rule,
      ...(outcome.allowed ? {} : { reason: outcome.message }),
      ...(this.observing && verdict !== 'allow'
        ? { wouldHave: verdict === 'deny' ? ('deny' as const) : ('hold' as const) }
        : {}),
    });
    return outcome;
  }

  /** What exec rules would say of a line typed in an interactive shell (recorded, never enforced). */
  judgeLine(line: string): { judgement: ExecJudgement; classification: ExecClassification } {
    const classification = classifyExec(line);
    return {
      judgement: judgeExec(this.options.policy.ssh, this.options.policy.preset, classification),
      classification,
    };
  }

  private async enforce(
    judgement: ExecJudgement,
    message: string,
    command: string,
    classes: string[],
    waiting: Waiting,
  ): Promise<GateOutcome> {
    if (judgement.verdict === 'allow') return { allowed: true, rule: judgement.rule };
    if (this.observing) return { allowed: true, rule: 'observe' };
    if (judgement.verdict === 'block') return { allowed: false, rule: judgement.rule, message };
    const approver = this.options.approver;
    if (!approver) {
      return {
        allowed: false,
        rule: judgement.rule,
        message: `${message}, and no approver is configured (connect through the hub to request approval)`,
      };
    }
    return this.hold(approver, judgement, command, classes, waiting);
  }

  private async hold(
    approver: Approver,
    judgement: ExecJudgement,
    command: string,
    classes: string[],
    waiting: Waiting,
  ): Promise<GateOutcome> {
    let ticket: ApprovalTicket;
    try {
      ticket = await approver.requestApproval({
        connectionId: this.options.connectionId,
        sql: command,
        classes,
        rule: judgement.rule,
      });
    } catch (error) {
      return {
        allowed: false,
        rule: judgement.rule,
        message: `approval could not be requested: ${(error as Error).message}`,
      };
    }
    waiting.tell(`waiting for approval: request ${ticket.id}`);
    this.options.record({ type: 'hold', request: ticket.id, sql: command, rule: judgement.rule });
    const end = await this.waitFor(ticket, waiting.signal);
    this.options.record({
      type: 'hold.resolved',
      request: ticket.id,
      outcome: end.reason ?? (end.approved ? 'approved' : 'denied'),
      ...(end.by ? { by: end.by } : {}),
      ...(end.comment ? { comment: end.comment } : {}),
    });
    if (end.approved) return { allowed: true, rule: `approved request ${ticket.id}` };
    if (end.reason === 'timeout') {
      return {
        allowed: false,
        rule: judgement.rule,
        message: `approval request ${ticket.id} was not decided in time`,
      };
    }
    if (end.reason === 'cancelled') {
      return { allowed: false, rule: judgement.rule, message: `approval request ${ticket.id} was cancelled` };
    }
    const by = end.by ? ` by ${end.by}` : '';
    return {
      allowed: false,
      rule: judgement.rule,
      message: `approval request ${ticket.id} was denied${by}${end.comment ? `: ${end.comment}` : ''}`,
    };
  }

  private waitFor(ticket: ApprovalTicket, signal: AbortSignal): Promise<HoldEnd> {
    return new Promise<HoldEnd>((resolve) => {
      let settled = false;
      const finish = (end: HoldEnd): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (end.reason) ticket.withdraw(end.reason === 'timeout' ? 'timed out' : 'the client gave up');
        resolve(end);
      };
      const onAbort = (): void => finish({ approved: false, reason: 'cancelled' });
      const timer = setTimeout(
        () => finish({ approved: false, reason: 'timeout' }),
        this.options.policy.holdTimeoutMs,
      );
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort);
      ticket.decision.then(finish, (error: Error) => finish({ approved: false, comment: error.message }));
    });
  }
}

function describe(judgement: ExecJudgement, classification: ExecClassification): string {
  if (classification.failure !== undefined) {
    return `the command could not be parsed (${classification.failure}); the policy ${
      judgement.verdict === 'block' ? 'refuses' : 'holds'
    } what it cannot read`;
  }
  const reasons = classification.reasons.length > 0 ? ` (${classification.reasons.join('; ')})` : '';
  const what = `${judgement.class ?? 'this'} command${judgement.command ? ` ${judgement.command}` : ''}`;
  return judgement.verdict === 'block'
    ? `${what} is not allowed here${reasons} [${judgement.rule}]`
    : `${what} needs approval${reasons} [${judgement.rule}]`;
}
