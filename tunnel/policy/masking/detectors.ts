/**
 * Value detectors for text cells whose provenance is unknown: they find card numbers, emails, SSNs,
 * IBANs, phone numbers and secrets inside larger text (a note, a JSON document) and replace only the
 * detected spans.
 *
 * Everything works on byte offsets: the hand-written scanners read the cell's bytes in place, and the
 * regular expressions run on the cell decoded as latin1 (one char per byte), so string indices are byte
 * offsets too. UTF-8 multi-byte sequences only contain bytes ≥ 0x80, which never match the ASCII
 * patterns below, and every span starts and ends next to an ASCII byte (or the cell's edge), so spans
 * never cut a multi-byte character.
 *
 * Cost model: most cells carry no PII (names, hashes, timestamps, UUIDs, amounts, JSON), so a scan
 * first works out, cheaply, what each detector needs before it can match (profile()), and returns a
 * shared empty result, with nothing decoded or allocated, when nothing can:
 * - one pass over every byte only ORs byte classes together and counts digits: '@' (emails), '@' and
 *   ':' (URL credentials), '+', uppercase letters, the first letters of the secret anchors, whether the
 *   cell is made of digits and separators only;
 * - cards, SSNs and phone numbers are runs of digits and ' ', '-', '.', '(', ')' with ≥ 8 digits (a
 *   card ≥ 13, an SSN 9, a NANP or national number ≥ 10): every 8th byte is sampled, and only the runs
 *   around a sampled digit are read, group by group (length, first digit, the byte joining it to the
 *   previous group): a card needs an issuer prefix and length that can be plausible, a dashed SSN the
 *   3-2-4 shape, a NANP number an exchange and a line, a national number a trunk group that may start
 *   a number; an IBAN is a run of ≥ 15 uppercase letters, digits and single spaces starting with a
 *   registered country code (every 15th byte sampled); a secret needs its anchor letters and, but for
 *   a PEM header (every 5th byte sampled for `-----`), a run of ≥ 12 token bytes (every 12th).
 * These preconditions may let through a cell that holds nothing, never stop one that holds something
 * (the one for '+' numbers, ≥ 8 digits joined by at most two separators, is kept exactly as it was).
 * Only the scanners whose precondition holds run, from the first candidate on (nothing they could find,
 * or skip over, lies before it): the hand-written ones on the bytes in place, the regular expressions
 * (secrets, SSNs after a keyword, NANP and national numbers) on a latin1 string decoded once per cell.
 * The scanners are hand-written where a regex could backtrack quadratically; the regexes that remain
 * start with a character class or literal, have bounded quantifiers, and check the boundary before a
 * match in code (a leading lookbehind would defeat the regex engine's quick first-character checks).
 *
 * Not detected: values spelled with escapes (`jane\u0040example.com` in JSON), bare national phone
 * numbers without separators, lower-case IBANs, names and addresses.
 *
 * Boundaries: a value is found whatever it touches — other numbers through any separator (`,` `;` `|`
 * tab `/` `:` space `-` `.`, as in CSV lines, records, arrays and JSON arrays), letters, quotes,
 * brackets — as long as it stays the value it is: every candidate span inside a run of digit groups is
 * judged, but a digit glued to a number makes a longer number, which is judged as a whole.
 *
 * Decisions (keep false positives low):
 * - card: 13–19 digits, bare or in groups separated by one consistent space or dash (first group of 4,
 *   others of 3–6), with a plausible issuer prefix/length (Visa, Mastercard incl. 2-series, Amex,
 *   Discover, Diners, JCB, UnionPay, Maestro, Mir) and a valid Luhn checksum; not inside a longer digit
 *   run, nor the fraction digits right after `<digit>.` (a float prints 16 of them).
 * - email: local part of [A-Za-z0-9._%+-] (and non-ASCII bytes), an ASCII domain of ≥ 2 labels whose
 *   last label is alphabetic (or xn--); asset names like `icon@2x.png` are not emails.
 * - ssn: `ddd-dd-dddd` with a valid area/group/serial (no 000/666/9xx area, no 00 group, no 0000
 *   serial), not inside a longer digit run. Bare nine digits (or `ddd dd dddd`) only right after a
 *   keyword (`SSN`, `social security number`, `ss#`, not glued to a word before it): bare nine-digit
 *   numbers alone are too common (order numbers, ZIP+4, ids).
 * - iban: uppercase, country code with its registered length (which ends it, whatever follows),
 *   optional single spaces, mod-97 = 1.
 * - phone: `+` international numbers with 8–15 digits (separators ' ', '.', '-', and `(…)` allowed);
 *   NANP `(415) 555-0100` / `415-555-0100` / `415.555.0100` / `415 555 0100` (area and exchange 2–9,
 *   consistent separator, optional leading `1`); and trunk-prefixed national numbers starting with 0
 *   (`020 7946 0958`, `06 12 34 56 78`, `030 12345678`, `(030) 1234 5678`) with 10–11 digits
 *   (11–17 for a `00` international prefix) and one consistent separator. Never bare digits. A `+`
 *   number runs to the last whole group within 15 digits (more groups are other numbers). NANP and
 *   national numbers are not glued to a letter or digit (hex ids, UUIDs), nor the tail of a token
 *   grouped by their own separator (`…e9-0015-1000-8000`, `12 020 7946 0958`); a national number
 *   (the weakest shape) not right after `<digit>` and `.`, `-`, `/` or `:` (dates, times, amounts).
 * - secret: JWTs (`eyJ….….`), PEM private keys (to the matching END line, or the end of the cell if
 *   cut), AWS access key ids (AKIA/ASIA/ABIA/ACCA…) and `aws_secret_access_key = …`, GitHub
 *   (`ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_`, `github_pat_`), Slack (`xox?-`), Stripe (`sk_`/`rk_` live and
 *   test), Google (`AIza…`), `sk-…` keys (OpenAI/Anthropic style, mixed case with digits), the token of
 *   `Bearer …` (letters and digits), the credentials of `Basic …` (base64 of `user:password`), and the
 *   password in `scheme://user:password@host` URLs.
 */

export type DetectorName = 'card' | 'email' | 'ssn' | 'iban' | 'phone' | 'secret';

export const DETECTOR_NAMES: readonly DetectorName[] = Object.freeze([
  'card',
  'email',
  'ssn',
  'iban',
  'phone',
  'secret',
] as const);

/** Default replacement text per detector. */
export const DEFAULT_LABELS: Readonly<Record<DetectorName, string>> = Object.freeze({
  card: '[card]',
  email: '[email]',
  ssn: '[ssn]',
  iban: '[iban]',
  phone: '[phone]',
  secret: '[secret]',
});

/** When spans overlap they merge into one, labelled by the detector that comes first here. */
const PRIORITY: readonly DetectorName[] = ['secret', 'card', 'iban', 'ssn', 'email', 'phone'];

/** A detected span, as byte offsets into the cell: [start, end). */
export interface Detection {
  detector: DetectorName;
  start: number;
  end: number;
}

export interface DetectorOptions {
  /**
   * Replacement text per detector. Labels must be 1–64 printable ASCII characters without `"`, `\`,
   * `<`, `>`, `&`, `{`, `}`, `,` and without leading/trailing spaces, so an in-place replacement keeps
   * JSON strings, array literals, XML and COPY rows valid.
   */
  labels?: Partial<Record<DetectorName, string>>;
}

export interface ValueDetector {
  readonly names: readonly DetectorName[];
  readonly labels: Readonly<Record<DetectorName, string>>;
  /**
   * Detected spans, sorted by start, non-overlapping (overlaps are merged). With `start`/`end`, scans
   * only `value[start, end)` (a cell inside a frame, without slicing it); offsets are relative to `start`.
   * When nothing is found the result is a shared, frozen empty array.
   */
  scan(value: Buffer, start?: number, end?: number): readonly Detection[];
  /** Replaces every detected span by its label; returns `value` itself when nothing was found. */
  redact(value: Buffer): { bytes: Buffer; detections: number };
}

const UNSAFE_LABEL_CHARS = new Set(['"', '\\', '<', '>', '&', '{', '}', ',']);

function validateLabel(name: DetectorName, label: string): void {
  const ok =
    typeof label === 'string' &&
    label.length >= 1 &&
    label.length <= 64 &&
    label.trim() === label &&
    [...label].every((ch) => {
      const c = ch.charCodeAt(0);
      return ch.length === 1 && c >= 0x20 && c <= 0x7e && !UNSAFE_LABEL_CHARS.has(ch);
    });
  if (!ok) throw new RangeError(`detector ${name}: unsafe replacement label ${JSON.stringify(label)}`);
}

/** What scan() returns when nothing is found: one shared frozen array, so clean cells allocate nothing. */
const NONE: readonly Detection[] = Object.freeze([]);

export function createDetector(names: readonly DetectorName[], options: DetectorOptions = {}): ValueDetector {
  for (const name of names) {
    if (!DETECTOR_NAMES.includes(name)) throw new RangeError(`unknown detector ${JSON.stringify(name)}`);
  }
  const labels = { ...DEFAULT_LABELS, ...options.labels };
  for (const name of DETECTOR_NAMES) validateLabel(name, labels[name]);
  const labelBytes = Object.fromEntries(
    DETECTOR_NAMES.map((name) => [name, Buffer.from(labels[name], 'latin1')]),
  ) as Record<DetectorName, Buffer>;

  /** The profile flags that can start one of the selected detectors. */
  let enabled = 0;
  if (names.includes('card')) enabled |= F_CARD;
  if (names.includes('email')) enabled |= F_AT;
  if (names.includes('ssn')) enabled |= F_SSN_DASHED | F_SSN_NINE;
  if (names.includes('iban')) enabled |= F_IBAN;
  if (names.includes('phone')) enabled |= F_PLUS | F_PHONE;
  if (names.includes('secret')) enabled |= F_SECRET | F_URL;

  function scan(value: Buffer, start = 0, end = value.length): readonly Detection[] {
    if (end - start < 6 || enabled === 0) return NONE;
    const flags = profile(value, start, end, enabled);
    return flags === 0 ? NONE : detect(value, start, end, flags);
  }

  function redact(value: Buffer): { bytes: Buffer; detections: number } {
    const found = scan(value);
    if (found.length === 0) return { bytes: value, detections: 0 };
    const parts: Buffer[] = [];
    let at = 0;
    for (const d of found) {
      if (d.start > at) parts.push(value.subarray(at, d.start));
      parts.push(labelBytes[d.detector]);
      at = d.end;
    }
    if (at < value.length) parts.push(value.subarray(at));
    return { bytes: Buffer.concat(parts), detections: found.length };
  }

  return { names: Object.freeze([...names]), labels: Object.freeze(labels), scan, redact };
}

/** Runs the scanners whose precondition holds (`flags`, from profile()) over `b[lo, hi)`. */
function detect(b: Buffer, lo: number, hi: number, flags: number): readonly Detection[] {
  const found: Detection[] = [];
  let s: string | undefined; // the cell as latin1, decoded once and only for the regular expressions
  if ((flags & F_SECRET) !== 0) {
    s = b.toString('latin1', lo, hi);
    scanSecrets(s, found, Math.max(0, profiledSecretAt - lo - SECRET_ANCHOR_REACH));
  }
  if ((flags & F_URL) !== 0) scanUrlCredentials(b, lo, hi, found);
  if ((flags & F_CARD) !== 0) scanCards(b, lo, hi, profiledCardAt, found);
  if ((flags & F_IBAN) !== 0) scanIbans(b, lo, hi, profiledIbanAt, found);
  if ((flags & F_SSN_DASHED) !== 0) scanDashedSsns(b, lo, hi, profiledSsnAt, found);
  if ((flags & F_SSN_NINE) !== 0) {
    const keyword = ssnKeywordHint(b, lo, hi);
    if (keyword !== -1) {
      s ??= b.toString('latin1', lo, hi);
      scanKeyedSsns(s, b, lo, keyword - lo, found);
    }
  }
  if ((flags & F_AT) !== 0) scanEmails(b, lo, hi, found);
  if ((flags & F_PLUS) !== 0) scanInternationalPhones(b, lo, hi, found);
  if ((flags & F_PHONE) !== 0) {
    s ??= b.toString('latin1', lo, hi);
    scanGroupedPhones(s, found, Math.max(0, profiledPhoneAt - lo - 1));
  }
  return found.length === 0 ? NONE : found.length === 1 ? found : merge(found);
}

/** Sorts by start (longest first on ties, else in push order) and merges overlaps, in place. */
function merge(found: Detection[]): Detection[] {
  // Insertion sort: stable, and there are only a few spans per cell.
  for (let i = 1; i < found.length; i++) {
    const d = found[i]!;
    let j = i - 1;
    while (j >= 0 && (found[j]!.start > d.start || (found[j]!.start === d.start && found[j]!.end < d.end))) {
      found[j + 1] = found[j]!;
      j--;
    }
    found[j + 1] = d;
  }
  let last = found[0]!;
  let n = 1;
  for (let i = 1; i < found.length; i++) {
    const d = found[i]!;
    if (d.start < last.end) {
      if (d.end > last.end) last.end = d.end;
      if (PRIORITY.indexOf(d.detector) < PRIORITY.indexOf(last.detector)) last.detector = d.detector;
    } else {
      found[n++] = last = d;
    }
  }
  while (found.length > n) found.pop(); // cheaper than setting length
  return found;
}

// ---- character classes (byte values, or char codes of the latin1 string) ---------------------------

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isUpper = (c: number): boolean => c >= 0x41 && c <= 0x5a;
const isLower = (c: number): boolean => c >= 0x61 && c <= 0x7a;
const isLetter = (c: number): boolean => isUpper(c) || isLower(c);
const isAlnum = (c: number): boolean => isDigit(c) || isLetter(c);
/** Letters, digits and '_': what glues a match to a longer token. */
const isWordChar = (c: number): boolean => isAlnum(c) || c === 0x5f;

/** The first `c` in `b[from, hi)`, or -1 (a loop: cells are short, a native indexOf call is not). */
function findByte(b: Buffer, c: number, from: number, hi: number): number {
  for (let i = from; i < hi; i++) if (b[i] === c) return i;
  return -1;
}

/** Whether `b[at, at + text.length)` is the ASCII `text`, all within `[lo, hi)`. */
function bytesAre(b: Buffer, lo: number, hi: number, at: number, text: string): boolean {
  if (at < lo || at + text.length > hi) return false;
  for (let k = 0; k < text.length; k++) if (b[at + k] !== text.charCodeAt(k)) return false;
  return true;
}

// ---- profile: the preconditions of every detector -------------------------------------------------

/** Card candidate: a group of ≥ 13 digits, or ≥ 13 digits in groups of 3–6 joined by one ' ' or '-'. */
const F_CARD = 1;
/** Digit groups 3-2-4 joined by single dashes. */
const F_SSN_DASHED = 2;
/** Nine digits as 9, 3+6, 5+4 or 3+2+4 joined by single ' ' or '-', and an 's' (an SSN keyword). */
const F_SSN_NINE = 4;
/** Two uppercase letters (a registered country code, not glued to a letter or digit), two digits. */
const F_IBAN = 8;
/** '@': emails. */
const F_AT = 16;
/** '@' and ':': URL credentials. */
const F_URL = 32;
/** '+', and a run of ≥ 8 digits joined by at most two of ' ', '-', '.', '(', ')'. */
const F_PLUS = 64;
/** A NANP or national (trunk-prefixed) number candidate: see profiledPhoneAt. */
const F_PHONE = 128;
/** A literal anchor of a secret in a cell of ≥ 14 bytes: see profiledSecretAt. */
const F_SECRET = 256;

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
/** Bytes an IBAN is written with: uppercase letters, digits, single spaces. */
const IBAN_BYTE = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) IBAN_BYTE[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) IBAN_BYTE[c] = 1;
IBAN_BYTE[0x20] = 1;

/**
 * Token bytes: `[A-Za-z0-9_+/=.~-]`. Every SECRET match but a PEM header holds ≥ 12 of them in a row
 * (the shortest: `Basic ` and 12 base64 characters).
 */
const TOKEN_BYTE = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TOKEN_BYTE[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN_BYTE[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN_BYTE[c] = 1;
for (const c of [0x5f, 0x2b, 0x2f, 0x3d, 0x2e, 0x7e, 0x2d]) TOKEN_BYTE[c] = 1;
const MIN_TOKEN_RUN = 12;

/** ' ', '.', '-': the separators of NANP and national numbers. */
const isPhoneSep = (c: number): boolean => c === 0x20 || c === 0x2e || c === 0x2d;
const isSpaceOrDash = (c: number): boolean => c === 0x20 || c === 0x2d;

/**
 * How far before its literal anchor (as firstSecretAnchor() finds it) a SECRET match can start: 10
 * for `github_pat_` (anchored at its last '_'), less for the others.
 */
const SECRET_ANCHOR_REACH = 10;

// Outputs of the last profile() call besides its flags (module-level: no result object per cell).
/** The first secret anchor (with F_SECRET). */
let profiledSecretAt = -1;
/**
 * First byte of the first run of digit groups (joined by at most two of ' ', '-', '.', '(', ')') that
 * holds a NANP or national number candidate (with F_PHONE). Every match of NANP and NATIONAL lies
 * inside one such run and starts at one of its digits or the '(' right before it, so no match, not even
 * one the scanner drops, starts before this byte minus one or reaches into its run from an earlier one.
 */
let profiledPhoneAt = -1;
/** The first IBAN candidate (with F_IBAN): see ibanCandidate(). */
let profiledIbanAt = -1;
/**
 * First byte of the first run of digits and separators that holds a card candidate (with F_CARD):
 * scanCards() starts there, as the runs before it cannot hold a card.
 */
let profiledCardAt = -1;
/**
 * First byte of the first run of digits and separators that may hold a `ddd-dd-dddd` (with
 * F_SSN_DASHED): scanDashedSsns() starts there, as every match it could find, kept or not, lies in
 * such a run.
 */
let profiledSsnAt = -1;
/** The most digits in one run of digit groups (joined as above) that runFlags() looked at. */
let profiledMaxRun = 0;

/**
 * The preconditions of the detectors in `enabled` over `b[lo, hi)` (hi - lo ≥ 6), as F_* flags. One
 * pass over every byte only ORs byte classes together; the rest looks at a few bytes: runs of digits
 * are found by sampling every 8th byte (every card, SSN and phone number is a run of ≥ 8 bytes of
 * digits and separators), IBANs by sampling every 15th, secret anchors only when their letters occur.
 */
function profile(b: Buffer, lo: number, hi: number, enabled: number): number {
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

// The card numbers in progress in groupFlags(): where each starts (a 4-digit group with an issuer's
// first digit), its digits so far and the separator after its first group (-1 before the second).
const MAX_CARD_STARTS = 8;
const cardStartAt = new Int32Array(MAX_CARD_STARTS);
const cardStartDigits = new Int32Array(MAX_CARD_STARTS);
const cardStartSep = new Int32Array(MAX_CARD_STARTS);
let cardStarts = 0;

/**
 * Whether the group `b[gs, gs + len)`, joined to the previous group by the single byte `sep` (-1 when
 * not joined by exactly one byte), ends a card candidate the way scanCardRun() looks for them: one
 * group of ≥ 13 digits, or a 4-digit group and groups of 3–6 digits joined by one consistent ' ' or
 * '-', 13–19 digits in all, with a plausible issuer prefix and length. Only Luhn and the boundaries are
 * left to the scanner.
 */
function cardCandidate(b: Buffer, gs: number, len: number, sep: number): boolean {
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

/** Outputs of groupFlags() besides its flags. */
let groupsMaxRun = 0;
let groupsPhoneAt = -1;

/** Whether a phone number may start at `at` as far as the byte before it goes (see phoneStartOk). */
function phoneMayStart(b: Buffer, cellStart: number, at: number): boolean {
  if (at === cellStart) return true;
  const c = b[at - 1]!;
  return !isWordChar(c) && c !== 0x2b;
}

/**
 * Flags of the digit groups in `b[lo, hi)` (inside the cell that starts at `cellStart`), a run of digits
 * and separators with `total` digits: every byte between two groups is a separator. From each group's
 * length and the one or two bytes joining it to the previous group. Groups joined by one or two
 * separators form a phone run (what the old prefilter called a digit run). Phone candidates are only
 * looked for with `phones`.
 */
function groupFlags(
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
  cardStarts = 0;
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

    if (len === 9) flags |= F_SSN_NINE;
    else if (isSpaceOrDash(sep)) {
      if (len === 6 && prevLen === 3) flags |= F_SSN_NINE;
      else if (len === 4) {
        if (prevLen === 5) flags |= F_SSN_NINE;
        else if (prevLen === 2 && prev2Len === 3 && isSpaceOrDash(prevSep)) {
          flags |= F_SSN_NINE;
          if (sep === 0x2d && prevSep === 0x2d) flags |= F_SSN_DASHED;
        }
      }
    }

    // NANP: an exchange of 3 digits starting with 2–9, one separator, 4 digits (a match may start at
    // any group of the run). National: a trunk group starting with 0, not right after a '+'.
    if (
      phones &&
      phoneAt === -1 &&
      ((len === 4 && runDigits >= 10 && isPhoneSep(sep) && prevLen === 3 && b[prevEnd - 3]! >= 0x32) ||
        (left >= 10 &&
          len >= 2 &&
          len <= 5 &&
          b[gs] === 0x30 &&
          phoneMayStart(b, cellStart, gs) &&
          nationalDigits(b, i, hi, len) >= 10))
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

/**
 * The first registered country code followed by two digits in a run of ≥ 15 IBAN bytes (every IBAN is one) in `b[lo, hi)`, or -1: such runs hold a byte at
 * lo + 14, lo + 29, …, so only the runs around those bytes are looked at. scanIbans() can start there:
 * what it would look at before (two uppercase letters and two digits without a registered country or
 * glued to a letter or digit, or in a shorter run) finds nothing and never skips past this position.
 */
function ibanCandidate(b: Buffer, lo: number, hi: number): number {
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

// Bytes that can be the literal anchor of a secret (see secretAnchor).
const K_DASH = 1;
const K_UNDERSCORE = 2;
const K_A = 3;
const K_B = 4; // 'B' and 'b'
const K_J = 5;
const ANCHOR_KIND = new Uint8Array(256);
ANCHOR_KIND[0x2d] = K_DASH;
ANCHOR_KIND[0x5f] = K_UNDERSCORE;
ANCHOR_KIND[0x41] = K_A;
ANCHOR_KIND[0x42] = K_B;
ANCHOR_KIND[0x62] = K_B;
ANCHOR_KIND[0x4a] = K_J;

/** The first literal anchor of a SECRET alternative in `b[lo, hi)`, or -1. */
function firstSecretAnchor(b: Buffer, lo: number, hi: number): number {
  let lastDot = -2; // the last '.', looked up on the first `eyJ` (a JWT has two parts)
  for (let i = lo; i < hi; i++) {
    const kind = ANCHOR_KIND[b[i]!]!;
    if (kind === 0 || !secretAnchor(b, lo, hi, i, kind)) continue;
    if (kind !== K_J) return i;
    if (lastDot === -2) {
      lastDot = hi - 1;
      while (lastDot >= lo && b[lastDot] !== 0x2e) lastDot--;
    }
    if (lastDot > i) return i;
  }
  return -1;
}

/**
 * Whether `b[lo, hi)` has ≥ MIN_TOKEN_RUN token bytes in a row: such a run holds a byte at
 * lo + 11, lo + 23, …, so only the runs around those bytes are looked at (prose has short words).
 */
function hasTokenRun(b: Buffer, lo: number, hi: number): boolean {
  for (let p = lo + MIN_TOKEN_RUN - 1; p < hi; p += MIN_TOKEN_RUN) {
    if (TOKEN_BYTE[b[p]!] === 0) continue;
    let start = p;
    while (start > lo && TOKEN_BYTE[b[start - 1]!] !== 0 && p - start < MIN_TOKEN_RUN) start--;
    let end = p + 1;
    while (end < hi && TOKEN_BYTE[b[end]!] !== 0 && end - start < MIN_TOKEN_RUN) end++;
    if (end - start >= MIN_TOKEN_RUN) return true;
  }
  return false;
}

/**
 * The first '-----' in `b[lo, hi)`, or -1: when no other anchor letter occurs, `-----BEGIN …` is the only
 * SECRET alternative left. Five dashes in a row hold a byte at lo + 4, lo + 9, …: only those are read
 * until one is a dash.
 */
function firstPemAnchor(b: Buffer, lo: number, hi: number): number {
  for (let p = lo + 4; p < hi; p += 5) {
    if (b[p] !== 0x2d) continue;
    let start = p;
    while (start > lo && b[start - 1] === 0x2d) start--;
    let end = p + 1;
    while (end < hi && b[end] === 0x2d) end++;
    if (end - start >= 5) return start;
    while (p + 5 < end) p += 5;
  }
  return -1;
}

/** 'a', 'b', 'o', 'p', 'r', 's': Slack token types (`xox?-`). */
const isSlackType = (c: number): boolean =>
  c === 0x61 || c === 0x62 || c === 0x6f || c === 0x70 || c === 0x72 || c === 0x73;
/** 'p', 'o', 'u', 's', 'r': GitHub token types (`gh?_`). */
const isGithubType = (c: number): boolean =>
  c === 0x70 || c === 0x6f || c === 0x75 || c === 0x73 || c === 0x72;

/**
 * Whether the byte at `i` (of kind `kind`) is the literal anchor of a SECRET alternative: 'J' of
 * `eyJ`, the first '-' of `-----`, the '-' of `xox?-` and `sk-`, the '_' of `gh?_`, `github_pat_`,
 * `sk_`/`rk_` and `_secret`/`_SECRET`, the 'A' of `AKIA`, `ASIA`, `ABIA`, `ACCA`, `AIza` and of
 * `SecretAccessKey`, the 'B'/'b' of `Bearer `/`Basic ` in any case. A superset of SECRET: it may
 * say yes where SECRET finds nothing, never the other way round.
 */
function secretAnchor(b: Buffer, lo: number, hi: number, i: number, kind: number): boolean {
  switch (kind) {
    case K_J:
      return i - 2 >= lo && b[i - 1] === 0x79 && b[i - 2] === 0x65;
    case K_DASH:
      return (
        bytesAre(b, lo, hi, i + 1, '----') ||
        (i - 2 >= lo && b[i - 1] === 0x6b && b[i - 2] === 0x73) ||
        (i - 4 >= lo && isSlackType(b[i - 1]!) && bytesAre(b, lo, hi, i - 4, 'xox'))
      );
    case K_UNDERSCORE: {
      if (i - 2 >= lo && b[i - 1] === 0x6b && (b[i - 2] === 0x73 || b[i - 2] === 0x72)) return true;
      if (i - 3 >= lo && isGithubType(b[i - 1]!) && b[i - 2] === 0x68 && b[i - 3] === 0x67) return true;
      if (bytesAre(b, lo, hi, i - 3, 'pat')) return true;
      const next = i + 1 < hi ? b[i + 1]! : -1;
      return next === 0x73 || next === 0x53; // _secret, _SECRET
    }
    case K_A: {
      if (i + 3 < hi) {
        const c1 = b[i + 1]!;
        const c2 = b[i + 2]!;
        const c3 = b[i + 3]!;
        if ((c1 === 0x4b || c1 === 0x53 || c1 === 0x42) && c2 === 0x49 && c3 === 0x41) return true;
        if (c1 === 0x43 && c2 === 0x43 && c3 === 0x41) return true;
        if (c1 === 0x49 && c2 === 0x7a && c3 === 0x61) return true;
      }
      return bytesAre(b, lo, hi, i - 6, 'Secret');
    }
    case K_B: {
      const c1 = i + 1 < hi ? b[i + 1]! | 0x20 : -1;
      if (c1 === 0x65) return i + 6 < hi && b[i + 6] === 0x20; // Bearer
      if (c1 === 0x61) return i + 5 < hi && b[i + 5] === 0x20; // Basic
      return false;
    }
    default:
      return false;
  }
}

// ---- card ---------------------------------------------------------------------------------------

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
function scanCards(b: Buffer, lo: number, hi: number, from: number, out: Detection[]): void {
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

// ---- email --------------------------------------------------------------------------------------

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

function scanEmails(b: Buffer, lo: number, hi: number, out: Detection[]): void {
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

// ---- ssn ----------------------------------------------------------------------------------------

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
function scanDashedSsns(b: Buffer, lo: number, hi: number, from: number, out: Detection[]): void {
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
function ssnKeywordHint(b: Buffer, lo: number, hi: number): number {
  for (let i = lo; i + 1 < hi; i++) {
    if ((b[i]! | 0x20) === 0x73) {
      const next = b[i + 1]! | 0x20;
      if (next === 0x73 || next === 0x6f) return i;
    }
  }
  return -1;
}

/** SSNs after a keyword, from `from` on (see ssnKeywordHint); `s` is `b[lo, …)` as latin1. */
function scanKeyedSsns(s: string, b: Buffer, lo: number, from: number, out: Detection[]): void {
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

// ---- iban ---------------------------------------------------------------------------------------

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
function scanIbans(b: Buffer, lo: number, hi: number, from: number, out: Detection[]): void {
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

// ---- phone --------------------------------------------------------------------------------------

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
function scanInternationalPhones(b: Buffer, lo: number, hi: number, out: Detection[]): void {
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
function scanGroupedPhones(s: string, out: Detection[], from: number): void {
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

// ---- secrets ------------------------------------------------------------------------------------

const SECRET = new RegExp(
  [
    /eyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{8,16384}(?:\.[A-Za-z0-9_-]{0,8192})?/.source,
    /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/.source,
    /(?<![A-Za-z])(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![A-Za-z0-9])/.source,
    /(?<![A-Za-z_])gh[pousr]_[A-Za-z0-9]{36,255}/.source,
    /(?<![A-Za-z_])github_pat_[A-Za-z0-9_]{22,255}/.source,
    /(?<![A-Za-z_])xox[abposr]-[A-Za-z0-9-]{10,255}/.source,
    /(?<![A-Za-z_])[sr]k_(?:live|test)_[A-Za-z0-9]{16,255}/.source,
    /(?<![A-Za-z_])AIza[0-9A-Za-z_-]{35}/.source,
    /(?<![A-Za-z_])(sk-[A-Za-z0-9_-]{32,255})/.source,
    /(?<![A-Za-z_])(?:aws_secret_access_key|AWS_SECRET_ACCESS_KEY|SecretAccessKey)["']?[ \t]*[:=][ \t]*["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])/
      .source,
    /(?<![A-Za-z_])(?:Bearer|bearer|BEARER) +([A-Za-z0-9._~+/-]{20,4096}=*)/.source,
    /(?<![A-Za-z_])(?:Basic|basic|BASIC) +([A-Za-z0-9+/]{12,1024}={0,2})(?![A-Za-z0-9+/=])/.source,
  ].join('|'),
  'dg',
);
const SK_GROUP = 1;
const AWS_SECRET_GROUP = 2;
const BEARER_GROUP = 3;
const BASIC_GROUP = 4;

function mixedToken(token: string, needCase: boolean): boolean {
  let digit = false;
  let upper = false;
  let lower = false;
  for (let k = 0; k < token.length; k++) {
    const c = token.charCodeAt(k);
    if (isDigit(c)) digit = true;
    else if (isUpper(c)) upper = true;
    else if (isLower(c)) lower = true;
  }
  return digit && (needCase ? upper && lower : upper || lower);
}

function basicCredentials(token: string): boolean {
  const decoded = Buffer.from(token, 'base64').toString('latin1');
  if (decoded.indexOf(':') < 1) return false;
  for (let k = 0; k < decoded.length; k++) {
    const c = decoded.charCodeAt(k);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** RFC 3986 userinfo characters, minus those that would let a span swallow JSON/array syntax. */
function isUserinfoChar(c: number): boolean {
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

/** The first '://' at or after `from`, or -1. */
function findScheme(b: Buffer, from: number, hi: number): number {
  for (let i = from; i + 2 < hi; i++) {
    if (b[i] === 0x3a && b[i + 1] === 0x2f && b[i + 2] === 0x2f) return i;
  }
  return -1;
}

/** The password in `scheme://user:password@host`. */
function scanUrlCredentials(b: Buffer, lo: number, hi: number, out: Detection[]): void {
  for (let sep = findScheme(b, lo, hi); sep !== -1; sep = findScheme(b, sep + 3, hi)) {
    if (sep === lo || !isLetter(b[sep - 1]!)) continue;
    let p = sep + 3;
    let colon = -1;
    while (p < hi && isUserinfoChar(b[p]!)) {
      if (colon === -1 && b[p] === 0x3a) colon = p;
      p++;
    }
    if (p < hi && b[p] === 0x40 && colon > sep + 3 && colon + 1 < p) {
      out.push({ detector: 'secret', start: colon + 1 - lo, end: p - lo });
    }
  }
}

/** SECRET matches in `s`, from `from` on (no match starts earlier: see SECRET_ANCHOR_REACH). */
function scanSecrets(s: string, out: Detection[], from: number): void {
  SECRET.lastIndex = from;
  for (let m = SECRET.exec(s); m; m = SECRET.exec(s)) {
    const text = m[0];
    const indices = m.indices!;
    let start = m.index;
    let end = start + text.length;
    if (text.startsWith('-----BEGIN ')) {
      const kind = text.slice(11, -5);
      const marker = `-----END ${kind}-----`;
      const close = s.indexOf(marker, end);
      end = close === -1 ? s.length : close + marker.length;
      SECRET.lastIndex = end;
    } else if (m[SK_GROUP] !== undefined) {
      if (!mixedToken(m[SK_GROUP].slice(3), true)) continue;
    } else if (m[AWS_SECRET_GROUP] !== undefined) {
      [start, end] = indices[AWS_SECRET_GROUP]!;
    } else if (m[BEARER_GROUP] !== undefined) {
      if (!mixedToken(m[BEARER_GROUP], false)) continue;
      [start, end] = indices[BEARER_GROUP]!;
    } else if (m[BASIC_GROUP] !== undefined) {
      if (!basicCredentials(m[BASIC_GROUP])) continue;
      [start, end] = indices[BASIC_GROUP]!;
    }
    out.push({ detector: 'secret', start, end });
  }
}
