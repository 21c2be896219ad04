/**
 * Phone numbers (phone): `+` international numbers with 8–15 digits (separators ' ', '.', '-', and `(…)`
 * allowed); NANP `(415) 555-0100` / `415-555-0100` / `415.555.0100` / `415 555 0100` (area and exchange 2–9,
 * consistent separator, optional leading `1`); and trunk-prefixed national numbers starting with 0 (`020 7946
 * 0958`, `06 12 34 56 78`, `030 12345678`, `(030) 1234 5678`) with 10–11 digits (11–17 for a `00`
 * international prefix) and one consistent separator. Never bare digits. A `+` number runs to the last whole
 * group within 15 digits (more groups are other numbers). NANP and national numbers are not glued to a letter
 * or digit (hex ids, UUIDs), nor the tail of a token grouped by their own separator (`…e9-0015-1000-8000`,
 * `12 020 7946 0958`); a national number (the weakest shape) not right after `<digit>` and `.`, `-`, `/` or
 * `:` (dates, times, amounts).
 */
import { findByte, isAlnum, isDigit, isPhoneSep, isWordChar } from './characters.ts';
import type { Detection } from './detection.ts';

// A number may touch anything but a digit (that would make it a longer number): other numbers through
// any separator, letters, quotes. The boundary before a match is checked in code (phoneStartOk).
const NANP = /(?:1[ .-]?)?(?:\([2-9]\d{2}\)[ .-]?[2-9]\d{2}[ .-]|[2-9]\d{2}([ .-])[2-9]\d{2}\1)\d{4}(?!\d)/g;
const NATIONAL =
  /(?:\(0\d{1,4}\)[ .-]?\d{2,8}(?:([ .-])\d{2,4}(?:\1\d{2,4}){0,2})?|0\d{1,4}([ .-])\d{2,8}(?:\2\d{2,4}){0,3})(?!\d)/g;

/**
 * Not glued to a letter or digit (a longer number, or digits inside a hex token such as a UUID) nor
 * to '+' (what follows '+' is an international number), and not the tail of a token grouped by the
 * number's own separator (`…e9-0015-1000-8000` in a UUID, `12 020 7946 0958`): a number touches other
 * values through a different separator (`12,415-555-0100`, `12 415-555-0100`), or words through a
 * space (`call 020 7946 0958`). A `national` number (a trunk group, no checksum: the weakest shape)
 * right after a digit and '.', '-', '/' or ':' is the tail of a date, time, amount or version
 * (`2024-03-05 12345678`, `972.05 00000006`), not a number of its own.
 */
function phoneStartOk(s: string, at: number, national: boolean): boolean {
  if (at === 0) return true;
  const c = s.charCodeAt(at - 1);
  if (isWordChar(c) || c === 0x2b) return false;
  if (at < 2) return true;
  const before = s.charCodeAt(at - 2);
  if (national && isDigit(before) && (c === 0x2e || c === 0x2d || c === 0x2f || c === 0x3a)) return false;
  if (c === 0x20 ? !isDigit(before) : !isAlnum(before)) return true;
  let p = at;
  while (p < s.length && isDigit(s.charCodeAt(p))) p++;
  return p === at || s.charCodeAt(p) !== c;
}

function countDigits(s: string): number {
  let k = 0;
  for (let i = 0; i < s.length; i++) if (isDigit(s.charCodeAt(i))) k++;
  return k;
}

/** International: '+', a non-zero digit, then digits with single separators or one "(…)" group. */
export function scanInternationalPhones(b: Buffer, lo: number, hi: number, out: Detection[]): void {
  for (let plus = findByte(b, 0x2b, lo, hi); plus !== -1; plus = findByte(b, 0x2b, plus + 1, hi)) {
    const before = plus > lo ? b[plus - 1]! : -1;
    if (isDigit(before) || before === 0x2b) continue; // `1+1415…` is arithmetic, `++` not a number
    let p = plus + 1;
    const first = p < hi ? b[p]! : -1;
    if (!isDigit(first) || first === 0x30) continue;
    let digits = 0;
    let lastDigitEnd = -1;
    // The end of the last whole group while the number had at most 15 digits: a number followed by
    // more digit groups (`+44 20 7946 0958 1234 5678`) ends there.
    let fitEnd = -1;
    let fitDigits = 0;
    let prevSep = false;
    let openParen = false;
    while (p < hi) {
      const c = b[p]!;
      if (isDigit(c)) {
        digits++;
        lastDigitEnd = p + 1;
        prevSep = false;
      } else if (c === 0x20 || c === 0x2e || c === 0x2d) {
        if (prevSep) break;
        prevSep = true;
        if (digits <= 15) {
          fitEnd = lastDigitEnd;
          fitDigits = digits;
        }
      } else if (c === 0x28 && !openParen && p + 1 < hi && isDigit(b[p + 1]!)) {
        openParen = true;
        prevSep = false;
      } else if (c === 0x29 && openParen) {
        openParen = false;
        lastDigitEnd = p + 1;
        prevSep = false;
      } else break;
      p++;
    }
    if (digits > 15) {
      lastDigitEnd = fitEnd;
      digits = fitDigits;
    }
    if (lastDigitEnd === -1 || digits < 8) continue;
    out.push({ detector: 'phone', start: plus - lo, end: lastDigitEnd - lo });
  }
}

/** NANP and trunk-prefixed national numbers in `s`, from `from` on (see profiledPhoneAt). */
export function scanGroupedPhones(s: string, out: Detection[], from: number): void {
  NANP.lastIndex = from;
  for (let m = NANP.exec(s); m; m = NANP.exec(s)) {
    if (!phoneStartOk(s, m.index, false)) {
      NANP.lastIndex = m.index + 1;
      continue;
    }
    out.push({ detector: 'phone', start: m.index, end: m.index + m[0].length });
  }

  NATIONAL.lastIndex = from;
  for (let m = NATIONAL.exec(s); m; m = NATIONAL.exec(s)) {
    if (!phoneStartOk(s, m.index, true)) {
      NATIONAL.lastIndex = m.index + 1;
      continue;
    }
    const text = m[0];
    const digits = countDigits(text);
    const international = text.startsWith('00');
    if (international ? digits < 11 || digits > 17 : digits < 10 || digits > 11) continue;
    // With a single separator the subscriber part must be long: "030 12345678", "07700 900123".
    const groups = text.split(/[ .-]|\) ?/).filter((g) => g.length > 0);
    if (groups.length === 2 && groups[1]!.length < 6) continue;
    out.push({ detector: 'phone', start: m.index, end: m.index + text.length });
  }
}

/**
 * Whether the group of `len` digits ending a run of ≥ 10 digits ends a NANP number: an exchange of 3
 * digits starting with 2–9 (the group before, ending at `prevEnd`, of `prevLen` digits), one separator
 * `sep`, a line of 4 digits (a match may start at any group of the run).
 */
export function nanpLineGroup(
  b: Buffer,
  len: number,
  sep: number,
  prevLen: number,
  prevEnd: number,
): boolean {
  return len === 4 && isPhoneSep(sep) && prevLen === 3 && b[prevEnd - 3]! >= 0x32;
}

/**
 * Whether the digit group `b[gs, end)` (in the cell from `cellStart`, bytes up to `hi`) is the trunk
 * group of a national number: 2–5 digits starting with 0, not right after a '+', and a national number
 * shape of ≥ 10 digits after it.
 */
export function nationalTrunkGroup(
  b: Buffer,
  cellStart: number,
  gs: number,
  end: number,
  hi: number,
): boolean {
  const len = end - gs;
  return (
    len >= 2 &&
    len <= 5 &&
    b[gs] === 0x30 &&
    phoneMayStart(b, cellStart, gs) &&
    nationalDigits(b, end, hi, len) >= 10
  );
}

/** Whether a phone number may start at `at` as far as the byte before it goes (see phoneStartOk). */
function phoneMayStart(b: Buffer, cellStart: number, at: number): boolean {
  if (at === cellStart) return true;
  const c = b[at - 1]!;
  return !isWordChar(c) && c !== 0x2b;
}

/**
 * Digits of the longest national number shape after a trunk group of `trunk` digits ending at `p`:
 * ')' and an optional separator, or one separator; a group of 2–8 digits; then groups of 2–4 after
 * one consistent separator. An upper bound of what NATIONAL can match from there (at most 5 groups).
 */
function nationalDigits(b: Buffer, p: number, hi: number, trunk: number): number {
  if (p + 1 >= hi) return 0;
  let sep = -1;
  const c = b[p]!;
  if (c === 0x29) {
    p++;
    if (p < hi && isPhoneSep(b[p]!)) p++;
  } else if (isPhoneSep(c)) {
    sep = c;
    p++;
  } else return 0;
  let q = p;
  while (q < hi && isDigit(b[q]!)) q++;
  if (q - p < 2 || q - p > 8) return 0;
  let digits = trunk + q - p;
  for (let groups = 2; groups < 5 && q + 1 < hi; groups++) {
    const s = b[q]!;
    if (sep === -1 ? !isPhoneSep(s) : s !== sep) break;
    sep = s;
    p = q + 1;
    q = p;
    while (q < hi && isDigit(b[q]!)) q++;
    if (q - p < 2 || q - p > 4) break;
    digits += q - p;
  }
  return digits;
}
