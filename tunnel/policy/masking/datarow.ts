/**
 * The byte-level rewriter of DataRow messages.
 *
 * A row is walked once, cell lengths only; a cell is looked at only when its column has a mask or
 * detectors are on. A row that needs no change comes back as the same Buffer object, so the session
 * can forward it without a copy; otherwise one new frame is built from slices of the old one. How one
 * value is masked by type and format: cell-values.ts (scalars), composite-values.ts (records, arrays).
 */
import { detectRange, maskRange, replacesSpans, spannedSize, writeSpans } from './cell-values.ts';
import type { Detection, ValueDetector } from './detectors.ts';
import { copyBytes, readLength, sameBytes, writeLength } from '../../postgres/wire/bytes.ts';
import { Backend } from '../../postgres/wire/codes.ts';
import { DATA_ROW_CELLS, dataRowCellCount } from '../../postgres/wire/results.ts';
import { isCompositeMask, maskComposite, type ColumnMask } from './composite-values.ts';

/** What to do with each column of a result: undefined = leave alone (but run detectors if enabled), or a strategy. */
export interface RowMaskPlan {
  /** Per column: a strategy, a field-by-field mask of a composite or array value, or undefined. */
  columns: readonly ColumnMask[];
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

// ---- DataRow ------------------------------------------------------------------------------------

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

/** The frame's cell count, after checking its type, its length word and that the plan fits it. */
function checkedCellCount(frame: Buffer, plan: RowMaskPlan): number {
  if (frame.length < DATA_ROW_CELLS || frame[0] !== Backend.dataRow) {
    throw new MalformedRowError('not a DataRow frame');
  }
  if (readLength(frame, 1) !== frame.length - 1) {
    throw new MalformedRowError('DataRow length word does not match the frame');
  }
  const count = dataRowCellCount(frame);
  if (plan.columns.length !== count) {
    throw new MalformedRowError(`DataRow has ${count} columns, the mask plan ${plan.columns.length}`);
  }
  if (plan.formats.length > 1 && plan.formats.length !== count) {
    throw new MalformedRowError(`DataRow has ${count} columns, the plan ${plan.formats.length} formats`);
  }
  return count;
}

/**
 * Takes a whole DataRow frame ('D', int32 length, int16 count, then per cell int32 len + bytes); returns
 * the same Buffer object when nothing changed, otherwise a new frame. Never decodes cells that need no
 * work. Throws MalformedRowError on a malformed frame (wrong type or length word, count mismatch with
 * the plan, a cell length past the end, trailing bytes).
 */
export function maskDataRow(frame: Buffer, plan: RowMaskPlan): RowMaskResult {
  const total = frame.length;
  const count = checkedCellCount(frame, plan);
  const { columns, formats, typeOids, detector } = plan;

  let edits: Edit[] | undefined;
  let maskedCells = 0;
  let pos = DATA_ROW_CELLS;
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
    const mask = columns[i];
    if (isCompositeMask(mask)) {
      const { value, masked } = maskComposite(mask, frame, dataStart, end, formatAt(formats, i), detector);
      if (masked) maskedCells++;
      if (value !== undefined) {
        (edits ??= []).push({ start: pos, end, value, spans: undefined, size: value?.length ?? 0 });
      }
    } else if (mask !== undefined) {
      const out = maskRange(mask, frame, dataStart, end, typeOids[i] ?? 0, formatAt(formats, i));
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
