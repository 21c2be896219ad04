/** Held statements: the tunnel holds one and waits or withdraws; approvers list, read and decide. */
import type { ApprovalScope, Approval, DecisionInput, HoldInput } from '../../hub/api/types.ts';
import { segment, type RequestOptions, type Transport } from './transport.ts';

/** How much longer than the hub's own wait the client waits for the long poll's answer. */
const WAIT_SLACK_SECONDS = 15;

export interface HoldsClient {
  holdStatement(input: HoldInput, options?: RequestOptions): Promise<Approval>;
  approvals(scope?: ApprovalScope, page?: { limit?: number }, options?: RequestOptions): Promise<Approval[]>;
  approval(approvalId: string, options?: RequestOptions): Promise<Approval>;
  /** Long-polls until the held statement is decided (or withdrawn/expired); null when `timeoutSeconds` passed first. */
  waitForApproval(
    approvalId: string,
    wait?: { timeoutSeconds?: number },
    options?: RequestOptions,
  ): Promise<Approval | null>;
  decideApproval(approvalId: string, decision: DecisionInput, options?: RequestOptions): Promise<Approval>;
  withdrawApproval(approvalId: string, reason?: string | null, options?: RequestOptions): Promise<Approval>;
}

export function holdsClient({ json }: Transport): HoldsClient {
  const of = (approvalId: string, rest = ''): string => `/v1/approvals/${segment(approvalId)}${rest}`;
  return {
    holdStatement: (input, o = {}) =>
      json({ method: 'POST', path: '/v1/approvals', body: holdBody(input), signal: o.signal }),
    approvals: (scope = 'pending', page = {}, o = {}) =>
      json({ method: 'GET', path: '/v1/approvals', query: { scope, limit: page.limit }, signal: o.signal }),
    approval: (approvalId, o = {}) => json({ method: 'GET', path: of(approvalId), signal: o.signal }),
    waitForApproval: (approvalId, wait = {}, o = {}) =>
      json({
        method: 'GET',
        path: of(approvalId, '/wait'),
        query: { timeout: wait.timeoutSeconds },
        signal: o.signal,
        timeoutMs: ((wait.timeoutSeconds ?? 30) + WAIT_SLACK_SECONDS) * 1000,
      }),
    decideApproval: (approvalId, decision, o = {}) =>
      json({ method: 'POST', path: of(approvalId, '/decision'), body: decision, signal: o.signal }),
    withdrawApproval: (approvalId, reason, o = {}) =>
      json({
        method: 'POST',
        path: of(approvalId, '/withdraw'),
        body: reason === undefined ? {} : { reason },
        signal: o.signal,
      }),
  };
}

/** Only the fields the hub takes: a caller's object may carry more, which the hub would refuse. */
function holdBody(input: HoldInput): HoldInput {
  return {
    sessionId: input.sessionId,
    connection: input.connection,
    sql: input.sql,
    classes: [...input.classes],
    rule: input.rule,
    timeoutSeconds: input.timeoutSeconds,
    context: input.context,
  };
}
