/**
 * Attributes every result the server sends to the message that produced it, so each is masked by the
 * plan of what it really is. A pure state machine: fed each frontend message as it goes upstream and
 * each backend message as it comes back, it needs no sockets.
 *
 * The server answers messages strictly in order, so every message sent queues what it expects back
 * (Parse → ParseComplete, Execute → rows and a completion, Sync → ReadyForQuery …), and each answer
 * is matched to the head of that queue. Names are learned when the server confirms them (ServerNames),
 * an error drops what the server skips until Sync, and a result nobody can attribute is masked whole.
 *
 * The columns of an Execute's rows come from a Describe of its own portal: the client's, when it sent
 * one just before, or one the tunnel sends itself (its answer never reaches the client). Only that
 * describes a portal as the server will run it — a FETCH of the cursor it has now, say.
 */
import { serialize } from 'pg-protocol';
import { readRowDescription, type FieldDescription } from './wire/results.ts';
import {
  readBind,
  readExecute,
  readParse,
  readQuery,
  readTarget,
  type BindMessage,
  type ParseMessage,
} from './wire/queries.ts';
import { Backend, Frontend } from './wire/codes.ts';
import { ServerNames, type Producer, type Resolution, type Tally } from './server-names.ts';
import {
  PASS_THROUGH,
  type MaybePromise,
  type ResultMask,
  type ResultPlanner,
  type StatementEffect,
} from '../policy/decision-point.ts';
import { RecentClientInput } from '../policy/masking/client-input.ts';

/** The plan of the rows now arriving is still being prepared: offer the same message again once ready. */
export class PendingPlan {
  constructor(readonly ready: Promise<void>) {}
}

/** What one completed statement returned, for the recording. */
export interface ResultSummary {
  command: string;
  rows: number;
  maskedCells: number;
  durationMs: number;
}

/**
 * A client message as whoever forwards it already read it (the text of a Query, a Parse, Bind, Execute,
 * Describe or Close), so that it is not read twice; it must be the reading of the very frame sent.
 */
export type ReadMessage = string | ParseMessage | BindMessage | { portal: string; maxRows: number } | Target;

type Target = { kind: 'S' | 'P'; name: string };

export interface ResultAttributionOptions {
  /** Masking of results; absent when the policy masks nothing, and then every result passes. */
  planner?: ResultPlanner;
  onResult(summary: ResultSummary): void;
  now?: () => number;
}

/** One result streaming now: its mask (or the promise of it) and the formats of its columns. */
interface Result {
  mask: ResultMask;
  waiting?: Promise<void>;
  formats: readonly number[];
  copy: boolean;
  tally: Tally;
}

type Expectation =
  | { kind: 'parse'; name: string; producer: Producer }
  | { kind: 'bind'; portal: string; statement: string; formats: readonly number[] }
  | { kind: 'describe'; target: 'S' | 'P'; name: string; injected: boolean }
  | { kind: 'execute'; portal: string; sentAt: number; result?: Result }
  | { kind: 'close'; target: 'S' | 'P'; name: string }
  | {
      kind: 'query';
      sql: string;
      effects: readonly StatementEffect[];
      index: number;
      sentAt: number;
      result?: Result;
    }
  /** Sync or FunctionCall: answered by ReadyForQuery. */
  | { kind: 'sync' };

/** What a statement does when the planner could not say (a text that did not parse): anything. */
const UNKNOWN_EFFECT: StatementEffect = { kind: 'other', mayRunUserCode: true };
/** Without a planner nothing is masked, and what statements do to names does not matter. */
const UNTRACKED_EFFECT: StatementEffect = { kind: 'other', mayRunUserCode: false };

export class ResultAttribution {
  private readonly names = new ServerNames();
  private readonly expected = new Queue<Expectation>();
  /** The portal the client's last message described, to Execute without describing it again. */
  private describedJustBefore: string | undefined;
  private readonly now: () => number;
  private readonly unknownEffect: StatementEffect;
  /** What the client sent itself, so that messages repeating it are not masked for it. */
  private readonly input = new RecentClientInput();

  constructor(private readonly options: ResultAttributionOptions) {
    this.now = options.now ?? (() => performance.now());
    this.unknownEffect = options.planner ? UNKNOWN_EFFECT : UNTRACKED_EFFECT;
  }

  // ---- frontend ----------------------------------------------------------------------------------

  /**
   * A message is going upstream (`read`: its reading, if already made); returns a message to send just
   * before it, if the tunnel needs one.
   */
  sent(type: number, frame: Buffer, read?: ReadMessage): Buffer | undefined {
    const describedJustBefore = this.describedJustBefore;
    this.describedJustBefore = undefined;
    switch (type) {
      case Frontend.query: {
        const sql = typeof read === 'string' ? read : readQuery(frame);
        if (this.options.planner) this.input.remember(sql);
        const effects = this.options.planner?.effects(sql) ?? [];
        this.expected.push({ kind: 'query', sql, effects, index: 0, sentAt: this.now() });
        return undefined;
      }
      case Frontend.parse: {
        const { statement, sql } = (read as ParseMessage | undefined) ?? readParse(frame);
        if (this.options.planner) this.input.remember(sql);
        const effect = this.options.planner?.effects(sql)[0] ?? this.unknownEffect;
        this.expected.push({
          kind: 'parse',
          name: statement,
          producer: { source: { sql, index: 0 }, effect },
        });
        return undefined;
      }
      case Frontend.bind: {
        const bind = (read as BindMessage | undefined) ?? readBind(frame);
        const { portal, statement, resultFormats } = bind;
        if (this.options.planner) this.rememberParameters(bind.parameters, bind.parameterFormats);
        this.expected.push({ kind: 'bind', portal, statement, formats: resultFormats });
        return undefined;
      }
      case Frontend.describe: {
        const { kind, name } = (read as Target | undefined) ?? readTarget(frame);
        this.expected.push({ kind: 'describe', target: kind, name, injected: false });
        if (kind === 'P') this.describedJustBefore = name;
        return undefined;
      }
      case Frontend.execute:
        return this.sentExecute(
          ((read as { portal: string } | undefined) ?? readExecute(frame)).portal,
          describedJustBefore,
        );
      case Frontend.close: {
        const { kind, name } = (read as Target | undefined) ?? readTarget(frame);
        this.expected.push({ kind: 'close', target: kind, name });
        return undefined;
      }
      case Frontend.sync:
      case Frontend.functionCall:
        this.expected.push({ kind: 'sync' });
        return undefined;
      case Frontend.flush:
        this.describedJustBefore = describedJustBefore;
        return undefined;
      default:
        return undefined;
    }
  }

  /** Text-format parameters are the client's own words; binary ones are not compared. */
  private rememberParameters(parameters: readonly (Buffer | null)[], formats: readonly number[]): void {
    parameters.forEach((value, i) => {
      const format = formats.length === 1 ? formats[0] : (formats[i] ?? 0);
      if (value && format === 0) this.input.remember(value);
    });
  }

  private sentExecute(portal: string, describedJustBefore: string | undefined): Buffer | undefined {
    let describe: Buffer | undefined;
    if (this.options.planner && describedJustBefore !== portal) {
      describe = serialize.describe({ type: 'P', name: portal });
      this.expected.push({ kind: 'describe', target: 'P', name: portal, injected: true });
    }
    this.expected.push({ kind: 'execute', portal, sentAt: this.now() });
    return describe;
  }

  // ---- backend -----------------------------------------------------------------------------------

  /**
   * A message came back: returns its replacement (null to drop it), undefined to pass it on, or a
   * PendingPlan — then the stream must wait here and offer this message again once it is ready.
   */
  received(type: number, frame: Buffer): Buffer | null | undefined | PendingPlan {
    switch (type) {
      case Backend.dataRow:
        return this.dataRow(frame);
      case Backend.copyData:
        return this.copyData(frame);
      case Backend.rowDescription:
        return this.rowDescription(frame);
      case Backend.noData:
        return this.noData();
      case Backend.parseComplete:
        return this.parseComplete();
      case Backend.bindComplete:
        return this.bindComplete();
      case Backend.closeComplete:
        return this.closeComplete();
      case Backend.commandComplete:
        this.commandComplete(frame.toString('utf8', 5, frame.length - 1));
        return undefined;
      case Backend.emptyQueryResponse:
      case Backend.portalSuspended:
        this.endedWithoutCompletion(type);
        return undefined;
      case Backend.copyOutResponse:
        this.copyOutResponse();
        return undefined;
      case Backend.errorResponse:
        this.error();
        return this.serverMessage(frame);
      case Backend.noticeResponse:
      case Backend.notificationResponse:
        return this.serverMessage(frame);
      case Backend.readyForQuery:
        this.readyForQuery(frame[5]);
        return undefined;
      case Backend.functionCallResponse:
        return this.functionCallResponse(frame);
      default:
        return undefined;
    }
  }

  /** What a server's message repeats of the data, masked whenever the policy masks anything. */
  private serverMessage(frame: Buffer): Buffer | undefined {
    const masked = this.options.planner?.maskServerMessage(frame, this.input);
    return masked === undefined || masked === frame ? undefined : masked;
  }

  private dataRow(frame: Buffer): Buffer | undefined | PendingPlan {
    const result = this.rowsResult();
    if (result.waiting) return new PendingPlan(result.waiting);
    result.tally.rows++;
    const masked = result.mask.maskDataRow(frame, result.formats);
    result.tally.maskedCells += masked.maskedCells;
    return masked.frame === frame ? undefined : masked.frame;
  }

  /**
   * What a FunctionCall returned: no statement says what the function read, so its value is masked
   * whole — NULL, valid for any type — whenever the policy masks anything.
   */
  private functionCallResponse(frame: Buffer): Buffer | undefined {
    if (!this.options.planner || frame.readInt32BE(5) < 0) return undefined;
    const masked = Buffer.alloc(9);
    masked[0] = Backend.functionCallResponse;
    masked.writeInt32BE(8, 1);
    masked.writeInt32BE(-1, 5);
    return masked;
  }

  private copyData(frame: Buffer): Buffer | undefined | PendingPlan {
    const head = this.expected.peek();
    const result = head?.kind === 'execute' || head?.kind === 'query' ? head.result : undefined;
    if (!result?.copy) {
      if (!this.options.planner) return undefined;
      throw new Error('COPY data the tunnel cannot attribute to a statement is not passed');
    }
    if (result.waiting) return new PendingPlan(result.waiting);
    const masked = result.mask.maskCopyData(frame);
    result.tally.maskedCells += masked.maskedCells;
    return masked.frame === frame ? undefined : masked.frame;
  }

  /** The result the head of the queue is streaming, begun at its first row when it is an Execute's. */
  private rowsResult(): Result {
    const head = this.expected.peek();
    if (head?.kind === 'execute') return (head.result ??= this.executeResult(head));
    if (head?.kind === 'query' && head.result) return head.result;
    // Rows nobody asked for where the tunnel is looking: masked whole, and the session goes on.
    const stray = this.newResult(this.options.planner?.maskWhole() ?? PASS_THROUGH, [], {
      rows: 0,
      maskedCells: 0,
      startedAt: this.now(),
    });
    if (head?.kind === 'query') head.result = stray;
    return stray;
  }

  private executeResult(execute: Extract<Expectation, { kind: 'execute' }>): Result {
    const portal = this.names.portal(execute.portal);
    const tally = portal?.tally ?? { rows: 0, maskedCells: 0, startedAt: execute.sentAt };
    const fields = portal?.fields ?? undefined;
    const formats = fields ? fields.map((f) => f.format) : (portal?.formats ?? []);
    return this.newResult(this.planFor(fields, this.names.resolve(portal?.producer)), formats, tally);
  }

  private planFor(
    fields: readonly FieldDescription[] | undefined,
    resolution: Resolution,
  ): MaybePromise<ResultMask> {
    const { planner } = this.options;
    if (!planner) return PASS_THROUGH;
    if (!fields || !resolution.source) return planner.maskWhole(fields);
    return planner.forResult(fields, resolution.source);
  }

  private newResult(
    mask: MaybePromise<ResultMask>,
    formats: readonly number[],
    tally: Tally,
    copy = false,
  ): Result {
    if (!(mask instanceof Promise)) return { mask, formats, copy, tally };
    const result: Result = { mask: PASS_THROUGH, formats, copy, tally };
    result.waiting = mask.then((settled) => {
      result.mask = settled;
      result.waiting = undefined;
    });
    // Observed here so a plan that fails for a result with no rows is no unhandled rejection; the
    // session sees the failure through PendingPlan when rows come.
    result.waiting.catch(() => {});
    return result;
  }

  private rowDescription(frame: Buffer): null | undefined {
    const head = this.expected.peek();
    if (head?.kind === 'describe') {
      this.expected.shift();
      const fields = readRowDescription(frame);
      if (head.target === 'P') this.names.described(head.name, fields);
      return head.injected ? null : undefined;
    }
    if (head?.kind === 'query') {
      const fields = readRowDescription(frame);
      const effect = head.effects[head.index] ?? this.unknownEffect;
      const resolution = this.names.resolve({ source: { sql: head.sql, index: head.index }, effect });
      head.result = this.newResult(
        this.planFor(fields, resolution),
        fields.map((f) => f.format),
        { rows: 0, maskedCells: 0, startedAt: head.sentAt },
      );
    }
    return undefined;
  }

  private noData(): null | undefined {
    const head = this.expected.peek();
    if (head?.kind !== 'describe') return undefined;
    this.expected.shift();
    if (head.target === 'P') this.names.described(head.name, null);
    return head.injected ? null : undefined;
  }

  private parseComplete(): undefined {
    const head = this.expected.peek();
    if (head?.kind === 'parse') {
      this.expected.shift();
      this.names.prepared(head.name, head.producer);
    }
    return undefined;
  }

  private bindComplete(): undefined {
    const head = this.expected.peek();
    if (head?.kind === 'bind') {
      this.expected.shift();
      this.names.bound(head.portal, head.statement, head.formats);
    }
    return undefined;
  }

  private closeComplete(): undefined {
    const head = this.expected.peek();
    if (head?.kind === 'close') {
      this.expected.shift();
      if (head.target === 'S') this.names.deallocated(head.name);
      else this.names.closed(head.name);
    }
    return undefined;
  }

  private copyOutResponse(): void {
    const head = this.expected.peek();
    const { planner } = this.options;
    if (head?.kind !== 'execute' && head?.kind !== 'query' && planner) {
      throw new Error('COPY output the tunnel cannot attribute to a statement is not passed');
    }
    if (head?.kind === 'execute') {
      const portal = this.names.portal(head.portal);
      const source = this.names.resolve(portal?.producer).source;
      const tally = portal?.tally ?? { rows: 0, maskedCells: 0, startedAt: head.sentAt };
      head.result = this.newResult(this.copyPlan(planner, source), [], tally, true);
    } else if (head?.kind === 'query') {
      const source = { sql: head.sql, index: head.index };
      const tally = { rows: 0, maskedCells: 0, startedAt: head.sentAt };
      head.result = this.newResult(this.copyPlan(planner, source), [], tally, true);
    }
  }

  private copyPlan(
    planner: ResultPlanner | undefined,
    source: { sql: string; index: number } | undefined,
  ): MaybePromise<ResultMask> {
    if (!planner) return PASS_THROUGH;
    if (!source) throw new Error('COPY output the tunnel cannot attribute to a statement is not passed');
    return planner.forCopyOut(source.sql, source.index);
  }

  private commandComplete(command: string): void {
    const head = this.expected.peek();
    if (head?.kind === 'execute') {
      this.expected.shift();
      const portal = this.names.portal(head.portal);
      const tally = head.result?.tally ??
        portal?.tally ?? { rows: 0, maskedCells: 0, startedAt: head.sentAt };
      if (portal) portal.tally = undefined;
      this.record(command, tally);
      this.completed(portal?.producer, head.portal, command);
    } else if (head?.kind === 'query') {
      const tally = head.result?.tally ?? { rows: 0, maskedCells: 0, startedAt: head.sentAt };
      this.record(command, tally);
      const effect = head.effects[head.index] ?? this.unknownEffect;
      this.completed({ source: { sql: head.sql, index: head.index }, effect }, undefined, command);
      head.index++;
      head.result = undefined;
      head.sentAt = this.now();
    }
  }

  /** A statement ran to completion: what it did to the server's names takes effect. */
  private completed(producer: Producer | undefined, portal: string | undefined, command: string): void {
    this.ranUserCode(producer, portal);
    // The transaction ended here even when another begins at once (COMMIT AND CHAIN): its cursors
    // and portals are gone.
    if (command === 'COMMIT') this.names.transactionEnded();
    else if (command === 'ROLLBACK' || command === 'PREPARE TRANSACTION') this.names.aborted();
    const effect = producer?.effect ?? this.unknownEffect;
    switch (effect.kind) {
      case 'declare':
        this.names.declared(effect.cursor, producer!, effect.holdable);
        break;
      case 'close':
        this.names.closed(effect.cursor);
        break;
      case 'prepare':
        this.names.prepared(effect.name, {
          source: producer!.source,
          effect: { kind: 'other', mayRunUserCode: effect.mayRunUserCode },
        });
        break;
      case 'deallocate':
        this.names.deallocated(effect.name);
        break;
      case 'discard':
        this.names.discardedAll();
        break;
    }
  }

  private ranUserCode(producer: Producer | undefined, portal: string | undefined): void {
    if (!this.options.planner || !this.names.resolve(producer).mayRunUserCode) return;
    const effect = producer?.effect;
    this.names.forgetPortals(effect?.kind === 'fetch' ? effect.cursor : portal);
  }

  private endedWithoutCompletion(type: number): void {
    const head = this.expected.peek();
    if (head?.kind === 'execute') {
      this.expected.shift();
      const portal = this.names.portal(head.portal);
      // A suspended portal goes on at its next Execute; its rows are recorded when it completes.
      if (type === Backend.portalSuspended && portal && head.result) portal.tally = head.result.tally;
    } else if (head?.kind === 'query') {
      head.index++;
      head.result = undefined;
    }
  }

  /**
   * The server reports an error: a simple query stops there (ReadyForQuery follows); in the extended
   * protocol the server skips every message up to Sync, and nothing queued for them will come.
   */
  private error(): void {
    const head = this.expected.peek();
    if (!head) return; // not an answer: a FATAL on its own, say
    if (head.kind === 'query') {
      const effect = head.effects[head.index] ?? this.unknownEffect;
      this.ranUserCode({ source: { sql: head.sql, index: head.index }, effect }, undefined);
      head.result = undefined;
    } else if (head.kind !== 'sync') {
      while (this.expected.length > 0 && this.expected.peek()!.kind !== 'sync')
        this.skipped(this.expected.shift()!);
    }
    this.names.aborted();
  }

  /** A message the server failed or skipped: the name it would have made is not what the server has. */
  private skipped(expectation: Expectation): void {
    if (expectation.kind === 'parse' && expectation.name === '') this.names.deallocated('');
    else if (expectation.kind === 'bind') this.names.closed(expectation.portal);
    else if (expectation.kind === 'execute') {
      const portal = this.names.portal(expectation.portal);
      if (portal) portal.tally = undefined;
      this.ranUserCode(portal?.producer, expectation.portal);
    }
  }

  private readyForQuery(status: number | undefined): void {
    // Everything up to the Sync, Query or FunctionCall this answers is settled by now.
    while (this.expected.length > 0) {
      const head = this.expected.shift()!;
      if (head.kind === 'sync' || head.kind === 'query') break;
      this.skipped(head);
    }
    if (status === 0x49 /* I */) this.names.transactionEnded();
  }

  private record(command: string, tally: Tally): void {
    this.options.onResult({
      command,
      rows: tally.rows,
      maskedCells: tally.maskedCells,
      durationMs: this.now() - tally.startedAt,
    });
  }
}

/** A FIFO whose shift is O(1): pipelines can queue thousands of messages before one Sync. */
class Queue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
