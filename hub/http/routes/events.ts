/** The caller's live events as Server-Sent Events, resumable with Last-Event-ID or ?after=. */
import { eventsQuery } from '../../api/requests/index.ts';
import { ValidationError } from '../../services/index.ts';
import { streamEvents } from '../event-stream.ts';
import type { RouteModule } from '../route-context.ts';

const SSE_RETRY_MS = 2000;

export const eventRoutes: RouteModule = (router, context) => {
  const { services, shutdown } = context;
  router.get('/events', { schema: { querystring: eventsQuery } }, async (request, reply) => {
    const header = request.headers['last-event-id'];
    let after = request.query.after;
    if (typeof header === 'string' && header.trim() !== '') {
      if (!/^\d{1,15}$/.test(header.trim())) {
        throw new ValidationError('Last-Event-ID', 'must be an event id (a whole number)');
      }
      after = Number(header.trim());
    }
    if (shutdown.aborted) {
      return reply.code(503).send({ error: 'unavailable', message: 'the hub is shutting down' });
    }
    reply.hijack();
    await context.track(
      streamEvents({
        services,
        identity: context.caller(request),
        after,
        response: reply.raw,
        shutdown,
        heartbeatMs: context.heartbeatMs,
        tokenExpiresAt: context.tokenExpiresAt(request),
        retryMs: SSE_RETRY_MS,
        onError: (error) => request.log.error({ err: error }, 'event stream failed'),
      }),
    );
  });
};
