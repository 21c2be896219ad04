/**
 * The recording hash chain, shared by the tunnel (which writes it) and the hub (which verifies it).
 *
 *   hash(event) = sha256hex(prevHash + '\n' + canonicalJson({ seq, at, type, payload }))
 *
 * `prevHash` of the first event (seq 1) is GENESIS_HASH (64 zeros); every later event carries the hash of
 * the event before it. canonicalJson is JSON with object keys sorted recursively (by UTF-16 code units, as
 * Array.prototype.sort does) and no whitespace, so both sides hash the same bytes for the same event.
 *
 * Pure: no imports but node:crypto, so the tunnel can import this file as the specification.
 */
import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

/** What the hash covers. */
export interface ChainedContent {
  seq: number;
  at: string;
  type: string;
  payload: unknown;
}

/** One recorded event as it travels from the tunnel to the hub. */
export interface ChainedEvent extends ChainedContent {
  prevHash: string;
  hash: string;
}

/** JSON with object keys sorted recursively; otherwise the same values JSON.stringify produces. */
export function canonicalJson(value: unknown): string {
  return write(value, true) ?? 'null';
}

function write(value: unknown, top: boolean): string | undefined {
  if (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  ) {
    value = (value as { toJSON(): unknown }).toJSON();
  }
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'bigint':
      throw new TypeError('canonicalJson: a bigint has no JSON form');
    case 'undefined':
    case 'function':
    case 'symbol':
      return top ? 'null' : undefined;
  }
  if (Array.isArray(value)) {
    return `[${value.map((item) => write(item, false) ?? 'null').join(',')}]`;
  }
  const record = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(record).sort()) {
    const written = write(record[key], false);
    if (written !== undefined) parts.push(`${JSON.stringify(key)}:${written}`);
  }
  return `{${parts.join(',')}}`;
}

/** The hash an event must carry, given its predecessor's hash. */
export function chainHash(prevHash: string, event: ChainedContent): string {
  const content = canonicalJson({ seq: event.seq, at: event.at, type: event.type, payload: event.payload });
  return createHash('sha256')
    .update(prevHash + '\n' + content)
    .digest('hex');
}

/** Whether the event's own hash matches its content and the prevHash it carries. */
export function hashMatches(event: ChainedEvent): boolean {
  return chainHash(event.prevHash, event) === event.hash;
}

export type ChainProblem =
  | { seq: number; kind: 'tampered' }
  | { seq: number; kind: 'prev-mismatch'; expected: string; actual: string }
  | { seq: number; kind: 'gap'; expectedSeq: number };

/**
 * Verifies a run of events sorted by seq, starting after `prev` (by default the genesis, before seq 1).
 * Returns every problem found; an empty list means the run is an intact chain.
 */
export function verifyChain(
  events: readonly ChainedEvent[],
  prev: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH },
): ChainProblem[] {
  const problems: ChainProblem[] = [];
  let expectedSeq = prev.seq + 1;
  let expectedPrev = prev.hash;
  for (const event of events) {
    if (event.seq !== expectedSeq) problems.push({ seq: event.seq, kind: 'gap', expectedSeq });
    else if (event.prevHash !== expectedPrev) {
      problems.push({
        seq: event.seq,
        kind: 'prev-mismatch',
        expected: expectedPrev,
        actual: event.prevHash,
      });
    }
    if (!hashMatches(event)) problems.push({ seq: event.seq, kind: 'tampered' });
    expectedSeq = event.seq + 1;
    expectedPrev = event.hash;
  }
  return problems;
}
