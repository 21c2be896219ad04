/**
 * JSON documents made of rows (`row_to_json(c)`, `to_jsonb(c)`, `json_agg(c)`, `jsonb_build_object('email',
 * email, …)`): each member's value is masked by the mask of the column it came from, found by its key,
 * so `{"id":1,"email":"***@example.com","name":"Ann"}` keeps what is not masked. The document is walked
 * at the byte level and only the masked values are rewritten, so numbers and formatting stay as the
 * server wrote them. A member whose key the plan does not know is masked; a document that is not the
 * shape the plan expects (not an object, not an array of objects) is masked whole.
 */
import type { ValueDetector } from './detectors.ts';
import { maskJson, redactJson } from './json-values.ts';
import { DEFAULT_REDACTION, type MaskStrategy } from './strategies.ts';

/** How one member's value is masked: a strategy, member by member, or not at all (detectors only). */
export type JsonMemberMask = MaskStrategy | JsonMask | undefined;

export interface JsonMask {
  kind: 'json';
  /** The mask of each member's value by its key; a key not here is masked as untraceable. */
  members: ReadonlyMap<string, JsonMemberMask>;
  /** An array of such objects (json_agg), rather than one object. */
  each: boolean;
  /** jsonb: in binary format the text follows a version byte. */
  jsonb: boolean;
}

const REDACTED = Buffer.from(JSON.stringify(DEFAULT_REDACTION), 'utf8');
const NULL = Buffer.from('null');
const UNTRACEABLE: MaskStrategy = { kind: 'redact' };

interface Edit {
  start: number;
  end: number;
  bytes: Buffer;
}

class Malformed extends Error {}

/** Masks the document `buf[start, end)`: the new bytes, or undefined when nothing changed. */
export function maskJsonDocument(
  mask: JsonMask,
  buf: Buffer,
  start: number,
  end: number,
  format: number,
  detector: ValueDetector | undefined,
): Buffer | undefined {
  const versioned = format === 1 && mask.jsonb;
  if (versioned && (end <= start || buf[start] !== 1)) return Buffer.concat([Buffer.from([1]), REDACTED]);
  const from = versioned ? start + 1 : start;
  const edits: Edit[] = [];
  try {
    const scan = new Scanner(buf, from, end, detector, edits);
    const at = scan.space(from);
    const stop = mask.each ? scan.objects(mask, at) : scan.object(mask, at);
    if (scan.space(stop) !== end) throw new Malformed();
  } catch (error) {
    if (!(error instanceof Malformed)) throw error;
    return versioned ? Buffer.concat([Buffer.from([1]), REDACTED]) : REDACTED;
  }
  if (edits.length === 0) return undefined;
  return applyEdits(buf, start, end, edits);
}

class Scanner {
  constructor(
    private readonly buf: Buffer,
    private readonly from: number,
    private readonly end: number,
    private readonly detector: ValueDetector | undefined,
    private readonly edits: Edit[],
  ) {}

  space(i: number): number {
    const { buf } = this;
    while (i < this.end && (buf[i] === 0x20 || buf[i] === 0x0a || buf[i] === 0x0d || buf[i] === 0x09)) i++;
    return i;
  }

  /** `[ object, … ]` (or null elements); returns the offset after it. */
  objects(mask: JsonMask, i: number): number {
    if (this.buf[i] !== 0x5b) throw new Malformed();
    i = this.space(i + 1);
    if (this.buf[i] === 0x5d) return i + 1;
    for (;;) {
      i = this.space(this.isNull(i) ? i + 4 : this.object(mask, i));
      if (this.buf[i] === 0x5d) return i + 1;
      if (this.buf[i] !== 0x2c) throw new Malformed();
      i = this.space(i + 1);
    }
  }

  /** `{ "key": value, … }`, each value masked by its key's mask; returns the offset after it. */
  object(mask: JsonMask, i: number): number {
    if (this.buf[i] !== 0x7b) throw new Malformed();
    i = this.space(i + 1);
    if (this.buf[i] === 0x7d) return i + 1;
    for (;;) {
      const keyEnd = this.string(i);
      const key = JSON.parse(this.buf.toString('utf8', i, keyEnd)) as string;
      i = this.space(keyEnd);
      if (this.buf[i] !== 0x3a) throw new Malformed();
      const valueStart = this.space(i + 1);
      const valueEnd = this.value(valueStart);
      const member = mask.members.has(key) ? mask.members.get(key) : UNTRACEABLE;
      this.member(member, valueStart, valueEnd);
      i = this.space(valueEnd);
      if (this.buf[i] === 0x7d) return i + 1;
      if (this.buf[i] !== 0x2c) throw new Malformed();
      i = this.space(i + 1);
    }
  }

  private member(mask: JsonMemberMask, start: number, end: number): void {
    if (mask === undefined) {
      const out = this.detector && redactJson(this.detector, this.buf, start, end);
      if (out) this.edits.push({ start, end, bytes: out });
    } else if (mask.kind === 'json') {
      if (this.isNull(start)) return;
      if (mask.each) this.objects(mask, start);
      else this.object(mask, start);
    } else if (!this.isNull(start)) {
      this.edits.push({ start, end, bytes: maskJson(mask, this.buf.subarray(start, end)) ?? NULL });
    }
  }

  private isNull(i: number): boolean {
    const { buf } = this;
    return buf[i] === 0x6e && buf[i + 1] === 0x75 && buf[i + 2] === 0x6c && buf[i + 3] === 0x6c;
  }

  /** The offset after the string starting at `i`. */
  private string(i: number): number {
    const { buf } = this;
    if (buf[i] !== 0x22) throw new Malformed();
    for (let k = i + 1; k < this.end; k++) {
      if (buf[k] === 0x5c) k++;
      else if (buf[k] === 0x22) return k + 1;
    }
    throw new Malformed();
  }

  /** The offset after the value starting at `i` (nested objects and arrays skipped whole). */
  private value(i: number): number {
    const { buf } = this;
    const c = buf[i];
    if (c === 0x22) return this.string(i);
    if (c === 0x7b || c === 0x5b) {
      let depth = 0;
      for (let k = i; k < this.end; k++) {
        const b = buf[k];
        if (b === 0x22) k = this.string(k) - 1;
        else if (b === 0x7b || b === 0x5b) depth++;
        else if (b === 0x7d || b === 0x5d) if (--depth === 0) return k + 1;
      }
      throw new Malformed();
    }
    let k = i;
    while (k < this.end && buf[k] !== 0x2c && buf[k] !== 0x7d && buf[k] !== 0x5d && buf[k]! > 0x20) k++;
    if (k === i || k < this.from) throw new Malformed();
    return k;
  }
}

function applyEdits(buf: Buffer, start: number, end: number, edits: readonly Edit[]): Buffer {
  const parts: Buffer[] = [];
  let at = start;
  for (const e of edits) {
    parts.push(buf.subarray(at, e.start), e.bytes);
    at = e.end;
  }
  parts.push(buf.subarray(at, end));
  return Buffer.concat(parts);
}
