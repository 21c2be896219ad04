/**
 * The hub's HTTP API (fastify): JSON under /v1, every route authenticated with a Bearer access token
 * (hub/auth), authorization decided by the services (hub/services). Routes are listed in ROUTES below.
 *
 * Authentication runs in onRequest, before the body is read: an unauthenticated caller gets its 401
 * without the hub parsing anything it sent. Bodies are size-limited (64 KiB, more for held statements and
 * recording batches) and validated against the schemas in schemas.ts.
 */
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import type {
  AccessRequestInput,
  AccessRequestScope,
  ApprovalScope,
  CloseSessionInput,
  DecisionInput,
  Health,
  HubIdentity,
  HoldInput,
  Identity,
  Me,
  OpenSessionInput,
  ProofRequest,
  RecordingBatch,
  RelayConnectionInput,
  RevokeInput,
  SessionSearch,
  WithdrawInput,
} from '../api/types.ts';
import type { TokenVerifier } from '../auth/index.ts';
import { isAdmin, isAuditor, isRelay } from '../services/context.ts';
import { ForbiddenError, ValidationError, type HubServices } from '../services/index.ts';
import { handleError } from './errors.ts';
import { streamEvents } from './event-stream.ts';
import * as schemas from './schemas.ts';

export type LogLevel = 'silent' | 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export interface HubAppOptions {
  services: HubServices;
  verifier: TokenVerifier;
  /** Logs go to stderr as JSON lines. Default 'silent'. */
  logLevel?: LogLevel;
  /** SSE heartbeat comment interval. Default 15 000. */
  heartbeatMs?: number;
  /** The body limit of most routes, default 64 KiB. */
  bodyLimit?: number;
  /** The body limit of a recording batch, default 16 MiB. */
  recordingBodyLimit?: number;
}

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

const KIB = 1024;
const MAX_WAIT_SECONDS = 120;
const DEFAULT_WAIT_SECONDS = 30;
const SSE_RETRY_MS = 2000;

interface IdParams {
  id: string;
}

/** What onRequest learnt from the access token. */
interface Caller {
  identity: Identity;
  /** The token's exp, in ms since the epoch. */
  expiresAt: number | undefined;
}

function whole(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}

/** Sent when the hub is shutting down while a request waits. */
class ShuttingDown extends Error {}

export function buildHubApp(options: HubAppOptions): FastifyInstance {
  const { services, verifier } = options;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const shutdown = new AbortController();
  const streams = new Set<Promise<void>>();
  const callers = new WeakMap<FastifyRequest, Caller>();

  const app = Fastify({
    logger:
      options.logLevel && options.logLevel !== 'silent'
        ? { level: options.logLevel, stream: process.stderr }
        : false,
    bodyLimit: options.bodyLimit ?? 64 * KIB,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false },
    },
  });

  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );

  const caller = (request: FastifyRequest): Identity => {
    const known = callers.get(request);
    if (!known) throw new Error('unauthenticated request reached a handler');
    return known.identity;
  };

  // Long-lived requests end when the hub closes: event streams end, waits answer 503.
  app.addHook('preClose', async () => {
    shutdown.abort(new ShuttingDown('the hub is shutting down'));
    await Promise.allSettled([...streams]);
  });

  app.get('/healthz', async (_request, reply) => {
    try {
      await services.database.db.selectFrom('events').select('id').limit(1).execute();
    } catch {
      return reply.code(503).send({ error: 'unavailable', message: 'the hub cannot reach its store' });
    }
    const health: Health = { status: 'ok' };
    return health;
  });

  app.get('/v1/identity', async () => {
    const { identity } = services.config();
    const answer: HubIdentity = {
      issuer: identity.issuer,
      audience: identity.audience,
      clientId: identity.clientId,
      groupsClaim: identity.groupsClaim,
    };
    return answer;
  });

  void app.register(
    async (v1) => {
      v1.addHook('onRequest', async (request, reply) => {
        const header = request.headers.authorization;
        const identity = await verifier.verify(header);
        let expiresAt: number | undefined;
        try {
          const exp = decodeJwt(header!.trim().split(/\s+/)[1]!).exp;
          if (typeof exp === 'number') expiresAt = exp * 1000;
        } catch {
          // verify() accepted it, so it decodes; stay safe anyway.
        }
        callers.set(request, { identity, expiresAt });
        reply.header('cache-control', 'no-store');
      });
      // A POST without a body is an empty object, so a missing field is named rather than "body".
      v1.addHook('preValidation', async (request) => {
        if (request.method === 'POST' && (request.body === undefined || request.body === null)) {
          request.body = {};
        }
      });

      v1.get('/me', { schema: { querystring: schemas.noQuery } }, async (request) => {
        const identity = caller(request);
        const config = services.config();
        const me: Me = {
          subject: identity.subject,
          name: identity.name,
          groups: identity.groups,
          kind: identity.kind,
          admin: isAdmin(config, identity),
          auditor: isAuditor(config, identity),
        };
        return me;
      });

      v1.get('/targets', { schema: { querystring: schemas.noQuery } }, async (request) =>
        services.entitlements.targetsFor(caller(request)),
      );

      // Policy checks (admins) ----------------------------------------------------------------------

      v1.get('/policy-checks', { schema: { querystring: schemas.noQuery } }, async (request) =>
        services.policyChecks.list(caller(request)),
      );

      v1.post<{ Params: { id: string } }>(
        '/policy-checks/:id',
        { schema: { params: schemas.idParams } },
        async (request) => services.policyChecks.recheck(caller(request), request.params.id),
      );

      // Sessions -------------------------------------------------------------------------------------

      v1.post<{ Body: OpenSessionInput }>(
        '/sessions',
        { schema: { body: schemas.openSessionBody } },
        async (request, reply) => {
          const opened = await services.sessions.openSession(caller(request), request.body.targetId);
          return reply.code(201).send(opened);
        },
      );

      v1.get<{ Querystring: Record<string, string | undefined> }>(
        '/sessions',
        { schema: { querystring: schemas.sessionSearchQuery } },
        async (request) => {
          const q = request.query;
          const search: SessionSearch = {
            subject: q.subject,
            targetId: q.targetId,
            from: q.from,
            to: q.to,
            decision: q.decision as SessionSearch['decision'],
            chainStatus: q.chainStatus as SessionSearch['chainStatus'],
            limit: whole(q.limit),
            before: q.before,
          };
          for (const key of Object.keys(search) as (keyof SessionSearch)[]) {
            if (search[key] === undefined) delete search[key];
          }
          return services.audit.searchSessions(search, caller(request));
        },
      );

      v1.get('/sessions/to-close', { schema: { querystring: schemas.noQuery } }, async (request) => {
        const identity = caller(request);
        if (isRelay(services.config(), identity)) return services.sessions.relayConnectionsToClose();
        const all = await services.sessions.sessionsToClose();
        return all.filter((session) => session.subject === identity.subject);
      });

      v1.post<{ Body: RelayConnectionInput }>(
        '/relay/connections',
        { schema: { body: schemas.relayConnectionBody } },
        async (request, reply) => {
          const relay = caller(request);
          if (!isRelay(services.config(), relay)) throw new ForbiddenError('only a relay admits connections');
          let owner: Identity;
          try {
            owner = await verifier.verify(`Bearer ${request.body.accessToken}`);
          } catch (error) {
            throw new ForbiddenError(`the access token presented is not valid: ${(error as Error).message}`);
          }
          return reply.code(201).send(await services.relays.admit(relay, owner, request.body));
        },
      );

      v1.get<{ Params: IdParams }>(
        '/sessions/:id',
        { schema: { params: schemas.idParams, querystring: schemas.noQuery } },
        async (request) => services.audit.getSession(request.params.id, caller(request)),
      );

      v1.post<{ Params: IdParams; Body: CloseSessionInput }>(
        '/sessions/:id/close',
        { schema: { params: schemas.idParams, body: schemas.closeSessionBody } },
        async (request) =>
          services.sessions.closeSession(caller(request), request.params.id, request.body.reason ?? 'closed'),
      );

      v1.post<{ Params: IdParams; Body: ProofRequest }>(
        '/sessions/:id/proofs',
        { schema: { params: schemas.idParams, body: schemas.proofBody } },
        async (request) => services.proofs.prove(caller(request), request.params.id, request.body),
      );

      v1.get<{ Params: IdParams }>(
        '/sessions/:id/proofs',
        { schema: { params: schemas.idParams, querystring: schemas.noQuery } },
        async (request) => services.proofs.list(caller(request), request.params.id),
      );

      v1.get<{ Params: IdParams; Querystring: { afterSeq?: string; limit?: string } }>(
        '/sessions/:id/events',
        { schema: { params: schemas.idParams, querystring: schemas.sessionEventsQuery } },
        async (request) =>
          services.audit.sessionEvents(request.params.id, caller(request), {
            afterSeq: whole(request.query.afterSeq),
            limit: whole(request.query.limit),
          }),
      );

      v1.get<{ Params: IdParams }>(
        '/sessions/:id/anomalies',
        { schema: { params: schemas.idParams, querystring: schemas.noQuery } },
        async (request) => services.audit.sessionAnomalies(request.params.id, caller(request)),
      );

      v1.post<{ Params: IdParams; Body: RecordingBatch }>(
        '/sessions/:id/recordings',
        {
          schema: { params: schemas.idParams, body: schemas.recordingBatchBody },
          bodyLimit: options.recordingBodyLimit ?? 16 * KIB * KIB,
        },
        async (request) =>
          services.recordings.ingest(caller(request), request.params.id, request.body.events),
      );

      // Audit export: JSON lines, streamed page by page -----------------------------------------------

      v1.get<{ Querystring: { since: string } }>(
        '/audit/export',
        { schema: { querystring: schemas.exportQuery } },
        async (request, reply) => {
          const since = new Date(request.query.since);
          if (Number.isNaN(since.getTime())) throw new ValidationError('since', 'must be an ISO-8601 time');
          const lines = services.audit.exportJsonLines(since, caller(request));
          return reply
            .type('application/x-ndjson; charset=utf-8')
            .send(Readable.from(lines, { objectMode: false }));
        },
      );

      // Just-in-time access ---------------------------------------------------------------------------

      v1.post<{ Body: AccessRequestInput }>(
        '/access-requests',
        { schema: { body: schemas.accessRequestBody } },
        async (request, reply) =>
          reply.code(201).send(await services.access.create(caller(request), request.body)),
      );

      v1.get<{ Querystring: { scope?: AccessRequestScope; limit?: string } }>(
        '/access-requests',
        { schema: { querystring: schemas.accessRequestListQuery } },
        async (request) => {
          const identity = caller(request);
          return (request.query.scope ?? 'mine') === 'pending'
            ? services.access.listPendingFor(identity)
            : services.access.listMine(identity, { limit: whole(request.query.limit) });
        },
      );

      v1.get<{ Params: IdParams }>(
        '/access-requests/:id',
        { schema: { params: schemas.idParams, querystring: schemas.noQuery } },
        async (request) => services.access.get(caller(request), request.params.id),
      );

      v1.post<{ Params: IdParams; Body: DecisionInput }>(
        '/access-requests/:id/decision',
        { schema: { params: schemas.idParams, body: schemas.decisionBody } },
        async (request) => services.access.decide(caller(request), request.params.id, request.body),
      );

      v1.post<{ Params: IdParams; Body: RevokeInput }>(
        '/access-requests/:id/revoke',
        { schema: { params: schemas.idParams, body: schemas.revokeBody } },
        async (request) => services.access.revoke(caller(request), request.params.id, request.body.comment),
      );

      // Held statements ------------------------------------------------------------------------------

      v1.post<{ Body: HoldInput }>(
        '/approvals',
        { schema: { body: schemas.holdBody }, bodyLimit: 1024 * KIB },
        async (request, reply) =>
          reply.code(201).send(await services.approvals.create(caller(request), request.body)),
      );

      v1.get<{ Querystring: { scope?: ApprovalScope; limit?: string } }>(
        '/approvals',
        { schema: { querystring: schemas.approvalListQuery } },
        async (request) => {
          const identity = caller(request);
          return (request.query.scope ?? 'pending') === 'mine'
            ? services.approvals.listMine(identity, { limit: whole(request.query.limit) })
            : services.approvals.listPendingFor(identity);
        },
      );

      v1.get<{ Params: IdParams }>(
        '/approvals/:id',
        { schema: { params: schemas.idParams, querystring: schemas.noQuery } },
        async (request) => services.approvals.get(caller(request), request.params.id),
      );

      v1.get<{ Params: IdParams; Querystring: { timeout?: string } }>(
        '/approvals/:id/wait',
        { schema: { params: schemas.idParams, querystring: schemas.waitQuery } },
        async (request, reply) => {
          const identity = caller(request);
          const seconds = whole(request.query.timeout) ?? DEFAULT_WAIT_SECONDS;
          if (seconds > MAX_WAIT_SECONDS) {
            throw new ValidationError('timeout', `must be at most ${MAX_WAIT_SECONDS} seconds`);
          }
          const current = await services.approvals.get(identity, request.params.id);
          if (current.state !== 'pending') return current;
          if (seconds === 0) return reply.code(204).send();

          const gone = new AbortController();
          const onClose = (): void => gone.abort();
          reply.raw.on('close', onClose);
          const timeout = AbortSignal.timeout(seconds * 1000);
          try {
            return await services.approvals.waitForDecision(
              identity,
              request.params.id,
              AbortSignal.any([gone.signal, timeout, shutdown.signal]),
            );
          } catch (error) {
            if (shutdown.signal.aborted || services.events.isClosed) {
              return reply
                .code(503)
                .send({ error: 'unavailable', message: 'the hub is shutting down; ask again' });
            }
            if (timeout.aborted || gone.signal.aborted) return reply.code(204).send();
            throw error;
          } finally {
            reply.raw.off('close', onClose);
          }
        },
      );

      v1.post<{ Params: IdParams; Body: DecisionInput }>(
        '/approvals/:id/decision',
        { schema: { params: schemas.idParams, body: schemas.decisionBody } },
        async (request) => services.approvals.decide(caller(request), request.params.id, request.body),
      );

      v1.post<{ Params: IdParams; Body: WithdrawInput }>(
        '/approvals/:id/withdraw',
        { schema: { params: schemas.idParams, body: schemas.withdrawBody } },
        async (request) =>
          services.approvals.withdraw(caller(request), request.params.id, request.body.reason),
      );

      // Live events ----------------------------------------------------------------------------------

      v1.get<{ Querystring: { after?: string } }>(
        '/events',
        { schema: { querystring: schemas.eventsQuery } },
        async (request, reply) => {
          const known = callers.get(request)!;
          const header = request.headers['last-event-id'];
          let after = whole(request.query.after);
          if (typeof header === 'string' && header.trim() !== '') {
            if (!/^\d{1,15}$/.test(header.trim())) {
              throw new ValidationError('Last-Event-ID', 'must be an event id (a whole number)');
            }
            after = Number(header.trim());
          }
          if (shutdown.signal.aborted) {
            return reply.code(503).send({ error: 'unavailable', message: 'the hub is shutting down' });
          }
          reply.hijack();
          const stream = streamEvents({
            services,
            identity: known.identity,
            after,
            response: reply.raw,
            shutdown: shutdown.signal,
            heartbeatMs,
            tokenExpiresAt: known.expiresAt,
            retryMs: SSE_RETRY_MS,
            onError: (error) => request.log.error({ err: error }, 'event stream failed'),
          });
          streams.add(stream);
          await stream.finally(() => streams.delete(stream));
        },
      );
    },
    { prefix: '/v1' },
  );

  return app;
}
