/**
 * Recording ingestion: the tunnel's outbox sends a session's events in batches, at least once and not
 * necessarily in order. Storage is idempotent on (session, seq): a resent event with the same hash is
 * ignored; one with a different hash is a conflict, kept aside as an anomaly and never overwrites.
 *
 * The hash chain (api/recording-chain.ts) is verified as events arrive: each event's own hash, and its
 * link to the predecessor once that is stored. Events after a gap wait, and the chain is re-verified when
 * the gap fills (chain status `incomplete` until then). A tampered event, a wrong prevHash or a conflict
 * marks the session `broken` for good; a gap still open `gapGrace` after the session closed marks it
 * `broken` too (finalizeRecordings).
 */
import type { Transaction } from 'kysely';
import { GENESIS_HASH } from '../api/recording-chain.ts';
import type { Identity, IngestResult, RecordingEventInput } from '../api/types.ts';
import type { HubSchema } from '../db/schema.ts';
import { addSeconds, iso } from './clock.ts';
import { actsFor, type ServiceContext } from './context.ts';
import { ForbiddenError, NotFoundError, ValidationError } from './errors.ts';
import { recordingBatch } from '../api/requests/recordings.ts';
import { fieldAndProblem } from '../api/requests/issues.ts';
import { seqRange, sortBatch } from './recording-batch.ts';
import { chainStatus, walkChain } from './recording-chain-walk.ts';
import {
  closeEndedSession,
  eventsAfter,
  flagGap,
  insertAnomalies,
  insertEvents,
  lockSession,
  markLinked,
  storedHashes,
  updateChainAndTotals,
  type IngestingSession,
} from './recording-rows.ts';

export class RecordingService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Stores a batch of the caller's session's events and verifies the chain as far as it reaches. The
   * batch is checked with the schema the route checks it with (hub/api/requests' recordingBatch), for
   * callers that reach the service directly.
   */
  async ingest(
    identity: Identity,
    sessionId: string,
    events: readonly RecordingEventInput[],
  ): Promise<IngestResult> {
    checkBatch(events);
    const receivedAt = iso(this.ctx.clock.now());
    return this.ctx.hub.db.transaction().execute(async (trx) => {
      const session = await lockSession(trx, this.ctx.hub.dialect, sessionId);
      if (!session) throw new NotFoundError(`no session ${sessionId}`);
      if (!actsFor(this.ctx.config(), identity, session)) {
        throw new ForbiddenError(`session ${sessionId} belongs to someone else`);
      }
      if (events.length > 0) return storeBatch(trx, session, events, receivedAt);
      const status = chainStatus(
        session.chain_broken === 1,
        session.gap_flagged === 1,
        session.max_seq,
        session.last_seq,
      );
      return {
        stored: 0,
        duplicates: 0,
        conflicts: 0,
        chainStatus: status,
        lastSeq: Number(session.last_seq),
      };
    });
  }

  /**
   * The sweep: a closed session whose recording still has a gap `gapGrace` after it closed is flagged
   * broken, with a `gap` anomaly naming the missing range. Returns how many sessions were flagged.
   */
  async finalizeRecordings(now: Date = this.ctx.clock.now()): Promise<number> {
    const cutoff = iso(addSeconds(now, -this.ctx.config().recordings.gapGraceSeconds));
    const due = await this.ctx.hub.db
      .selectFrom('sessions')
      .select(['id', 'last_seq'])
      .where('status', '=', 'closed')
      .where('closed_at', '<=', cutoff)
      .where('gap_flagged', '=', 0)
      .whereRef('max_seq', '>', 'last_seq')
      .execute();
    let flagged = 0;
    for (const session of due) {
      const done = await this.ctx.hub.db.transaction().execute((trx) => flagGap(trx, session, iso(now)));
      if (done) flagged++;
    }
    return flagged;
  }
}

/** Stores EVENTS (not empty) for SESSION, links the chain as far as it now reaches, and updates its totals. */
async function storeBatch(
  trx: Transaction<HubSchema>,
  session: IngestingSession,
  events: readonly RecordingEventInput[],
  receivedAt: string,
): Promise<IngestResult> {
  // What is already stored in the batch's range decides duplicates and conflicts.
  const { min, max } = seqRange(events);
  const maxBefore = Number(session.max_seq);
  const stored = min <= maxBefore ? await storedHashes(trx, session.id, min, max) : new Map<number, string>();
  const batch = sortBatch(events, stored, session.id, receivedAt);

  const lastSeq = Number(session.last_seq);
  const waiting =
    maxBefore > lastSeq && batch.fresh.has(lastSeq + 1)
      ? await eventsAfter(trx, session.id, lastSeq)
      : new Map();
  const walk = walkChain({ lastSeq, lastHash: session.last_hash || GENESIS_HASH }, batch.fresh, waiting);
  const anomalies = [...batch.anomalies, ...walk.anomalies];

  await insertEvents(
    trx,
    [...batch.fresh.values()].map((c) => c.row!),
  );
  await markLinked(trx, session.id, walk.linkedOk, walk.linkedBad);
  await insertAnomalies(trx, session.id, anomalies, receivedAt);
  const broken = session.chain_broken === 1 || anomalies.length > 0;
  const maxSeq = Math.max(maxBefore, ...batch.fresh.keys());
  const status = chainStatus(broken, session.gap_flagged === 1, maxSeq, walk.lastSeq);
  await updateChainAndTotals(trx, session.id, {
    lastSeq: walk.lastSeq,
    lastHash: walk.lastHash,
    maxSeq,
    broken,
    status,
    events: batch.fresh.size,
    ...batch.counts,
    anomalies: anomalies.length,
  });
  // The recording's own end closes the session: also when the tunnel could not tell the hub itself
  // (stopped while the hub was down, or ended for it by a later run after its process died).
  if (batch.ended !== undefined && session.status !== 'closed') {
    await closeEndedSession(trx, session, batch.ended, receivedAt);
  }
  return {
    stored: batch.fresh.size,
    duplicates: batch.duplicates,
    conflicts: batch.conflicts,
    chainStatus: status,
    lastSeq: walk.lastSeq,
  };
}

function checkBatch(events: readonly RecordingEventInput[]): void {
  const checked = recordingBatch.safeParse({ events }, { reportInput: true });
  if (!checked.success) throw new ValidationError(...fieldAndProblem(checked.error.issues[0]!));
}
