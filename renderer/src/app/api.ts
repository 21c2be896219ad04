/** The preload's API, and small helpers around its {ok, value} | {ok: false, code, message} answers. */
import type { ErrorCode, PortcullisApi, Result } from '../../../preload/api.ts';

export const api = (): PortcullisApi => window.portcullis;

/** A failed call, as the screens show it. */
export class CallFailed extends Error {
  override name = 'CallFailed';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The value of a call, or a CallFailed with main's code and message (a broken bridge is 'failed'). */
export async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  let result: Result<T>;
  try {
    result = await call;
  } catch (error) {
    throw new CallFailed('failed', `The app's main process did not answer (${(error as Error).message}).`);
  }
  if (result.ok) return result.value;
  throw new CallFailed(result.code, result.message);
}
