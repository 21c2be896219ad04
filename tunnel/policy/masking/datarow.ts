/**
 * The byte-level rewriter of result rows: DataRow messages and COPY TO STDOUT rows.
 *
 * A row is walked once, cell lengths only; a cell is looked at only when its column has a strategy or
 * detectors are on. A row that needs no change comes back as the same Buffer object, so the session
 * can forward it without a copy; otherwise one new frame is built from slices of the old one.
 *
 * Type rules (so clients keep parsing what they get):
 * - Text-like types (text, varchar, bpchar, name, xml, unknown) take the strategy's output, or have
 *   detected spans replaced in place, in text and in binary format (binary = the same UTF-8 bytes).
 * - json/jsonb get a JSON string: a masked value becomes `"[redacted]"`, `"***@example.com"`, … A JSON
 *   string value is unwrapped and masked as text first (so hashes match the text columns), other
 *   scalars are masked as their JSON text, and `partial` redacts a whole object or array (half of a
 *   document's characters may be all of a short value inside it). Detected spans inside JSON strings
 *   are replaced in place (labels contain no quotes or backslashes; escape sequences are blanked before
 *   scanning so spans never cut one); a span in a number token turns the token into a JSON string;
 *   anything else makes the whole cell a JSON string of the label. Binary jsonb keeps its version byte
 *   (1); another version becomes NULL when masked and is left alone by detectors.
 * - Types defined outside the catalogue's builtin range (OID 0 or ≥ 16384: enums, citext, …) are
 *   masked as text in text format and become NULL in binary format (their layout is unknown).
 * - Every other builtin type (numbers, dates, uuid, bytea, arrays, …) becomes NULL when its column is
 *   masked, in both formats: a strategy's text would not parse as an int, a date or an array.
 * - Detectors skip types that cannot carry free text (bool, int2/int4, floats, dates and times, uuid,
 *   network addresses, geometric and range types, …). Text arrays get in-place span replacement; other
 *   scanned builtins (int8, numeric, json[], …) become NULL when anything is detected. In binary format
 *   only text-like, json/jsonb and int8 (decoded) cells are scanned.
 */
import { DEFAULT_REDACTION, maskText, maskTextRange, type MaskStrategy } from './strategies.ts';
import type { Detection, DetectorName, ValueDetector } from './detectors.ts';

/** What to do with each column of a result: undefined = leave alone (but run detectors if enabled), or a strategy. */
export interface RowMaskPlan {
  columns: readonly (MaskStrategy | undefined)[];
  /**
   * Per column format: 0 text, 1 binary (from Bind's result formats / RowDescription). Like Bind's
   * result format codes: empty = all text, one entry = applies to every column, else one per column.
   */
  formats: readonly number[];
  /** Per column type OID (from RowDescription), to decide how to mask binary cells. Missing = unknown (0). */
  typeOids: readonly number[];
  detector?: ValueDetector;
}

export interface RowMaskResult {
  frame: Buffer;
  /** Non-NULL cells of masked columns plus cells where detectors found something. */
  maskedCells: number;
}

export class MalformedRowError extends Error {
  override name = 'MalformedRowError';
}

/** Type OIDs the rewriter knows by name (pg_type.dat). */
export const TypeOid = {
  bool: 16,
  bytea: 17,
  char: 18,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  xml: 142,
  float4: 700,
  float8: 701,
  unknown: 705,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  timetz: 1266,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
  nameArray: 1003,
  textArray: 1009,
  bpcharArray: 1014,
  varcharArray: 1015,
} as const;

/** First OID assigned to user-defined objects (FirstNormalObjectId). */
const FIRST_NORMAL_OID = 16384;

/**
 * How a type is treated: 'text' (text-like: strategies and in-place span replacement), 'json', 'jsonb',
 * 'text-array' (in-place span replacement, labels are array-safe; NULL when masked), 'user' (OID 0 or
 * user-defined: text in text format, unknown layout in binary), 'opaque' (other builtins that may carry
 * free text, e.g. int8, numeric, arrays, tsvector: NULL on a hit), 'inert' (builtins that cannot carry
 * free text: never scanned, NULL when masked).
 */
type Kind = 'text' | 'json' | 'jsonb' | 'text-array' | 'user' | 'opaque' | 'inert';

const TEXT_LIKE = new Set<number>([
  TypeOid.text,
  TypeOid.varchar,
  TypeOid.bpchar,
  TypeOid.name,
  TypeOid.unknown,
  TypeOid.xml,
]);
const TEXT_ARRAYS = new Set<number>([
  TypeOid.textArray,
  TypeOid.varcharArray,
  TypeOid.bpcharArray,
  TypeOid.nameArray,
]);
/** bool, int2, int4, oid, tid, xid, cid, geometric types, cidr, inet, macaddr(8), floats, dates/times, bit, uuid, pg_lsn, ranges, xid8, bytea. */
const INERT = new Set<number>([
  16, 17, 21, 23, 26, 27, 28, 29, 600, 601, 602, 603, 604, 628, 650, 700, 701, 718, 774, 829, 869, 1082, 1083,
  1114, 1184, 1186, 1266, 1560, 1562, 2950, 3220, 3904, 3906, 3908, 3910, 3912, 3926, 5069,
]);

function classify(oid: number): Kind {
  if (TEXT_LIKE.has(oid)) return 'text';
  if (oid === TypeOid.json) return 'json';
  if (oid === TypeOid.jsonb) return 'jsonb';
  if (oid === 0 || oid >= FIRST_NORMAL_OID) return 'user';
  if (TEXT_ARRAYS.has(oid)) return 'text-array';
  if (INERT.has(oid)) return 'inert';
  return 'opaque';
}

/** classify() of every builtin OID, looked up once per cell instead of a few Set lookups. */
const BUILTIN_KINDS: readonly Kind[] = Array.from({ length: FIRST_NORMAL_OID }, (_, oid) => classify(oid));

function kindOf(oid: number): Kind {
  return oid >= 0 && oid < FIRST_NORMAL_OID ? BUILTIN_KINDS[oid]! : classify(oid);
}

const JSONB_VERSION = 1;

/**
 * Masks one non-NULL cell of a masked column, by type and format. Returns the new bytes, or null for
 * SQL NULL.
 */
export function maskCell(
  strategy: MaskStrategy,
  value: Buffer,
  typeOid: number,
  format: number,
): Buffer | null {
  return maskRange(strategy, value, 0, value.length, typeOid, format);
}

/** maskCell over `buf[start, end)`. */
function maskRange(
  strategy: MaskStrategy,
  buf: Buffer,
  start: number,
  end: number,
  typeOid: number,
  format: number,
): Buffer | null {
  if (strategy.kind === 'null') return null;
  const kind = kindOf(typeOid);
  const binary = format === 1;
  switch (kind) {
    case 'text':
      return maskTextRange(strategy, buf, start, end);
    case 'user':
      return binary ? null : maskTextRange(strategy, buf, start, end);
    case 'json':
      return maskJson(strategy, buf.subarray(start, end));
    case 'jsonb':
      if (!binary) return maskJson(strategy, buf.subarray(start, end));
      if (end === start || buf[start] !== JSONB_VERSION) return null;
      return withVersionByte(maskJson(strategy, buf.subarray(start + 1, end)));
    default:
      return null;
  }
}

/**
 * Runs the detectors over one non-NULL cell of an unmasked column. Returns undefined when the cell stays
 * as it is, the new bytes, or null for SQL NULL.
 */
export function detectCell(
  detector: ValueDetector,
  value: Buffer,
  typeOid: number,
  format: number,
): Buffer | null | undefined {
  return detectRange(detector, value, 0, value.length, typeOid, format);
}

/** detectCell over `buf[start, end)`: cells that need no change are never sliced or decoded. */
function detectRange(
  detector: ValueDetector,
  buf: Buffer,
  start: number,
  end: number,
  typeOid: number,
  format: number,
): Buffer | null | undefined {
  const kind = kindOf(typeOid);
  if (format === 1) {
    switch (kind) {
      case 'text':
        return replaceSpans(detector, buf, start, end);
      case 'json':
        return redactJson(detector, buf, start, end);
      case 'jsonb': {
        if (end === start || buf[start] !== JSONB_VERSION) return undefined;
        const out = redactJson(detector, buf, start + 1, end);
        return out === undefined ? undefined : withVersionByte(out);
      }
      default:
        if (typeOid === TypeOid.int8 && end - start === 8) return scanInt8(detector, buf, start);
        return undefined;
    }
  }
  switch (kind) {
    case 'text':
    case 'user':
    case 'text-array':
      return replaceSpans(detector, buf, start, end);
    case 'json':
    case 'jsonb':
      return redactJson(detector, buf, start, end);
    case 'opaque':
      return detector.scan(buf, start, end).length > 0 ? null : undefined;
    default:
      return undefined;
  }
}

/** The cell `buf[start, end)` with every detected span replaced by its label, or undefined. */
function replaceSpans(detector: ValueDetector, buf: Buffer, start: number, end: number): Buffer | undefined {
  const found = detector.scan(buf, start, end);
  if (found.length === 0) return undefined;
  const out = Buffer.allocUnsafe(spannedSize(detector.labels, found, end - start));
  writeSpans(detector.labels, found, buf, start, end, out, 0);
  return out;
}

/** Whether detectRange() would replace spans in place (replaceSpans) for this type and format. */
function replacesSpans(typeOid: number, format: number): boolean {
  const kind = kindOf(typeOid);
  return kind === 'text' || (format !== 1 && (kind === 'user' || kind === 'text-array'));
}

/** Byte length of a cell of `size` bytes once the spans `found` are replaced by their labels. */
function spannedSize(
  labels: Readonly<Record<DetectorName, string>>,
  found: readonly Detection[],
  size: number,
): number {
  for (let k = 0; k < found.length; k++) {
    const d = found[k]!;
    size += labels[d.detector].length - (d.end - d.start);
  }
  return size;
}

/** Writes `src[start, end)` with the spans `found` replaced by their labels at `dst[at]`; returns the end. */
function writeSpans(
  labels: Readonly<Record<DetectorName, string>>,
  found: readonly Detection[],
  src: Buffer,
  start: number,
  end: number,
  dst: Buffer,
  at: number,
): number {
  let w = at;
  let r = start;
  for (let k = 0; k < found.length; k++) {
    const d = found[k]!;
    w += copyBytes(src, r, start + d.start, dst, w);
    const label = labels[d.detector]; // printable ASCII (see DetectorOptions)
    for (let j = 0; j < label.length; j++) dst[w + j] = label.charCodeAt(j);
    w += label.length;
    r = start + d.end;
  }
  return w + copyBytes(src, r, end, dst, w);
}

function sameBytes(a: Buffer, b: Buffer, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[start + i]) return false;
  return true;
}

/** The big-endian int32 (a length word) at `at`, which the caller checked is inside `buf`. */
function readLength(buf: Buffer, at: number): number {
  return (buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!;
}

/** Writes a big-endian int32 (a length word) at `at`; returns the offset after it. */
function writeLength(dst: Buffer, at: number, value: number): number {
  dst[at] = value >>> 24;
  dst[at + 1] = value >>> 16;
  dst[at + 2] = value >>> 8;
  dst[at + 3] = value;
  return at + 4;
}

/** Copies src[from, to) into dst at `at`; a plain loop for the short spans cells are made of. */
function copyBytes(src: Buffer, from: number, to: number, dst: Buffer, at: number): number {
  const len = to - from;
  if (len > 48) return src.copy(dst, at, from, to);
  for (let i = 0; i < len; i++) dst[at + i] = src[from + i]!;
  return len;
}

function withVersionByte(json: Buffer | null): Buffer | null {
  if (json === null) return null;
  const out = Buffer.allocUnsafe(json.length + 1);
  out[0] = JSONB_VERSION;
  json.copy(out, 1);
  return out;
}

const INT8_SCAN_FROM = 10n ** 12n; // card numbers have at least 13 digits

function scanInt8(detector: ValueDetector, buf: Buffer, at: number): null | undefined {
  const n = buf.readBigInt64BE(at);
  if (n < INT8_SCAN_FROM && n > -INT8_SCAN_FROM) return undefined;
  return detector.scan(Buffer.from(n.toString(), 'latin1')).length > 0 ? null : undefined;
}

// ---- JSON ---------------------------------------------------------------------------------------

const isJsonSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

function maskJson(strategy: MaskStrategy, json: Buffer): Buffer | null {
  let start = 0;
  let end = json.length;
  while (start < end && isJsonSpace(json[start])) start++;
  while (end > start && isJsonSpace(json[end - 1])) end--;
  let input = json;
  if (strategy.kind === 'partial' && (json[start] === 0x7b || json[start] === 0x5b)) {
    // Half of a whole document's characters can be all of one short value inside it: partial applies
    // to scalars only, an object or array is redacted.
    return Buffer.from(JSON.stringify(DEFAULT_REDACTION), 'utf8');
  }
  if (end - start >= 2 && json[start] === 0x22 && json[end - 1] === 0x22) {
    try {
      const parsed: unknown = JSON.parse(json.toString('utf8', start, end));
      if (typeof parsed === 'string') input = Buffer.from(parsed, 'utf8');
    } catch {
      // not a single JSON string: mask the document's text
    }
  }
  const masked = maskText(strategy, input);
  return masked === null ? null : Buffer.from(JSON.stringify(masked.toString('utf8')), 'utf8');
}

const isJsonNumberChar = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45;

/**
 * A copy of a JSON text where every escape sequence (`\n`, `\"`, `\u00e9`, …) is blanked with spaces
 * of the same length, so detectors see `\nbob@example.com` as ` bob@…` and spans never start or end
 * inside an escape. Offsets are unchanged. The copy is `[0, end - start)` of the returned buffer, which
 * is reused by the next call (it is only scanned, and scans keep no reference to their input).
 */
function blankEscapes(buf: Buffer, start: number, end: number): Buffer {
  const n = end - start;
  let out = scratchBuffer;
  if (n > out.length) {
    out = Buffer.allocUnsafe(n);
    if (n <= MAX_SCRATCH) scratchBuffer = out;
  }
  buf.copy(out, 0, start, end);
  let inString = false;
  for (let i = 0; i < n; i++) {
    const c = out[i];
    if (!inString) {
      if (c === 0x22) inString = true;
    } else if (c === 0x22) {
      inString = false;
    } else if (c === 0x5c) {
      const len = i + 1 < n && out[i + 1] === 0x75 ? 6 : 2;
      const stop = Math.min(n, i + len);
      out.fill(0x20, i, stop);
      i = stop - 1;
    }
  }
  return out;
}

/** Larger JSON cells get a buffer of their own rather than one kept for the session's lifetime. */
const MAX_SCRATCH = 64 * 1024;
let scratchBuffer = Buffer.allocUnsafe(1024);

/** [contentStart, contentEnd) of every string literal in a JSON text, flattened. */
function jsonStringRanges(json: Buffer): number[] {
  const ranges: number[] = [];
  const n = json.length;
  let i = 0;
  while (i < n) {
    if (json[i] !== 0x22) {
      i++;
      continue;
    }
    const contentStart = ++i;
    while (i < n && json[i] !== 0x22) i += json[i] === 0x5c ? 2 : 1;
    ranges.push(contentStart, Math.min(i, n));
    i++;
  }
  return ranges;
}

function redactJson(detector: ValueDetector, buf: Buffer, from: number, to: number): Buffer | undefined {
  const backslash = buf.indexOf(0x5c, from);
  const found =
    backslash !== -1 && backslash < to
      ? detector.scan(blankEscapes(buf, from, to), 0, to - from)
      : detector.scan(buf, from, to);
  if (found.length === 0) return undefined;
  const json = buf.subarray(from, to);
  const strings = jsonStringRanges(json);
  const parts: Buffer[] = [];
  let at = 0;
  let r = 0;
  for (const d of found) {
    while (r < strings.length && strings[r + 1]! <= d.start) r += 2;
    const inString = r < strings.length && strings[r]! <= d.start;
    let { start, end } = d;
    let replacement: string;
    if (inString) {
      if (end > strings[r + 1]!) return wholeJson(detector, found);
      replacement = detector.labels[d.detector];
    } else {
      while (start > 0 && isJsonNumberChar(json[start - 1]!)) start--;
      while (end < json.length && isJsonNumberChar(json[end]!)) end++;
      for (let k = start; k < end; k++) if (!isJsonNumberChar(json[k]!)) return wholeJson(detector, found);
      if (start < at) return wholeJson(detector, found);
      replacement = `"${detector.labels[d.detector]}"`;
    }
    if (start > at) parts.push(json.subarray(at, start));
    parts.push(Buffer.from(replacement, 'latin1'));
    at = end;
  }
  if (at < json.length) parts.push(json.subarray(at));
  return Buffer.concat(parts);
}

const PRIORITY: readonly DetectorName[] = ['secret', 'card', 'iban', 'ssn', 'email', 'phone'];

function wholeJson(detector: ValueDetector, found: readonly Detection[]): Buffer {
  const top = PRIORITY.find((name) => found.some((d) => d.detector === name))!;
  return Buffer.from(JSON.stringify(detector.labels[top]), 'latin1');
}

// ---- DataRow ------------------------------------------------------------------------------------

const DATA_ROW = 0x44; // 'D'

function formatAt(formats: readonly number[], i: number): number {
  return formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : formats[i]!;
}

interface Edit {
  /** Byte range of the whole cell (length word included) in the old frame. */
  start: number;
  end: number;
  /** New value, or null for SQL NULL (unused with `spans`). */
  value: Buffer | null;
  /**
   * Detected spans of a text cell: the new value is the old one with each span replaced by its label,
   * written straight into the new frame (no intermediate Buffer).
   */
  spans: readonly Detection[] | undefined;
  /** Byte length of the new value (0 for SQL NULL). */
  size: number;
}

/**
 * Takes a whole DataRow frame ('D', int32 length, int16 count, then per cell int32 len + bytes); returns
 * the same Buffer object when nothing changed, otherwise a new frame. Never decodes cells that need no
 * work. Throws MalformedRowError on a malformed frame (wrong type or length word, count mismatch with
 * the plan, a cell length past the end, trailing bytes).
 */
export function maskDataRow(frame: Buffer, plan: RowMaskPlan): RowMaskResult {
  const total = frame.length;
  if (total < 7 || frame[0] !== DATA_ROW) throw new MalformedRowError('not a DataRow frame');
  if (readLength(frame, 1) !== total - 1) {
    throw new MalformedRowError('DataRow length word does not match the frame');
  }
  const count = (frame[5]! << 8) | frame[6]!;
  const { columns, formats, typeOids, detector } = plan;
  if (columns.length !== count) {
    throw new MalformedRowError(`DataRow has ${count} columns, the mask plan ${columns.length}`);
  }
  if (formats.length > 1 && formats.length !== count) {
    throw new MalformedRowError(`DataRow has ${count} columns, the plan ${formats.length} formats`);
  }

  let edits: Edit[] | undefined;
  let maskedCells = 0;
  let pos = 7;
  for (let i = 0; i < count; i++) {
    if (pos + 4 > total) throw new MalformedRowError(`DataRow ends before cell ${i}`);
    const len = readLength(frame, pos);
    const dataStart = pos + 4;
    if (len === -1) {
      pos = dataStart;
      continue;
    }
    if (len < 0) throw new MalformedRowError(`DataRow cell ${i} has length ${len}`);
    const end = dataStart + len;
    if (end > total) throw new MalformedRowError(`DataRow cell ${i} runs past the end of the frame`);
    const strategy = columns[i];
    if (strategy !== undefined) {
      const out = maskRange(strategy, frame, dataStart, end, typeOids[i] ?? 0, formatAt(formats, i));
      maskedCells++;
      if (out === null || !sameBytes(out, frame, dataStart, end)) {
        (edits ??= []).push({ start: pos, end, value: out, spans: undefined, size: out?.length ?? 0 });
      }
    } else if (detector !== undefined) {
      const typeOid = typeOids[i] ?? 0;
      const format = formatAt(formats, i);
      if (replacesSpans(typeOid, format)) {
        const found = detector.scan(frame, dataStart, end);
        if (found.length > 0) {
          maskedCells++;
          const size = spannedSize(detector.labels, found, len);
          (edits ??= []).push({ start: pos, end, value: null, spans: found, size });
        }
      } else {
        const out = detectRange(detector, frame, dataStart, end, typeOid, format);
        if (out !== undefined) {
          maskedCells++;
          (edits ??= []).push({ start: pos, end, value: out, spans: undefined, size: out?.length ?? 0 });
        }
      }
    }
    pos = end;
  }
  if (pos !== total) throw new MalformedRowError(`DataRow has ${total - pos} bytes after its last cell`);
  if (edits === undefined) return { frame, maskedCells };

  let size = total;
  for (let k = 0; k < edits.length; k++) {
    const e = edits[k]!;
    size += 4 + e.size - (e.end - e.start);
  }
  const out = allocFrame(size);
  let w = 0;
  let r = 0;
  for (let k = 0; k < edits.length; k++) {
    const e = edits[k]!;
    w += copyBytes(frame, r, e.start, out, w);
    if (e.spans !== undefined) {
      w = writeLength(out, w, e.size);
      w = writeSpans(detector!.labels, e.spans, frame, e.start + 4, e.end, out, w);
    } else if (e.value === null) {
      w = writeLength(out, w, -1);
    } else {
      w = writeLength(out, w, e.value.length);
      w += copyBytes(e.value, 0, e.value.length, out, w);
    }
    r = e.end;
  }
  copyBytes(frame, r, total, out, w);
  writeLength(out, 1, size - 1);
  return { frame: out, maskedCells };
}

/**
 * Rewritten frames are carved one after another out of shared slabs, with no gaps (Buffer.allocUnsafe
 * aligns every allocation to 8 bytes), so the frames of consecutive masked rows are adjacent views of
 * one ArrayBuffer and the session's Coalescer sends a whole chunk of them as one write instead of one
 * write per row. Every byte of a carved frame is written before it is returned. A slab is retained as
 * long as one of its frames is (like Node's own Buffer pool); large frames get a Buffer of their own.
 */
const SLAB_SIZE = 64 * 1024;
const MAX_SLAB_FRAME = 8 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let slabUsed = 0;

function allocFrame(size: number): Buffer {
  if (size > MAX_SLAB_FRAME) return Buffer.allocUnsafe(size);
  if (slabUsed + size > SLAB_SIZE) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    slabUsed = 0;
  }
  const frame = slab.subarray(slabUsed, slabUsed + size);
  slabUsed += size;
  return frame;
}

// ---- COPY TO STDOUT -----------------------------------------------------------------------------

export interface CopyRowOptions {
  /** 'text' (default) or 'csv'. Binary COPY is not supported: refuse it when masking applies. */
  format?: 'text' | 'csv';
  /** Single-byte delimiter: tab for text, ',' for csv by default. */
  delimiter?: string;
  /** NULL marker: `\N` for text, the empty unquoted string for csv by default. */
  null?: string;
  /** CSV quote character, '"' by default. */
  quote?: string;
  /** CSV escape character, the quote character by default. */
  escape?: string;
}

export interface CopyRowResult {
  line: Buffer;
  maskedCells: number;
}

interface CopyField {
  start: number;
  end: number;
  quoted: boolean;
}

function singleByte(value: string, what: string): number {
  if (value.length !== 1 || value.charCodeAt(0) > 0x7f)
    throw new RangeError(`COPY ${what} must be one ASCII character`);
  return value.charCodeAt(0);
}

/**
 * Masks one COPY TO STDOUT row (the payload of one CopyData message: one row and its newline) with the
 * same rules as maskDataRow, in text format (tab-separated, `\N` NULLs, backslash escapes: the value is
 * unescaped, masked and re-escaped) or CSV (masked values are always quoted). A CSV HEADER line must not
 * be passed in. `plan.formats` is ignored; `plan.typeOids` may be empty (every column unknown, so text).
 * Returns the same Buffer object when nothing changed.
 */
export function maskCopyRow(line: Buffer, plan: RowMaskPlan, options: CopyRowOptions = {}): CopyRowResult {
  const csv = options.format === 'csv';
  const delimiter = singleByte(options.delimiter ?? (csv ? ',' : '\t'), 'delimiter');
  const quote = csv ? singleByte(options.quote ?? '"', 'quote') : -1;
  const escape = csv ? singleByte(options.escape ?? String.fromCharCode(quote), 'escape') : -1;
  const nullBytes = Buffer.from(options.null ?? (csv ? '' : '\\N'), 'utf8');

  let end = line.length;
  if (end > 0 && line[end - 1] === 0x0a) {
    end--;
    if (end > 0 && line[end - 1] === 0x0d) end--;
  }
  const fields = csv ? splitCsv(line, end, delimiter, quote, escape) : splitText(line, end, delimiter);
  const { columns, typeOids, detector } = plan;
  if (fields.length !== columns.length) {
    throw new MalformedRowError(`COPY row has ${fields.length} fields, the mask plan ${columns.length}`);
  }

  let edits: { start: number; end: number; bytes: Buffer }[] | undefined;
  let maskedCells = 0;
  for (let i = 0; i < fields.length; i++) {
    const strategy = columns[i];
    if (strategy === undefined && detector === undefined) continue;
    const field = fields[i]!;
    const raw = line.subarray(field.start, field.end);
    if (!field.quoted && raw.equals(nullBytes)) continue;
    const value = csv ? unquoteCsv(raw, field.quoted, quote, escape) : unescapeText(raw);
    let out: Buffer | null | undefined;
    if (strategy !== undefined) {
      out = maskCell(strategy, value, typeOids[i] ?? 0, 0);
      maskedCells++;
    } else {
      out = detectCell(detector!, value, typeOids[i] ?? 0, 0);
      if (out === undefined) continue;
      maskedCells++;
    }
    const bytes = out === null ? nullBytes : csv ? quoteCsv(out, quote, escape) : escapeText(out, delimiter);
    if (!bytes.equals(raw)) (edits ??= []).push({ start: field.start, end: field.end, bytes });
  }
  if (edits === undefined) return { line, maskedCells };

  const parts: Buffer[] = [];
  let at = 0;
  for (const e of edits) {
    parts.push(line.subarray(at, e.start), e.bytes);
    at = e.end;
  }
  parts.push(line.subarray(at));
  return { line: Buffer.concat(parts), maskedCells };
}

function splitText(line: Buffer, end: number, delimiter: number): CopyField[] {
  const fields: CopyField[] = [];
  let start = 0;
  let p = 0;
  while (p < end) {
    const c = line[p];
    if (c === 0x5c) p += 2;
    else if (c === delimiter) {
      fields.push({ start, end: p, quoted: false });
      start = ++p;
    } else p++;
  }
  if (p > end) throw new MalformedRowError('COPY row ends with a lone backslash');
  fields.push({ start, end, quoted: false });
  return fields;
}

function splitCsv(line: Buffer, end: number, delimiter: number, quote: number, escape: number): CopyField[] {
  const fields: CopyField[] = [];
  let p = 0;
  for (;;) {
    const start = p;
    let quoted = false;
    if (p < end && line[p] === quote) {
      quoted = true;
      p++;
      for (;;) {
        if (p >= end) throw new MalformedRowError('COPY CSV row has an unterminated quoted field');
        const c = line[p];
        if (
          c === escape &&
          escape !== quote &&
          p + 1 < end &&
          (line[p + 1] === quote || line[p + 1] === escape)
        ) {
          p += 2;
        } else if (c === quote) {
          if (escape === quote && line[p + 1] === quote && p + 1 < end) p += 2;
          else {
            p++;
            break;
          }
        } else p++;
      }
      if (p < end && line[p] !== delimiter)
        throw new MalformedRowError('COPY CSV row has text after a closing quote');
    } else {
      while (p < end && line[p] !== delimiter) p++;
    }
    fields.push({ start, end: p, quoted });
    if (p >= end) return fields;
    p++; // delimiter
  }
}

const TEXT_ESCAPES: Readonly<Record<number, number>> = {
  0x62: 0x08, // \b
  0x66: 0x0c, // \f
  0x6e: 0x0a, // \n
  0x72: 0x0d, // \r
  0x74: 0x09, // \t
  0x76: 0x0b, // \v
};

const isOctal = (c: number | undefined): c is number => c !== undefined && c >= 0x30 && c <= 0x37;
function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** COPY text-format de-escaping (CopyReadAttributesText): \b \f \n \r \t \v, octal, \xhh, \<any>. */
function unescapeText(raw: Buffer): Buffer {
  if (raw.indexOf(0x5c) === -1) return raw;
  const out = Buffer.allocUnsafe(raw.length);
  let w = 0;
  for (let p = 0; p < raw.length; p++) {
    const c = raw[p]!;
    if (c !== 0x5c || p + 1 >= raw.length) {
      out[w++] = c;
      continue;
    }
    const next = raw[++p]!;
    if (isOctal(next)) {
      let v = next - 0x30;
      if (isOctal(raw[p + 1])) {
        v = v * 8 + raw[++p]! - 0x30;
        if (isOctal(raw[p + 1])) v = v * 8 + raw[++p]! - 0x30;
      }
      out[w++] = v & 0xff;
    } else if (next === 0x78 && hexValue(raw[p + 1]) >= 0) {
      let v = hexValue(raw[++p]);
      if (hexValue(raw[p + 1]) >= 0) v = v * 16 + hexValue(raw[++p]);
      out[w++] = v;
    } else {
      out[w++] = TEXT_ESCAPES[next] ?? next;
    }
  }
  return out.subarray(0, w);
}

const TEXT_ESCAPE_OUT: Readonly<Record<number, number>> = {
  0x08: 0x62,
  0x0c: 0x66,
  0x0a: 0x6e,
  0x0d: 0x72,
  0x09: 0x74,
  0x0b: 0x76,
  0x5c: 0x5c,
};

/** COPY text-format escaping (CopyAttributeOutText): backslash, control characters and the delimiter. */
function escapeText(value: Buffer, delimiter: number): Buffer {
  let extra = 0;
  for (const c of value) if (TEXT_ESCAPE_OUT[c] !== undefined || c === delimiter) extra++;
  if (extra === 0) return value;
  const out = Buffer.allocUnsafe(value.length + extra);
  let w = 0;
  for (const c of value) {
    const e = TEXT_ESCAPE_OUT[c];
    if (e !== undefined) {
      out[w++] = 0x5c;
      out[w++] = e;
    } else if (c === delimiter) {
      out[w++] = 0x5c;
      out[w++] = c;
    } else out[w++] = c;
  }
  return out;
}

function unquoteCsv(raw: Buffer, quoted: boolean, quote: number, escape: number): Buffer {
  if (!quoted) return raw;
  const out = Buffer.allocUnsafe(raw.length);
  let w = 0;
  for (let p = 1; p < raw.length - 1; p++) {
    const c = raw[p]!;
    if (
      (c === escape || c === quote) &&
      p + 1 < raw.length - 1 &&
      (raw[p + 1] === quote || raw[p + 1] === escape)
    ) {
      out[w++] = raw[++p]!;
    } else out[w++] = c;
  }
  return out.subarray(0, w);
}

/** Always quotes, doubling (or escaping) quote and escape characters: valid whatever the content. */
function quoteCsv(value: Buffer, quote: number, escape: number): Buffer {
  const out: number[] = [quote];
  for (const c of value) {
    if (c === quote || c === escape) out.push(escape);
    out.push(c);
  }
  out.push(quote);
  return Buffer.from(out);
}

/** Builds a DataRow frame from cell values (null = SQL NULL): for tests, benchmarks and synthetic rows. */
export function buildDataRow(cells: readonly (Buffer | string | null)[]): Buffer {
  const values = cells.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c));
  const size = 7 + values.reduce((sum, v) => sum + 4 + (v?.length ?? 0), 0);
  const out = Buffer.allocUnsafe(size);
  out[0] = DATA_ROW;
  out.writeInt32BE(size - 1, 1);
  out.writeUInt16BE(values.length, 5);
  let w = 7;
  for (const v of values) {
    w = out.writeInt32BE(v === null ? -1 : v.length, w);
    if (v !== null) w += v.copy(out, w);
  }
  return out;
}
