/** Held statements: a tunnel holds one; approvers list, read and decide; the tunnel waits or withdraws. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  approvalListQuery,
  decisionInput,
  holdInput,
  idParams,
  noQuery,
  waitQuery,
  withdrawInput,
} from '../../api/requests/index.ts';
import { ValidationError } from '../../services/index.ts';
import { KIB, SHUTTING_DOWN, type RouteContext, type RouteModule } from '../route-context.ts';

const MAX_WAIT_SECONDS = 120;
const DEFAULT_WAIT_SECONDS = 30;

export const approvalRoutes: RouteModule = (router, context) => {
  const { services, caller } = context;
  router.post('/approvals', { schema: { body: holdInput }, bodyLimit: 1024 * KIB }, async (request, reply) =>
    reply.code(201).send(await services.approvals.create(caller(request), request.body)),
  );

  router.get('/approvals', { schema: { querystring: approvalListQuery } }, async (request) => {
    const identity = caller(request);
    return (request.query.scope ?? 'pending') === 'mine'
      ? services.approvals.listMine(identity, { limit: request.query.limit })
      : services.approvals.listPendingFor(identity);
  });

  router.get('/approvals/:id', { schema: { params: idParams, querystring: noQuery } }, async (request) =>
    services.approvals.get(caller(request), request.params.id),
  );

  router.get(
    '/approvals/:id/wait',
    { schema: { params: idParams, querystring: waitQuery } },
    (request, reply) => waitForDecision(context, request, reply, request.params.id, request.query.timeout),
  );

  router.post(
    '/approvals/:id/decision',
    { schema: { params: idParams, body: decisionInput } },
    async (request) => services.approvals.decide(caller(request), request.params.id, request.body),
  );

  router.post(
    '/approvals/:id/withdraw',
    { schema: { params: idParams, body: withdrawInput } },
    async (request) => services.approvals.withdraw(caller(request), request.params.id, request.body.reason),
  );
};

/**
 * Long-poll: the decided approval, or 204 when `timeout` seconds pass (or the caller goes) first; 503
 * when the hub shuts down meanwhile.
 */
async function waitForDecision(
  { services, caller, shutdown }: RouteContext,
  request: FastifyRequest,
  reply: FastifyReply,
  approvalId: string,
  timeoutSeconds = DEFAULT_WAIT_SECONDS,
): Promise<unknown> {
  const identity = caller(request);
  if (timeoutSeconds > MAX_WAIT_SECONDS) {
    throw new ValidationError('timeout', `must be at most ${MAX_WAIT_SECONDS} seconds`);
  }
  const current = await services.approvals.get(identity, approvalId);
  if (current.state !== 'pending') return current;
  if (timeoutSeconds === 0) return reply.code(204).send();

  const gone = new AbortController();
  const onClose = (): void => gone.abort();
  reply.raw.on('close', onClose);
  const timeout = AbortSignal.timeout(timeoutSeconds * 1000);
  try {
    const signal = AbortSignal.any([gone.signal, timeout, shutdown]);
    return await services.approvals.waitForDecision(identity, approvalId, signal);
  } catch (error) {
    if (shutdown.aborted || services.events.isClosed) return reply.code(503).send(SHUTTING_DOWN);
    if (timeout.aborted || gone.signal.aborted) return reply.code(204).send();
    throw error;
  } finally {
    reply.raw.off('close', onClose);
  }
}
