/**
 * US Social Security numbers (ssn): `ddd-dd-dddd` with a valid area/group/serial (no 000/666/9xx area, no 00
 * group, no 0000 serial), not inside a longer digit run. Bare nine digits (or `ddd dd dddd`) only right after
 * a keyword (`SSN`, `social security number`, `ss#`, not glued to a word before it): bare nine-digit numbers
 * alone are too common (order numbers, ZIP+4, ids).
 */
import { isDigit, isLetter } from './characters.ts';
import type { Detection } from './detection.ts';

/** The number is the last thing matched (only a lookahead follows), so its span ends the match. */
const SSN_KEYED =
  /(?:ssn|social[ _-]?security(?:[ _-]?(?:number|num|no\.?))?|ss#)["']?[ \t]*(?:[:=#]|is)?[ \t]*["']?(\d{3}[ -]?\d{2}[ -]?\d{4})(?![0-9])/gi;

/** Area 001–899 except 666, group 01–99, serial 0001–9999, over the 9 digits of b[start, end). */
function validSsn(b: Buffer, start: number, end: number): boolean {
  let value = 0;
  let count = 0;
  let area = 0;
  let group = 0;
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (!isDigit(c)) continue;
    value = value * 10 + c - 0x30;
    if (++count === 3) {
      area = value;
      value = 0;
    } else if (count === 5) {
      group = value;
      value = 0;
    }
  }
  return count === 9 && area !== 0 && area !== 666 && area < 900 && group !== 0 && value !== 0;
}

/**
 * The first `ddd-dd-dddd` at or after `from` that no digit follows (that would be a longer number), or
 * -1.
 */
function findDashedSsn(b: Buffer, from: number, hi: number): number {
  for (let at = from; at + 11 <= hi; at++) {
    if (b[at + 3] !== 0x2d || b[at + 6] !== 0x2d) continue;
    if (
      !isDigit(b[at]!) ||
      !isDigit(b[at + 1]!) ||
      !isDigit(b[at + 2]!) ||
      !isDigit(b[at + 4]!) ||
      !isDigit(b[at + 5]!) ||
      !isDigit(b[at + 7]!) ||
      !isDigit(b[at + 8]!) ||
      !isDigit(b[at + 9]!) ||
      !isDigit(b[at + 10]!)
    ) {
      continue;
    }
    if (at + 11 < hi && isDigit(b[at + 11]!)) continue; // a longer number
    return at;
  }
  return -1;
}

/** `ddd-dd-dddd` SSNs in `b[lo, hi)`, from `from` on. */
export function scanDashedSsns(b: Buffer, lo: number, hi: number, from: number, out: Detection[]): void {
  for (let at = findDashedSsn(b, from, hi); at !== -1;) {
    if (at > lo && isDigit(b[at - 1]!)) {
      at = findDashedSsn(b, at + 1, hi);
      continue;
    }
    if (validSsn(b, at, at + 11)) out.push({ detector: 'ssn', start: at - lo, end: at + 11 - lo });
    at = findDashedSsn(b, at + 11, hi);
  }
}

/**
 * The first "ss" or "so" (in any case) in `b[lo, hi)`, or -1: every SSN_KEYED keyword starts with one,
 * so no match starts earlier.
 */
export function ssnKeywordHint(b: Buffer, lo: number, hi: number): number {
  for (let i = lo; i + 1 < hi; i++) {
    if ((b[i]! | 0x20) === 0x73) {
      const next = b[i + 1]! | 0x20;
      if (next === 0x73 || next === 0x6f) return i;
    }
  }
  return -1;
}

/** SSNs after a keyword, from `from` on (see ssnKeywordHint); `s` is `b[lo, …)` as latin1. */
export function scanKeyedSsns(s: string, b: Buffer, lo: number, from: number, out: Detection[]): void {
  SSN_KEYED.lastIndex = from;
  for (let m = SSN_KEYED.exec(s); m; m = SSN_KEYED.exec(s)) {
    if (m.index > 0 && isLetter(s.charCodeAt(m.index - 1))) {
      SSN_KEYED.lastIndex = m.index + 1;
      continue;
    }
    const end = m.index + m[0].length;
    const start = end - m[1]!.length;
    if (validSsn(b, lo + start, lo + end)) out.push({ detector: 'ssn', start, end });
  }
}
