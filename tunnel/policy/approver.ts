/**
 * Who decides on held statements. The hub provides the real approver (a human deciding from a
 * notification); `portcullis guard` without a hub has none, so statements that need approval are denied.
 */

export interface ApprovalRequest {
  /** The client connection whose statement waits (the tunnel's own id for it). */
  connectionId: string;
  sql: string;
  classes: readonly string[];
  rule: string;
  /** What the statement touches, for the approver (see HeldStatementScope). */
  scope?: HeldStatementScope;
}

/** The relations a held statement names and writes, and whether its rows may be estimated. */
export interface HeldStatementScope {
  tables: readonly { schema?: string; name: string }[];
  writes: readonly { schema?: string; name: string }[];
  /**
   * One statement of only plain reads and writes: planning it (EXPLAIN, never ANALYZE) on the tunnel's
   * side connection runs nothing the classifier has not seen.
   */
  estimable: boolean;
  /** The Execute's parameters in text, so the plan is the one that will run; 'binary' when not text. */
  parameters?: readonly (string | null)[] | 'binary';
}

export interface ApprovalOutcome {
  approved: boolean;
  by?: string;
  comment?: string;
}

export interface ApprovalTicket {
  /** Shown to the client: "waiting for approval: request <id>". */
  id: string;
  decision: Promise<ApprovalOutcome>;
  /** The statement no longer waits (timeout, cancel, session end): tell the approvers. */
  withdraw(reason: string): void;
}

export interface Approver {
  requestApproval(request: ApprovalRequest): Promise<ApprovalTicket>;
}
