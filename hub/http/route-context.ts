/** What every route module is given: the services, who is calling, and the hub's lifetime. */
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyRequest,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { Identity } from '../api/types.ts';
import type { TokenVerifier } from '../auth/index.ts';
import type { HubServices } from '../services/index.ts';
import type { ZodTypeProvider } from './validation.ts';

/** A fastify instance whose routes' schemas are hub/api/requests' zod schemas. */
export type HubRouter = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression<RawServerDefault>,
  RawReplyDefaultExpression<RawServerDefault>,
  FastifyBaseLogger,
  ZodTypeProvider
>;

export interface RouteContext {
  services: HubServices;
  verifier: TokenVerifier;
  /** The authenticated caller of a /v1 request. */
  caller(request: FastifyRequest): Identity;
  /** When the caller's access token expires (ms since the epoch), when it says. */
  tokenExpiresAt(request: FastifyRequest): number | undefined;
  /** Aborted when the hub closes: long-lived requests end. */
  shutdown: AbortSignal;
  /** A long-lived response the hub waits for before it closes. */
  track(stream: Promise<void>): Promise<void>;
  heartbeatMs: number;
  /** The body limit of a recording batch. */
  recordingBodyLimit: number;
}

export type RouteModule = (router: HubRouter, context: RouteContext) => void;

export const KIB = 1024;

/** Answered to a request that waits while the hub shuts down: the caller asks again elsewhere. */
export const SHUTTING_DOWN = { error: 'unavailable', message: 'the hub is shutting down; ask again' };
