/**
 * The hub's HTTP API (fastify): JSON under /v1, every route authenticated with a Bearer access token
 * (callers.ts), authorization decided by the services (hub/services). The routes stand one module a
 * resource in routes/, validated by the zod schemas of hub/api/requests (validation.ts).
 *
 * Bodies are size-limited (64 KiB, more for held statements and recording batches).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { TokenVerifier } from '../auth/index.ts';
import type { HubServices } from '../services/index.ts';
import { createCallers } from './callers.ts';
import { handleError } from './errors.ts';
import { KIB, type HubRouter, type RouteContext } from './route-context.ts';
import { publicRoutes, V1_ROUTES } from './routes/index.ts';
import { zodValidatorCompiler, type ZodTypeProvider } from './validation.ts';

export { ROUTES } from './routes/index.ts';

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

/** Sent when the hub is shutting down while a request waits. */
class ShuttingDown extends Error {}

export function buildHubApp(options: HubAppOptions): FastifyInstance {
  const shutdown = new AbortController();
  const streams = new Set<Promise<void>>();
  const callers = createCallers(options.verifier);
  const context: RouteContext = {
    services: options.services,
    verifier: options.verifier,
    caller: callers.caller,
    tokenExpiresAt: callers.tokenExpiresAt,
    shutdown: shutdown.signal,
    track: (stream) => {
      streams.add(stream);
      return stream.finally(() => streams.delete(stream));
    },
    heartbeatMs: options.heartbeatMs ?? 15_000,
    recordingBodyLimit: options.recordingBodyLimit ?? 16 * KIB * KIB,
  };

  const app = Fastify({
    logger:
      options.logLevel && options.logLevel !== 'silent'
        ? { level: options.logLevel, stream: process.stderr }
        : false,
    bodyLimit: options.bodyLimit ?? 64 * KIB,
    exposeHeadRoutes: false,
    return503OnClosing: true,
  });
  app.setValidatorCompiler(zodValidatorCompiler);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );
  // Long-lived requests end when the hub closes: event streams end, waits answer 503.
  app.addHook('preClose', async () => {
    shutdown.abort(new ShuttingDown('the hub is shutting down'));
    await Promise.allSettled([...streams]);
  });

  const router: HubRouter = app.withTypeProvider<ZodTypeProvider>();
  publicRoutes(router, context);
  void router.register(
    async (v1) => {
      v1.addHook('onRequest', callers.authenticate);
      // A POST without a body is an empty object, so a missing field is named rather than "body".
      v1.addHook('preValidation', async (request) => {
        if (request.method === 'POST' && (request.body === undefined || request.body === null)) {
          request.body = {};
        }
      });
      for (const routes of V1_ROUTES) routes(v1, context);
    },
    { prefix: '/v1' },
  );
  return app;
}
