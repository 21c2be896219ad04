/**
 * The shared scanner of the value detectors, for text cells whose provenance is unknown: they find card
 * numbers, emails, SSNs, IBANs, phone numbers and secrets inside larger text (a note, a JSON document)
 * and replace only the detected spans. One file per detector in detectors/ (what it finds and why:
 * card.ts, email.ts, ssn.ts, iban.ts, phone.ts, secret.ts); the preconditions of all of them in
 * detectors/profile.ts; merging the spans of all of them here.
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
 */
import { scanCards } from './detectors/card.ts';
import { DETECTOR_NAMES, DEFAULT_LABELS, type Detection, type DetectorName } from './detectors/detection.ts';
import { scanEmails } from './detectors/email.ts';
import { scanIbans } from './detectors/iban.ts';
import { scanGroupedPhones, scanInternationalPhones } from './detectors/phone.ts';
import {
  F_AT,
  F_CARD,
  F_IBAN,
  F_PHONE,
  F_PLUS,
  F_SECRET,
  F_SSN_DASHED,
  F_SSN_NINE,
  F_URL,
  profile,
  profiledCardAt,
  profiledIbanAt,
  profiledPhoneAt,
  profiledSecretAt,
  profiledSsnAt,
} from './detectors/profile.ts';
import { SECRET_ANCHOR_REACH, scanSecrets, scanUrlCredentials } from './detectors/secret.ts';
import { scanDashedSsns, scanKeyedSsns, ssnKeywordHint } from './detectors/ssn.ts';

export { DEFAULT_LABELS, DETECTOR_NAMES, type Detection, type DetectorName } from './detectors/detection.ts';

/** When spans overlap they merge into one, labelled by the detector that comes first here. */
const PRIORITY: readonly DetectorName[] = ['secret', 'card', 'iban', 'ssn', 'email', 'phone'];

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
