/** Byte helpers shared by the frame and value rewriters (lengths are big-endian int32 words). */

export function sameBytes(a: Buffer, b: Buffer, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[start + i]) return false;
  return true;
}

/** The big-endian int32 (a length word) at `at`, which the caller checked is inside `buf`. */
export function readLength(buf: Buffer, at: number): number {
  return (buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!;
}

/** Writes a big-endian int32 (a length word) at `at`; returns the offset after it. */
export function writeLength(dst: Buffer, at: number, value: number): number {
  dst[at] = value >>> 24;
  dst[at + 1] = value >>> 16;
  dst[at + 2] = value >>> 8;
  dst[at + 3] = value;
  return at + 4;
}

/** Copies src[from, to) into dst at `at`; a plain loop for the short spans cells are made of. */
export function copyBytes(src: Buffer, from: number, to: number, dst: Buffer, at: number): number {
  const len = to - from;
  if (len > 48) return src.copy(dst, at, from, to);
  for (let i = 0; i < len; i++) dst[at + i] = src[from + i]!;
  return len;
}
