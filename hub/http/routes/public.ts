/** The routes anyone may call: liveness, and how to sign in to this hub. */
import type { Health, HubIdentity } from '../../api/types.ts';
import type { RouteModule } from '../route-context.ts';

export const publicRoutes: RouteModule = (router, { services }) => {
  router.get('/healthz', async (_request, reply) => {
    if (!(await services.health.storeReachable())) {
      return reply.code(503).send({ error: 'unavailable', message: 'the hub cannot reach its store' });
    }
    const health: Health = { status: 'ok' };
    return health;
  });

  router.get('/v1/identity', async () => {
    const { identity } = services.config();
    const answer: HubIdentity = {
      issuer: identity.issuer,
      audience: identity.audience,
      clientId: identity.clientId,
      groupsClaim: identity.groupsClaim,
    };
    return answer;
  });
};
