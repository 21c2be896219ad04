/** The error a promise rejects with, checked to be of the expected class (a promise that resolves fails). */
import { expect } from 'vitest';

export async function rejectionOf<E extends Error>(
  promise: Promise<unknown>,
  ErrorClass: abstract new (...args: never[]) => E,
): Promise<E> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ErrorClass);
  return error as E;
}
