/**
 * Masking one value (a cell, or a field of a composite value) by type and format: a strategy's output,
 * or detected spans replaced. Values that need no change are never sliced or decoded.
 *
 * Type rules (so clients keep parsing what they get):
 * - Text-like types (text, varchar, bpchar, name, xml, unknown) take the strategy's output, or have
 *   detected spans replaced in place, in text and in binary format (binary = the same UTF-8 bytes).
 * - json/jsonb: see json-values.ts. Binary jsonb keeps its version byte (1); another version becomes
 *   NULL when masked and is left alone by detectors.
 * - Types defined outside the catalogue's builtin range (OID 0 or ≥ 16384: enums, citext, …) are
 *   masked as text in text format and become NULL in binary format (their layout is unknown).
 * - Every other builtin type (numbers, dates, uuid, bytea, …) becomes NULL when masked, in both
 *   formats: a strategy's text would not parse as an int or a date. Composite and array values are
 *   masked field by field (composite-values.ts) when the plan knows their shape.
 * - Detectors skip types that cannot carry free text (bool, int2/int4, floats, dates and times, uuid,
 *   network addresses, geometric and range types, …). Text arrays get in-place span replacement; other
 *   scanned builtins (int8, numeric, json[], …) become NULL when anything is detected. In binary format
 *   only text-like, json/jsonb and int8 (decoded) cells are scanned.
 */
import type { Detection, DetectorName, ValueDetector } from './detectors.ts';
import { copyBytes } from '../../postgres/wire/bytes.ts';
import { maskJson, redactJson } from './json-values.ts';
import { maskTextRange, type MaskStrategy } from './strategies.ts';

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
export type Kind = 'text' | 'json' | 'jsonb' | 'text-array' | 'user' | 'opaque' | 'inert';

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

export function kindOf(oid: number): Kind {
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
export function maskRange(
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
export function detectRange(
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
export function replacesSpans(typeOid: number, format: number): boolean {
  const kind = kindOf(typeOid);
  return kind === 'text' || (format !== 1 && (kind === 'user' || kind === 'text-array'));
}

/** Byte length of a cell of `size` bytes once the spans `found` are replaced by their labels. */
export function spannedSize(
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
export function writeSpans(
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
