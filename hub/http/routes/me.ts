/** The caller, and the targets and policy checks they see. */
import type { Me } from '../../api/types.ts';
import { idParams, noQuery } from '../../api/requests/index.ts';
import { isAdmin, isAuditor } from '../../services/context.ts';
import type { RouteModule } from '../route-context.ts';

export const meRoutes: RouteModule = (router, { services, caller }) => {
  router.get('/me', { schema: { querystring: noQuery } }, async (request) => {
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

  router.get('/targets', { schema: { querystring: noQuery } }, async (request) =>
    services.entitlements.targetsFor(caller(request)),
  );

  router.get('/policy-checks', { schema: { querystring: noQuery } }, async (request) =>
    services.policyChecks.list(caller(request)),
  );

  router.post('/policy-checks/:id', { schema: { params: idParams } }, async (request) =>
    services.policyChecks.recheck(caller(request), request.params.id),
  );
};
