/**
 * The recording's rows as ingestion and the gap sweep read and write them: the session locked for a batch,
 * the stored events a batch is sorted and linked against, and the events, links, anomalies and session
 * totals a batch leaves behind. All within the caller's transaction.
 */
import type { Selectable, Transaction } from 'kysely';
import type { ChainStatus } from '../api/types.ts';
import type { HubSchema, SessionEventsTable, SessionsTable } from '../db/schema.ts';
import type { Candidate, NewAnomaly } from './recording-batch.ts';

type Trx = Transaction<HubSchema>;

const INSERT_CHUNK = 500;

export type IngestingSession = Pick<
  Selectable<SessionsTable>,
  | 'id'
  | 'subject'
  | 'target_id'
  | 'parent_id'
  | 'status'
  | 'close_reason'
  | 'last_seq'
  | 'last_hash'
  | 'max_seq'
  | 'chain_broken'
  | 'gap_flagged'
>;

/** The session a batch is for, locked against concurrent batches where the database can lock a row. */
export async function lockSession(
  trx: Trx,
  dialect: string,
  sessionId: string,
): Promise<IngestingSession | undefined> {
  return trx
    .selectFrom('sessions')
    .select([
      'id',
      'subject',
      'target_id',
      'parent_id',
      'status',
      'close_reason',
      'last_seq',
      'last_hash',
      'max_seq',
      'chain_broken',
      'gap_flagged',
    ])
    .where('id', '=', String(sessionId))
    .$if(dialect === 'postgres', (qb) => qb.forUpdate())
    .executeTakeFirst();
}

/** seq → hash of the session's stored events from MIN to MAX. */
export async function storedHashes(
  trx: Trx,
  sessionId: string,
  min: number,
  max: number,
): Promise<Map<number, string>> {
  const rows = await trx
    .selectFrom('session_events')
    .select(['seq', 'hash'])
    .where('session_id', '=', sessionId)
    .where('seq', '>=', min)
    .where('seq', '<=', max)
    .execute();
  return new Map(rows.map((row) => [Number(row.seq), row.hash]));
}

/** The stored events after the verified prefix (after AFTER_SEQ), waiting for their predecessor. */
export async function eventsAfter(
  trx: Trx,
  sessionId: string,
  afterSeq: number,
): Promise<Map<number, Candidate>> {
  const rows = await trx
    .selectFrom('session_events')
    .select(['seq', 'prev_hash', 'hash', 'chain_ok'])
    .where('session_id', '=', sessionId)
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .execute();
  return new Map(
    rows.map((row) => [
      Number(row.seq),
      { prevHash: row.prev_hash, hash: row.hash, selfOk: row.chain_ok !== 0 },
    ]),
  );
}

export async function insertEvents(trx: Trx, rows: SessionEventsTable[]): Promise<void> {
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    await trx
      .insertInto('session_events')
      .values(rows.slice(i, i + INSERT_CHUNK))
      .execute();
  }
}

/** Marks stored events now linked into the chain; one already marked bad stays bad. */
export async function markLinked(
  trx: Trx,
  sessionId: string,
  linkedOk: number[],
  linkedBad: number[],
): Promise<void> {
  for (const [seqs, value] of [
    [linkedOk, 1],
    [linkedBad, 0],
  ] as const) {
    for (let i = 0; i < seqs.length; i += INSERT_CHUNK) {
      await trx
        .updateTable('session_events')
        .set({ chain_ok: value })
        .where('session_id', '=', sessionId)
        .where('seq', 'in', seqs.slice(i, i + INSERT_CHUNK))
        .where((eb) => eb.or([eb('chain_ok', 'is', null), eb('chain_ok', '=', 1)]))
        .execute();
    }
  }
}

export async function insertAnomalies(
  trx: Trx,
  sessionId: string,
  anomalies: NewAnomaly[],
  detectedAt: string,
): Promise<void> {
  if (anomalies.length === 0) return;
  await trx
    .insertInto('recording_anomalies')
    .values(
      anomalies.map((a) => ({
        session_id: sessionId,
        seq: a.seq,
        kind: a.kind,
        detail: JSON.stringify(a.detail),
        detected_at: detectedAt,
      })),
    )
    .execute();
}

export interface ChainAndTotals {
  lastSeq: number;
  lastHash: string;
  maxSeq: number;
  broken: boolean;
  status: ChainStatus;
  /** What the batch adds. */
  events: number;
  statements: number;
  denied: number;
  held: number;
  anomalies: number;
}

export async function updateChainAndTotals(
  trx: Trx,
  sessionId: string,
  after: ChainAndTotals,
): Promise<void> {
  await trx
    .updateTable('sessions')
    .set((eb) => ({
      last_seq: after.lastSeq,
      last_hash: after.lastHash,
      max_seq: after.maxSeq,
      chain_broken: after.broken ? 1 : 0,
      chain_status: after.status,
      event_count: eb('event_count', '+', after.events),
      statement_count: eb('statement_count', '+', after.statements),
      denied_count: eb('denied_count', '+', after.denied),
      held_count: eb('held_count', '+', after.held),
      anomaly_count: eb('anomaly_count', '+', after.anomalies),
    }))
    .where('id', '=', sessionId)
    .execute();
}

/** Closes SESSION because its recording records its end; a reason given while closing is kept. */
export async function closeEndedSession(
  trx: Trx,
  session: IngestingSession,
  ended: string,
  closedAt: string,
): Promise<void> {
  await trx
    .updateTable('sessions')
    .set({
      status: 'closed',
      closed_at: closedAt,
      close_reason: session.status === 'closing' && session.close_reason ? session.close_reason : ended,
    })
    .where('id', '=', session.id)
    .where('status', '<>', 'closed')
    .execute();
}

/**
 * Flags the gap after SESSION's verified prefix as broken, with a `gap` anomaly naming the missing range;
 * false when the session was flagged or moved on meanwhile.
 */
export async function flagGap(
  trx: Trx,
  session: { id: string; last_seq: number },
  detectedAt: string,
): Promise<boolean> {
  const next = await trx
    .selectFrom('session_events')
    .select('seq')
    .where('session_id', '=', session.id)
    .where('seq', '>', session.last_seq)
    .orderBy('seq')
    .limit(1)
    .executeTakeFirst();
  const updated = await trx
    .updateTable('sessions')
    .set((eb) => ({
      gap_flagged: 1,
      chain_status: 'broken',
      anomaly_count: eb('anomaly_count', '+', 1),
    }))
    .where('id', '=', session.id)
    .where('gap_flagged', '=', 0)
    .where('last_seq', '=', session.last_seq)
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) return false;
  const from = Number(session.last_seq) + 1;
  await trx
    .insertInto('recording_anomalies')
    .values({
      session_id: session.id,
      seq: from,
      kind: 'gap',
      detail: JSON.stringify({ missingFrom: from, missingTo: next ? Number(next.seq) - 1 : null }),
      detected_at: detectedAt,
    })
    .execute();
  return true;
}
