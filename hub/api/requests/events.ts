/** What a caller sends to follow the hub's live events. */
import { z } from 'zod';
import { digits } from './fields.ts';

/** GET /v1/events: resume after this event id (or send Last-Event-ID). */
export const eventsQuery = z.strictObject({ after: digits.optional() });
