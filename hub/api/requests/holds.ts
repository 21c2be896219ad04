/** What a tunnel sends when its policy holds a statement, and what callers send about holds. */
import { z } from 'zod';
import { digits, id, optionalText, text } from './fields.ts';

/**
 * What a held statement will touch, for the approver: the relations it names and the planner's estimate
 * of the rows it affects (the tunnel's EXPLAIN, without ANALYZE, on its side connection).
 */
export const holdContext = z.strictObject({
  /** Every relation the statement names, as written (schema-qualified when it was). */
  tables: z.array(text(200)).max(64),
  /** The relations it writes to. */
  writes: z.array(text(200)).max(64),
  /** Rows the statement writes (or, for a read, returns), as planned; null when it could not be estimated. */
  estimatedRows: z.number().min(0).nullable(),
});

/** POST /v1/approvals */
export const holdInput = z.strictObject({
  sessionId: id,
  /**
   * The tunnel connection the statement was held on: its number in the session, as the hub knows it
   * from authenticating that connection. Only a connection the hub authenticated may hold statements.
   */
  connection: z.int().min(1),
  sql: z.string().min(1).max(100_000),
  classes: z.array(text(64)).max(64).readonly(),
  rule: text(500),
  /** Shorter than the hub's hold_timeout when the policy says so; capped at max_hold_timeout. */
  timeoutSeconds: z.int().min(1).optional(),
  context: holdContext.optional(),
});

/** GET /v1/approvals?scope= : held statements waiting for the caller's decision, or the caller's own. */
export const approvalScope = z.enum(['pending', 'mine']);

export const approvalListQuery = z.strictObject({
  scope: approvalScope.optional(),
  limit: digits.optional(),
});

/** POST /v1/approvals/:id/withdraw */
export const withdrawInput = z.strictObject({ reason: optionalText(2000) });

/** GET /v1/approvals/:id/wait: seconds to wait for the decision. */
export const waitQuery = z.strictObject({ timeout: digits.optional() });
