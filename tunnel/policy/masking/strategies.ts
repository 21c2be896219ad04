/**
 * Masking strategies over one cell's bytes (text form, UTF-8). Pure and byte-oriented: the DataRow
 * rewriter calls `maskText` for every non-NULL cell of a masked column while rows stream.
 *
 * Guarantees, for every strategy: the masked bytes never contain the raw value, nor its lower/upper-case,
 * reversed, hex, base64 or digits-only forms, except where a strategy reveals a part by design
 * (`partial` reveals at most half of the letters/digits; `email` keeps the domain).
 */
import { createHmac } from 'node:crypto';

export type MaskStrategy =
  /** Replace the whole value with a fixed text (default `[redacted]`). */
  | { kind: 'redact'; text?: string }
  /**
   * Keep the last `keep` letters/digits, replace every other letter/digit (and any other non-separator
   * code point) with `*`; separators (whitespace, punctuation, math/currency/modifier symbols) stay, so
   * `4111 1111 1111 1234` → `**** **** **** 1234`. At most half of the maskable code points (rounded
   * down) are ever kept, whatever `keep` says: `keep` ≥ length still masks at least half, and a
   * one-character value is fully masked. A value without letters/digits has every non-whitespace code
   * point masked. The empty string stays empty.
   */
  | { kind: 'partial'; keep: number }
  /** `jane.doe@example.com` → `***@example.com` (fixed `***`, lower-cased domain); a non-email → `[redacted]`. */
  | { kind: 'email' }
  /**
   * Keyed, deterministic pseudonym so masked values still join and group: `h:` + the first 32 hex
   * digits (128 bits) of HMAC-SHA-256(key, raw bytes). The key must be at least 16 bytes; a value
   * hashes the same in every column and session that uses the same key.
   */
  | { kind: 'hash'; key: Buffer }
  /** SQL NULL. */
  | { kind: 'null' };

export const DEFAULT_REDACTION = '[redacted]';
export const HASH_PREFIX = 'h:';
/** 128 bits: a birthday collision needs ~2^64 distinct values, so joins on pseudonyms stay exact. */
export const HASH_HEX_DIGITS = 32;
export const MIN_HASH_KEY_BYTES = 16;

/** Throws a descriptive error for a strategy that cannot be applied safely (call when loading a policy). */
export function validateStrategy(strategy: MaskStrategy): void {
  switch (strategy.kind) {
    case 'redact':
      if (strategy.text !== undefined && typeof strategy.text !== 'string') {
        throw new TypeError('redact: text must be a string');
      }
      return;
    case 'partial':
      if (typeof strategy.keep !== 'number' || !Number.isFinite(strategy.keep) || strategy.keep < 0) {
        throw new RangeError(`partial: keep must be a non-negative number, got ${String(strategy.keep)}`);
      }
      return;
    case 'email':
    case 'null':
      return;
    case 'hash':
      if (!Buffer.isBuffer(strategy.key) || strategy.key.length < MIN_HASH_KEY_BYTES) {
        throw new RangeError(`hash: key must be a Buffer of at least ${MIN_HASH_KEY_BYTES} bytes`);
      }
      return;
    default:
      throw new TypeError(`unknown masking strategy ${JSON.stringify((strategy as { kind: unknown }).kind)}`);
  }
}

/**
 * Masks one text value; `null` means SQL NULL. Never returns `value` itself. The returned Buffer may be
 * shared between calls (fixed redaction texts are cached): treat it as read-only.
 */
export function maskText(strategy: MaskStrategy, value: Buffer): Buffer | null {
  return maskTextRange(strategy, value, 0, value.length);
}

/** maskText over `buf[start, end)`, for the row rewriter: the cell is not sliced out of its frame. */
export function maskTextRange(
  strategy: MaskStrategy,
  buf: Buffer,
  start: number,
  end: number,
): Buffer | null {
  switch (strategy.kind) {
    case 'null':
      return null;
    case 'redact':
      return redaction(strategy.text ?? DEFAULT_REDACTION);
    case 'partial':
      return maskPartial(buf, start, end, strategy.keep);
    case 'email':
      return maskEmail(buf, start, end);
    case 'hash':
      return hashValue(strategy.key, buf.subarray(start, end));
    default:
      validateStrategy(strategy);
      throw new TypeError('unreachable');
  }
}

const redactions = new Map<string, Buffer>();

function redaction(text: string): Buffer {
  let bytes = redactions.get(text);
  if (bytes === undefined) {
    bytes = Buffer.from(text, 'utf8');
    if (redactions.size < 256) redactions.set(text, bytes);
  }
  return bytes;
}

// ---- partial ------------------------------------------------------------------------------------

/** Code points that `partial` keeps in place: whitespace, punctuation, math/currency/modifier symbols. */
const SEPARATOR = /[\p{Z}\p{P}\p{Sm}\p{Sc}\p{Sk}\t\n\r]/u;
const WHITESPACE = /[\p{Z}\t\n\r]/u;
const STAR = 0x2a;

/** ASCII fast path: 1 = separator, 2 = whitespace separator, 0 = maskable. Same rules as the regexes. */
const ASCII_CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  ASCII_CLASS[c] = WHITESPACE.test(ch) ? 2 : SEPARATOR.test(ch) ? 1 : 0;
}

function keepCount(keep: number, maskable: number): number {
  const wanted = Number.isFinite(keep) && keep > 0 ? Math.floor(keep) : 0;
  return Math.min(wanted, maskable >> 1);
}

function maskPartial(buf: Buffer, start: number, end: number, keep: number): Buffer {
  const n = end - start;
  let ascii = true;
  let maskable = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c >= 0x80) {
      ascii = false;
      break;
    }
    if (ASCII_CLASS[c] === 0) maskable++;
  }
  if (!ascii) return maskPartialUnicode(buf.toString('utf8', start, end), keep);

  const out = Buffer.allocUnsafe(n);
  if (maskable === 0) {
    for (let i = 0; i < n; i++) {
      const c = buf[start + i]!;
      out[i] = ASCII_CLASS[c] === 2 ? c : STAR;
    }
    return out;
  }
  let toMask = maskable - keepCount(keep, maskable);
  for (let i = 0; i < n; i++) {
    const c = buf[start + i]!;
    if (ASCII_CLASS[c] !== 0) out[i] = c;
    else if (toMask > 0) {
      out[i] = STAR;
      toMask--;
    } else out[i] = c;
  }
  return out;
}

function maskPartialUnicode(text: string, keep: number): Buffer {
  const points = Array.from(text);
  const separator = points.map((p) => SEPARATOR.test(p));
  const maskable = separator.reduce((sum, s) => sum + (s ? 0 : 1), 0);
  if (maskable === 0) {
    return Buffer.from(points.map((p) => (WHITESPACE.test(p) ? p : '*')).join(''), 'utf8');
  }
  let toMask = maskable - keepCount(keep, maskable);
  let out = '';
  for (let i = 0; i < points.length; i++) {
    if (separator[i]) out += points[i];
    else if (toMask > 0) {
      out += '*';
      toMask--;
    } else out += points[i];
  }
  return Buffer.from(out, 'utf8');
}

// ---- email --------------------------------------------------------------------------------------

const isAsciiSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isLetter = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isLabelChar = (c: number): boolean => isLetter(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d;

/**
 * `***@` + the lower-cased domain when the value (ASCII whitespace trimmed) is one address: a local part
 * of 1–64 bytes without '@', control characters or ASCII whitespace, and an ASCII domain of at least two
 * labels (1–63 letters/digits/hyphens, no hyphen at either end) whose last label is alphabetic or
 * `xn--`. Anything else is redacted. Byte-level: no decoding on the hot path.
 */
function maskEmail(value: Buffer, from: number, to: number): Buffer {
  let start = from;
  let end = to;
  while (start < end && isAsciiSpace(value[start]!)) start++;
  while (end > start && isAsciiSpace(value[end - 1]!)) end--;
  const at = value.indexOf(0x40, start);
  if (at <= start || at >= end || at - start > 64 || end - at - 1 > 253) return redaction(DEFAULT_REDACTION);
  for (let i = start; i < at; i++)
    if (value[i]! <= 0x20 || value[i] === 0x7f) return redaction(DEFAULT_REDACTION);
  let labels = 0;
  let labelStart = at + 1;
  for (let i = at + 1; i <= end; i++) {
    const c = i < end ? value[i]! : 0x2e;
    if (c !== 0x2e) {
      if (!isLabelChar(c)) return redaction(DEFAULT_REDACTION);
      continue;
    }
    const len = i - labelStart;
    if (len < 1 || len > 63 || value[labelStart] === 0x2d || value[i - 1] === 0x2d) {
      return redaction(DEFAULT_REDACTION);
    }
    labels++;
    if (i === end) {
      const xn = len > 4 && value.toString('latin1', labelStart, labelStart + 4).toLowerCase() === 'xn--';
      let alphabetic = len >= 2;
      for (let k = labelStart; k < i && alphabetic; k++) alphabetic = isLetter(value[k]!);
      if (labels < 2 || !(alphabetic || xn)) return redaction(DEFAULT_REDACTION);
    }
    labelStart = i + 1;
  }
  const out = Buffer.allocUnsafe(4 + end - at - 1);
  out[0] = out[1] = out[2] = STAR;
  out[3] = 0x40;
  for (let i = at + 1, w = 4; i < end; i++, w++) {
    const c = value[i]!;
    out[w] = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
  }
  return out;
}

// ---- hash ---------------------------------------------------------------------------------------

function hashValue(key: Buffer, value: Buffer): Buffer {
  if (!Buffer.isBuffer(key) || key.length < MIN_HASH_KEY_BYTES) {
    throw new RangeError(`hash: key must be a Buffer of at least ${MIN_HASH_KEY_BYTES} bytes`);
  }
  const digest = createHmac('sha256', key).update(value).digest('hex');
  return Buffer.from(HASH_PREFIX + digest.slice(0, HASH_HEX_DIGITS), 'latin1');
}
