/** What callers send about just-in-time access: ask for it, list it, cancel or revoke it. */
import { z } from 'zod';
import { digits, id, optionalText, text } from './fields.ts';

/** POST /v1/access-requests */
export const accessRequestInput = z.strictObject({
  targetId: id,
  reason: text(2000),
  /** Whole seconds; or `duration` as "30m", "4h". Defaults to the target's max_duration. */
  durationSeconds: z.int().min(1).optional(),
  duration: text(32).optional(),
});

/** GET /v1/access-requests?scope= : the caller's own, or those waiting for the caller's decision. */
export const accessRequestScope = z.enum(['mine', 'pending']);

export const accessRequestListQuery = z.strictObject({
  scope: accessRequestScope.optional(),
  limit: digits.optional(),
});

/** POST /v1/access-requests/:id/revoke (cancels a pending request, revokes a grant). */
export const revokeInput = z.strictObject({ comment: optionalText(2000) });
