/**
 * What a service refuses, and why. The HTTP layer maps `status` to the response and shows `message`;
 * messages never contain credentials.
 */
export abstract class HubServiceError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
}

/** The caller is known but may not do this (403). */
export class ForbiddenError extends HubServiceError {
  readonly status = 403;
  readonly code = 'forbidden';
  override readonly name = 'ForbiddenError';
}

/** No such thing, or none the caller may know about (404). */
export class NotFoundError extends HubServiceError {
  readonly status = 404;
  readonly code = 'not_found';
  override readonly name = 'NotFoundError';
}

/** The thing is not in a state that allows this (already decided, expired, duplicate…) (409). */
export class ConflictError extends HubServiceError {
  readonly status = 409;
  readonly code = 'conflict';
  override readonly name = 'ConflictError';
}

/** The input is malformed or out of bounds (400); `field` names the offending input. */
export class ValidationError extends HubServiceError {
  readonly status = 400;
  readonly code = 'invalid';
  override readonly name = 'ValidationError';

  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** The hub cannot serve this now through no fault of the caller: e.g. a target's password is missing (503). */
export class UnavailableError extends HubServiceError {
  readonly status = 503;
  readonly code = 'unavailable';
  override readonly name = 'UnavailableError';
}

/** The caller asked too often; `retryAfterSeconds` says when to ask again (429). */
export class RateLimitedError extends HubServiceError {
  readonly status = 429;
  readonly code = 'rate_limited';
  override readonly name = 'RateLimitedError';

  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}
