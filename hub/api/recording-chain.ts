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
import { hash } from 'node:crypto';

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

/**
 * How deeply a recorded payload may nest (objects and arrays). The tunnel's events nest a few levels;
 * the hub refuses deeper ones at ingestion, before anything walks them.
 */
export const MAX_PAYLOAD_DEPTH = 64;

/** Whether `value` nests objects/arrays more than `max` levels deep; iterative, so any depth is safe. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * JSON with object keys sorted recursively; otherwise the same values JSON.stringify produces. Events
 * nest a few levels and are written by plain recursion (the tunnel hashes every event it records);
 * anything nested deeper than RECURSION_DEPTH is written again with an explicit stack, so no nesting
 * can overflow the call stack.
 */
export function canonicalJson(value: unknown): string {
  const top = resolved(value);
  if (omitted(top)) return 'null';
  return writeRecursively(top, 0) ?? writeWithStack(top);
}

const RECURSION_DEPTH = 64;

/** Canonical JSON of a resolved, present value; undefined if it nests deeper than RECURSION_DEPTH. */
function writeRecursively(value: unknown, depth: number): string | undefined {
  const scalar = writeScalar(value);
  if (scalar !== undefined) return scalar;
  if (depth === RECURSION_DEPTH) return undefined;
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const item = resolved(value[i]);
      const text = omitted(item) ? 'null' : writeRecursively(item, depth + 1);
      if (text === undefined) return undefined;
      out += i === 0 ? text : ',' + text;
    }
    return out + ']';
  }
  const record = value as Record<string, unknown>;
  let out = '{';
  for (const key of Object.keys(record).sort()) {
    const member = resolved(record[key]);
    if (omitted(member)) continue;
    const text = writeRecursively(member, depth + 1);
    if (text === undefined) return undefined;
    out += (out.length === 1 ? '' : ',') + JSON.stringify(key) + ':' + text;
  }
  return out + '}';
}

/** canonicalJson of a resolved, present value at any depth, with an explicit stack. */
function writeWithStack(top: unknown): string {
  const out: string[] = [];
  // Tasks, last first: text to emit as is, or a (resolved) value to write.
  const tasks: (string | { value: unknown })[] = [{ value: top }];
  while (tasks.length > 0) {
    const task = tasks.pop()!;
    if (typeof task === 'string') {
      out.push(task);
      continue;
    }
    const current = task.value;
    const scalar = writeScalar(current);
    if (scalar !== undefined) {
      out.push(scalar);
    } else if (Array.isArray(current)) {
      out.push('[');
      tasks.push(']');
      for (let i = current.length - 1; i >= 0; i--) {
        const item = resolved(current[i]);
        tasks.push({ value: omitted(item) ? null : item });
        if (i > 0) tasks.push(',');
      }
    } else {
      const record = current as Record<string, unknown>;
      const members: [string, unknown][] = [];
      for (const key of Object.keys(record).sort()) {
        const member = resolved(record[key]);
        if (!omitted(member)) members.push([key, member]);
      }
      out.push('{');
      tasks.push('}');
      for (let i = members.length - 1; i >= 0; i--) {
        tasks.push({ value: members[i]![1] });
        tasks.push(`${JSON.stringify(members[i]![0])}:`);
        if (i > 0) tasks.push(',');
      }
    }
  }
  return out.join('');
}

/** A value as JSON sees it: through its toJSON() when it has one. */
function resolved(value: unknown): unknown {
  if (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  ) {
    return (value as { toJSON(): unknown }).toJSON();
  }
  return value;
}

/** Values JSON leaves out of objects (and writes as null in arrays). */
function omitted(value: unknown): boolean {
  return value === undefined || typeof value === 'function' || typeof value === 'symbol';
}

/** The JSON of a scalar; undefined for an array or object. */
function writeScalar(value: unknown): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'bigint':
      throw new TypeError('canonicalJson: a bigint has no JSON form');
    default:
      return undefined;
  }
}

/** The hash an event must carry, given its predecessor's hash. */
export function chainHash(prevHash: string, event: ChainedContent): string {
  const content = canonicalJson({ seq: event.seq, at: event.at, type: event.type, payload: event.payload });
  return hash('sha256', prevHash + '\n' + content);
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
