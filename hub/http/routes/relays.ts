/**
 * A relay admits each client connection it accepts, on the user's own access token, and renews the lease on
 * each connection it serves.
 */
import type { Identity } from '../../api/types.ts';
import { relayConnectionInput, relayLeaseInput } from '../../api/requests/index.ts';
import { isRelay } from '../../services/context.ts';
import { ForbiddenError } from '../../services/index.ts';
import type { RouteModule } from '../route-context.ts';

export const relayRoutes: RouteModule = (router, { services, verifier, caller }) => {
  router.post('/relay/connections', { schema: { body: relayConnectionInput } }, async (request, reply) => {
    const relay = caller(request);
    if (!isRelay(services.config(), relay)) throw new ForbiddenError('only a relay admits connections');
    let owner: Identity;
    try {
      owner = await verifier.verify(`Bearer ${request.body.accessToken}`);
    } catch (error) {
      throw new ForbiddenError(`the access token presented is not valid: ${(error as Error).message}`);
    }
    return reply.code(201).send(await services.relays.admit(relay, owner, request.body));
  });

  router.post('/relay/leases', { schema: { body: relayLeaseInput } }, async (request) =>
    services.relays.renewLeases(caller(request), request.body),
  );
};
