/**
 * The byte-level rewriter of DataRow messages.
 *
 * A row is walked once, cell lengths only; a cell is looked at only when its column has a mask or
 * detectors are on. A row that needs no change comes back as the same Buffer object, so the session
 * can forward it without a copy; otherwise one new frame is built from slices of the old one
 * (cell-edits.ts). How one
 * value is masked by type and format: cell-values.ts (scalars), composite-values.ts (records, arrays).
 */
import { detectRange, maskRange, replacesSpans, spannedSize } from './cell-values.ts';
import type { ValueDetector } from './detectors.ts';
import { readLength, sameBytes } from '../../postgres/wire/bytes.ts';
import { rewriteCells, type CellEdit } from './cell-edits.ts';
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

function formatAt(formats: readonly number[], i: number): number {
  return formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : formats[i]!;
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

  let edits: CellEdit[] | undefined;
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

  return { frame: rewriteCells(frame, edits, detector?.labels), maskedCells };
}
