import type { Approver, ApprovalOutcome, ApprovalTicket } from './approver.ts';
import { classify as defaultClassify, type Classification } from './classifier.ts';
import type {
  Decision,
  DecisionPoint,
  SessionHooks,
  SessionInfo,
  SessionPolicy,
  ResultMask,
  StatementContext,
} from './decision-point.ts';
import { CachedCatalog, type QueryRunner } from './masking/catalog.ts';
import { ResultMasking, type Describer } from './masking/result-masks.ts';
import { judgeStatement, stricter, type Judgement, type Policy } from './policy.ts';
import type { FieldDescription } from '../postgres/backend-messages.ts';

export interface PolicyEngineOptions {
  approver?: Approver;
  /** The tunnel's side connection to the upstream, for the catalog lookups masking needs. */
  sideConnection?: () => Promise<QueryRunner & Describer>;
  /** The classifier; the shared, cached one unless a test supplies another. */
  classify?: (sql: string) => Classification;
}

/** The policy engine at the decision point: one GuardedSession per client connection. */
export class PolicyEngine implements DecisionPoint {
  constructor(
    readonly policy: Policy,
    private readonly options: PolicyEngineOptions = {},
  ) {}

  openSession(info: SessionInfo): SessionPolicy {
    const { sideConnection } = this.options;
    const masking =
      sideConnection && (this.policy.mask.length > 0 || this.policy.detect.length > 0)
        ? new ResultMasking(this.policy, new CachedCatalog(sideConnection), sideConnection)
        : undefined;
    if (!masking && this.policy.mask.length > 0) {
      throw new Error('this policy masks columns, which needs a side connection to the upstream catalog');
    }
    return new GuardedSession(
      this.policy,
      info,
      this.options.classify ?? defaultClassify,
      this.options.approver,
      masking,
    );
  }
}

const deny = (rule: string, message: string, classes?: readonly string[], code?: string): Decision => ({
  action: 'deny',
  rule,
  message,
  ...(classes ? { classes } : {}),
  ...(code ? { code } : {}),
});

interface PendingHold {
  finish(outcome: ApprovalOutcome & { reason?: 'timeout' | 'cancelled' }): void;
}

class GuardedSession implements SessionPolicy {
  /** SQL-level PREPARE name → what was prepared, so EXECUTE name is judged by it. */
  private readonly prepared = new Map<string, Classification>();
  /** Extended-protocol statement name → its classification, made at Parse and used at Execute. */
  private readonly parsed = new Map<string, Classification>();
  private standardConformingStringsOff = false;
  /** Side-connection describes still under way, by statement name: an Execute waits for its own. */
  private readonly describing = new Map<string, Promise<unknown>>();
  private hold: PendingHold | undefined;
  private readonly observing: boolean;

  constructor(
    private readonly policy: Policy,
    private readonly info: SessionInfo,
    private readonly classify: (sql: string) => Classification,
    private readonly approver: Approver | undefined,
    private readonly masking: ResultMasking | undefined,
  ) {
    this.observing = policy.preset === 'observe';
  }

  describeResult(fields: FieldDescription[], sql: string, statementIndex: number) {
    return this.masking?.forDescription(fields, sql, statementIndex);
  }

  executeResult(statement: string): ResultMask | undefined {
    return this.masking?.forStatement(statement);
  }

  copyOutResult(sql: string, statementIndex: number) {
    return this.masking?.forCopyOut(sql, statementIndex);
  }

  private get hooks(): SessionHooks {
    return this.info.hooks;
  }

  onParameterStatus(name: string, value: string): void {
    if (name === 'standard_conforming_strings') this.standardConformingStringsOff = value !== 'on';
  }

  decide(context: StatementContext): Decision | Promise<Decision> {
    const { route } = context;
    if (this.standardConformingStringsOff) {
      // With backslash escapes live in ordinary strings the server and the parser could read the same
      // text differently, so nothing can be judged safely any more.
      return deny(
        'standard_conforming_strings',
        'the server reports standard_conforming_strings = off; every statement is refused until it is on',
      );
    }
    switch (route.kind) {
      case 'function-call':
        return this.enforce(
          { verdict: 'block', rule: 'function-call' },
          `FunctionCall messages (function OID ${route.functionOid}) bypass SQL and are not allowed; call the function in a statement`,
          `<FunctionCall ${route.functionOid}>`,
          [],
        );
      case 'parse': {
        const classification = this.classify(route.sql);
        this.parsed.set(route.statement, classification);
        if (classification.failure) return this.failClosed(classification);
        // Learn the result's shape now, on the side connection, so its rows stream masked at Execute.
        if (this.masking?.active) {
          this.describing.set(
            route.statement,
            this.masking.prepareStatement(route.statement, route.sql, route.parameterTypes),
          );
        }
        // Preparing runs nothing: the statement is judged when a portal of it is executed.
        return { action: 'allow', rule: 'parse' };
      }
      case 'execute': {
        const classification = this.parsed.get(route.statement) ?? this.classify(route.sql);
        const decision = this.judge(classification, route.sql);
        const describing = this.describing.get(route.statement);
        if (!describing) return decision;
        this.describing.delete(route.statement);
        return describing.then(
          () => decision,
          () => decision,
        );
      }
      case 'query':
        return this.judge(this.classify(route.sql), route.sql);
    }
  }

  cancelHold(): boolean {
    if (!this.hold) return false;
    this.hold.finish({ approved: false, reason: 'cancelled' });
    return true;
  }

  close(): void {
    this.hold?.finish({ approved: false, reason: 'cancelled' });
  }

  private failClosed(classification: Classification): Decision {
    return deny('fail-closed', classification.failure!, [...classification.classes]);
  }

  private judge(classification: Classification, sql: string): Decision | Promise<Decision> {
    if (classification.failure) return this.failClosed(classification);
    // A cheap look for the word first: most statements are not COPY, and the output check is a backstop.
    const copyRefusal = /copy/i.test(sql) ? this.masking?.copyRefusal(sql) : undefined;
    if (copyRefusal) return deny('masking', copyRefusal, [...classification.classes]);
    let judgement: Judgement = { verdict: 'allow', rule: `preset ${this.policy.preset}` };
    const classes = new Set<string>(classification.classes);
    for (const statement of classification.statements) {
      judgement = stricter(judgement, judgeStatement(this.policy, statement));
    }
    for (const name of classification.executes) {
      const prepared = this.prepared.get(name);
      if (!prepared) {
        return deny('fail-closed', `EXECUTE ${name}: no statement of that name was prepared in this session`);
      }
      prepared.classes.forEach((c) => classes.add(c));
      for (const statement of prepared.statements) {
        judgement = stricter(judgement, judgeStatement(this.policy, statement));
      }
    }
    const reasons = classification.reasons.length > 0 ? ` (${classification.reasons.join('; ')})` : '';
    const message =
      judgement.verdict === 'block'
        ? `${judgement.class ?? 'this'} statements are not allowed here${reasons}`
        : `${judgement.class ?? 'this'} statements need approval${reasons}`;
    const decision = this.enforce(judgement, message, sql, [...classes]);
    // PREPARE is remembered once it may run, so that a later EXECUTE is judged by what it prepared.
    const remember = (): void => {
      for (const { name, classification: prepared } of classification.prepared)
        this.prepared.set(name, prepared);
    };
    if (decision instanceof Promise) {
      return decision.then((settled) => {
        if (settled.action === 'allow') remember();
        return settled;
      });
    }
    if (decision.action === 'allow') remember();
    return decision;
  }

  private enforce(
    judgement: Judgement,
    message: string,
    sql: string,
    classes: readonly string[],
  ): Decision | Promise<Decision> {
    if (judgement.verdict === 'allow') return { action: 'allow', rule: judgement.rule, classes };
    if (this.observing) {
      return {
        action: 'allow',
        rule: 'observe',
        classes,
        wouldHave: judgement.verdict === 'block' ? 'deny' : 'hold',
      };
    }
    if (judgement.verdict === 'block') return deny(judgement.rule, message, classes);
    if (!this.approver) {
      return deny(
        judgement.rule,
        `${message}, and no approver is configured (connect through the hub to request approval)`,
        classes,
      );
    }
    return this.holdForApproval(this.approver, judgement, sql, classes);
  }

  private async holdForApproval(
    approver: Approver,
    judgement: Judgement,
    sql: string,
    classes: readonly string[],
  ): Promise<Decision> {
    let ticket: ApprovalTicket;
    try {
      ticket = await approver.requestApproval({
        sessionId: this.info.sessionId,
        sql,
        classes,
        rule: judgement.rule,
      });
    } catch (error) {
      return deny(judgement.rule, `approval could not be requested: ${(error as Error).message}`, classes);
    }
    this.hooks.notice(`waiting for approval: request ${ticket.id}`);
    this.hooks.record({ type: 'hold', request: ticket.id, sql, rule: judgement.rule });
    const outcome = await new Promise<ApprovalOutcome & { reason?: 'timeout' | 'cancelled' }>((resolve) => {
      let settled = false;
      const finish = (result: ApprovalOutcome & { reason?: 'timeout' | 'cancelled' }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.hold = undefined;
        if (result.reason)
          ticket.withdraw(result.reason === 'timeout' ? 'timed out' : 'cancelled by the client');
        resolve(result);
      };
      const timer = setTimeout(
        () => finish({ approved: false, reason: 'timeout' }),
        this.policy.holdTimeoutMs,
      );
      this.hold = { finish };
      ticket.decision.then(finish, (error: Error) => finish({ approved: false, comment: error.message }));
    });
    this.hooks.record({
      type: 'hold.resolved',
      request: ticket.id,
      outcome: outcome.reason ?? (outcome.approved ? 'approved' : 'denied'),
      ...(outcome.by ? { by: outcome.by } : {}),
      ...(outcome.comment ? { comment: outcome.comment } : {}),
    });
    if (outcome.approved) return { action: 'allow', rule: `approved request ${ticket.id}`, classes };
    if (outcome.reason === 'timeout') {
      return deny(judgement.rule, `approval request ${ticket.id} was not decided in time`, classes, '57014');
    }
    if (outcome.reason === 'cancelled') {
      return deny(
        judgement.rule,
        `canceling statement due to user request (approval request ${ticket.id})`,
        classes,
        '57014',
      );
    }
    const by = outcome.by ? ` by ${outcome.by}` : '';
    const comment = outcome.comment ? `: ${outcome.comment}` : '';
    return deny(judgement.rule, `approval request ${ticket.id} was denied${by}${comment}`, classes);
  }
}
