/** The hub's routes, one module a resource; ROUTES lists them all for the README and the tests. */
import type { RouteModule } from '../route-context.ts';
import { accessRequestRoutes } from './access-requests.ts';
import { approvalRoutes } from './approvals.ts';
import { eventRoutes } from './events.ts';
import { meRoutes } from './me.ts';
import { proofRoutes } from './proofs.ts';
import { recordingRoutes } from './recordings.ts';
import { relayRoutes } from './relays.ts';
import { sessionRoutes } from './sessions.ts';

export { publicRoutes } from './public.ts';

/** The authenticated routes, registered under /v1. */
export const V1_ROUTES: readonly RouteModule[] = [
  meRoutes,
  sessionRoutes,
  proofRoutes,
  relayRoutes,
  recordingRoutes,
  accessRequestRoutes,
  approvalRoutes,
  eventRoutes,
];

/** Every route: method, path, what it does (for the README and the report). */
export const ROUTES = [
  ['GET', '/healthz', 'liveness and store check; unauthenticated'],
  ['GET', '/v1/identity', 'how to sign in: issuer, audience, public client id; unauthenticated'],
  ['GET', '/v1/me', 'the caller: identity, groups, admin/auditor'],
  ['GET', '/v1/targets', 'targets the caller may use or request, with status and grant'],
  ['GET', '/v1/policy-checks', 'admins: whether each target’s policy names only what its database has'],
  ['POST', '/v1/policy-checks/:id', 'admins: check one target’s policy against its database now'],
  ['POST', '/v1/sessions', 'open a session {targetId} → OpenedSession: where and as whom, never a secret'],
  ['GET', '/v1/sessions', 'search sessions (own; everyone’s for auditors/admins)'],
  ['GET', '/v1/sessions/to-close', 'the caller’s sessions to end (for a relay: the connections it serves)'],
  ['GET', '/v1/sessions/:id', 'one session’s summary'],
  ['POST', '/v1/sessions/:id/close', 'close a session {reason?}'],
  [
    'POST',
    '/v1/sessions/:id/proofs',
    'answer one connection’s authentication challenge {method, connection, …}',
  ],
  ['GET', '/v1/sessions/:id/proofs', 'the proofs given for a session (owner, auditors)'],
  ['GET', '/v1/sessions/:id/events', 'a session’s recorded events (?afterSeq, ?limit)'],
  ['GET', '/v1/sessions/:id/anomalies', 'what verification found wrong with a recording'],
  ['POST', '/v1/sessions/:id/recordings', 'ingest a batch {events} (idempotent) → IngestResult'],
  ['POST', '/v1/relay/connections', 'a relay admits a connection {sessionId, accessToken} → RelayAdmission'],
  ['POST', '/v1/relay/leases', 'a relay renews the connections it serves {sessionIds} → what to end'],
  ['GET', '/v1/audit/export', 'JSON lines (application/x-ndjson) of sessions since ?since='],
  ['POST', '/v1/access-requests', 'request just-in-time access {targetId, reason, duration?}'],
  ['GET', '/v1/access-requests', '?scope=mine|pending'],
  ['GET', '/v1/access-requests/:id', 'one access request'],
  ['POST', '/v1/access-requests/:id/decision', 'approve or deny {approve, comment?}'],
  ['POST', '/v1/access-requests/:id/revoke', 'cancel a pending request or revoke a grant {comment?}'],
  ['POST', '/v1/approvals', 'hold a statement {sessionId, connection, sql, classes, rule, timeoutSeconds?}'],
  ['GET', '/v1/approvals', '?scope=pending|mine'],
  ['GET', '/v1/approvals/:id', 'one held statement'],
  ['GET', '/v1/approvals/:id/wait', 'long-poll until decided (?timeout= seconds, ≤ 120): 200, or 204'],
  ['POST', '/v1/approvals/:id/decision', 'approve or deny {approve, comment?}'],
  ['POST', '/v1/approvals/:id/withdraw', 'the requester gives up {reason?}'],
  ['GET', '/v1/events', 'Server-Sent Events for the caller (Last-Event-ID or ?after=)'],
] as const;
