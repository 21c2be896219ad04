/**
 * From whatever a request raised to a status and a JSON body `{error, message[, field]}`:
 * - AuthError (hub/auth): its status (401 with a WWW-Authenticate challenge, 503 when the IdP is down);
 * - HubServiceError (hub/services): its status and code (403 forbidden, 404 not_found, 409 conflict,
 *   400 invalid with the field, 429 rate_limited with Retry-After, 503 unavailable);
 * - fastify's own: schema validation → 400 invalid naming the field, malformed JSON → 400 invalid_json,
 *   too large → 413 too_large, a content type other than JSON → 415 unsupported_media_type;
 * - anything else → 500 internal, logged, with no detail in the answer.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiError } from '../api/types.ts';
import { AuthError } from '../auth/index.ts';
import { HubServiceError, RateLimitedError, ValidationError } from '../services/index.ts';
import { InvalidRequest } from './validation.ts';

export interface HttpFailure {
  status: number;
  body: ApiError;
  headers?: Record<string, string>;
}

interface FrameworkError {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
  validationContext?: string;
}

/** A body, query or path that did not pass its schema (validation.ts): 400 naming the field. */
function validationFailure(error: InvalidRequest & FrameworkError): HttpFailure {
  const where = error.validationContext === 'querystring' ? 'query' : (error.validationContext ?? 'body');
  if (error.field === '') {
    return { status: 400, body: { error: 'invalid', message: `${where} ${error.problem}` } };
  }
  return {
    status: 400,
    body: { error: 'invalid', message: `${error.field}: ${error.problem}`, field: error.field },
  };
}

const FRAMEWORK: Record<string, { status: number; error: string; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, error: 'too_large', message: 'the request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    error: 'unsupported_media_type',
    message: 'send JSON (content-type: application/json)',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, error: 'invalid', message: 'bad content-length' },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    error: 'invalid_json',
    message: 'the body is empty but says it is JSON',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: {
    status: 400,
    error: 'invalid_json',
    message: 'the body is not valid JSON',
  },
};

export function toFailure(error: unknown): HttpFailure | undefined {
  if (error instanceof AuthError) {
    const challenge = error.wwwAuthenticate;
    return {
      status: error.status,
      body: { error: error.code, message: error.message },
      headers: challenge ? { 'www-authenticate': challenge } : undefined,
    };
  }
  if (error instanceof ValidationError) {
    return { status: 400, body: { error: error.code, message: error.message, field: error.field } };
  }
  if (error instanceof RateLimitedError) {
    return {
      status: error.status,
      body: { error: error.code, message: error.message },
      headers: { 'retry-after': String(error.retryAfterSeconds) },
    };
  }
  if (error instanceof HubServiceError) {
    return { status: error.status, body: { error: error.code, message: error.message } };
  }
  if (error instanceof InvalidRequest) return validationFailure(error);
  const framework = (error ?? {}) as FrameworkError;
  const known = typeof framework.code === 'string' ? FRAMEWORK[framework.code] : undefined;
  if (known) {
    return {
      status: known.status,
      body: { error: known.error, message: known.message ?? String(framework.message) },
    };
  }
  if (typeof framework.statusCode === 'number' && framework.statusCode >= 400 && framework.statusCode < 500) {
    return {
      status: framework.statusCode,
      body: { error: 'bad_request', message: String(framework.message ?? 'bad request') },
    };
  }
  return undefined;
}

/** fastify's error handler: known failures as they are, the rest as a logged 500. */
export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  let failure = toFailure(error);
  if (!failure) {
    request.log.error({ err: error }, 'request failed');
    failure = { status: 500, body: { error: 'internal', message: 'the hub failed to answer; see its log' } };
  } else if (failure.status >= 500) {
    request.log.warn({ err: error }, failure.body.message);
  }
  if (failure.headers) reply.headers(failure.headers);
  return reply.code(failure.status).type('application/json; charset=utf-8').send(failure.body);
}
