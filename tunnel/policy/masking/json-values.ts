/**
 * Masking json/jsonb values: a masked value becomes a JSON string (`"[redacted]"`, `"***@example.com"`,
 * …). A JSON string value is unwrapped and masked as text first (so hashes match the text columns),
 * other scalars are masked as their JSON text, and `partial` redacts a whole object or array (half of
 * a document's characters may be all of a short value inside it). Detected spans inside JSON strings
 * are replaced in place (labels contain no quotes or backslashes; escape sequences are blanked before
 * scanning so spans never cut one); a span in a number token turns the token into a JSON string;
 * anything else makes the whole cell a JSON string of the label.
 */
import type { Detection, DetectorName, ValueDetector } from './detectors.ts';
import { DEFAULT_REDACTION, maskText, type MaskStrategy } from './strategies.ts';

const isJsonSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

export function maskJson(strategy: MaskStrategy, json: Buffer): Buffer | null {
  let start = 0;
  let end = json.length;
  while (start < end && isJsonSpace(json[start])) start++;
  while (end > start && isJsonSpace(json[end - 1])) end--;
  let input = json;
  if (strategy.kind === 'partial' && (json[start] === 0x7b || json[start] === 0x5b)) {
    // Half of a whole document's characters can be all of one short value inside it: partial applies
    // to scalars only, an object or array is redacted.
    return Buffer.from(JSON.stringify(DEFAULT_REDACTION), 'utf8');
  }
  if (end - start >= 2 && json[start] === 0x22 && json[end - 1] === 0x22) {
    try {
      const parsed: unknown = JSON.parse(json.toString('utf8', start, end));
      if (typeof parsed === 'string') input = Buffer.from(parsed, 'utf8');
    } catch {
      // not a single JSON string: mask the document's text
    }
  }
  const masked = maskText(strategy, input);
  return masked === null ? null : Buffer.from(JSON.stringify(masked.toString('utf8')), 'utf8');
}

const isJsonNumberChar = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45;

/**
 * A copy of a JSON text where every escape sequence (`\n`, `\"`, `\u00e9`, …) is blanked with spaces
 * of the same length, so detectors see `\nbob@example.com` as ` bob@…` and spans never start or end
 * inside an escape. Offsets are unchanged. The copy is `[0, end - start)` of the returned buffer, which
 * is reused by the next call (it is only scanned, and scans keep no reference to their input).
 */
function blankEscapes(buf: Buffer, start: number, end: number): Buffer {
  const n = end - start;
  let out = scratchBuffer;
  if (n > out.length) {
    out = Buffer.allocUnsafe(n);
    if (n <= MAX_SCRATCH) scratchBuffer = out;
  }
  buf.copy(out, 0, start, end);
  let inString = false;
  for (let i = 0; i < n; i++) {
    const c = out[i];
    if (!inString) {
      if (c === 0x22) inString = true;
    } else if (c === 0x22) {
      inString = false;
    } else if (c === 0x5c) {
      const len = i + 1 < n && out[i + 1] === 0x75 ? 6 : 2;
      const stop = Math.min(n, i + len);
      out.fill(0x20, i, stop);
      i = stop - 1;
    }
  }
  return out;
}

/** Larger JSON cells get a buffer of their own rather than one kept for the session's lifetime. */
const MAX_SCRATCH = 64 * 1024;
let scratchBuffer = Buffer.allocUnsafe(1024);

/** [contentStart, contentEnd) of every string literal in a JSON text, flattened. */
function jsonStringRanges(json: Buffer): number[] {
  const ranges: number[] = [];
  const n = json.length;
  let i = 0;
  while (i < n) {
    if (json[i] !== 0x22) {
      i++;
      continue;
    }
    const contentStart = ++i;
    while (i < n && json[i] !== 0x22) i += json[i] === 0x5c ? 2 : 1;
    ranges.push(contentStart, Math.min(i, n));
    i++;
  }
  return ranges;
}

export function redactJson(
  detector: ValueDetector,
  buf: Buffer,
  from: number,
  to: number,
): Buffer | undefined {
  const backslash = buf.indexOf(0x5c, from);
  const found =
    backslash !== -1 && backslash < to
      ? detector.scan(blankEscapes(buf, from, to), 0, to - from)
      : detector.scan(buf, from, to);
  if (found.length === 0) return undefined;
  const json = buf.subarray(from, to);
  const strings = jsonStringRanges(json);
  const parts: Buffer[] = [];
  let at = 0;
  let r = 0;
  for (const d of found) {
    while (r < strings.length && strings[r + 1]! <= d.start) r += 2;
    const inString = r < strings.length && strings[r]! <= d.start;
    let { start, end } = d;
    let replacement: string;
    if (inString) {
      if (end > strings[r + 1]!) return wholeJson(detector, found);
      replacement = detector.labels[d.detector];
    } else {
      while (start > 0 && isJsonNumberChar(json[start - 1]!)) start--;
      while (end < json.length && isJsonNumberChar(json[end]!)) end++;
      for (let k = start; k < end; k++) if (!isJsonNumberChar(json[k]!)) return wholeJson(detector, found);
      if (start < at) return wholeJson(detector, found);
      replacement = `"${detector.labels[d.detector]}"`;
    }
    if (start > at) parts.push(json.subarray(at, start));
    parts.push(Buffer.from(replacement, 'latin1'));
    at = end;
  }
  if (at < json.length) parts.push(json.subarray(at));
  return Buffer.concat(parts);
}

const PRIORITY: readonly DetectorName[] = ['secret', 'card', 'iban', 'ssn', 'email', 'phone'];

function wholeJson(detector: ValueDetector, found: readonly Detection[]): Buffer {
  const top = PRIORITY.find((name) => found.some((d) => d.detector === name))!;
  return Buffer.from(JSON.stringify(detector.labels[top]), 'latin1');
}
