/** From stored rows to the API's shapes. */
import type { Selectable } from 'kysely';
import {
  DECISION_CHANNELS,
  type AccessDecision,
  type AccessRequest,
  type AnomalyKind,
  type Approval,
  type DecisionChannel,
  type HoldContext,
  type RecordedEvent,
  type RecordingAnomaly,
  type SessionSummary,
} from '../api/types.ts';
import type {
  AccessDecisionsTable,
  AccessRequestsTable,
  CommandApprovalsTable,
  RecordingAnomaliesTable,
  SessionEventsTable,
  SessionsTable,
} from '../db/schema.ts';

export type SessionRow = Selectable<SessionsTable>;
export type AccessRequestRow = Selectable<AccessRequestsTable>;
export type AccessDecisionRow = Selectable<AccessDecisionsTable>;
export type ApprovalRow = Selectable<CommandApprovalsTable>;

export function sessionSummary(row: SessionRow): SessionSummary {
  return {
    id: row.id,
    parentId: row.parent_id ?? null,
    targetId: row.target_id,
    subject: row.subject,
    displayName: row.display_name,
    kind: row.kind,
    openedAt: row.opened_at,
    closedAt: row.closed_at,
    closeReason: row.close_reason,
    status: row.status,
    grantId: row.grant_id,
    chainStatus: row.chain_status,
    lastSeq: Number(row.last_seq),
    maxSeq: Number(row.max_seq),
    eventCount: Number(row.event_count),
    statementCount: Number(row.statement_count),
    deniedCount: Number(row.denied_count),
    heldCount: Number(row.held_count),
    anomalyCount: Number(row.anomaly_count),
  };
}

export function accessDecision(row: AccessDecisionRow): AccessDecision {
  return {
    approver: { subject: row.approver_subject, name: row.approver_name },
    approve: Number(row.approve) === 1,
    comment: row.comment,
    at: row.at,
    via: decisionChannel(row.via),
  };
}

export function accessRequest(row: AccessRequestRow, decisions: readonly AccessDecisionRow[]): AccessRequest {
  return {
    id: row.id,
    targetId: row.target_id,
    requester: { subject: row.requester_subject, name: row.requester_name },
    reason: row.reason,
    durationSeconds: Number(row.duration_seconds),
    state: row.state,
    createdAt: row.created_at,
    decidedAt: row.decided_at,
    expiresAt: row.expires_at,
    minApprovals: Number(row.min_approvals),
    // In the order given (the queries sort by time, then approver).
    decisions: decisions.filter((d) => d.request_id === row.id).map(accessDecision),
    closedBy:
      row.closed_by_subject === null
        ? null
        : { subject: row.closed_by_subject, name: row.closed_by_name ?? '' },
    closeComment: row.close_comment,
  };
}

export function approvalOf(row: ApprovalRow): Approval {
  return {
    id: row.id,
    sessionId: row.session_id,
    targetId: row.target_id,
    requester: { subject: row.requester_subject, name: row.requester_name },
    sql: row.sql,
    classes: JSON.parse(row.classes) as string[],
    rule: row.rule,
    state: row.state,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    decidedAt: row.decided_at,
    decidedBy:
      row.decided_by_subject === null
        ? null
        : { subject: row.decided_by_subject, name: row.decided_by_name ?? '' },
    comment: row.comment,
    decidedVia: decisionChannel(row.decided_via),
    context: row.context === null ? null : (JSON.parse(row.context) as HoldContext),
    holds: Number(row.holds ?? 1),
  };
}

function decisionChannel(value: string | null): DecisionChannel | null {
  return DECISION_CHANNELS.find((c) => c === value) ?? null;
}

export function recordedEvent(row: Selectable<SessionEventsTable>): RecordedEvent {
  return {
    seq: Number(row.seq),
    at: row.at,
    type: row.type,
    payload: JSON.parse(row.payload) as unknown,
    prevHash: row.prev_hash,
    hash: row.hash,
    chainOk: row.chain_ok === null ? null : Number(row.chain_ok) === 1,
    receivedAt: row.received_at,
  };
}

export function recordingAnomaly(row: Selectable<RecordingAnomaliesTable>): RecordingAnomaly {
  return {
    id: Number(row.id),
    sessionId: row.session_id,
    seq: row.seq === null ? null : Number(row.seq),
    kind: row.kind as AnomalyKind,
    detail: JSON.parse(row.detail) as Record<string, unknown>,
    detectedAt: row.detected_at,
  };
}
