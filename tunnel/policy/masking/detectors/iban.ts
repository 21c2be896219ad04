/**
 * IBANs (iban): uppercase, country code with its registered length (which ends it, whatever follows),
 * optional single spaces, mod-97 = 1.
 */
import { isDigit, isUpper } from './characters.ts';
import type { Detection } from './detection.ts';

/** Bytes an IBAN is written with: uppercase letters, digits, single spaces. */
const IBAN_BYTE = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) IBAN_BYTE[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) IBAN_BYTE[c] = 1;
IBAN_BYTE[0x20] = 1;

/**
 * The first registered country code followed by two digits in a run of ≥ 15 IBAN bytes (every IBAN is one) in `b[lo, hi)`, or -1: such runs hold a byte at
 * lo + 14, lo + 29, …, so only the runs around those bytes are looked at. scanIbans() can start there:
 * what it would look at before (two uppercase letters and two digits without a registered country or
 * glued to a letter or digit, or in a shorter run) finds nothing and never skips past this position.
 */
export function ibanCandidate(b: Buffer, lo: number, hi: number): number {
  for (let p = lo + 14; p < hi; p += 15) {
    const c = b[p]!;
    if (IBAN_BYTE[c] === 0) continue;
    // Inside an IBAN a space has an IBAN character on both sides: skips prose spaces.
    if (c === 0x20 && !(isIbanChar(b[p - 1]!) && p + 1 < hi && isIbanChar(b[p + 1]!))) continue;
    let start = p;
    while (start > lo && IBAN_BYTE[b[start - 1]!] !== 0) start--;
    let end = p + 1;
    while (end < hi && IBAN_BYTE[b[end]!] !== 0) end++;
    for (let at = start; at + 3 < end; at++) {
      const c1 = b[at]!;
      const c2 = b[at + 1]!;
      if (
        isUpper(c1) &&
        isUpper(c2) &&
        isDigit(b[at + 2]!) &&
        isDigit(b[at + 3]!) &&
        IBAN_LENGTH_BY_CODE[(c1 - 0x41) * 26 + c2 - 0x41] !== 0
      ) {
        return at;
      }
    }
    while (p + 15 < end) p += 15;
  }
  return -1;
}

/** Registered IBAN lengths per country (SWIFT IBAN registry). */
// prettier-ignore
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28,
  CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
  FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22,
  IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20,
  LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28, NL: 18,
  NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31,
  SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29,
  VA: 22, VG: 24, XK: 20, YE: 30,
};

/** IBAN_LENGTHS indexed by (first letter - 'A') * 26 + (second letter - 'A'); 0 = not an IBAN country. */
const IBAN_LENGTH_BY_CODE = new Uint8Array(26 * 26);
for (const [country, length] of Object.entries(IBAN_LENGTHS)) {
  IBAN_LENGTH_BY_CODE[(country.charCodeAt(0) - 0x41) * 26 + country.charCodeAt(1) - 0x41] = length;
}
const isIbanChar = (c: number): boolean => isDigit(c) || isUpper(c);

/** Char codes of the IBAN being checked (at most 34). */
const ibanChars = new Uint8Array(34);

/** Check digits 02–98 and ISO 7064 mod 97-10 over the rearranged IBAN (first four characters last). */
function ibanChecksumOk(length: number): boolean {
  const check = (ibanChars[2]! - 0x30) * 10 + ibanChars[3]! - 0x30;
  if (check < 2 || check > 98) return false;
  // The remainder is only taken when the running value grows past 10^7 (it stays far below 2^31):
  // the same result as reducing after every character, with a few divisions instead of ~30.
  let rem = 0;
  for (let k = 4; k < length + 4; k++) {
    const c = ibanChars[k < length ? k : k - length]!;
    rem = c <= 0x39 ? rem * 10 + c - 0x30 : rem * 100 + c - 55;
    if (rem >= 10_000_000) rem %= 97;
  }
  return rem % 97 === 1;
}

/** The first two uppercase letters followed by two digits at or after `from`, or -1. */
function findIbanStart(b: Buffer, from: number, hi: number): number {
  for (let at = from; at + 3 < hi; at++) {
    if (isUpper(b[at]!) && isUpper(b[at + 1]!) && isDigit(b[at + 2]!) && isDigit(b[at + 3]!)) return at;
  }
  return -1;
}

/** IBANs in `b[lo, hi)`, from the candidate `from` on (see ibanCandidate). */
export function scanIbans(b: Buffer, lo: number, hi: number, from: number, out: Detection[]): void {
  for (let at = findIbanStart(b, from, hi); at !== -1; at = findIbanStart(b, from, hi)) {
    from = at + 4;
    const length = IBAN_LENGTH_BY_CODE[(b[at]! - 0x41) * 26 + b[at + 1]! - 0x41]!;
    if (length === 0) continue;
    let p = at;
    let count = 0;
    while (count < length && p < hi) {
      const c = b[p]!;
      if (isIbanChar(c)) {
        ibanChars[count++] = c;
        p++;
      } else if (c === 0x20 && count >= 4 && p + 1 < hi && isIbanChar(b[p + 1]!)) {
        p++;
      } else break;
    }
    // Its registered length ends it, whatever it touches (another number, letters).
    if (count !== length) continue;
    if (!ibanChecksumOk(length)) continue;
    out.push({ detector: 'iban', start: at - lo, end: p - lo });
    from = p;
  }
}
