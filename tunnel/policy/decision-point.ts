/**
 * The one place where every statement that would reach the server is judged. The Postgres session
 * calls it for each statement-bearing frontend message and obeys the answer; the policy engine
 * supplies the real implementation.
 */

export type StatementRoute =
  /** A simple-protocol Query: one or more statements in one string. */
  | { kind: 'query'; sql: string }
  /** Extended protocol Parse: a statement being prepared. */
  | { kind: 'parse'; statement: string; sql: string }
  /** Extended protocol Execute of a portal bound from a prepared statement. */
  | {
      kind: 'execute';
      portal: string;
      statement: string;
      sql: string;
      parameters: readonly (Buffer | null)[];
      parameterFormats: readonly number[];
    }
  /** The legacy FunctionCall message: calls a function by OID, bypassing SQL. */
  | { kind: 'function-call'; functionOid: number };

export interface StatementContext {
  sessionId: string;
  route: StatementRoute;
  /** Transaction status the server last reported: idle, in a block, or in a failed block. */
  transactionStatus: 'I' | 'T' | 'E';
}

export type Decision =
  | { action: 'allow'; rule?: string }
  | {
      action: 'deny';
      /** The rule that denied, named in the client's error message and the recording. */
      rule: string;
      message: string;
      /** SQLSTATE; 42501 (insufficient privilege) unless said otherwise. */
      code?: string;
    };

export interface DecisionPoint {
  decide(context: StatementContext): Decision | Promise<Decision>;
}

/** The `observe` posture before the policy engine: everything passes, and is still recorded. */
export const allowEverything: DecisionPoint = {
  decide: () => ({ action: 'allow', rule: 'observe' }),
};
