/**
 * What each native notification says, as plain data: who, what (the first line of the SQL, its class,
 * the table and the planner's estimate) and where, for approvers; what happened to their statement or
 * their access, for requesters. Pure functions, so the wording is tested without any notifier.
 */
import type { AccessRequest, Approval, HoldContext } from '../../hub/api/types.ts';
import type { NotificationModel } from './ports.ts';

const DECIDE = [
  { id: 'approve', label: 'Approve' },
  { id: 'deny', label: 'Deny' },
];

/** The first line of a statement, cut to `max` characters. */
export function firstLine(sql: string, max = 100): string {
  const line =
    sql
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '') ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** "≈ 1,203 rows in payments", or null when nothing was estimated. */
export function estimateText(context: HoldContext | null): string | null {
  if (!context || context.estimatedRows === null) return null;
  const rows = Math.round(context.estimatedRows);
  const where = context.writes.length > 0 ? context.writes : context.tables;
  const tables = where.length > 0 ? ` in ${where.join(', ')}` : '';
  return `≈ ${rows.toLocaleString('en-US')} row${rows === 1 ? '' : 's'}${tables}`;
}

export function duration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
  return `${Math.round(seconds / 60)} min`;
}

function classesText(classes: readonly string[]): string {
  const shown = classes.filter((c) => c !== 'read');
  return (shown.length > 0 ? shown : classes).join(', ') || 'statement';
}

/** For an approver: a statement waits for their decision. */
export function heldStatementForApprover(approval: Approval): NotificationModel {
  const tables = approval.context?.writes.length ? approval.context.writes : (approval.context?.tables ?? []);
  const facts = [
    estimateText(approval.context) ?? (tables.length > 0 ? `touches ${tables.join(', ')}` : null),
    `held by ${approval.rule}`,
    approval.holds > 1 ? `${approval.holds} identical statements wait on this decision` : null,
  ].filter((f): f is string => f !== null);
  return {
    id: `statement:${approval.id}`,
    title: `${approval.requester.name} wants to run a ${classesText(approval.classes)} on ${approval.targetId}`,
    body: `${firstLine(approval.sql)}\n${facts.join(' · ')}`,
    actions: DECIDE,
    opens: { screen: 'approvals', kind: 'statement', id: approval.id },
    urgent: true,
  };
}

/** For an approver: someone asks for just-in-time access. */
export function accessRequestForApprover(request: AccessRequest): NotificationModel {
  return {
    id: `access:${request.id}`,
    title: `${request.requester.name} asks for ${request.targetId} for ${duration(request.durationSeconds)}`,
    body: request.reason,
    actions: DECIDE,
    opens: { screen: 'approvals', kind: 'access', id: request.id },
    urgent: true,
  };
}

/** For the person whose client sent it: their statement waits for an approver. */
export function myStatementHeld(targetId: string, approvalId: string, sql: string): NotificationModel {
  return {
    id: `mine:${approvalId}`,
    title: `Your statement on ${targetId} is held for approval`,
    body: `${firstLine(sql)}\nThe approvers of ${targetId} have been asked; it runs the moment one approves.`,
    actions: [],
    opens: { screen: 'tunnel', targetId },
    urgent: false,
  };
}

/** For the person whose statement was held: what the approver decided (or that nobody did). */
export function myStatementDecided(
  targetId: string,
  approvalId: string,
  sql: string,
  outcome: { state: string; by: string | null; comment: string | null },
): NotificationModel {
  const by = outcome.by ? ` by ${outcome.by}` : '';
  const comment = outcome.comment ? `: “${outcome.comment}”` : '';
  const title =
    outcome.state === 'approved'
      ? `Approved${by}: your statement on ${targetId} runs`
      : outcome.state === 'denied'
        ? `Denied${by}: your statement on ${targetId}`
        : `Your held statement on ${targetId} ${outcome.state === 'timeout' ? 'timed out' : `was ${outcome.state}`}`;
  return {
    id: `mine:${approvalId}`,
    title,
    body: `${firstLine(sql)}${comment ? `\n${comment.slice(2)}` : ''}`,
    actions: [],
    opens: { screen: 'tunnel', targetId },
    urgent: false,
  };
}

function clockTime(iso: string | null): string {
  if (!iso) return '';
  return new Date(iso).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
}

/** For the requester: their access request was decided, or their grant is about to end or ended. */
export function myAccessChanged(
  request: AccessRequest,
  kind: 'decided' | 'expiring' | 'ended',
): NotificationModel {
  const decision = request.decisions.find((d) => d.approve === (request.state === 'approved'));
  const by = decision ? ` by ${decision.approver.name}` : '';
  let title: string;
  let body: string;
  if (kind === 'expiring') {
    const minutes = Math.max(0, Math.round((Date.parse(request.expiresAt ?? '') - Date.now()) / 60_000));
    title = `Your access to ${request.targetId} ends in ${minutes} min`;
    body = `At ${clockTime(request.expiresAt)} open tunnels close. Ask again from Targets if you need more time.`;
  } else if (kind === 'ended') {
    title = `Your access to ${request.targetId} has ${request.state === 'revoked' ? 'been revoked' : 'ended'}`;
    body = request.closeComment ?? 'Its tunnels are closed. Ask again from Targets if you still need it.';
  } else if (request.state === 'approved') {
    title = `Access to ${request.targetId} granted${by}`;
    body = `You may connect until ${clockTime(request.expiresAt)} (${duration(request.durationSeconds)}).${decision?.comment ? `\n“${decision.comment}”` : ''}`;
  } else {
    title = `Access to ${request.targetId} ${request.state}${by}`;
    body = decision?.comment ?? request.reason;
  }
  return {
    id: `my-access:${request.id}`,
    title,
    body,
    actions: [],
    opens: { screen: 'targets' },
    urgent: false,
  };
}

/** For the person running a tunnel the hub (or a grant's end) closed. */
export function tunnelEnded(targetId: string, reason: string): NotificationModel {
  return {
    id: `tunnel:${targetId}`,
    title: `The tunnel to ${targetId} closed`,
    body: reason,
    actions: [],
    opens: { screen: 'tunnel', targetId },
    urgent: false,
  };
}
