/** Just-in-time access: ask for it, list and read requests, decide, cancel or revoke. */
import {
  accessRequestInput,
  accessRequestListQuery,
  decisionInput,
  idParams,
  noQuery,
  revokeInput,
} from '../../api/requests/index.ts';
import type { RouteModule } from '../route-context.ts';

export const accessRequestRoutes: RouteModule = (router, { services, caller }) => {
  router.post('/access-requests', { schema: { body: accessRequestInput } }, async (request, reply) =>
    reply.code(201).send(await services.access.create(caller(request), request.body)),
  );

  router.get('/access-requests', { schema: { querystring: accessRequestListQuery } }, async (request) => {
    const identity = caller(request);
    return (request.query.scope ?? 'mine') === 'pending'
      ? services.access.listPendingFor(identity)
      : services.access.listMine(identity, { limit: request.query.limit });
  });

  router.get(
    '/access-requests/:id',
    { schema: { params: idParams, querystring: noQuery } },
    async (request) => services.access.get(caller(request), request.params.id),
  );

  router.post(
    '/access-requests/:id/decision',
    { schema: { params: idParams, body: decisionInput } },
    async (request) => services.access.decide(caller(request), request.params.id, request.body),
  );

  router.post(
    '/access-requests/:id/revoke',
    { schema: { params: idParams, body: revokeInput } },
    async (request) => services.access.revoke(caller(request), request.params.id, request.body.comment),
  );
};
