/**
 * One batch of recording events sorted against what is already stored: duplicates (the same event sent
 * again), conflicts (another event under a stored seq), tampered events (content that does not hash to its
 * hash) and the fresh events to store, with what they add to the session's counts and whether one of them
 * records the session's end. Pure: the rows to insert are built here, written by recording-rows.ts.
 */
import { hashMatches } from '../api/recording-chain.ts';
import type { AnomalyKind, RecordingEventInput } from '../api/types.ts';
import type { SessionEventsTable } from '../db/schema.ts';

export interface NewAnomaly {
  seq: number | null;
  kind: AnomalyKind;
  detail: Record<string, unknown>;
}

/** An event on the chain: fresh from this batch, or stored by an earlier one and not yet linked. */
export interface Candidate {
  prevHash: string;
  hash: string;
  selfOk: boolean;
  /** The row to insert; absent for an event stored by an earlier batch. */
  row?: SessionEventsTable;
}

export interface SortedBatch {
  duplicates: number;
  conflicts: number;
  anomalies: NewAnomaly[];
  /** The events to store, by seq. */
  fresh: Map<number, Candidate>;
  counts: { statements: number; denied: number; held: number };
  /** Why the tunnel ended, when the batch records its end. */
  ended?: string;
}

/** The recording says its session ended: a tunnel closed or died, or a relay's connection ended or died. */
const TUNNEL_ENDS = new Set(['tunnel.close', 'tunnel.abandoned', 'relay.close', 'relay.abandoned']);

export function seqRange(events: readonly RecordingEventInput[]): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const e of events) {
    if (e.seq < min) min = e.seq;
    if (e.seq > max) max = e.seq;
  }
  return { min, max };
}

/** Sorts EVENTS for SESSION_ID against STORED (seq → hash of the events stored in the batch's range). */
export function sortBatch(
  events: readonly RecordingEventInput[],
  stored: ReadonlyMap<number, string>,
  sessionId: string,
  receivedAt: string,
): SortedBatch {
  const batch: SortedBatch = {
    duplicates: 0,
    conflicts: 0,
    anomalies: [],
    fresh: new Map(),
    counts: { statements: 0, denied: 0, held: 0 },
  };
  for (const event of events) {
    const known = stored.get(event.seq) ?? batch.fresh.get(event.seq)?.hash;
    if (known !== undefined) {
      sortKnown(batch, event, known);
      continue;
    }
    const selfOk = hashMatches(event);
    if (!selfOk) batch.anomalies.push({ seq: event.seq, kind: 'tampered', detail: { hash: event.hash } });
    batch.fresh.set(event.seq, {
      prevHash: event.prevHash,
      hash: event.hash,
      selfOk,
      row: eventRow(event, sessionId, selfOk, receivedAt),
    });
    if (selfOk && TUNNEL_ENDS.has(event.type)) batch.ended = endReason(event);
    count(batch.counts, event);
  }
  return batch;
}

/** An event under a seq already taken, stored or earlier in the batch. */
function sortKnown(batch: SortedBatch, event: RecordingEventInput, knownHash: string): void {
  // The same hash is the same event, unless the content sent with it does not hash to it.
  if (knownHash === event.hash && hashMatches(event)) {
    batch.duplicates++;
    return;
  }
  batch.conflicts++;
  batch.anomalies.push({
    seq: event.seq,
    kind: 'conflict',
    detail: { storedHash: knownHash, received: eventJson(event) },
  });
}

function eventRow(
  event: RecordingEventInput,
  sessionId: string,
  selfOk: boolean,
  receivedAt: string,
): SessionEventsTable {
  return {
    session_id: sessionId,
    seq: event.seq,
    at: event.at,
    type: event.type,
    payload: JSON.stringify(event.payload),
    prev_hash: event.prevHash,
    hash: event.hash,
    chain_ok: selfOk ? null : 0,
    received_at: receivedAt,
  };
}

function endReason(event: RecordingEventInput): string {
  const reason = (event.payload as { reason?: unknown } | null)?.reason;
  return typeof reason === 'string' && reason ? reason.slice(0, 500) : 'the tunnel closed';
}

function count(counts: SortedBatch['counts'], event: RecordingEventInput): void {
  // SSH command lines count as statements: each was judged, and may have been denied.
  if (event.type === 'statement' || event.type === 'ssh.exec') {
    counts.statements++;
    if ((event.payload as { decision?: unknown } | null)?.decision === 'deny') counts.denied++;
  } else if (event.type === 'hold') counts.held++;
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
