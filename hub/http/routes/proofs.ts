/** Delegated authentication: the hub answers one connection's challenge, and lists what it answered. */
import { idParams, noQuery, proofRequest } from '../../api/requests/index.ts';
import type { RouteModule } from '../route-context.ts';

export const proofRoutes: RouteModule = (router, { services, caller }) => {
  router.post('/sessions/:id/proofs', { schema: { params: idParams, body: proofRequest } }, async (request) =>
    services.proofs.prove(caller(request), request.params.id, request.body),
  );

  router.get(
    '/sessions/:id/proofs',
    { schema: { params: idParams, querystring: noQuery } },
    async (request) => services.proofs.list(caller(request), request.params.id),
  );
};
