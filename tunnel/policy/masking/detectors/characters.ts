/** Byte classes the detectors share (byte values, or char codes of the latin1 string). */
export const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
export const isUpper = (c: number): boolean => c >= 0x41 && c <= 0x5a;
export const isLower = (c: number): boolean => c >= 0x61 && c <= 0x7a;
export const isLetter = (c: number): boolean => isUpper(c) || isLower(c);
export const isAlnum = (c: number): boolean => isDigit(c) || isLetter(c);
/** Letters, digits and '_': what glues a match to a longer token. */
export const isWordChar = (c: number): boolean => isAlnum(c) || c === 0x5f;

/** The first `c` in `b[from, hi)`, or -1 (a loop: cells are short, a native indexOf call is not). */
export function findByte(b: Buffer, c: number, from: number, hi: number): number {
  for (let i = from; i < hi; i++) if (b[i] === c) return i;
  return -1;
}

/** Whether `b[at, at + text.length)` is the ASCII `text`, all within `[lo, hi)`. */
export function bytesAre(b: Buffer, lo: number, hi: number, at: number, text: string): boolean {
  if (at < lo || at + text.length > hi) return false;
  for (let k = 0; k < text.length; k++) if (b[at + k] !== text.charCodeAt(k)) return false;
  return true;
}

/** ' ', '.', '-': the separators of NANP and national numbers. */
export const isPhoneSep = (c: number): boolean => c === 0x20 || c === 0x2e || c === 0x2d;
export const isSpaceOrDash = (c: number): boolean => c === 0x20 || c === 0x2d;

/** RFC 3986 userinfo characters, minus those that would let a span swallow JSON/array syntax. */
export function isUserinfoChar(c: number): boolean {
  return (
    isAlnum(c) ||
    c === 0x2e || // .
    c === 0x5f || // _
    c === 0x7e || // ~
    c === 0x21 || // !
    c === 0x24 || // $
    c === 0x26 || // &
    c === 0x2a || // *
    c === 0x2b || // +
    c === 0x3d || // =
    c === 0x3a || // :
    c === 0x25 || // %
    c === 0x2d // -
  );
}
