/** From the hub's and the engine's shapes to the plain data the renderer shows (preload/api.ts). */
import type {
  AccessRequest,
  Approval,
  RecordingAnomaly,
  SessionSummary,
  TargetEntitlement,
} from '../../hub/api/types.ts';
import type {
  AccessApproval,
  SessionRow,
  StatementApproval,
  TargetView,
  TimelineEntryView,
} from '../../preload/api.ts';
import type { TimelineEntry } from '../../tunnel/runtime/transcript.ts';

export function targetView(
  target: TargetEntitlement,
  port: number | undefined,
  connected: boolean,
): TargetView {
  return {
    id: target.id,
    name: target.name,
    kind: target.kind,
    address: target.address,
    database: target.database ?? '',
    policy: target.policy,
    status: target.status,
    usable: target.usable,
    grantExpiresAt: target.grant?.expiresAt ?? null,
    pendingRequestId: target.pendingRequestId,
    jit: target.jit ? { ...target.jit } : null,
    port: port ?? null,
    connected,
  };
}

export function statementApproval(approval: Approval): StatementApproval {
  return {
    kind: 'statement',
    id: approval.id,
    targetId: approval.targetId,
    requester: { ...approval.requester },
    sql: approval.sql,
    classes: [...approval.classes],
    rule: approval.rule,
    state: approval.state,
    createdAt: approval.createdAt,
    expiresAt: approval.expiresAt,
    decidedAt: approval.decidedAt,
    decidedBy: approval.decidedBy?.name ?? null,
    decidedVia: approval.decidedVia ?? null,
    comment: approval.comment,
    context: approval.context ? structuredClone(approval.context) : null,
    holds: approval.holds,
  };
}

export function accessApproval(request: AccessRequest): AccessApproval {
  return {
    kind: 'access',
    id: request.id,
    targetId: request.targetId,
    requester: { ...request.requester },
    reason: request.reason,
    durationSeconds: request.durationSeconds,
    state: request.state,
    createdAt: request.createdAt,
    expiresAt: request.expiresAt,
    minApprovals: request.minApprovals,
    decisions: request.decisions.map((d) => ({
      approver: d.approver.name,
      approve: d.approve,
      comment: d.comment,
      at: d.at,
      via: d.via ?? null,
    })),
  };
}

export function sessionRow(session: SessionSummary): SessionRow {
  return {
    id: session.id,
    targetId: session.targetId,
    subject: session.subject,
    displayName: session.displayName,
    kind: session.kind,
    openedAt: session.openedAt,
    closedAt: session.closedAt,
    closeReason: session.closeReason,
    status: session.status,
    chainStatus: session.chainStatus,
    statementCount: session.statementCount,
    deniedCount: session.deniedCount,
    heldCount: session.heldCount,
    anomalyCount: session.anomalyCount,
  };
}

export function timelineEntryView(entry: TimelineEntry): TimelineEntryView {
  return {
    seq: entry.seq,
    at: entry.at,
    kind: entry.kind,
    connection: entry.connection,
    text: entry.text,
    summary: entry.summary,
    sql: entry.sql,
    maskedCells: entry.maskedCells,
    chain: entry.chain,
  };
}

export function anomalyView(anomaly: RecordingAnomaly): { seq: number | null; kind: string; detail: string } {
  return { seq: anomaly.seq, kind: anomaly.kind, detail: JSON.stringify(anomaly.detail) };
}
