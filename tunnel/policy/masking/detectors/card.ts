/**
 * Card numbers (card): 13–19 digits, bare or in groups separated by one consistent space or dash (first group
 * of 4, others of 3–6), with a plausible issuer prefix/length (Visa, Mastercard incl. 2-series, Amex,
 * Discover, Diners, JCB, UnionPay, Maestro, Mir) and a valid Luhn checksum; not inside a longer digit run,
 * nor the fraction digits right after `<digit>.` (a float prints 16 of them).
 */
import { isDigit, isSpaceOrDash } from './characters.ts';
import type { Detection } from './detection.ts';

// The card numbers in progress in groupFlags(): where each starts (a 4-digit group with an issuer's
// first digit), its digits so far and the separator after its first group (-1 before the second).
const MAX_CARD_STARTS = 8;
const cardStartAt = new Int32Array(MAX_CARD_STARTS);
const cardStartDigits = new Int32Array(MAX_CARD_STARTS);
const cardStartSep = new Int32Array(MAX_CARD_STARTS);
let cardStarts = 0;

/** Forgets the card numbers in progress: groupFlags() starts a new run of digit groups. */
export function startCardRun(): void {
  cardStarts = 0;
}

/**
 * Whether the group `b[gs, gs + len)`, joined to the previous group by the single byte `sep` (-1 when
 * not joined by exactly one byte), ends a card candidate the way scanCardRun() looks for them: one
 * group of ≥ 13 digits, or a 4-digit group and groups of 3–6 digits joined by one consistent ' ' or
 * '-', 13–19 digits in all, with a plausible issuer prefix and length. Only Luhn and the boundaries are
 * left to the scanner.
 */
export function cardCandidate(b: Buffer, gs: number, len: number, sep: number): boolean {
  let found = len >= 13 && plausibleCard(b, gs, len);
  let kept = 0;
  if (isSpaceOrDash(sep) && len >= 3 && len <= 6) {
    for (let k = 0; k < cardStarts; k++) {
      if (cardStartSep[k] !== -1 && cardStartSep[k] !== sep) continue;
      const digits = cardStartDigits[k]! + len;
      if (digits > 19) continue;
      if (digits >= 13 && plausibleCard(b, cardStartAt[k]!, digits)) found = true;
      cardStartAt[kept] = cardStartAt[k]!;
      cardStartDigits[kept] = digits;
      cardStartSep[kept++] = sep;
    }
  }
  cardStarts = kept;
  if (len === 4 && b[gs]! >= 0x32 && b[gs]! <= 0x36 && cardStarts < MAX_CARD_STARTS) {
    cardStartAt[cardStarts] = gs;
    cardStartDigits[cardStarts] = 4;
    cardStartSep[cardStarts++] = -1;
  }
  return found;
}

/** Issuer prefix and length plausibility (IIN ranges of the major networks). `at` starts ≥ 4 digits. */
function plausibleCard(b: Buffer, at: number, len: number): boolean {
  const d1 = b[at]! - 0x30;
  const p2 = d1 * 10 + b[at + 1]! - 0x30;
  const p3 = p2 * 10 + b[at + 2]! - 0x30;
  const p4 = p3 * 10 + b[at + 3]! - 0x30;
  switch (d1) {
    case 4: // Visa
      return len === 13 || len === 16 || len === 19;
    case 5: // Mastercard 51–55; Maestro 50, 56–59
      return p2 >= 51 && p2 <= 55 ? len === 16 : len >= 13;
    case 2: // Mastercard 2221–2720, Mir 2200–2204
      return len === 16 && ((p4 >= 2221 && p4 <= 2720) || (p4 >= 2200 && p4 <= 2204));
    case 3: // Amex 34/37, JCB 3528–3589, Diners 300–305/36/38/39
      if (p2 === 34 || p2 === 37) return len === 15;
      if (p4 >= 3528 && p4 <= 3589) return len >= 16;
      if ((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39) return len >= 14;
      return false;
    case 6: // Discover, UnionPay, Maestro
      return len >= 16 || p4 === 6304 || p4 === 6759 || (p4 >= 6761 && p4 <= 6763);
    default:
      return false;
  }
}

// Reused between calls (single-threaded): group boundaries and separators of the current digit run
// (only the first groupCount entries are meaningful; the arrays never shrink, so filling them does not
// allocate).
const groupStarts: number[] = [];
const groupEnds: number[] = [];
const groupSeps: number[] = [];
let groupCount = 0;

/** Luhn over the digits of groups g..h (separators skipped). */
function luhnGroups(b: Buffer, g: number, h: number): boolean {
  let sum = 0;
  let double = false;
  for (let k = h; k >= g; k--) {
    for (let i = groupEnds[k]! - 1; i >= groupStarts[k]!; i--) {
      let d = b[i]! - 0x30;
      if (double) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
      double = !double;
    }
  }
  return sum % 10 === 0;
}

/** Cards in `b[lo, hi)`, looking at the runs of digit groups from `from` on. */
export function scanCards(b: Buffer, lo: number, hi: number, from: number, out: Detection[]): void {
  let i = from;
  while (i < hi) {
    if (!isDigit(b[i]!)) {
      i++;
      continue;
    }
    // A maximal run of digit groups joined by single spaces or dashes.
    groupCount = 0;
    let p = i;
    for (;;) {
      groupStarts[groupCount] = p;
      while (p < hi && isDigit(b[p]!)) p++;
      groupEnds[groupCount] = p;
      if (p + 1 < hi) {
        const c = b[p]!;
        if ((c === 0x20 || c === 0x2d) && isDigit(b[p + 1]!)) {
          groupSeps[groupCount++] = c;
          p++;
          continue;
        }
      }
      groupCount++;
      break;
    }
    const groups = groupCount;
    let runDigits = 0;
    for (let k = 0; k < groups; k++) runDigits += groupEnds[k]! - groupStarts[k]!;
    if (runDigits >= 13) scanCardRun(b, lo, i, groups, out);
    i = p;
  }
}

/** Cards in the run of `groups` digit groups that starts at `i`. */
function scanCardRun(b: Buffer, lo: number, i: number, groups: number, out: Detection[]): void {
  // Whatever the run touches (another number through any separator, letters, quotes), each of its
  // groups may start a card — but the digits right after `<digit>.` are a decimal fraction (floats
  // such as 0.4539148803436467 print 16 digits there, and a tenth of them pass Luhn).
  const fraction = i - 2 >= lo && b[i - 1] === 0x2e && isDigit(b[i - 2]!);
  for (let g = fraction ? 1 : 0; g < groups; g++) {
    const d1 = b[groupStarts[g]!]!;
    if (d1 < 0x32 || d1 > 0x36) continue; // no issuer starts with 0, 1, 7, 8 or 9 (see plausibleCard)
    // Longest candidate first: extend while the digit count can still be ≤ 19.
    let last = g;
    let total = groupEnds[g]! - groupStarts[g]!;
    while (last + 1 < groups && total + groupEnds[last + 1]! - groupStarts[last + 1]! <= 19) {
      last++;
      total += groupEnds[last]! - groupStarts[last]!;
    }
    for (let h = last; h >= g; h--) {
      if (h < last) total -= groupEnds[h + 1]! - groupStarts[h + 1]!;
      if (total < 13) break;
      if (!cardShape(g, h)) continue;
      if (!plausibleCard(b, groupStarts[g]!, total) || !luhnGroups(b, g, h)) continue;
      out.push({ detector: 'card', start: groupStarts[g]! - lo, end: groupEnds[h]! - lo });
      g = h; // continue after this card
      break;
    }
  }
}

function cardShape(g: number, h: number): boolean {
  if (g === h) return true;
  if (groupEnds[g]! - groupStarts[g]! !== 4) return false;
  for (let k = g + 1; k <= h; k++) {
    const len = groupEnds[k]! - groupStarts[k]!;
    if (len < 3 || len > 6) return false;
    if (groupSeps[k - 1] !== groupSeps[g]) return false;
  }
  return true;
}
