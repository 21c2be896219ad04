/** How the hub client says what went wrong: a refusal from the hub, or no answer at all. */

/**
 * What the hub refused, or why it could not be asked. `status` is the HTTP status, or 0 when no answer
 * came (unreachable, timed out, aborted); `code` is the hub's error code (`forbidden`, `not_found`,
 * `conflict`, `invalid`, `expired`, …) or `unreachable` / `timeout` / `aborted` / `http_error`.
 */
export class HubError extends Error {
  override name = 'HubError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** For `invalid`: the field the hub named. */
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The most telling part of a network error: its code (ECONNREFUSED) or its innermost message. */
export function describeCause(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    const { code, message, cause } = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === 'string' && code !== '') return code;
    if (cause === undefined) return typeof message === 'string' && message !== '' ? message : String(current);
    current = cause;
  }
  return String(error);
}
