/**
 * What keeps one requester from flooding the approvers' inbox. A held statement must come from a
 * connection the hub itself authenticated for the session (a tunnel's real client connection, not an
 * invented one), and new held statements are limited per session and per requester per minute, and in
 * how many of one requester may wait at once. Everything is counted from the store, so every hub instance
 * sharing it enforces the same limits; on PostgreSQL the counting is serialised per requester.
 */
import { sql } from 'kysely';
import type { HubConfig } from '../config/hub-config.ts';
import type { HubDialect } from '../db/database.ts';
import { addSeconds, iso } from './clock.ts';
import type { Db } from './context.ts';
import { ForbiddenError, RateLimitedError } from './errors.ts';

const WINDOW_SECONDS = 60;

export interface HoldOrigin {
  sessionId: string;
  connection: number;
  requester: string;
}

/** Holds the requester's lock until the transaction ends, so two instances cannot both pass a limit. */
export async function serializeRequester(trx: Db, dialect: HubDialect, requester: string): Promise<void> {
  if (dialect !== 'postgres') return; // SQLite runs one write transaction at a time already.
  await sql`select pg_advisory_xact_lock(hashtext(${'hold:' + requester}))`.execute(trx);
}

/** Refuses a hold naming a connection the hub never authenticated for the session. */
export async function requireAuthenticatedConnection(trx: Db, origin: HoldOrigin): Promise<void> {
  const proof = await trx
    .selectFrom('session_proofs')
    .select('id')
    .where('session_id', '=', origin.sessionId)
    .where('connection', '=', origin.connection)
    .where('purpose', '=', 'client')
    .executeTakeFirst();
  if (!proof) {
    throw new ForbiddenError(
      `connection ${origin.connection} of session ${origin.sessionId} was not authenticated by the hub; ` +
        'only a tunnel connection the hub signed in may hold statements',
    );
  }
}

/** Refuses a new hold over any of the configured limits (429, with when to try again). */
export async function checkHoldLimits(
  trx: Db,
  limits: HubConfig['approvals'],
  origin: HoldOrigin,
  now: Date,
): Promise<void> {
  const since = iso(addSeconds(now, -WINDOW_SECONDS));
  const count = async (
    column: 'session_id' | 'requester_subject',
    value: string,
    pendingOnly: boolean,
  ): Promise<number> => {
    const row = await trx
      .selectFrom('command_approvals')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where(column, '=', value)
      .$if(pendingOnly, (qb) => qb.where('state', '=', 'pending').where('expires_at', '>', iso(now)))
      .$if(!pendingOnly, (qb) => qb.where('created_at', '>', since))
      .executeTakeFirstOrThrow();
    return Number(row.count);
  };
  if ((await count('session_id', origin.sessionId, false)) >= limits.perSessionPerMinute) {
    throw new RateLimitedError(
      `session ${origin.sessionId} held ${limits.perSessionPerMinute} statements for approval in the last ` +
        'minute; wait before holding more',
      WINDOW_SECONDS,
    );
  }
  if ((await count('requester_subject', origin.requester, false)) >= limits.perRequesterPerMinute) {
    throw new RateLimitedError(
      `you held ${limits.perRequesterPerMinute} statements for approval in the last minute; wait before holding more`,
      WINDOW_SECONDS,
    );
  }
  if ((await count('requester_subject', origin.requester, true)) >= limits.maxPendingPerRequester) {
    throw new RateLimitedError(
      `${limits.maxPendingPerRequester} of your held statements already wait for a decision; ` +
        'wait for them or withdraw some before holding more',
      WINDOW_SECONDS,
    );
  }
}
