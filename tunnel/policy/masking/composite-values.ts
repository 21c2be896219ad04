/**
 * Masking composite (record) and array values field by field, in text and binary format, keeping them
 * valid so clients still parse them: each field or element gets its own mask (a strategy, a nested
 * composite mask, or nothing — then only the detectors look at it), applied by its type as a cell
 * would be (cell-values.ts); untouched bytes are copied as they are.
 *
 * Text: record and array literals (composite-text.ts); a masked field is written back quoted as the
 * input functions need. Binary: a record is int32 field count, then per field type OID, int32 length
 * (-1 NULL), bytes; an array is int32 ndim, int32 has-nulls flag, element OID, (size, lower bound) per
 * dimension, then per element int32 length (-1 NULL) and bytes. A field masked to NULL sets the flag.
 * A value that does not parse as the plan says becomes NULL: what cannot be walked is not passed.
 */
import { detectRange, maskRange } from './cell-values.ts';
import {
  arrayElementText,
  arrayLeaves,
  decodeLeaf,
  LEAF_END,
  LEAF_NULL,
  LEAF_SIZE,
  LEAF_START,
  LEAF_VALUE_END,
  LEAF_VALUE_START,
  recordField,
  recordLeaves,
  type Leaves,
} from './composite-text.ts';
import type { ValueDetector } from './detectors.ts';
import { maskJsonDocument, type JsonMask } from './json-documents.ts';
import { copyBytes, readLength } from '../../postgres/wire/bytes.ts';
import type { MaskStrategy } from './strategies.ts';

/** A record's fields by position: named composite types know their field types, anonymous records not. */
export interface RecordMask {
  kind: 'record';
  fields: readonly ColumnMask[];
  /** Field type OIDs (text format needs them; binary carries its own); empty when unknown. */
  types: readonly number[];
  /** The mask of fields past `fields` (an anonymous record whose fields are not traced: all of them). */
  rest?: ColumnMask;
}

export interface ArrayMask {
  kind: 'array';
  element: ColumnMask;
  /**
   * Each element's own mask by position (`ARRAY[email, ssn, name]`), for a value with exactly this
   * many elements (in storage order: one per item written, however many dimensions); any other value
   * gets `element` for every element.
   */
  elements?: readonly ColumnMask[];
  /** The element type OID, 0 when unknown (binary carries its own). */
  elementType: number;
  /** typdelim: ',' for every type but box (';'). */
  delimiter: number;
}

export type CompositeMask = RecordMask | ArrayMask | JsonMask;

/** How one column (or field, or element) is masked: a strategy, field by field, or not at all. */
export type ColumnMask = MaskStrategy | CompositeMask | undefined;

export const isCompositeMask = (mask: ColumnMask): mask is CompositeMask =>
  mask !== undefined && (mask.kind === 'record' || mask.kind === 'array' || mask.kind === 'json');

const RECORD_OID = 2249;
const COMMA = 0x2c;

/** Fields a strategy was applied to, by the last maskComposite() call (module-level: no result object). */
let strategyLeaves = 0;

export interface CompositeResult {
  /** The new value (null = SQL NULL), or undefined when it stays as it is. */
  value: Buffer | null | undefined;
  /** Whether a strategy or a detector changed anything in it. */
  masked: boolean;
}

/** Masks the composite or array value `buf[start, end)` of the given format. */
export function maskComposite(
  mask: CompositeMask,
  buf: Buffer,
  start: number,
  end: number,
  format: number,
  detector: ValueDetector | undefined,
): CompositeResult {
  strategyLeaves = 0;
  const value = maskNested(mask, buf, start, end, format, detector);
  return { value, masked: value !== undefined || strategyLeaves > 0 };
}

function maskNested(
  mask: CompositeMask,
  buf: Buffer,
  start: number,
  end: number,
  format: number,
  detector: ValueDetector | undefined,
): Buffer | null | undefined {
  if (mask.kind === 'json') return maskJsonDocument(mask, buf, start, end, format, detector);
  if (format === 1) {
    return mask.kind === 'record'
      ? maskBinaryRecord(mask, buf, start, end, detector)
      : maskBinaryArray(mask, buf, start, end, detector);
  }
  return mask.kind === 'record'
    ? maskTextRecord(mask, buf, start, end, detector)
    : maskTextArray(mask, buf, start, end, detector);
}

/** One field or element: its mask applied by its type, or the detectors; undefined = unchanged. */
function maskLeaf(
  mask: ColumnMask,
  buf: Buffer,
  start: number,
  end: number,
  typeOid: number,
  format: number,
  detector: ValueDetector | undefined,
): Buffer | null | undefined {
  if (mask === undefined) {
    return detector === undefined ? undefined : detectRange(detector, buf, start, end, typeOid, format);
  }
  if (isCompositeMask(mask)) return maskNested(mask, buf, start, end, format, detector);
  strategyLeaves++;
  return maskRange(mask, buf, start, end, typeOid, format);
}

/** The masks by position of an array of `count` elements, when it was written out with that many. */
function elementMasks(mask: ArrayMask, count: number): readonly ColumnMask[] | undefined {
  return mask.elements?.length === count ? mask.elements : undefined;
}

/** The mask of field `i` of a record. */
function fieldMask(mask: RecordMask, i: number): ColumnMask {
  return i < mask.fields.length ? mask.fields[i] : mask.rest;
}

/** Record fields of a binary value whose type is not known at plan time: only nested records are walked. */
function binaryFieldMask(mask: ColumnMask, oid: number): ColumnMask {
  if (mask === undefined || isCompositeMask(mask) || oid !== RECORD_OID) return mask;
  return { kind: 'record', fields: [], types: [], rest: mask };
}

// ---- text -----------------------------------------------------------------------------------------

interface Edit {
  start: number;
  end: number;
  bytes: Buffer;
}

/** The leaves of a record (by `mask.fields`) or an array (one mask for every element). */
function maskTextLeaves(
  leaves: Leaves,
  buf: Buffer,
  mask: RecordMask | ArrayMask,
  detector: ValueDetector | undefined,
): Edit[] | undefined {
  const record = mask.kind === 'record';
  const delimiter = record ? COMMA : mask.delimiter || COMMA;
  const positional = record ? undefined : elementMasks(mask, leaves.length / LEAF_SIZE);
  let edits: Edit[] | undefined;
  for (let i = 0, k = 0; k < leaves.length; i++, k += LEAF_SIZE) {
    if (leaves[k + LEAF_NULL] === 1) continue;
    const leafMask = record ? fieldMask(mask, i) : positional ? positional[i] : mask.element;
    if (leafMask === undefined && detector === undefined) continue;
    let source = buf;
    let from = leaves[k + LEAF_VALUE_START]!;
    let to = leaves[k + LEAF_VALUE_END]!;
    if (from === -1) {
      source = decodeLeaf(buf, leaves[k + LEAF_START]!, leaves[k + LEAF_END]!, record);
      from = 0;
      to = source.length;
    }
    const typeOid = record ? (mask.types[i] ?? 0) : mask.elementType;
    const out = maskLeaf(leafMask, source, from, to, typeOid, 0, detector);
    if (out === undefined) continue;
    const bytes = record ? recordField(out) : arrayElementText(out, delimiter);
    (edits ??= []).push({ start: leaves[k + LEAF_START]!, end: leaves[k + LEAF_END]!, bytes });
  }
  return edits;
}

function maskTextRecord(
  mask: RecordMask,
  buf: Buffer,
  start: number,
  end: number,
  detector: ValueDetector | undefined,
): Buffer | null | undefined {
  const leaves = recordLeaves(buf, start, end);
  if (leaves === undefined) return null;
  if (mask.types.length > 0 && leaves.length / LEAF_SIZE !== mask.types.length) return null;
  const edits = maskTextLeaves(leaves, buf, mask, detector);
  return edits === undefined ? undefined : applyEdits(buf, start, end, edits);
}

function maskTextArray(
  mask: ArrayMask,
  buf: Buffer,
  start: number,
  end: number,
  detector: ValueDetector | undefined,
): Buffer | null | undefined {
  const delimiter = mask.delimiter || COMMA;
  const leaves = arrayLeaves(buf, start, end, delimiter);
  if (leaves === undefined) return null;
  const edits = maskTextLeaves(leaves, buf, mask, detector);
  return edits === undefined ? undefined : applyEdits(buf, start, end, edits);
}

/** `buf[start, end)` with each edit's range replaced by its bytes (edits in order, not overlapping). */
function applyEdits(buf: Buffer, start: number, end: number, edits: readonly Edit[]): Buffer {
  let size = end - start;
  for (const e of edits) size += e.bytes.length - (e.end - e.start);
  const out = Buffer.allocUnsafe(size);
  let w = 0;
  let r = start;
  for (const e of edits) {
    w += copyBytes(buf, r, e.start, out, w);
    w += copyBytes(e.bytes, 0, e.bytes.length, out, w);
    r = e.end;
  }
  copyBytes(buf, r, end, out, w);
  return out;
}

// ---- binary ---------------------------------------------------------------------------------------

/** A binary field or element rewritten: its length word and bytes (length -1 for NULL). */
function lengthPrefixed(value: Buffer | null): Buffer {
  const out = Buffer.allocUnsafe(4 + (value?.length ?? 0));
  out.writeInt32BE(value === null ? -1 : value.length, 0);
  value?.copy(out, 4);
  return out;
}

function maskBinaryRecord(
  mask: RecordMask,
  buf: Buffer,
  start: number,
  end: number,
  detector: ValueDetector | undefined,
): Buffer | null | undefined {
  if (end - start < 4) return null;
  const count = readLength(buf, start);
  if (count < 0 || (mask.types.length > 0 && count !== mask.types.length)) return null;
  let edits: Edit[] | undefined;
  let p = start + 4;
  for (let i = 0; i < count; i++) {
    if (p + 8 > end) return null;
    const oid = readLength(buf, p) >>> 0;
    const len = readLength(buf, p + 4);
    const dataStart = p + 8;
    if (len === -1) {
      p = dataStart;
      continue;
    }
    if (len < 0 || dataStart + len > end) return null;
    const mask_ = binaryFieldMask(fieldMask(mask, i), oid);
    const out = maskLeaf(mask_, buf, dataStart, dataStart + len, oid, 1, detector);
    if (out !== undefined)
      (edits ??= []).push({ start: p + 4, end: dataStart + len, bytes: lengthPrefixed(out) });
    p = dataStart + len;
  }
  if (p !== end) return null;
  return edits === undefined ? undefined : applyEdits(buf, start, end, edits);
}

function maskBinaryArray(
  mask: ArrayMask,
  buf: Buffer,
  start: number,
  end: number,
  detector: ValueDetector | undefined,
): Buffer | null | undefined {
  if (end - start < 12) return null;
  const ndim = readLength(buf, start);
  const elementOid = readLength(buf, start + 8) >>> 0;
  if (ndim < 0 || ndim > 6 || start + 12 + 8 * ndim > end) return null;
  let count = ndim === 0 ? 0 : 1;
  for (let d = 0; d < ndim; d++) count *= readLength(buf, start + 12 + 8 * d);
  if (count < 0) return null;
  const element = binaryFieldMask(mask.element, elementOid);
  const positional = elementMasks(mask, count);
  let edits: Edit[] | undefined;
  let nulled = false;
  let p = start + 12 + 8 * ndim;
  for (let i = 0; i < count; i++) {
    if (p + 4 > end) return null;
    const len = readLength(buf, p);
    if (len === -1) {
      p += 4;
      continue;
    }
    if (len < 0 || p + 4 + len > end) return null;
    const leafMask = positional ? binaryFieldMask(positional[i], elementOid) : element;
    const out = maskLeaf(leafMask, buf, p + 4, p + 4 + len, elementOid, 1, detector);
    if (out !== undefined) {
      if (out === null) nulled = true;
      (edits ??= []).push({ start: p, end: p + 4 + len, bytes: lengthPrefixed(out) });
    }
    p += 4 + len;
  }
  if (p !== end) return null;
  if (edits === undefined) return undefined;
  if (nulled && readLength(buf, start + 4) === 0)
    edits.unshift({ start: start + 4, end: start + 8, bytes: HAS_NULLS });
  return applyEdits(buf, start, end, edits);
}

const HAS_NULLS = Buffer.from([0, 0, 0, 1]);
