/** What an approver sends to decide an access request or a held statement. */
import { z } from 'zod';
import { optionalText } from './fields.ts';

/** Where an approver decided: the desktop app's window, a native notification's action, the CLI. */
export const decisionChannel = z.enum(['app', 'notification', 'cli']);

/** POST /v1/access-requests/:id/decision and /v1/approvals/:id/decision */
export const decisionInput = z.strictObject({
  approve: z.boolean(),
  comment: optionalText(2000),
  /** Recorded with the decision; unknown when the client does not say. */
  via: decisionChannel.nullable().optional(),
});
