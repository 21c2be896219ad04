import type { Approver, ApprovalOutcome, ApprovalTicket, HeldStatementScope } from './approver.ts';
import {
  classify as defaultClassify,
  createClassifier,
  type Classification,
  type ClassifierOptions,
} from './classifier.ts';
import type {
  Decision,
  DecisionPoint,
  SessionHooks,
  SessionInfo,
  SessionPolicy,
  ResultPlanner,
  MaybePromise,
  StatementContext,
} from './decision-point.ts';
import { AllowedOutright } from './allowed-outright.ts';
import { RecentlyUsed } from './recently-used.ts';
import { mayChangeCatalog } from './catalog-changes.ts';
import { ScopeCollector, textParameters } from './held-statement-scope.ts';
import { CachedCatalog, type QueryRunner } from './masking/catalog.ts';
import { ResultMasking, type Describer } from './masking/result-masks.ts';
import { FreshRoutineNames } from './masking/routine-names.ts';
import { judgeStatement, stricter, type Judgement, type Policy } from './policy.ts';
import {
  readRoutineCatalog,
  ROUTINE_FINGERPRINT_QUERY,
  type RoutineTrust,
} from './routine-catalog-reader.ts';
import { judgeStartupSetting } from './startup-settings.ts';
import {
  InspectionFailed,
  OFF_THREAD_MIN_LENGTH,
  sharedParseWorkerPool,
  type ParseWorkerPool,
} from './parse-worker-pool.ts';
import type { StartupSetting } from '../postgres/wire/startup-options.ts';
import type { TransactionStatus } from '../postgres/wire/session-status.ts';

export interface PolicyEngineOptions {
  approver?: Approver;
  /** The tunnel's side connection to the upstream, for the catalog lookups masking needs. */
  sideConnection?: () => Promise<QueryRunner & Describer>;
  /** The classifier; the shared, cached one unless a test supplies another. */
  classify?: (sql: string) => Classification;
  /**
   * Worker threads for statements of OFF_THREAD_MIN_LENGTH characters or more: the process's shared
   * pool unless given; null classifies them on the event loop (a test's own classifier always does).
   */
  parsePool?: ParseWorkerPool | null;
  /** How stale the database's own definitions may get (CATALOG_TTL_MS unless a test needs another). */
  catalogTtlMs?: number;
}

/** The policy engine at the decision point: one GuardedSession per client connection. */
export class PolicyEngine implements DecisionPoint {
  /** Classifiers by a fingerprint of the database's functions, operators and casts, each with its own cache. */
  private readonly classifiers = new Map<string, Classify>();
  private fresh: { readAt: number; classify: Classify } | undefined;
  private reading: Promise<Classify> | undefined;
  /** Bumped by forgetCatalog(): a read begun before it does not become the fresh classifier. */
  private catalogGeneration = 0;
  /** What lineage may trace through, read once for all sessions. */
  private routineNames: FreshRoutineNames | undefined;
  /** Relations, views and types, read once for all sessions, and the masking plans made of them. */
  private relations: CachedCatalog | undefined;
  private masking: ResultMasking | undefined;
  private readonly allowed: AllowedOutright;
  private readonly pool: ParseWorkerPool | undefined;
  /** The classifier when the database's own definitions are not read: the built-ins only. */
  private readonly builtinsOnly: Classify;
  private readonly catalogTtlMs: number;

  constructor(
    readonly policy: Policy,
    private readonly options: PolicyEngineOptions = {},
  ) {
    this.allowed = new AllowedOutright(policy);
    this.pool = options.parsePool === null ? undefined : (options.parsePool ?? sharedParseWorkerPool());
    this.builtinsOnly = this.offThread(defaultClassify, BUILTINS_ONLY);
    this.catalogTtlMs = options.catalogTtlMs ?? CATALOG_TTL_MS;
  }

  openSession(info: SessionInfo): SessionPolicy {
    const masking = this.resultMasking();
    if (!masking && this.policy.mask.length > 0) {
      throw new Error('this policy masks columns, which needs a side connection to the upstream catalog');
    }
    return new GuardedSession(
      this.policy,
      info,
      () => this.currentClassifier(),
      this.options.approver,
      masking,
      this.allowed,
      () => this.forgetCatalog(),
    );
  }

  /** The target's masking, shared by its sessions with what it read of the catalog; none without rules. */
  private resultMasking(): ResultMasking | undefined {
    const { sideConnection } = this.options;
    if (!sideConnection || (this.policy.mask.length === 0 && this.policy.detect.length === 0))
      return undefined;
    return (this.masking ??= new ResultMasking(
      this.policy,
      (this.relations = new CachedCatalog(sideConnection)),
      sideConnection,
      (sql) => this.classifyNow(sql),
      (this.routineNames ??= new FreshRoutineNames(sideConnection, this.catalogTtlMs)),
    ));
  }

  /**
   * Reads the database's catalog again before the next statement is judged or result masked, rather
   * than within CATALOG_TTL_MS: for whoever knows the catalog just changed — a session of this target
   * that ran a statement which may have changed it, or a caller that changed it elsewhere.
   */
  forgetCatalog(): void {
    this.catalogGeneration++;
    this.fresh = undefined;
    this.reading = undefined;
    this.routineNames?.forget();
    this.relations?.forget();
  }

  /** Classifies with the freshest classifier at hand, without waiting for a catalog read. */
  private classifyNow(sql: string): Classification {
    const current = this.currentClassifier();
    return (current instanceof Promise ? (this.fresh?.classify ?? this.builtinsOnly) : current)(sql);
  }

  /**
   * The classifier must know what the database defines beyond the built-ins — functions, operators,
   * casts, domains, and which extension owns each (a user's btrim(varchar) wins over the built-in by
   * a better type match; citext's = is a reviewed read) — so the catalog is read, and its fingerprint
   * read again once it is older than CATALOG_TTL_MS.
   */
  private currentClassifier(): MaybePromise<Classify> {
    if (this.options.classify) return this.options.classify;
    if (!this.options.sideConnection) return this.builtinsOnly;
    const age = this.fresh ? Date.now() - this.fresh.readAt : Infinity;
    if (age < this.catalogTtlMs) {
      // Read again ahead of time while statements flow, so that none waits when the TTL runs out; the
      // new read counts from when it started, so no statement is judged by a catalog older than the TTL.
      if (age >= this.catalogTtlMs * REFRESH_AHEAD) void this.startReading().catch(() => {});
      return this.fresh!.classify;
    }
    return this.startReading();
  }

  private startReading(): Promise<Classify> {
    if (this.reading) return this.reading;
    const reading = this.readCatalog().finally(() => {
      if (this.reading === reading) this.reading = undefined;
    });
    this.reading = reading;
    return reading;
  }

  private async readCatalog(): Promise<Classify> {
    const readAt = Date.now();
    const generation = this.catalogGeneration;
    const side = await this.options.sideConnection!();
    const fingerprint = (await side.query(ROUTINE_FINGERPRINT_QUERY))[0]?.[0] ?? '';
    let classify = this.classifiers.get(fingerprint);
    if (!classify) {
      const routines = await readRoutineCatalog(side, this.trust);
      if (this.classifiers.size >= 16) this.classifiers.delete(this.classifiers.keys().next().value!);
      const created = createClassifier({ routines });
      classify = this.offThread((sql) => created.classify(sql), { routines });
      this.classifiers.set(fingerprint, classify);
    }
    if (generation === this.catalogGeneration) this.fresh = { readAt, classify };
    return classify;
  }

  /**
   * `classify`, able to classify large texts in the pool's workers with the same options. It remembers
   * the last few it had classified there: masking asks about each statement's effects again as it goes
   * upstream, and would otherwise classify the large text once more, on the event loop.
   */
  private offThread(classify: (sql: string) => Classification, options: ClassifierOptions): Classify {
    if (!this.pool) return classify;
    const inWorker = this.pool.classifierFor(options);
    const recent = new RecentlyUsed<string, Classification>(RECENT_LARGE_TEXTS);
    return Object.assign(
      (sql: string) => (sql.length >= OFF_THREAD_MIN_LENGTH && recent.get(sql)) || classify(sql),
      {
        offThread: async (sql: string) => {
          const classification = await inWorker(sql);
          recent.set(sql, classification);
          return classification;
        },
      },
    );
  }

  private get trust(): RoutineTrust {
    return {
      extensions: (this.policy.trustedExtensions ?? []).map((e) => e.name),
      functions: this.policy.trustedFunctions ?? [],
    };
  }
}

/** Large texts a classifier keeps the worker's classification of, for masking's second look. */
const RECENT_LARGE_TEXTS = 4;

/** The options of the shared default classifier, one configuration for every engine's workers. */
const BUILTINS_ONLY: ClassifierOptions = Object.freeze({});

type Classify = ((sql: string) => Classification) & {
  /** Classifies in a worker thread, for texts too large to classify on the event loop. */
  offThread?: (sql: string) => Promise<Classification>;
};

/**
 * How stale the list of user-defined names may get. A shadowing function created outside the tunnel
 * is seen within this window; reading the catalog before every statement would cost a round trip each.
 */
export const CATALOG_TTL_MS = 1000;
/** How far into its TTL the catalog read may get before the next one starts in the background. */
const REFRESH_AHEAD = 0.7;

const deny = (rule: string, message: string, classes?: readonly string[], code?: string): Decision => ({
  action: 'deny',
  rule,
  message,
  ...(classes ? { classes } : {}),
  ...(code ? { code } : {}),
});

/** What judge() answers at Parse and Bind for what it does not block, and what preflight() makes of it. */
const ALLOWED_AT_PREFLIGHT: Decision = Object.freeze({ action: 'allow' });
const PREFLIGHT_PASSED: Decision = Object.freeze({ action: 'allow', rule: 'preflight' });

interface PendingHold {
  finish(outcome: ApprovalOutcome & { reason?: 'timeout' | 'cancelled' }): void;
}

class GuardedSession implements SessionPolicy {
  /**
   * Prepared statements by name — SQL PREPARE and protocol Parse share one namespace on the server.
   * A name may carry several classifications: re-preparing an existing name fails on the server and
   * keeps the old statement, and a Close or DEALLOCATE may be skipped or refused, so a name is judged
   * by everything it has been in this session.
   */
  private readonly statements = new Map<string, Classification[]>();
  /** Named protocol portals: the statements each may have been bound from, since SQL FETCH can run them. */
  private readonly portals = new Map<string, string[]>();
  private standardConformingStringsOff = false;
  private hold: PendingHold | undefined;
  private readonly observing: boolean;
  /** A statement that may have changed the catalog was let run, and its transaction has not ended. */
  private catalogMayHaveChanged = false;
  constructor(
    private readonly policy: Policy,
    private readonly info: SessionInfo,
    private readonly classifier: () => MaybePromise<Classify>,
    private readonly approver: Approver | undefined,
    private readonly masking: ResultMasking | undefined,
    private readonly allowed: AllowedOutright,
    /** Every session of the target reads the catalog again. */
    private readonly catalogChanged: () => void,
  ) {
    this.observing = policy.preset === 'observe';
  }

  get results(): ResultPlanner | undefined {
    return this.masking;
  }

  private get hooks(): SessionHooks {
    return this.info.hooks;
  }

  startupSetting(setting: StartupSetting): Decision {
    return judgeStartupSetting(this.policy, setting);
  }

  onParameterStatus(name: string, value: string): void {
    if (name === 'standard_conforming_strings') this.standardConformingStringsOff = value !== 'on';
  }

  /**
   * After a statement that may have changed the catalog the target's catalog is forgotten at every
   * ReadyForQuery until the transaction ends: the catalog connection sees the change only once it is
   * committed, and a read in between would keep the old facts for a TTL.
   */
  onReadyForQuery(status: TransactionStatus): void {
    if (!this.catalogMayHaveChanged) return;
    this.catalogChanged();
    if (status === 'I') this.catalogMayHaveChanged = false;
  }

  decide(context: StatementContext): Decision | Promise<Decision> {
    const classifier = this.classifier();
    if (classifier instanceof Promise) {
      // Statements wait for the catalog read that brings the classifier up to date.
      return classifier.then(
        (classify) => this.decideClassified(classify, context),
        (error: Error) => deny('fail-closed', `the database catalog could not be read: ${error.message}`),
      );
    }
    return this.decideClassified(classifier, context);
  }

  /** A large text is classified in a worker first; decideWith then finds its classification ready. */
  private decideClassified(classify: Classify, context: StatementContext): Decision | Promise<Decision> {
    const sql = classify.offThread && this.largeTextToClassify(context.route);
    if (sql === undefined) return this.decideWith(classify, context);
    return classify.offThread!(sql).then(
      (classification) =>
        this.decideWith((text) => (text === sql ? classification : classify(text)), context),
      (error: unknown) =>
        error instanceof InspectionFailed
          ? deny('fail-closed', error.message, undefined, error.code)
          : deny('fail-closed', `the statement could not be inspected: ${String(error)}`),
    );
  }

  /** The text decideWith would classify, when it is large; a prepared statement was classified at Parse. */
  private largeTextToClassify(route: StatementContext['route']): string | undefined {
    switch (route.kind) {
      case 'query':
      case 'parse':
        return route.sql.length >= OFF_THREAD_MIN_LENGTH ? route.sql : undefined;
      case 'bind':
      case 'execute':
        return !this.statements.has(route.statement) && route.sql.length >= OFF_THREAD_MIN_LENGTH
          ? route.sql
          : undefined;
      default:
        return undefined;
    }
  }

  private decideWith(classify: Classify, context: StatementContext): Decision | Promise<Decision> {
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
        const classification = classify(route.sql);
        this.addStatement(route.statement, classification, context.startsBatch);
        const failed = classification.failure ? this.failClosed(classification) : undefined;
        if (failed?.action === 'deny') return failed;
        return this.preflight(this.statements.get(route.statement)!, route.sql);
      }
      case 'bind': {
        if (route.portal !== '')
          this.portals.set(route.portal, [...(this.portals.get(route.portal) ?? []), route.statement]);
        // Planning at Bind may already run (immutable) functions: what is blocked stops here.
        return this.preflight(this.statementClassifications(route.statement, route.sql, classify), route.sql);
      }
      case 'close':
        // Forgetting nothing: the server may skip this Close (an earlier error in the batch), and a
        // name judged by everything it has been is only stricter.
        return { action: 'allow', rule: 'close' };
      case 'execute': {
        const classifications = this.statementClassifications(route.statement, route.sql, classify);
        return this.watchCatalog(this.judge(classifications, route.sql, false, route), classifications);
      }
      case 'query': {
        const classification = classify(route.sql);
        return this.watchCatalog(this.judge([classification], route.sql), [classification]);
      }
    }
  }

  /** Notes a statement let run that may change the catalog (or runs prepared ones that may); see onReadyForQuery. */
  private watchCatalog(
    decision: Decision | Promise<Decision>,
    classifications: readonly Classification[],
  ): Decision | Promise<Decision> {
    if (this.catalogMayHaveChanged || !this.mayChangeCatalog(classifications)) return decision;
    if (decision instanceof Promise) {
      return decision.then((settled) => {
        if (settled.action === 'allow') this.catalogMayHaveChanged = true;
        return settled;
      });
    }
    if (decision.action === 'allow') this.catalogMayHaveChanged = true;
    return decision;
  }

  private mayChangeCatalog(classifications: readonly Classification[]): boolean {
    for (const classification of classifications) {
      if (mayChangeCatalog(classification)) return true;
      for (const name of classification.executes) {
        for (const prepared of this.statements.get(name) ?? []) if (mayChangeCatalog(prepared)) return true;
      }
    }
    return false;
  }

  /**
   * The unnamed statement is replaced by a Parse the server is sure to process (the first of a
   * batch: the server drops the old one before parsing); otherwise a name keeps everything it may
   * be, because the server may have skipped the message or refused a duplicate name.
   */
  private addStatement(name: string, classification: Classification, replaces = false): void {
    const known = name === '' && replaces ? [] : (this.statements.get(name) ?? []);
    if (!known.includes(classification)) this.statements.set(name, [...known, classification]);
  }

  /** What a protocol statement may be; one this session never saw is unknown and runs nothing. */
  private statementClassifications(
    name: string,
    sql: string,
    classify: (sql: string) => Classification,
  ): Classification[] {
    return this.statements.get(name) ?? [classify(sql || `EXECUTE ${name}`)];
  }

  /** At Parse and Bind only what would be blocked outright is refused; the rest is judged at Execute. */
  private preflight(classifications: Classification[], sql: string): Decision {
    if (this.observing) return { action: 'allow', rule: 'observe' };
    const decision = this.judge(classifications, sql, true);
    return decision instanceof Promise || decision.action === 'allow' ? PREFLIGHT_PASSED : decision;
  }

  cancelHold(): boolean {
    if (!this.hold) return false;
    this.hold.finish({ approved: false, reason: 'cancelled' });
    return true;
  }

  close(): void {
    this.hold?.finish({ approved: false, reason: 'cancelled' });
    // The client may have left before the server's answer to what changed the catalog came back.
    if (this.catalogMayHaveChanged) this.catalogChanged();
  }

  /**
   * What cannot be classified is denied. A text that does not parse is answered as the server would
   * answer it (42601 at its position); under `observe` it goes to the server, which says so itself.
   */
  private failClosed(classification: Classification): Decision {
    const classes = [...classification.classes];
    const syntax = classification.syntaxError;
    if (syntax && this.observing) return { action: 'allow', rule: 'observe', classes, wouldHave: 'deny' };
    if (syntax) {
      return { action: 'deny', rule: 'fail-closed', message: syntax.message, classes, syntaxError: syntax };
    }
    return deny('fail-closed', classification.failure!, classes);
  }

  private judge(
    classifications: readonly Classification[],
    sql: string,
    preflight = false,
    execute?: Extract<StatementContext['route'], { kind: 'execute' }>,
  ): Decision | Promise<Decision> {
    const outright = classifications.length === 1 ? this.allowed.decisionFor(classifications[0]!) : undefined;
    if (outright !== undefined) {
      if (preflight) return ALLOWED_AT_PREFLIGHT;
      const copyRefusal = this.copyRefusal(sql);
      return copyRefusal ? deny('masking', copyRefusal, outright.classes) : outright;
    }
    // The parameters as text only for a statement judged in full: an approver may need to see them.
    const scope = new ScopeCollector(execute ? textParameters(execute) : undefined);
    const judged = this.judgeAll(classifications, scope);
    if (!('judgement' in judged)) return judged;
    const { judgement, reasons } = judged;
    const classes = [...judged.classes];
    const because = reasons.length > 0 ? ` (${[...new Set(reasons)].join('; ')})` : '';
    const message =
      judgement.verdict === 'block'
        ? `${judgement.class ?? 'this'} statements are not allowed here${because}`
        : `${judgement.class ?? 'this'} statements need approval${because}`;
    if (preflight) {
      return judgement.verdict === 'block' ? deny(judgement.rule, message, classes) : { action: 'allow' };
    }
    const copyRefusal = this.copyRefusal(sql);
    if (copyRefusal) return deny('masking', copyRefusal, classes);
    const decision = this.enforce(judgement, message, sql, classes, scope.scope());
    if (decision instanceof Promise) {
      return decision.then((settled) => {
        if (settled.action === 'allow') this.rememberPrepared(classifications);
        return settled;
      });
    }
    if (decision.action === 'allow') this.rememberPrepared(classifications);
    return decision;
  }

  /**
   * The strictest verdict over the statements, the ones an EXECUTE runs and the ones a FETCH of a
   * protocol portal runs, with their classes and reasons; a denial when one cannot be judged.
   */
  private judgeAll(
    classifications: readonly Classification[],
    scope: ScopeCollector,
  ): { judgement: Judgement; classes: Set<string>; reasons: string[] } | Decision {
    let judgement: Judgement = { verdict: 'allow', rule: `preset ${this.policy.preset}` };
    const classes = new Set<string>();
    const reasons: string[] = [];
    const seen = new Set<Classification>();
    const pending = [...classifications];
    while (pending.length > 0) {
      const classification = pending.shift()!;
      if (seen.has(classification)) continue;
      seen.add(classification);
      if (classification.failure) return this.failClosed(classification);
      classification.classes.forEach((c) => classes.add(c));
      reasons.push(...classification.reasons);
      scope.add(classification);
      for (const statement of classification.statements) {
        judgement = stricter(judgement, judgeStatement(this.policy, statement));
      }
      for (const name of classification.executes) {
        const prepared = this.statements.get(name);
        if (!prepared) {
          return deny(
            'fail-closed',
            `EXECUTE ${name}: no statement of that name was prepared in this session`,
          );
        }
        pending.push(...prepared);
      }
      // FETCH/MOVE of a protocol portal runs a statement bound but never executed here.
      for (const cursor of classification.cursors) {
        for (const statement of this.portals.get(cursor) ?? []) {
          pending.push(...(this.statements.get(statement) ?? []));
        }
      }
    }
    return { judgement, classes, reasons };
  }

  /** PREPARE is remembered once it may run, so that a later EXECUTE is judged by what it prepared. */
  private rememberPrepared(classifications: readonly Classification[]): void {
    for (const classification of classifications) {
      for (const { name, classification: prepared } of classification.prepared) {
        this.addStatement(name, prepared);
      }
    }
  }

  /** Why masking cannot let this COPY through, if it is one that cannot be masked. */
  private copyRefusal(sql: string): string | undefined {
    // A cheap look for the word first: most statements are not COPY, and the output check is a backstop.
    return /copy/i.test(sql) ? this.masking?.copyRefusal(sql) : undefined;
  }

  private enforce(
    judgement: Judgement,
    message: string,
    sql: string,
    classes: readonly string[],
    scope?: HeldStatementScope,
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
    return this.holdForApproval(this.approver, judgement, sql, classes, scope);
  }

  private async holdForApproval(
    approver: Approver,
    judgement: Judgement,
    sql: string,
    classes: readonly string[],
    scope: HeldStatementScope | undefined,
  ): Promise<Decision> {
    let ticket: ApprovalTicket;
    try {
      ticket = await approver.requestApproval({
        connectionId: this.info.connectionId,
        sql,
        classes,
        rule: judgement.rule,
        ...(scope ? { scope } : {}),
      });
    } catch (error) {
      return deny(judgement.rule, `approval could not be requested: ${(error as Error).message}`, classes);
    }
    this.hooks.notice(`waiting for approval: request ${ticket.id}`);
    this.hooks.record({ type: 'hold', request: ticket.id, sql, rule: judgement.rule });
    const outcome = await this.awaitDecision(ticket);
    this.hooks.record({
      type: 'hold.resolved',
      request: ticket.id,
      outcome: outcome.reason ?? (outcome.approved ? 'approved' : 'denied'),
      ...(outcome.by ? { by: outcome.by } : {}),
      ...(outcome.comment ? { comment: outcome.comment } : {}),
    });
    return decisionOn(ticket.id, outcome, judgement, classes);
  }

  /** The approver's decision, or the hold's timeout, or the client's cancel, whichever comes first. */
  private awaitDecision(ticket: ApprovalTicket): Promise<HoldOutcome> {
    return new Promise<HoldOutcome>((resolve) => {
      let settled = false;
      const finish = (result: HoldOutcome): void => {
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
  }
}

type HoldOutcome = ApprovalOutcome & { reason?: 'timeout' | 'cancelled' };

/** What the statement held under approval request TICKET_ID gets, once its hold is over. */
function decisionOn(
  ticketId: string,
  outcome: HoldOutcome,
  judgement: Judgement,
  classes: readonly string[],
): Decision {
  if (outcome.approved) return { action: 'allow', rule: `approved request ${ticketId}`, classes };
  if (outcome.reason === 'timeout') {
    return deny(judgement.rule, `approval request ${ticketId} was not decided in time`, classes, '57014');
  }
  if (outcome.reason === 'cancelled') {
    return deny(
      judgement.rule,
      `canceling statement due to user request (approval request ${ticketId})`,
      classes,
      '57014',
    );
  }
  const by = outcome.by ? ` by ${outcome.by}` : '';
  const comment = outcome.comment ? `: ${outcome.comment}` : '';
  return deny(judgement.rule, `approval request ${ticketId} was denied${by}${comment}`, classes);
}
