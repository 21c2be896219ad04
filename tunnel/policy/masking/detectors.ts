/**
 * Value detectors for text cells whose provenance is unknown: they find card numbers, emails, SSNs,
 * IBANs, phone numbers and secrets inside larger text (a note, a JSON document) and replace only the
 * detected spans.
 *
 * Everything works on byte offsets: a cell is decoded as latin1 (one char per byte), so string indices
 * are byte offsets. UTF-8 multi-byte sequences only contain bytes ≥ 0x80, which never match the ASCII
 * patterns below, and every span starts and ends next to an ASCII byte (or the cell's edge), so spans
 * never cut a multi-byte character.
 *
 * Cost model: one pass over the bytes first (longest digit run across separators, '@', '+', ':', '-',
 * IBAN-like starts), then the latin1 decode and only the scanners whose prefilter passed; secrets need
 * a literal anchor (`eyJ`, `-----BEGIN`, `AKIA`, `ghp_`, `Bearer `, …) before their full pattern runs.
 * The scanners are hand-written where a regex could backtrack quadratically; the regexes that remain
 * start with a character class or literal, have bounded quantifiers, and check the boundary before a
 * match in code (a leading lookbehind would defeat the regex engine's quick first-character checks).
 *
 * Not detected: values spelled with escapes (`jane\u0040example.com` in JSON), bare national phone
 * numbers without separators, lower-case IBANs, names and addresses.
 *
 * Decisions (keep false positives low):
 * - card: 13–19 digits, bare or in groups separated by one consistent space or dash (first group of 4,
 *   others of 3–6), with a plausible issuer prefix/length (Visa, Mastercard incl. 2-series, Amex,
 *   Discover, Diners, JCB, UnionPay, Maestro, Mir) and a valid Luhn checksum; not glued to letters,
 *   decimals or longer digit runs.
 * - email: local part of [A-Za-z0-9._%+-] (and non-ASCII bytes), an ASCII domain of ≥ 2 labels whose
 *   last label is alphabetic (or xn--); asset names like `icon@2x.png` are not emails.
 * - ssn: `ddd-dd-dddd` with a valid area/group/serial (no 000/666/9xx area, no 00 group, no 0000
 *   serial). Bare nine digits (or `ddd dd dddd`) only right after a keyword (`SSN`, `social security
 *   number`, `ss#`): bare nine-digit numbers alone are too common (order numbers, ZIP+4, ids).
 * - iban: uppercase, country code with its registered length, optional single spaces, mod-97 = 1.
 * - phone: `+` international numbers with 8–15 digits (separators ' ', '.', '-', and `(…)` allowed);
 *   NANP `(415) 555-0100` / `415-555-0100` / `415.555.0100` / `415 555 0100` (area and exchange 2–9,
 *   consistent separator, optional leading `1`); and trunk-prefixed national numbers starting with 0
 *   (`020 7946 0958`, `06 12 34 56 78`, `030 12345678`, `(030) 1234 5678`) with 10–11 digits
 *   (11–17 for a `00` international prefix) and one consistent separator. Never bare digits.
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
   */
  scan(value: Buffer, start?: number, end?: number): Detection[];
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

export function createDetector(names: readonly DetectorName[], options: DetectorOptions = {}): ValueDetector {
  for (const name of names) {
    if (!DETECTOR_NAMES.includes(name)) throw new RangeError(`unknown detector ${JSON.stringify(name)}`);
  }
  const labels = { ...DEFAULT_LABELS, ...options.labels };
  for (const name of DETECTOR_NAMES) validateLabel(name, labels[name]);
  const labelBytes = Object.fromEntries(
    DETECTOR_NAMES.map((name) => [name, Buffer.from(labels[name], 'latin1')]),
  ) as Record<DetectorName, Buffer>;

  const card = names.includes('card');
  const email = names.includes('email');
  const ssn = names.includes('ssn');
  const iban = names.includes('iban');
  const phone = names.includes('phone');
  const secret = names.includes('secret');

  function scan(value: Buffer, start = 0, end = value.length): Detection[] {
    const n = end - start;
    if (n < 6) return [];
    const flags = profile(value, start, end);
    const maxRun = profiledMaxRun;
    const hasAt = (flags & F_AT) !== 0;
    const urlHint = hasAt && (flags & F_COLON) !== 0;
    const hasPlus = (flags & F_PLUS) !== 0;
    const wantEmail = email && hasAt;
    const wantCard = card && maxRun >= 13;
    const wantSsn = ssn && maxRun >= 9;
    const wantIban = iban && (flags & F_IBAN) !== 0 && n >= 15;
    const wantPhone =
      phone && ((hasPlus && maxRun >= 8) || (profiledMaxSepRun >= 10 && (flags & F_GROUP_START) !== 0));
    const maybeSecret = secret && (n >= 14 || urlHint);
    if (!(wantEmail || wantCard || wantSsn || wantIban || wantPhone || maybeSecret)) return [];

    const s = value.toString('latin1', start, end);
    const found: Detection[] = [];
    if (maybeSecret) scanSecrets(s, found, urlHint);
    if (wantCard) scanCards(s, found);
    if (wantIban) scanIbans(s, found);
    if (wantSsn) scanSsns(s, found, (flags & F_DASH) !== 0);
    if (wantEmail) scanEmails(s, found);
    if (wantPhone) scanPhones(s, found, hasPlus, profiledMaxSepRun >= 10);
    return found.length <= 1 ? found : merge(found);
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

// ---- prefilter ----------------------------------------------------------------------------------

const C_DIGIT = 1;
const C_SEP = 2; // ' ', '-', '.', '(', ')': what joins digit groups
const C_UPPER = 4;
const C_AT = 8;
const C_PLUS = 16;
const C_COLON = 32;
const C_DASH = 64;
const BYTE_CLASS = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) BYTE_CLASS[c] = C_DIGIT;
for (let c = 0x41; c <= 0x5a; c++) BYTE_CLASS[c] = C_UPPER;
for (const c of [0x20, 0x2e, 0x28, 0x29]) BYTE_CLASS[c] = C_SEP;
BYTE_CLASS[0x2d] = C_SEP | C_DASH;
BYTE_CLASS[0x40] = C_AT;
BYTE_CLASS[0x2b] = C_PLUS;
BYTE_CLASS[0x3a] = C_COLON;

const F_AT = 1;
const F_PLUS = 2;
const F_COLON = 4;
const F_DASH = 8;
/** Two uppercase letters followed by two digits: where an IBAN could start. */
const F_IBAN = 16;
/** A digit group that starts with 0 or 2–9 after a separator or at a run start (phones). */
const F_GROUP_START = 32;

/** Outputs of the last profile() call (module-level to avoid allocating a result object). */
let profiledMaxRun = 0;
let profiledMaxSepRun = 0;

/**
 * One pass over the bytes: the longest run of digits joined by gaps of at most two separators (an
 * upper bound for card/SSN/phone candidates), the longest such run that contains a separator (national
 * phone formats always have one), and flags for '@', '+', ':', '-' and IBAN-like starts.
 */
function profile(buf: Buffer, start: number, end: number): number {
  let flags = 0;
  let run = 0;
  let maxRun = 0;
  let maxSepRun = 0;
  let runHasSep = false;
  let gap = 0;
  let k1 = 0;
  let k2 = 0;
  let k3 = 0;
  for (let i = start; i < end; i++) {
    const k = BYTE_CLASS[buf[i]!]!;
    if (k === C_DIGIT) {
      if (gap > 0 && run > 0) runHasSep = true;
      run++;
      gap = 0;
      if (run > maxRun) maxRun = run;
      if (runHasSep && run > maxSepRun) maxSepRun = run;
      if (k1 !== C_DIGIT) {
        if (buf[i] !== 0x31) flags |= F_GROUP_START;
      } else if (k2 === C_UPPER && k3 === C_UPPER) flags |= F_IBAN;
    } else if ((k & C_SEP) !== 0) {
      if (++gap > 2) {
        run = 0;
        runHasSep = false;
      }
      flags |= k & C_DASH ? F_DASH : 0;
    } else {
      run = 0;
      gap = 0;
      runHasSep = false;
      if (k === C_AT) flags |= F_AT;
      else if (k === C_PLUS) flags |= F_PLUS;
      else if (k === C_COLON) flags |= F_COLON;
    }
    k3 = k2;
    k2 = k1;
    k1 = k;
  }
  profiledMaxRun = maxRun;
  profiledMaxSepRun = maxSepRun;
  return flags;
}

function merge(found: Detection[]): Detection[] {
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Detection[] = [found[0]!];
  for (let i = 1; i < found.length; i++) {
    const d = found[i]!;
    const last = out[out.length - 1]!;
    if (d.start < last.end) {
      if (d.end > last.end) last.end = d.end;
      if (PRIORITY.indexOf(d.detector) < PRIORITY.indexOf(last.detector)) last.detector = d.detector;
    } else {
      out.push({ ...d });
    }
  }
  return out;
}

// ---- character classes (char codes of the latin1 string) -----------------------------------------

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isUpper = (c: number): boolean => c >= 0x41 && c <= 0x5a;
const isLower = (c: number): boolean => c >= 0x61 && c <= 0x7a;
const isLetter = (c: number): boolean => isUpper(c) || isLower(c);
const isAlnum = (c: number): boolean => isDigit(c) || isLetter(c);
/** Letters, digits and '_': what glues a match to a longer token. */
const isWordChar = (c: number): boolean => isAlnum(c) || c === 0x5f;

// ---- card ---------------------------------------------------------------------------------------

/** Issuer prefix and length plausibility (IIN ranges of the major networks). `at` starts ≥ 4 digits. */
function plausibleCard(s: string, at: number, len: number): boolean {
  const d1 = s.charCodeAt(at) - 0x30;
  const p2 = d1 * 10 + s.charCodeAt(at + 1) - 0x30;
  const p3 = p2 * 10 + s.charCodeAt(at + 2) - 0x30;
  const p4 = p3 * 10 + s.charCodeAt(at + 3) - 0x30;
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

// Reused between calls (single-threaded): group boundaries and separators of the current digit run.
const groupStarts: number[] = [];
const groupEnds: number[] = [];
const groupSeps: number[] = [];

/** Luhn over the digits of groups g..h (separators skipped). */
function luhnGroups(s: string, g: number, h: number): boolean {
  let sum = 0;
  let double = false;
  for (let k = h; k >= g; k--) {
    for (let i = groupEnds[k]! - 1; i >= groupStarts[k]!; i--) {
      let d = s.charCodeAt(i) - 0x30;
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

function scanCards(s: string, out: Detection[]): void {
  const n = s.length;
  let i = 0;
  while (i < n) {
    if (!isDigit(s.charCodeAt(i))) {
      i++;
      continue;
    }
    // A maximal run of digit groups joined by single spaces or dashes.
    groupStarts.length = groupEnds.length = groupSeps.length = 0;
    let p = i;
    for (;;) {
      groupStarts.push(p);
      while (p < n && isDigit(s.charCodeAt(p))) p++;
      groupEnds.push(p);
      const c = s.charCodeAt(p);
      if ((c === 0x20 || c === 0x2d) && p + 1 < n && isDigit(s.charCodeAt(p + 1))) {
        groupSeps.push(c);
        p++;
        continue;
      }
      break;
    }
    const groups = groupStarts.length;
    let runDigits = 0;
    for (let k = 0; k < groups; k++) runDigits += groupEnds[k]! - groupStarts[k]!;
    if (runDigits >= 13) scanCardRun(s, i, p, groups, out);
    i = p;
  }
}

function scanCardRun(s: string, i: number, p: number, groups: number, out: Detection[]): void {
  const n = s.length;
  const before = i > 0 ? s.charCodeAt(i - 1) : -1;
  const runStartOk = !(
    isWordChar(before) ||
    ((before === 0x2e || before === 0x2c) && i > 1 && isDigit(s.charCodeAt(i - 2)))
  );
  const after = p < n ? s.charCodeAt(p) : -1;
  const runEndOk = !(
    isWordChar(after) ||
    ((after === 0x2e || after === 0x2c) && p + 1 < n && isDigit(s.charCodeAt(p + 1)))
  );
  for (let g = 0; g < groups; g++) {
    if (g === 0 && !runStartOk) continue;
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
      if (h === groups - 1 && !runEndOk) continue;
      if (!cardShape(g, h)) continue;
      if (!plausibleCard(s, groupStarts[g]!, total) || !luhnGroups(s, g, h)) continue;
      out.push({ detector: 'card', start: groupStarts[g]!, end: groupEnds[h]! });
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

function validTld(s: string, start: number, end: number): boolean {
  const len = end - start;
  if (len >= 5 && s.startsWith('xn--', start)) return true;
  if (len < 2 || len > 63) return false;
  for (let k = start; k < end; k++) if (!isLetter(s.charCodeAt(k))) return false;
  return !NOT_TLDS.has(s.slice(start, end).toLowerCase());
}

/** End of a valid domain starting at `i`, or -1. */
function domainEnd(s: string, i: number): number {
  const n = s.length;
  let pos = i;
  let labels = 0;
  let end = -1;
  for (;;) {
    const labelStart = pos;
    while (pos < n && isDomainChar(s.charCodeAt(pos))) pos++;
    if (pos === labelStart) break;
    labels++;
    if (labels >= 2 && validTld(s, labelStart, pos)) end = pos;
    if (pos + 1 < n && s.charCodeAt(pos) === 0x2e && isDomainChar(s.charCodeAt(pos + 1))) {
      pos++;
      continue;
    }
    break;
  }
  return end;
}

/** `scheme://user@host` and `scheme://user:password@host` are URL credentials, not emails. */
function inUrlAuthority(s: string, start: number): boolean {
  let p = start;
  while (p > 0 && isUserinfoChar(s.charCodeAt(p - 1))) p--;
  return p >= 3 && s.startsWith('://', p - 3);
}

function scanEmails(s: string, out: Detection[]): void {
  let at = s.indexOf('@');
  while (at !== -1) {
    let start = at;
    while (start > 0 && isLocalChar(s.charCodeAt(start - 1))) start--;
    while (start < at && s.charCodeAt(start) === 0x2e) start++;
    if (start < at && !inUrlAuthority(s, start)) {
      const end = domainEnd(s, at + 1);
      if (end !== -1) {
        out.push({ detector: 'email', start, end });
        at = s.indexOf('@', end);
        continue;
      }
    }
    at = s.indexOf('@', at + 1);
  }
}

// ---- ssn ----------------------------------------------------------------------------------------

// Boundaries are checked in code (a leading lookbehind would defeat the regex engine's quick checks).
const SSN_DASHED = /\d{3}-\d{2}-\d{4}(?![A-Za-z0-9_]|[-.]\d)/g;
/** The number is the last thing matched (only a lookahead follows), so its span ends the match. */
const SSN_KEYED =
  /(?:ssn|social[ _-]?security(?:[ _-]?(?:number|num|no\.?))?|ss#)["']?[ \t]*(?:[:=#]|is)?[ \t]*["']?(\d{3}[ -]?\d{2}[ -]?\d{4})(?![0-9])/gi;

/** Area 001–899 except 666, group 01–99, serial 0001–9999, over the 9 digits of s[start, end). */
function validSsn(s: string, start: number, end: number): boolean {
  let value = 0;
  let count = 0;
  let area = 0;
  let group = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
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

function scanSsns(s: string, out: Detection[], hasDash: boolean): void {
  if (hasDash) {
    SSN_DASHED.lastIndex = 0;
    for (let m = SSN_DASHED.exec(s); m; m = SSN_DASHED.exec(s)) {
      const at = m.index;
      const before = at > 0 ? s.charCodeAt(at - 1) : -1;
      if (isWordChar(before) || before === 0x2d || before === 0x2e) {
        SSN_DASHED.lastIndex = at + 1;
        continue;
      }
      if (validSsn(s, at, at + 11)) out.push({ detector: 'ssn', start: at, end: at + 11 });
    }
  }
  SSN_KEYED.lastIndex = 0;
  for (let m = SSN_KEYED.exec(s); m; m = SSN_KEYED.exec(s)) {
    if (m.index > 0 && isAlnum(s.charCodeAt(m.index - 1))) {
      SSN_KEYED.lastIndex = m.index + 1;
      continue;
    }
    const end = m.index + m[0].length;
    const start = end - m[1]!.length;
    if (validSsn(s, start, end)) out.push({ detector: 'ssn', start, end });
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

const IBAN_START = /[A-Z]{2}\d{2}/g; // the boundary before is checked in code
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
  let rem = 0;
  for (let k = 0; k < length; k++) {
    const c = ibanChars[(k + 4) % length]!;
    rem = c <= 0x39 ? (rem * 10 + c - 0x30) % 97 : (rem * 100 + c - 55) % 97;
  }
  return rem === 1;
}

function scanIbans(s: string, out: Detection[]): void {
  const n = s.length;
  IBAN_START.lastIndex = 0;
  for (let m = IBAN_START.exec(s); m; m = IBAN_START.exec(s)) {
    const at = m.index;
    if (at > 0 && isAlnum(s.charCodeAt(at - 1))) {
      IBAN_START.lastIndex = at + 1;
      continue;
    }
    const length = IBAN_LENGTH_BY_CODE[(s.charCodeAt(at) - 0x41) * 26 + s.charCodeAt(at + 1) - 0x41]!;
    if (length === 0) continue;
    let p = at;
    let count = 0;
    while (count < length && p < n) {
      const c = s.charCodeAt(p);
      if (isIbanChar(c)) {
        ibanChars[count++] = c;
        p++;
      } else if (c === 0x20 && count >= 4 && p + 1 < n && isIbanChar(s.charCodeAt(p + 1))) {
        p++;
      } else break;
    }
    if (count !== length || (p < n && isAlnum(s.charCodeAt(p)))) continue;
    if (!ibanChecksumOk(length)) continue;
    out.push({ detector: 'iban', start: at, end: p });
    IBAN_START.lastIndex = p;
  }
}

// ---- phone --------------------------------------------------------------------------------------

// Boundaries before a match are checked in code: not glued to a token, and not the tail of a longer
// run of digit groups ("3704 0044 0532 0130").
const NANP =
  /(?:1[ .-]?)?(?:\([2-9]\d{2}\)[ .-]?[2-9]\d{2}[ .-]|[2-9]\d{2}([ .-])[2-9]\d{2}\1)\d{4}(?![A-Za-z0-9_]|[.\-/:]\d)/g;
const NATIONAL =
  /(?:\(0\d{1,4}\)[ .-]?\d{2,8}(?:([ .-])\d{2,4}(?:\1\d{2,4}){0,2})?|0\d{1,4}([ .-])\d{2,8}(?:\2\d{2,4}){0,3})(?![A-Za-z0-9_]|[.\-/:]\d)/g;

function phoneStartOk(s: string, at: number): boolean {
  if (at === 0) return true;
  const c = s.charCodeAt(at - 1);
  if (isWordChar(c) || c === 0x2e || c === 0x2b || c === 0x2d || c === 0x2f) return false;
  return !(c === 0x20 && at > 1 && isDigit(s.charCodeAt(at - 2)));
}

function countDigits(s: string): number {
  let k = 0;
  for (let i = 0; i < s.length; i++) if (isDigit(s.charCodeAt(i))) k++;
  return k;
}

function scanPhones(s: string, out: Detection[], hasPlus: boolean, grouped: boolean): void {
  const n = s.length;
  // International: '+', a non-zero digit, then digits with single separators or one "(…)" group.
  for (let plus = hasPlus ? s.indexOf('+') : -1; plus !== -1; plus = s.indexOf('+', plus + 1)) {
    const before = plus > 0 ? s.charCodeAt(plus - 1) : -1;
    if (isWordChar(before) || before === 0x2b) continue;
    let p = plus + 1;
    const first = s.charCodeAt(p);
    if (!isDigit(first) || first === 0x30) continue;
    let digits = 0;
    let lastDigitEnd = -1;
    let prevSep = false;
    let openParen = false;
    while (p < n) {
      const c = s.charCodeAt(p);
      if (isDigit(c)) {
        digits++;
        lastDigitEnd = p + 1;
        prevSep = false;
      } else if (c === 0x20 || c === 0x2e || c === 0x2d) {
        if (prevSep) break;
        prevSep = true;
      } else if (c === 0x28 && !openParen && isDigit(s.charCodeAt(p + 1))) {
        openParen = true;
        prevSep = false;
      } else if (c === 0x29 && openParen) {
        openParen = false;
        lastDigitEnd = p + 1;
        prevSep = false;
      } else break;
      p++;
    }
    if (lastDigitEnd === -1 || digits < 8 || digits > 15) continue;
    const after = lastDigitEnd < n ? s.charCodeAt(lastDigitEnd) : -1;
    if (isWordChar(after)) continue;
    out.push({ detector: 'phone', start: plus, end: lastDigitEnd });
  }

  if (!grouped) return;
  NANP.lastIndex = 0;
  for (let m = NANP.exec(s); m; m = NANP.exec(s)) {
    if (!phoneStartOk(s, m.index)) {
      NANP.lastIndex = m.index + 1;
      continue;
    }
    out.push({ detector: 'phone', start: m.index, end: m.index + m[0].length });
  }

  NATIONAL.lastIndex = 0;
  for (let m = NATIONAL.exec(s); m; m = NATIONAL.exec(s)) {
    if (!phoneStartOk(s, m.index)) {
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
    /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![A-Za-z0-9])/.source,
    /(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36,255}/.source,
    /(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{22,255}/.source,
    /(?<![A-Za-z0-9_])xox[abposr]-[A-Za-z0-9-]{10,255}/.source,
    /(?<![A-Za-z0-9_])[sr]k_(?:live|test)_[A-Za-z0-9]{16,255}/.source,
    /(?<![A-Za-z0-9_])AIza[0-9A-Za-z_-]{35}/.source,
    /(?<![A-Za-z0-9_-])(sk-[A-Za-z0-9_-]{32,255})/.source,
    /(?<![A-Za-z0-9_])(?:aws_secret_access_key|AWS_SECRET_ACCESS_KEY|SecretAccessKey)["']?[ \t]*[:=][ \t]*["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])/
      .source,
    /(?<![A-Za-z0-9_])(?:Bearer|bearer|BEARER) +([A-Za-z0-9._~+/-]{20,4096}=*)/.source,
    /(?<![A-Za-z0-9_])(?:Basic|basic|BASIC) +([A-Za-z0-9+/]{12,1024}={0,2})(?![A-Za-z0-9+/=])/.source,
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

function scanUrlCredentials(s: string, out: Detection[]): void {
  const n = s.length;
  for (let sep = s.indexOf('://'); sep !== -1; sep = s.indexOf('://', sep + 3)) {
    if (sep === 0 || !isLetter(s.charCodeAt(sep - 1))) continue;
    let p = sep + 3;
    let colon = -1;
    while (p < n && isUserinfoChar(s.charCodeAt(p))) {
      if (colon === -1 && s.charCodeAt(p) === 0x3a) colon = p;
      p++;
    }
    if (p < n && s.charCodeAt(p) === 0x40 && colon > sep + 3 && colon + 1 < p) {
      out.push({ detector: 'secret', start: colon + 1, end: p });
    }
  }
}

/**
 * Literal anchors of the SECRET patterns, a cheap test before the full scan. Each branch starts with a
 * character that is rare in prose (J, -, A, _, S, B, b) so the regex engine skips most positions.
 */
const SECRET_HINT =
  /J(?<=eyJ)|-(?:----BEGIN|(?<=xox[abposr]-|sk-))|A(?:[KSB]IA|CCA|Iza)|_(?<=gh[pousr]_|github_pat_|[sr]k_(?:live|test)_)|_(?:secret|SECRET)|SecretAccessKey|B(?:earer|EARER|asic|ASIC) |b(?:earer|asic) /;

function scanSecrets(s: string, out: Detection[], urlHint: boolean): void {
  if (s.length >= 14 && SECRET_HINT.test(s)) {
    SECRET.lastIndex = 0;
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
  if (urlHint) scanUrlCredentials(s, out);
}
