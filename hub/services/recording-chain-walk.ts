/**
 * Walking a recording's hash chain from the end of its verified prefix through whatever is now contiguous,
 * and the chain status that results. Pure: fresh events get their verdict on their row; events stored
 * earlier come back as the seqs to mark linked (ok or not).
 */
import type { ChainStatus } from '../api/types.ts';
import type { Candidate, NewAnomaly } from './recording-batch.ts';

export interface ChainWalk {
  /** The new end of the verified prefix, and its hash. */
  lastSeq: number;
  lastHash: string;
  /** Stored events now linked, whose link holds / does not. */
  linkedOk: number[];
  linkedBad: number[];
  /** A `prev-mismatch` for each link that does not hold. */
  anomalies: NewAnomaly[];
}

export function walkChain(
  from: { lastSeq: number; lastHash: string },
  fresh: ReadonlyMap<number, Candidate>,
  waiting: ReadonlyMap<number, Candidate>,
): ChainWalk {
  const walk: ChainWalk = { ...from, linkedOk: [], linkedBad: [], anomalies: [] };
  for (;;) {
    const seq = walk.lastSeq + 1;
    const next = fresh.get(seq) ?? waiting.get(seq);
    if (!next) break;
    const linkOk = next.prevHash === walk.lastHash;
    if (!linkOk) {
      walk.anomalies.push({
        seq,
        kind: 'prev-mismatch',
        detail: { expectedPrevHash: walk.lastHash, prevHash: next.prevHash },
      });
    }
    const ok = linkOk && next.selfOk;
    if (next.row) next.row.chain_ok = ok ? 1 : 0;
    else (ok ? walk.linkedOk : walk.linkedBad).push(seq);
    walk.lastSeq = seq;
    walk.lastHash = next.hash;
  }
  return walk;
}

export function chainStatus(
  broken: boolean,
  gapFlagged: boolean,
  maxSeq: number,
  lastSeq: number,
): ChainStatus {
  if (broken) return 'broken';
  if (Number(maxSeq) > Number(lastSeq)) return gapFlagged ? 'broken' : 'incomplete';
  return 'ok';
}
