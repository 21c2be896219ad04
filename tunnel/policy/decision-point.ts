/**
 * The one place where every statement that would reach the server is judged. The Postgres session
 * opens a SessionPolicy per client connection, asks it about each statement-bearing frontend message,
 * and obeys the answer; the policy engine supplies the real implementation.
 */
import type { ClientInput } from './masking/client-input.ts';
import type { FieldDescription } from '../postgres/wire/results.ts';
import type { StartupSetting } from '../postgres/wire/startup-options.ts';
import type { TransactionStatus } from '../postgres/wire/session-status.ts';
import type { SessionEvent } from '../recorder/recording-point.ts';

export type StatementRoute =
  /** A simple-protocol Query: one or more statements in one string. */
  | { kind: 'query'; sql: string }
  /** Extended protocol Parse: a statement being prepared. */
  | { kind: 'parse'; statement: string; sql: string; parameterTypes: readonly number[] }
  /** Extended protocol Execute of a portal bound from a prepared statement. */
  | {
      kind: 'execute';
      portal: string;
      statement: string;
      sql: string;
      parameters: readonly (Buffer | null)[];
      parameterFormats: readonly number[];
    }
  /** Extended protocol Bind: a portal made from a prepared statement (planning may already run functions). */
  | { kind: 'bind'; portal: string; statement: string; sql: string }
  /** Extended protocol Close of a prepared statement ('S') or a portal ('P'). */
  | { kind: 'close'; target: 'S' | 'P'; name: string }
  /** The legacy FunctionCall message: calls a function by OID, bypassing SQL. */
  | { kind: 'function-call'; functionOid: number };

export interface StatementContext {
  route: StatementRoute;
  /**
   * No extended-protocol message has gone upstream since the last Sync (or simple Query): the server
   * is not skipping, so this message will be processed, not discarded after an earlier error.
   */
  startsBatch: boolean;
  /** Transaction status the server last reported: idle, in a block, or in a failed block. */
  transactionStatus: 'I' | 'T' | 'E';
}

interface Outcome {
  /** The rule that decided, named in the client's error message and the recording. */
  rule?: string;
  /** The statement's classes, for the recording. */
  classes?: readonly string[];
}

export type Decision =
  | (Outcome & {
      action: 'allow';
      /** Under `observe`: what enforcement would have done, recorded but not applied. */
      wouldHave?: 'deny' | 'hold';
    })
  | (Outcome & {
      action: 'deny';
      rule: string;
      message: string;
      /** SQLSTATE; 42501 (insufficient privilege) unless said otherwise, 57014 for a cancelled hold. */
      code?: string;
      /**
       * The statement did not parse: the client is answered as the server would answer it (`message`
       * verbatim, SQLSTATE 42601, this 1-based character position), not with a denial.
       */
      syntaxError?: { position: number };
    });

/** What a session offers its policy: a way to speak to the client and to the recording. */
export interface SessionHooks {
  /** Sends the client a NoticeResponse now (e.g. "waiting for approval: request 42"). */
  notice(message: string): void;
  record(event: SessionEvent): void;
}

/** How the rows of one result are masked while they stream. */
export interface ResultMask {
  /** Rewrites a DataRow frame; returns the same Buffer when nothing changed. */
  maskDataRow(frame: Buffer, formats: readonly number[]): { frame: Buffer; maskedCells: number };
  /** Rewrites a CopyData frame of COPY TO STDOUT (one text-format row). */
  maskCopyData(frame: Buffer): { frame: Buffer; maskedCells: number };
}

/** The mask of a result that needs no masking: every frame passes as it is. */
export const PASS_THROUGH: ResultMask = {
  maskDataRow: (frame) => ({ frame, maskedCells: 0 }),
  maskCopyData: (frame) => ({ frame, maskedCells: 0 }),
};

export type MaybePromise<T> = T | Promise<T>;

/** What produced a result: a statement's text and its position among the statements of that text. */
export interface ResultSource {
  sql: string;
  index: number;
}

/**
 * What one statement does to the names a result can be produced through — cursors and portals (one
 * namespace on the server), prepared statements (SQL PREPARE and protocol Parse share another).
 */
export type StatementEffect = (
  | { kind: 'declare'; cursor: string; holdable: boolean }
  /** FETCH or MOVE: runs the named cursor or portal further. */
  | { kind: 'fetch'; cursor: string }
  /** CLOSE name, or CLOSE ALL when `cursor` is undefined. */
  | { kind: 'close'; cursor?: string }
  | { kind: 'prepare'; name: string }
  | { kind: 'execute'; name: string }
  /** DEALLOCATE name, or DEALLOCATE ALL when `name` is undefined. */
  | { kind: 'deallocate'; name?: string }
  /** DISCARD ALL: every cursor, portal and prepared statement is gone. */
  | { kind: 'discard' }
  | { kind: 'other' }
) & {
  /**
   * The statement may run code the tunnel cannot see (a user's function, a trigger), which could
   * close a cursor and open another under the same name.
   */
  mayRunUserCode: boolean;
};

/** Masking for the results of one session, by what produced each of them. */
export interface ResultPlanner {
  /** The effect of each statement of `sql`, in order. */
  effects(sql: string): readonly StatementEffect[];
  /** Masking for the rows of a result with these columns, produced by `source`. */
  forResult(fields: readonly FieldDescription[], source: ResultSource): MaybePromise<ResultMask>;
  /** Masking for a result nobody can attribute: every cell, type-valid where the columns are known. */
  maskWhole(fields?: readonly FieldDescription[]): ResultMask;
  /** Masking for the rows of COPY … TO STDOUT, the `index`-th statement of `sql`. */
  forCopyOut(sql: string, index: number): MaybePromise<ResultMask>;
  /**
   * What an ErrorResponse, NoticeResponse or NotificationResponse repeats of the data, masked
   * (`input`: what the client sent itself); the same Buffer when nothing changed.
   */
  maskServerMessage(frame: Buffer, input: ClientInput): Buffer;
}

export interface SessionPolicy {
  /**
   * Masking of results; absent only when the policy masks nothing (no mask rule, no detector), and
   * then every result passes as it is.
   */
  readonly results?: ResultPlanner;
  /** Judges a statement; a Promise holds the client's later messages, in order, until it settles. */
  decide(context: StatementContext): Decision | Promise<Decision>;
  /**
   * Judges a setting the client asked for in its startup packet, as the SET that would make it; a
   * denial ends the connection before the server is reached. Without this every setting passes.
   */
  startupSetting?(setting: StartupSetting): Decision;
  /** The server reported a run-time parameter (ParameterStatus). */
  onParameterStatus?(name: string, value: string): void;
  /** The server finished what was sent before (ReadyForQuery), and is now in this transaction state. */
  onReadyForQuery?(status: TransactionStatus): void;
  /** The client asked to cancel; returns true when that ended a hold, so nothing runs upstream. */
  cancelHold?(): boolean;
  close?(): void;
}

export interface SessionInfo {
  /** The tunnel's own id for the client connection the session serves. */
  connectionId: string;
  hooks: SessionHooks;
}

export interface DecisionPoint {
  openSession(info: SessionInfo): SessionPolicy;
}

/** A decision point whose judgement does not depend on what the session did before. */
export function statelessDecisions(decide: SessionPolicy['decide']): DecisionPoint {
  return { openSession: () => ({ decide }) };
}

/** Lets everything pass; the engine's `observe` preset records what it would have done instead. */
export const allowEverything: DecisionPoint = statelessDecisions(() => ({
  action: 'allow',
  rule: 'allow-all',
}));
