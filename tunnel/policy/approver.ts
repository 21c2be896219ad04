/**
 * Who decides on held statements. The hub provides the real approver (a human deciding from a
 * notification); `portcullis guard` without a hub has none, so statements that need approval are denied.
 */

export interface ApprovalRequest {
  sessionId: string;
  sql: string;
  classes: readonly string[];
  rule: string;
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
