/** What callers send to open, close and search sessions, and what a relay presents for a connection. */
import { z } from 'zod';
import { digits, id, text } from './fields.ts';

export const chainStatus = z.enum(['ok', 'broken', 'incomplete']);

/** POST /v1/sessions */
export const openSessionInput = z.strictObject({ targetId: id });

/** POST /v1/sessions/:id/close */
export const closeSessionInput = z.strictObject({ reason: text(500).optional() });

/** GET /v1/sessions: own sessions, everyone's for auditors and admins. */
export const sessionSearch = z.strictObject({
  subject: text(500).optional(),
  targetId: text(200).optional(),
  /** Sessions opened at or after. */
  from: text(64).optional(),
  /** Sessions opened before. */
  to: text(64).optional(),
  /** Only sessions with at least one denied / held statement. */
  decision: z.enum(['denied', 'held']).optional(),
  chainStatus: chainStatus.optional(),
  /** At most this many, newest first (default 100, at most 1000). */
  limit: digits.optional(),
  /** Sessions opened strictly before this session (keyset paging: pass the last id of the previous page). */
  before: text(200).optional(),
});

/** GET /v1/sessions/:id/events */
export const sessionEventsQuery = z.strictObject({ afterSeq: digits.optional(), limit: digits.optional() });

/** POST /v1/relay/connections: the session a relay's client names and the user's own access token. */
export const relayConnectionInput = z.strictObject({
  sessionId: id,
  /** The session owner's access token, as the user's tunnel handed it to the relay. */
  accessToken: z.string().min(1).max(16_384),
  /** Where the connection came from, for the recording. */
  client: z.strictObject({ address: text(100), port: z.int().min(0).max(65_535) }).optional(),
});

/** POST /v1/relay/leases: the connections a relay still serves (their leases are renewed). */
export const relayLeaseInput = z.strictObject({ sessionIds: z.array(id).max(10_000) });

/** GET /v1/audit/export */
export const exportQuery = z.strictObject({ since: text(64) });
