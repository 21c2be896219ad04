/**
 * The field shapes the hub's requests are built from. Each carries the words a 400 names it with, so the
 * answer to a caller reads the same whichever request the field stands in.
 */
import { z } from 'zod';

export const WHOLE_NUMBER = /^[0-9]{1,15}$/;
export const HEX_HASH = /^[0-9a-f]{64}$/;

/** A resource's id (a target, a session, a request): never empty, never long. */
export const id = z.string().min(1).max(200);

export const text = (maxLength: number) => z.string().max(maxLength);

/** Free text a caller may leave out or send as null. */
export const optionalText = (maxLength: number) => z.string().max(maxLength).nullable().optional();

/** A whole number in a query string, given to the handler as a number. */
export const digits = z
  .string()
  .regex(WHOLE_NUMBER, 'must be a whole number')
  .transform((value) => Number(value));

export const hash = z.string().regex(HEX_HASH, 'must be 64 lowercase hex digits');

/** Routes that take no query string refuse one rather than ignore a misspelt parameter. */
export const noQuery = z.strictObject({});

export const idParams = z.strictObject({ id });
