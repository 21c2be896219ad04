/**
 * Rebuilds a message whose cells changed: copies the unchanged bytes around each edited cell and
 * writes each new value (or its detected spans, replaced by labels) in one pass into one new frame.
 */
import { copyBytes, writeLength } from '../../postgres/wire/bytes.ts';
import { writeSpans } from './cell-values.ts';
import type { Detection, DetectorName } from './detectors.ts';

/** One changed cell of a frame. */
export interface CellEdit {
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
 * `frame` with each of `edits` (in order, not overlapping) applied and its length word set; `labels`
 * are the detector's, for edits with spans.
 */
export function rewriteCells(
  frame: Buffer,
  edits: readonly CellEdit[],
  labels: Readonly<Record<DetectorName, string>> | undefined,
): Buffer {
  const total = frame.length;
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
      w = writeSpans(labels!, e.spans, frame, e.start + 4, e.end, out, w);
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
  return out;
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
