/**
 * The protocol state of one proxied connection once both sides are signed in — a pure state machine,
 * fed with whole frames, that needs no sockets: what each client message is (a statement to decide, a
 * message to pass, one to discard), what a decision turns into upstream, and what each server message
 * becomes on its way to the client (a denial's marked error swapped for the tunnel's own, a result
 * masked by its plan). The session (session.ts) is the socket shell around it: flow control, the wait
 * for asynchronous decisions and masking plans, the end of the connection.
 */
import type { Decision, ResultPlanner, StatementRoute } from '../policy/decision-point.ts';
import type { SessionEvent } from '../recorder/recording-point.ts';
import { readNoticeFields } from './wire/notices.ts';
import { Denials } from './denials.ts';
import { ProtocolViolation } from './wire/reader.ts';
import { readBind, readExecute, readParse, readQuery, readTarget } from './wire/queries.ts';
import { Backend, Frontend } from './wire/codes.ts';
import type { TransactionStatus } from './wire/session-status.ts';
import { ResultAttribution, type PendingPlan, type ReadMessage } from './result-attribution.ts';

/** What the session counts of the statements that pass through it. */
export interface StatementCounts {
  statements: number;
  denied: number;
  maskedCells: number;
}

export interface ProxyProtocolOptions {
  /** Masking of results; absent when the policy masks nothing, and then every result passes. */
  planner?: ResultPlanner;
  /** Counted into as statements are decided and results masked. */
  counts: StatementCounts;
  record(event: SessionEvent): void;
  /** Sends bytes to the server, in order. */
  toServer(bytes: Buffer): void;
  /** The server reported a setting (ParameterStatus). */
  onParameterStatus?(name: string, value: string): void;
  /** The server reported its transaction state (ReadyForQuery). */
  onReadyForQuery?(status: TransactionStatus): void;
}

/** What to do with a client message: decide its route, pass it on as it is, or drop it. */
export type ClientStep = StatementRoute | 'forward' | 'discard';

export type StatementProtocol = 'simple' | 'extended' | 'function-call';

/** A server message's fate: a replacement (null to drop it), undefined to pass it on, or a plan to wait for. */
export type ServerStep = Buffer | null | undefined | PendingPlan;

interface Portal {
  statement: string;
  sql: string;
  parameters: (Buffer | null)[];
  parameterFormats: number[];
}

const EXTENDED = new Set<number>([
  Frontend.parse,
  Frontend.bind,
  Frontend.describe,
  Frontend.execute,
  Frontend.close,
  Frontend.flush,
]);

export class ProxyProtocol {
  private transaction: TransactionStatus = 'I';
  /** After a denial in the extended protocol, frames are discarded until Sync, as the server would. */
  private discardUntilSync = false;
  private readonly denials = new Denials();
  /** Messages forwarded that end in ReadyForQuery (Query, Sync, FunctionCall), and those answered. */
  private syncPointsSent = 0;
  private syncPointsAnswered = 0;
  /** Whether an extended-protocol message went upstream since the last Sync; see StatementContext. */
  private extendedSinceSync = false;
  private readonly statements = new Map<string, string>();
  private readonly portals = new Map<string, Portal>();
  /** Which message produced each result the server sends, and how it is masked. */
  private readonly results: ResultAttribution;
  private clientTerminated = false;
  private serverEnded = false;
  /** The last client frame read, and its reading: forwarded next, it is not read again. */
  private readFrame: Buffer | undefined;
  private readMessage: ReadMessage | undefined;

  constructor(private readonly options: ProxyProtocolOptions) {
    this.results = new ResultAttribution({
      ...(options.planner ? { planner: options.planner } : {}),
      onResult: (summary) => {
        options.counts.maskedCells += summary.maskedCells;
        options.record({ type: 'result', ...summary });
      },
    });
  }

  /** The server's transaction status at its last ReadyForQuery. */
  get transactionStatus(): TransactionStatus {
    return this.transaction;
  }

  /** No extended-protocol message went upstream since the last Sync: the next one starts a batch. */
  get startsBatch(): boolean {
    return !this.extendedSinceSync;
  }

  /** The client sent Terminate: the server closing next is the expected end. */
  get terminatedByClient(): boolean {
    return this.clientTerminated;
  }

  /** The server sent its own FATAL: its closing next needs no word from the tunnel. */
  get endedByServer(): boolean {
    return this.serverEnded;
  }

  // ---- client → server ---------------------------------------------------------------------------

  /** What the client's message is; throws ProtocolViolation on one the protocol does not have. */
  fromClient(type: number, frame: Buffer): ClientStep {
    if (this.discardUntilSync) {
      if (type === Frontend.sync) this.discardUntilSync = false;
      else if (type === Frontend.terminate) this.clientTerminated = true;
      else return 'discard';
      return 'forward';
    }
    switch (type) {
      case Frontend.query:
        return { kind: 'query', sql: this.read(frame, readQuery(frame)) };
      case Frontend.parse: {
        const parse = this.read(frame, readParse(frame));
        this.statements.set(parse.statement, parse.sql);
        return { kind: 'parse', ...parse };
      }
      case Frontend.bind:
        return this.bindRoute(frame);
      case Frontend.execute:
        return this.executeRoute(frame);
      case Frontend.close: {
        const target = this.read(frame, readTarget(frame));
        if (target.kind === 'S') this.statements.delete(target.name);
        else this.portals.delete(target.name);
        return { kind: 'close', target: target.kind, name: target.name };
      }
      case Frontend.describe:
        this.read(frame, readTarget(frame));
        return 'forward';
      case Frontend.functionCall:
        return { kind: 'function-call', functionOid: frame.readUInt32BE(5) };
      case Frontend.terminate:
        this.clientTerminated = true;
        return 'forward';
      case Frontend.sync:
      case Frontend.flush:
      case Frontend.copyData:
      case Frontend.copyDone:
      case Frontend.copyFail:
        return 'forward';
      default:
        throw new ProtocolViolation(
          `invalid frontend message type ${JSON.stringify(String.fromCharCode(type))}`,
        );
    }
  }

  /** Keeps the reading of `frame` for when it is forwarded. */
  private read<T extends ReadMessage>(frame: Buffer, message: T): T {
    this.readFrame = frame;
    this.readMessage = message;
    return message;
  }

  private bindRoute(frame: Buffer): StatementRoute {
    const bind = this.read(frame, readBind(frame));
    const sql = this.statements.get(bind.statement) ?? '';
    this.portals.set(bind.portal, {
      statement: bind.statement,
      sql,
      parameters: bind.parameters,
      parameterFormats: bind.parameterFormats,
    });
    return { kind: 'bind', portal: bind.portal, statement: bind.statement, sql };
  }

  private executeRoute(frame: Buffer): StatementRoute {
    const { portal: name } = this.read(frame, readExecute(frame));
    const portal = this.portals.get(name);
    return {
      kind: 'execute',
      portal: name,
      statement: portal?.statement ?? '',
      sql: portal?.sql ?? '',
      parameters: portal?.parameters ?? [],
      parameterFormats: portal?.parameterFormats ?? [],
    };
  }

  /** Applies the policy's decision on `route`: the frame goes upstream, or a denial in its place. */
  decided(decision: Decision, route: StatementRoute, frame: Buffer): void {
    const protocol = protocolOf(route);
    // Parse and Bind are judged again at Execute, with the parameters: record them there unless denied.
    if (
      route.kind === 'query' ||
      route.kind === 'execute' ||
      route.kind === 'function-call' ||
      decision.action === 'deny'
    ) {
      this.options.counts.statements++;
      this.options.record(statementEvent(decision, route, protocol));
    }
    if (decision.action === 'allow') {
      this.forward(frame);
      return;
    }
    this.options.counts.denied++;
    const extended = protocol === 'extended';
    this.forward(this.denials.replace(decision, extended, this.syncPointsSent + 1));
    if (extended) this.discardUntilSync = true;
  }

  /** Sends a client message upstream as it is, with a message the tunnel needs just before it. */
  forward(frame: Buffer): void {
    const type = frame[0]!;
    if (type === Frontend.sync || type === Frontend.query || type === Frontend.functionCall) {
      this.syncPointsSent++;
      this.extendedSinceSync = false;
    } else if (EXTENDED.has(type)) {
      this.extendedSinceSync = true;
    }
    const read = frame === this.readFrame ? this.readMessage : undefined;
    this.readFrame = this.readMessage = undefined;
    const before = this.results.sent(type, frame, read);
    if (before) this.options.toServer(before);
    this.options.toServer(frame);
  }

  // ---- server → client ---------------------------------------------------------------------------

  /** Observes one server message on its way to the client; see ServerStep. */
  fromServer(type: number, frame: Buffer): ServerStep {
    const attributed = this.results.received(type, frame);
    switch (type) {
      case Backend.errorResponse:
        return this.serverError(frame, attributed as Buffer | undefined);
      case Backend.parameterStatus:
        if (this.options.onParameterStatus) {
          const nameEnd = frame.indexOf(0, 5);
          this.options.onParameterStatus(
            frame.toString('utf8', 5, nameEnd),
            frame.toString('utf8', nameEnd + 1, frame.length - 1),
          );
        }
        return undefined;
      case Backend.readyForQuery:
        this.transaction = String.fromCharCode(frame[5]!) as TransactionStatus;
        this.syncPointsAnswered++;
        this.denials.settle(this.syncPointsAnswered);
        this.options.onReadyForQuery?.(this.transaction);
        return undefined;
      default:
        return attributed;
    }
  }

  /** `masked`: the error as the client may see it (what it repeats of the data masked), if changed. */
  private serverError(frame: Buffer, masked: Buffer | undefined): Buffer | undefined {
    const fields = readNoticeFields(frame);
    const message = fields.get('M') ?? '';
    const severity = fields.get('V') ?? fields.get('S');
    if (severity === 'FATAL' || severity === 'PANIC') this.serverEnded = true;
    const replacement = this.denials.replacementFor(message);
    if (replacement) return replacement;
    const shown = masked ? (readNoticeFields(masked).get('M') ?? '') : message;
    this.options.record({
      type: 'error',
      code: fields.get('C') ?? '',
      message: shown,
      severity: severity ?? '',
    });
    return masked;
  }
}

function protocolOf(route: StatementRoute): StatementProtocol {
  if (route.kind === 'query') return 'simple';
  if (route.kind === 'function-call') return 'function-call';
  return 'extended';
}

function statementEvent(
  decision: Decision,
  route: StatementRoute,
  protocol: StatementProtocol,
): SessionEvent {
  const sql =
    route.kind === 'function-call'
      ? `<function call ${route.functionOid}>`
      : route.kind === 'close'
        ? `<close ${route.target} ${route.name}>`
        : route.sql;
  const event: SessionEvent = {
    type: 'statement',
    protocol,
    sql,
    decision: decision.action,
    rule: decision.rule,
  };
  if (decision.classes) event.classes = decision.classes;
  if (decision.action === 'deny') event.reason = decision.message;
  else if (decision.wouldHave) event.wouldHave = decision.wouldHave;
  return event;
}
