/** Sessions: open, search, read, close; their recorded events and anomalies. */
import {
  closeSessionInput,
  idParams,
  noQuery,
  openSessionInput,
  sessionEventsQuery,
  sessionSearch,
} from '../../api/requests/index.ts';
import { isRelay } from '../../services/context.ts';
import type { RouteModule } from '../route-context.ts';

export const sessionRoutes: RouteModule = (router, { services, caller }) => {
  router.post('/sessions', { schema: { body: openSessionInput } }, async (request, reply) => {
    const opened = await services.sessions.openSession(caller(request), request.body.targetId);
    return reply.code(201).send(opened);
  });

  router.get('/sessions', { schema: { querystring: sessionSearch } }, async (request) =>
    services.audit.searchSessions(request.query, caller(request)),
  );

  router.get('/sessions/to-close', { schema: { querystring: noQuery } }, async (request) => {
    const identity = caller(request);
    if (isRelay(services.config(), identity)) return services.sessions.relayConnectionsToClose();
    const all = await services.sessions.sessionsToClose();
    return all.filter((session) => session.subject === identity.subject);
  });

  router.get('/sessions/:id', { schema: { params: idParams, querystring: noQuery } }, async (request) =>
    services.audit.getSession(request.params.id, caller(request)),
  );

  router.post(
    '/sessions/:id/close',
    { schema: { params: idParams, body: closeSessionInput } },
    async (request) =>
      services.sessions.closeSession(caller(request), request.params.id, request.body.reason ?? 'closed'),
  );

  router.get(
    '/sessions/:id/events',
    { schema: { params: idParams, querystring: sessionEventsQuery } },
    async (request) => services.audit.sessionEvents(request.params.id, caller(request), request.query),
  );

  router.get(
    '/sessions/:id/anomalies',
    { schema: { params: idParams, querystring: noQuery } },
    async (request) => services.audit.sessionAnomalies(request.params.id, caller(request)),
  );
};
