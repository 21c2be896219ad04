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
import { GENESIS_HASH, hashMatches } from '../api/recording-chain.ts';
import type { AnomalyKind, ChainStatus, Identity, IngestResult, RecordingEventInput } from '../api/types.ts';
import type { SessionEventsTable } from '../db/schema.ts';
import { addSeconds, iso } from './clock.ts';
import { actsFor, type ServiceContext } from './context.ts';
import { ForbiddenError, NotFoundError, ValidationError } from './errors.ts';
import { recordingBatch } from '../api/requests/recordings.ts';
import { fieldAndProblem } from '../api/requests/issues.ts';

const INSERT_CHUNK = 500;

interface NewAnomaly {
  seq: number | null;
  kind: AnomalyKind;
  detail: Record<string, unknown>;
}

interface Candidate {
  prevHash: string;
  hash: string;
  selfOk: boolean;
  /** The row to insert; absent for an event stored by an earlier batch. */
  row?: SessionEventsTable;
}

/** The recording says its session ended: a tunnel closed or died, or a relay's connection ended or died. */
const TUNNEL_ENDS = new Set(['tunnel.close', 'tunnel.abandoned', 'relay.close', 'relay.abandoned']);

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
      const session = await trx
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
        .$if(this.ctx.hub.dialect === 'postgres', (qb) => qb.forUpdate())
        .executeTakeFirst();
      if (!session) throw new NotFoundError(`no session ${sessionId}`);
      if (!actsFor(this.ctx.config(), identity, session)) {
        throw new ForbiddenError(`session ${sessionId} belongs to someone else`);
      }
      const result: IngestResult = { stored: 0, duplicates: 0, conflicts: 0, chainStatus: 'ok', lastSeq: 0 };
      if (events.length === 0) {
        const status = chainStatus(
          session.chain_broken === 1,
          session.gap_flagged === 1,
          session.max_seq,
          session.last_seq,
        );
        return { ...result, chainStatus: status, lastSeq: Number(session.last_seq) };
      }

      // What is already stored in the batch's range decides duplicates and conflicts.
      let min = Infinity;
      let max = -Infinity;
      for (const e of events) {
        if (e.seq < min) min = e.seq;
        if (e.seq > max) max = e.seq;
      }
      const stored = new Map<number, string>();
      if (min <= Number(session.max_seq)) {
        const rows = await trx
          .selectFrom('session_events')
          .select(['seq', 'hash'])
          .where('session_id', '=', session.id)
          .where('seq', '>=', min)
          .where('seq', '<=', max)
          .execute();
        for (const row of rows) stored.set(Number(row.seq), row.hash);
      }

      const anomalies: NewAnomaly[] = [];
      const fresh = new Map<number, Candidate>();
      const counts = { statements: 0, denied: 0, held: 0 };
      /** Why the tunnel ended, when the batch records its end. */
      let ended: string | undefined;
      for (const event of events) {
        const known = stored.get(event.seq) ?? fresh.get(event.seq)?.hash;
        if (known !== undefined) {
          // The same hash is the same event, unless the content sent with it does not hash to it.
          if (known === event.hash && hashMatches(event)) result.duplicates++;
          else {
            result.conflicts++;
            anomalies.push({
              seq: event.seq,
              kind: 'conflict',
              detail: { storedHash: known, received: eventJson(event) },
            });
          }
          continue;
        }
        const selfOk = hashMatches(event);
        if (!selfOk) anomalies.push({ seq: event.seq, kind: 'tampered', detail: { hash: event.hash } });
        fresh.set(event.seq, {
          prevHash: event.prevHash,
          hash: event.hash,
          selfOk,
          row: {
            session_id: session.id,
            seq: event.seq,
            at: event.at,
            type: event.type,
            payload: JSON.stringify(event.payload),
            prev_hash: event.prevHash,
            hash: event.hash,
            chain_ok: selfOk ? null : 0,
            received_at: receivedAt,
          },
        });
        if (selfOk && TUNNEL_ENDS.has(event.type)) {
          const reason = (event.payload as { reason?: unknown } | null)?.reason;
          ended = typeof reason === 'string' && reason ? reason.slice(0, 500) : 'the tunnel closed';
        }
        // SSH command lines count as statements: each was judged, and may have been denied.
        if (event.type === 'statement' || event.type === 'ssh.exec') {
          counts.statements++;
          if ((event.payload as { decision?: unknown } | null)?.decision === 'deny') counts.denied++;
        } else if (event.type === 'hold') counts.held++;
      }

      // Walk the chain from the end of the verified prefix through whatever is now contiguous.
      let lastSeq = Number(session.last_seq);
      let lastHash = session.last_hash || GENESIS_HASH;
      const maxBefore = Number(session.max_seq);
      const waiting = new Map<number, Candidate>();
      if (maxBefore > lastSeq && fresh.has(lastSeq + 1)) {
        const rows = await trx
          .selectFrom('session_events')
          .select(['seq', 'prev_hash', 'hash', 'chain_ok'])
          .where('session_id', '=', session.id)
          .where('seq', '>', lastSeq)
          .orderBy('seq')
          .execute();
        for (const row of rows) {
          waiting.set(Number(row.seq), {
            prevHash: row.prev_hash,
            hash: row.hash,
            selfOk: row.chain_ok !== 0,
          });
        }
      }
      const linkedOk: number[] = [];
      const linkedBad: number[] = [];
      for (;;) {
        const seq = lastSeq + 1;
        const next = fresh.get(seq) ?? waiting.get(seq);
        if (!next) break;
        const linkOk = next.prevHash === lastHash;
        if (!linkOk) {
          anomalies.push({
            seq,
            kind: 'prev-mismatch',
            detail: { expectedPrevHash: lastHash, prevHash: next.prevHash },
          });
        }
        const ok = linkOk && next.selfOk;
        if (next.row) next.row.chain_ok = ok ? 1 : 0;
        else (ok ? linkedOk : linkedBad).push(seq);
        lastSeq = seq;
        lastHash = next.hash;
      }

      const rows = [...fresh.values()].map((c) => c.row!);
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        await trx
          .insertInto('session_events')
          .values(rows.slice(i, i + INSERT_CHUNK))
          .execute();
      }
      for (const [seqs, value] of [
        [linkedOk, 1],
        [linkedBad, 0],
      ] as const) {
        for (let i = 0; i < seqs.length; i += INSERT_CHUNK) {
          await trx
            .updateTable('session_events')
            .set({ chain_ok: value })
            .where('session_id', '=', session.id)
            .where('seq', 'in', seqs.slice(i, i + INSERT_CHUNK))
            .where((eb) => eb.or([eb('chain_ok', 'is', null), eb('chain_ok', '=', 1)]))
            .execute();
        }
      }
      if (anomalies.length > 0) {
        await trx
          .insertInto('recording_anomalies')
          .values(
            anomalies.map((a) => ({
              session_id: session.id,
              seq: a.seq,
              kind: a.kind,
              detail: JSON.stringify(a.detail),
              detected_at: receivedAt,
            })),
          )
          .execute();
      }

      const broken = session.chain_broken === 1 || anomalies.length > 0;
      const maxSeq = Math.max(maxBefore, ...fresh.keys());
      const status = chainStatus(broken, session.gap_flagged === 1, maxSeq, lastSeq);
      await trx
        .updateTable('sessions')
        .set((eb) => ({
          last_seq: lastSeq,
          last_hash: lastHash,
          max_seq: maxSeq,
          chain_broken: broken ? 1 : 0,
          chain_status: status,
          event_count: eb('event_count', '+', fresh.size),
          statement_count: eb('statement_count', '+', counts.statements),
          denied_count: eb('denied_count', '+', counts.denied),
          held_count: eb('held_count', '+', counts.held),
          anomaly_count: eb('anomaly_count', '+', anomalies.length),
        }))
        .where('id', '=', session.id)
        .execute();
      // The recording's own end closes the session: also when the tunnel could not tell the hub itself
      // (stopped while the hub was down, or ended for it by a later run after its process died).
      if (ended !== undefined && session.status !== 'closed') {
        await trx
          .updateTable('sessions')
          .set({
            status: 'closed',
            closed_at: receivedAt,
            close_reason: session.status === 'closing' && session.close_reason ? session.close_reason : ended,
          })
          .where('id', '=', session.id)
          .where('status', '<>', 'closed')
          .execute();
      }
      return { ...result, stored: fresh.size, chainStatus: status, lastSeq };
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
      const done = await this.ctx.hub.db.transaction().execute(async (trx) => {
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
            detected_at: iso(now),
          })
          .execute();
        return true;
      });
      if (done) flagged++;
    }
    return flagged;
  }
}

function chainStatus(broken: boolean, gapFlagged: boolean, maxSeq: number, lastSeq: number): ChainStatus {
  if (broken) return 'broken';
  if (Number(maxSeq) > Number(lastSeq)) return gapFlagged ? 'broken' : 'incomplete';
  return 'ok';
}

function eventJson(event: RecordingEventInput): Record<string, unknown> {
  return {
    seq: event.seq,
    at: event.at,
    type: event.type,
    payload: event.payload,
    prevHash: event.prevHash,
    hash: event.hash,
  };
}

function checkBatch(events: readonly RecordingEventInput[]): void {
  const checked = recordingBatch.safeParse({ events }, { reportInput: true });
  if (!checked.success) throw new ValidationError(...fieldAndProblem(checked.error.issues[0]!));
}
