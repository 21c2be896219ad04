/**
 * The preconditions of every detector: what a cell must hold before a detector can match, worked out
 * cheaply (see the cost model in ../detectors.ts) so the scanners run only where they can find something,
 * and only from their first candidate on. profile() answers with F_* flags and leaves the candidates'
 * positions in the profiled* bindings, read by the scanner right after it (single-threaded; no result
 * object per cell).
 */
import { cardCandidate, startCardRun } from './card.ts';
import { isDigit, isSpaceOrDash } from './characters.ts';
import { ibanCandidate } from './iban.ts';
import { nanpLineGroup, nationalTrunkGroup } from './phone.ts';
import { firstPemAnchor, firstSecretAnchor, hasTokenRun } from './secret.ts';

/** Card candidate: a group of ≥ 13 digits, or ≥ 13 digits in groups of 3–6 joined by one ' ' or '-'. */
export const F_CARD = 1;
/** Digit groups 3-2-4 joined by single dashes. */
export const F_SSN_DASHED = 2;
/** Nine digits as 9, 3+6, 5+4 or 3+2+4 joined by single ' ' or '-', and an 's' (an SSN keyword). */
export const F_SSN_NINE = 4;
/** Two uppercase letters (a registered country code, not glued to a letter or digit), two digits. */
export const F_IBAN = 8;
/** '@': emails. */
export const F_AT = 16;
/** '@' and ':': URL credentials. */
export const F_URL = 32;
/** '+', and a run of ≥ 8 digits joined by at most two of ' ', '-', '.', '(', ')'. */
export const F_PLUS = 64;
/** A NANP or national (trunk-prefixed) number candidate: see profiledPhoneAt. */
export const F_PHONE = 128;
/** A literal anchor of a secret in a cell of ≥ 14 bytes: see profiledSecretAt. */
export const F_SECRET = 256;

/** Flags that come from the runs of digits. */
const RUN_FLAGS = F_CARD | F_SSN_DASHED | F_SSN_NINE | F_PLUS | F_PHONE;

// Byte classes of the first pass, as bits: it only ORs them together.
const Q_DIGIT = 1;
const Q_UPPER = 2;
const Q_SPACE = 4;
const Q_DASH = 8;
const Q_AT = 16;
const Q_PLUS = 32;
const Q_COLON = 64;
const Q_UNDERSCORE = 128;
const Q_A = 256;
const Q_B = 512; // 'B' and 'b'
const Q_J = 1024;
const Q_Y = 2048; // 'y'
const Q_K = 4096; // 'k'
const Q_X = 8192; // 'x'
const Q_S = 16384; // 's' and 'S'
const Q_NOT_RUN = 32768; // anything but digits and ' ', '-', '.', '(', ')' (RUN_BYTE)
const QUICK_CLASS = new Uint16Array(256);
for (let c = 0x30; c <= 0x39; c++) QUICK_CLASS[c] = Q_DIGIT;
for (let c = 0x41; c <= 0x5a; c++) QUICK_CLASS[c] = Q_UPPER;
QUICK_CLASS[0x20] = Q_SPACE;
QUICK_CLASS[0x2d] = Q_DASH;
QUICK_CLASS[0x40] = Q_AT;
QUICK_CLASS[0x2b] = Q_PLUS;
QUICK_CLASS[0x3a] = Q_COLON;
QUICK_CLASS[0x5f] = Q_UNDERSCORE;
QUICK_CLASS[0x41] = Q_UPPER | Q_A;
QUICK_CLASS[0x42] = Q_UPPER | Q_B;
QUICK_CLASS[0x62] = Q_B;
QUICK_CLASS[0x4a] = Q_UPPER | Q_J;
QUICK_CLASS[0x79] = Q_Y;
QUICK_CLASS[0x6b] = Q_K;
QUICK_CLASS[0x78] = Q_X;
QUICK_CLASS[0x53] = Q_UPPER | Q_S;
QUICK_CLASS[0x73] = Q_S;
for (let c = 0; c < 256; c++) {
  const run = (c >= 0x30 && c <= 0x39) || c === 0x20 || c === 0x2d || c === 0x2e || c === 0x28 || c === 0x29;
  if (!run) QUICK_CLASS[c] = QUICK_CLASS[c]! | Q_NOT_RUN;
}

/** Bytes of digit runs: 1 for a digit, 2 for ' ', '-', '.', '(', ')' (what joins phone number groups). */
const RUN_BYTE = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) RUN_BYTE[c] = 1;
for (const c of [0x20, 0x2d, 0x2e, 0x28, 0x29]) RUN_BYTE[c] = 2;

// Outputs of the last profile() call besides its flags (module-level: no result object per cell).
/** The first secret anchor (with F_SECRET). */
export let profiledSecretAt = -1;
/**
 * First byte of the first run of digit groups (joined by at most two of ' ', '-', '.', '(', ')') that
 * holds a NANP or national number candidate (with F_PHONE). Every match of NANP and NATIONAL lies
 * inside one such run and starts at one of its digits or the '(' right before it, so no match, not even
 * one the scanner drops, starts before this byte minus one or reaches into its run from an earlier one.
 */
export let profiledPhoneAt = -1;
/** The first IBAN candidate (with F_IBAN): see ibanCandidate(). */
export let profiledIbanAt = -1;
/**
 * First byte of the first run of digits and separators that holds a card candidate (with F_CARD):
 * scanCards() starts there, as the runs before it cannot hold a card.
 */
export let profiledCardAt = -1;
/**
 * First byte of the first run of digits and separators that may hold a `ddd-dd-dddd` (with
 * F_SSN_DASHED): scanDashedSsns() starts there, as every match it could find, kept or not, lies in
 * such a run.
 */
export let profiledSsnAt = -1;
/** The most digits in one run of digit groups (joined as above) that runFlags() looked at. */
let profiledMaxRun = 0;

/**
 * The preconditions of the detectors in `enabled` over `b[lo, hi)` (hi - lo ≥ 6), as F_* flags. One
 * pass over every byte only ORs byte classes together; the rest looks at a few bytes: runs of digits
 * are found by sampling every 8th byte (every card, SSN and phone number is a run of ≥ 8 bytes of
 * digits and separators), IBANs by sampling every 15th, secret anchors only when their letters occur.
 */
export function profile(b: Buffer, lo: number, hi: number, enabled: number): number {
  let seen = 0;
  let digits = 0;
  for (let i = lo; i < hi; i++) {
    const q = QUICK_CLASS[b[i]!]!;
    seen |= q;
    digits += q & Q_DIGIT;
  }
  let flags = 0;
  if ((seen & Q_AT) !== 0) flags |= (seen & Q_COLON) !== 0 ? F_AT | F_URL : F_AT;
  if (digits !== 0) {
    const plus = (seen & Q_PLUS) !== 0;
    // Cards, SSNs and phone numbers have ≥ 13, ≥ 9 and ≥ 8 ('+') or ≥ 10 digits.
    if ((enabled & RUN_FLAGS) !== 0 && digits >= (plus ? 8 : 9)) {
      // A cell of digits and separators only (an SSN, a phone number, a card) is one run itself.
      flags |=
        (seen & Q_NOT_RUN) === 0
          ? runFlagsOf(b, lo, lo, hi, digits, plus)
          : runFlags(b, lo, hi, plus ? 8 : 9);
      if (plus && profiledMaxRun >= 8) flags |= F_PLUS;
      if ((seen & Q_S) === 0) flags &= ~F_SSN_NINE; // every SSN keyword has an 's'
      if ((seen & Q_DASH) === 0) flags &= ~F_SSN_DASHED;
    }
    if ((enabled & F_IBAN) !== 0 && (seen & Q_UPPER) !== 0 && hi - lo >= 15) {
      profiledIbanAt = ibanCandidate(b, lo, hi);
      if (profiledIbanAt !== -1) flags |= F_IBAN;
    }
  }
  if ((enabled & F_SECRET) !== 0 && hi - lo >= 14) {
    let at = -1;
    if (
      ((seen & (Q_A | Q_UNDERSCORE)) !== 0 ||
        (seen & (Q_J | Q_Y)) === (Q_J | Q_Y) ||
        (seen & (Q_B | Q_SPACE)) === (Q_B | Q_SPACE) ||
        ((seen & Q_DASH) !== 0 && (seen & (Q_K | Q_X)) !== 0)) &&
      hasTokenRun(b, lo, hi)
    ) {
      at = firstSecretAnchor(b, lo, hi);
    } else if ((seen & (Q_DASH | Q_UPPER | Q_SPACE)) === (Q_DASH | Q_UPPER | Q_SPACE)) {
      at = firstPemAnchor(b, lo, hi);
    }
    if (at !== -1) {
      profiledSecretAt = at;
      flags |= F_SECRET;
    }
  }
  return flags & enabled;
}

/**
 * Flags of the runs of digits and separators (RUN_BYTE) in `b[lo, hi)` with at least `minDigits`
 * digits (≥ 8): each is ≥ 8 bytes long, so it holds a byte at lo + 7, lo + 15, …, and only the runs
 * around those bytes are looked at. Sets profiledMaxRun and profiledPhoneAt.
 */
function runFlags(b: Buffer, lo: number, hi: number, minDigits: number): number {
  let flags = 0;
  profiledMaxRun = 0;
  for (let p = lo + 7; p < hi; p += 8) {
    let kind = RUN_BYTE[b[p]!]!;
    if (kind === 0) continue;
    // A separator is only looked at inside a tight run (at most two separators between digits): a
    // tight run of ≥ 8 digits is ≥ 8 bytes long, so it holds a stride byte too. Skips prose spaces.
    if (
      kind === 2 &&
      !(
        (isDigit(b[p - 1]!) || (p - 2 >= lo && isDigit(b[p - 2]!))) &&
        ((p + 1 < hi && isDigit(b[p + 1]!)) || (p + 2 < hi && isDigit(b[p + 2]!)))
      )
    ) {
      continue;
    }
    let digits = kind & 1;
    let start = p;
    while (start > lo && (kind = RUN_BYTE[b[start - 1]!]!) !== 0) {
      start--;
      digits += kind & 1;
    }
    let end = p + 1;
    while (end < hi && (kind = RUN_BYTE[b[end]!]!) !== 0) {
      end++;
      digits += kind & 1;
    }
    if (digits >= minDigits) flags = addRunFlags(flags, b, lo, start, end, digits, minDigits === 8);
    while (p + 8 < end) p += 8;
  }
  return flags;
}

/** runFlags() of a cell that is one run of digits and separators as a whole. */
function runFlagsOf(
  b: Buffer,
  lo: number,
  start: number,
  end: number,
  digits: number,
  plus: boolean,
): number {
  profiledMaxRun = 0;
  return addRunFlags(0, b, lo, start, end, digits, plus);
}

/** `flags` with those of the run `b[start, end)` of `digits` digits (in the cell from `lo`) added. */
function addRunFlags(
  flags: number,
  b: Buffer,
  lo: number,
  start: number,
  end: number,
  digits: number,
  plus: boolean,
): number {
  if (digits === 9 && !plus) {
    // Too few digits for a card or a phone number (≥ 13, ≥ 10): only an SSN, which the scanners
    // look for exactly, so the groups need no closer look.
    if ((flags & F_SSN_DASHED) === 0) profiledSsnAt = start;
    return flags | F_SSN_DASHED | F_SSN_NINE;
  }
  const phones = (flags & F_PHONE) === 0; // only the first run with a candidate matters
  const found = groupFlags(b, lo, start, end, digits, phones);
  if ((found & F_CARD) !== 0 && (flags & F_CARD) === 0) profiledCardAt = start;
  if ((found & F_SSN_DASHED) !== 0 && (flags & F_SSN_DASHED) === 0) profiledSsnAt = start;
  if (groupsMaxRun > profiledMaxRun) profiledMaxRun = groupsMaxRun;
  if (phones && groupsPhoneAt !== -1) profiledPhoneAt = groupsPhoneAt;
  return flags | found;
}

/** Outputs of groupFlags() besides its flags. */
let groupsMaxRun = 0;
let groupsPhoneAt = -1;

/**
 * The SSN shapes a group of `len` digits completes: nine digits as 9, 3+6, 5+4 or 3+2+4 joined by
 * single ' ' or '-' (F_SSN_NINE), 3-2-4 joined by dashes (F_SSN_DASHED). `sep` joins it to the group
 * before (of `prevLen` digits), `prevSep` that one to the one before it (of `prev2Len`).
 */
function ssnFlags(len: number, sep: number, prevLen: number, prevSep: number, prev2Len: number): number {
  if (len === 9) return F_SSN_NINE;
  if (!isSpaceOrDash(sep)) return 0;
  if (len === 6 && prevLen === 3) return F_SSN_NINE;
  if (len !== 4) return 0;
  if (prevLen === 5) return F_SSN_NINE;
  if (prevLen !== 2 || prev2Len !== 3 || !isSpaceOrDash(prevSep)) return 0;
  return sep === 0x2d && prevSep === 0x2d ? F_SSN_NINE | F_SSN_DASHED : F_SSN_NINE;
}

/**
 * Flags of the digit groups in `b[lo, hi)` (inside the cell that starts at `cellStart`), a run of digits
 * and separators with `total` digits: every byte between two groups is a separator. From each group's
 * length and the one or two bytes joining it to the previous group. Groups joined by one or two
 * separators form a phone run (what the old prefilter called a digit run). Phone candidates are only
 * looked for with `phones`.
 */
export function groupFlags(
  b: Buffer,
  cellStart: number,
  lo: number,
  hi: number,
  total: number,
  phones: boolean,
): number {
  let flags = 0;
  let maxRun = 0;
  let phoneAt = -1;
  // The previous digit group (its length and end), the single byte before it (-1 when there were
  // zero or several bytes between it and the group before), and the length of the group before.
  let prevEnd = lo - 3;
  let prevLen = 0;
  let prevSep = -1;
  let prev2Len = 0;
  startCardRun();
  let runStart = lo; // first digit of the current phone run
  let runDigits = 0;
  let left = total; // digits from the current group on
  let i = lo;
  while (i < hi) {
    if (!isDigit(b[i]!)) {
      i++;
      continue;
    }
    const gs = i;
    i++;
    while (i < hi && isDigit(b[i]!)) i++;
    const len = i - gs;
    const gap = gs - prevEnd;
    const sep = gap === 1 ? b[gs - 1]! : -1;
    if (gap <= 2) {
      runDigits += len;
    } else {
      runStart = gs;
      runDigits = len;
    }
    if (runDigits > maxRun) maxRun = runDigits;

    if ((flags & F_CARD) === 0 && cardCandidate(b, gs, len, sep)) flags |= F_CARD;

    flags |= ssnFlags(len, sep, prevLen, prevSep, prev2Len);

    // The line group of a NANP number, or the trunk group of a national one.
    if (
      phones &&
      phoneAt === -1 &&
      ((runDigits >= 10 && nanpLineGroup(b, len, sep, prevLen, prevEnd)) ||
        (left >= 10 && nationalTrunkGroup(b, cellStart, gs, i, hi)))
    ) {
      phoneAt = runStart;
      flags |= F_PHONE;
    }

    left -= len;
    prev2Len = prevLen;
    prevSep = sep;
    prevLen = len;
    prevEnd = i;
  }
  groupsMaxRun = maxRun;
  groupsPhoneAt = phoneAt;
  return flags;
}
