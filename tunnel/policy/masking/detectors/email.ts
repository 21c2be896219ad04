/**
 * Email addresses (email): local part of [A-Za-z0-9._%+-] (and non-ASCII bytes), an ASCII domain of ≥ 2
 * labels whose last label is alphabetic (or xn--); asset names like `icon@2x.png` are not emails.
 */
import { findByte, isAlnum, isLetter, isUserinfoChar } from './characters.ts';
import type { Detection } from './detection.ts';

/** Local-part bytes: [A-Za-z0-9._%+-] and any non-ASCII byte (internationalised local parts). */
function isLocalChar(c: number): boolean {
  return isAlnum(c) || c === 0x2e || c === 0x5f || c === 0x25 || c === 0x2b || c === 0x2d || c >= 0x80;
}
const isDomainChar = (c: number): boolean => isAlnum(c) || c === 0x2d;

/** File extensions that look like TLDs after an '@' in asset names (`icon@2x.png`) but are not TLDs. */
const NOT_TLDS = new Set([
  'png',
  'jpg',
  'jpeg',
  'gif',
  'svg',
  'webp',
  'ico',
  'bmp',
  'tif',
  'tiff',
  'avif',
  'heic',
  'css',
  'js',
  'mjs',
  'cjs',
  'ts',
  'json',
  'map',
  'woff',
  'woff2',
  'ttf',
  'otf',
  'eot',
  'mp4',
  'webm',
  'txt',
  'pdf',
]);
/** A label of 1–6 ASCII letters, lower-cased, packed 5 bits per letter (0 = not such a label). */
function shortLabelCode(b: Buffer, start: number, end: number): number {
  if (end - start > 6) return 0;
  let code = 0;
  for (let k = start; k < end; k++) code = code * 32 + ((b[k]! | 0x20) - 0x60);
  return code;
}
/** NOT_TLDS made of letters, as shortLabelCode()s: looked up without building a string. */
const NOT_TLD_CODES = new Set(
  [...NOT_TLDS].filter((t) => /^[a-z]{1,6}$/.test(t)).map((t) => shortLabelCode(Buffer.from(t), 0, t.length)),
);

function validTld(b: Buffer, start: number, end: number): boolean {
  const len = end - start;
  if (
    len >= 5 &&
    b[start] === 0x78 &&
    b[start + 1] === 0x6e &&
    b[start + 2] === 0x2d &&
    b[start + 3] === 0x2d
  ) {
    return true; // xn--
  }
  if (len < 2 || len > 63) return false;
  for (let k = start; k < end; k++) if (!isLetter(b[k]!)) return false;
  return !NOT_TLD_CODES.has(shortLabelCode(b, start, end));
}

/** End of a valid domain starting at `i` (before `hi`), or -1. */
function domainEnd(b: Buffer, i: number, hi: number): number {
  let pos = i;
  let labels = 0;
  let end = -1;
  for (;;) {
    const labelStart = pos;
    while (pos < hi && isDomainChar(b[pos]!)) pos++;
    if (pos === labelStart) break;
    labels++;
    if (labels >= 2) {
      if (validTld(b, labelStart, pos)) end = pos;
      else {
        // `jane@example.com7`, `jane@example.com-1`: the address ends where the letters of its
        // last label do, the rest is what it touches.
        let letters = labelStart;
        while (letters < pos && isLetter(b[letters]!)) letters++;
        if (letters < pos && validTld(b, labelStart, letters)) end = letters;
      }
    }
    if (pos + 1 < hi && b[pos] === 0x2e && isDomainChar(b[pos + 1]!)) {
      pos++;
      continue;
    }
    break;
  }
  return end;
}

/** `scheme://user@host` and `scheme://user:password@host` are URL credentials, not emails. */
function inUrlAuthority(b: Buffer, lo: number, start: number): boolean {
  let p = start;
  while (p > lo && isUserinfoChar(b[p - 1]!)) p--;
  return p - 3 >= lo && b[p - 3] === 0x3a && b[p - 2] === 0x2f && b[p - 1] === 0x2f;
}

export function scanEmails(b: Buffer, lo: number, hi: number, out: Detection[]): void {
  let at = findByte(b, 0x40, lo, hi);
  while (at !== -1) {
    let start = at;
    while (start > lo && isLocalChar(b[start - 1]!)) start--;
    while (start < at && b[start] === 0x2e) start++;
    if (start < at && !inUrlAuthority(b, lo, start)) {
      const end = domainEnd(b, at + 1, hi);
      if (end !== -1) {
        out.push({ detector: 'email', start: start - lo, end: end - lo });
        at = findByte(b, 0x40, end, hi);
        continue;
      }
    }
    at = findByte(b, 0x40, at + 1, hi);
  }
}
