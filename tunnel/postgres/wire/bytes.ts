/**
 * The byte shapes every message is made of: big-endian int32 words, NUL-terminated strings and the
 * tagged-message header; and the copy helpers the frame and value rewriters share.
 */
import { TAGGED_HEADER_LENGTH } from './codes.ts';

/** A whole tagged message: the type byte, the int32 length (itself included) and the payload. */
export function tagged(type: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(TAGGED_HEADER_LENGTH + payload.length);
  out[0] = type;
  out.writeUInt32BE(4 + payload.length, 1);
  payload.copy(out, TAGGED_HEADER_LENGTH);
  return out;
}

export function int32(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(value, 0);
  return b;
}

export function cstring(value: string): Buffer {
  return Buffer.from(`${value}\0`, 'utf8');
}

/** The NUL-terminated string at `at` and the offset after its terminator; undefined when it has none. */
export function readCString(buf: Buffer, at: number): { text: string; next: number } | undefined {
  const end = buf.indexOf(0, at);
  return end < 0 ? undefined : { text: buf.toString('utf8', at, end), next: end + 1 };
}

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
