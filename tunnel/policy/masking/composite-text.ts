/**
 * PostgreSQL's text syntax of composite and array values, as record_out/array_out write them and
 * record_in/array_in read them: `(a,"b c",,"x""y")` and `[0:1]={a,"b c",NULL}`, `{{1,2},{3,4}}`.
 *
 * Parsing finds the leaves (fields of a record, elements of an array at any depth) as byte ranges of
 * the literal, decoding only those that hold quotes or escapes; writing quotes a value exactly when
 * the input functions need it, so a value masked in place keeps the literal valid.
 */

/** Leaves of a literal, flattened: five numbers per leaf (see the LEAF_* offsets). */
export type Leaves = number[];
/** Raw range of the leaf in the literal, quotes included. */
export const LEAF_START = 0;
export const LEAF_END = 1;
/** Its value's range when it holds no quote or escape; -1 when it must be decoded (decodeLeaf). */
export const LEAF_VALUE_START = 2;
export const LEAF_VALUE_END = 3;
/** 1 for SQL NULL. */
export const LEAF_NULL = 4;
export const LEAF_SIZE = 5;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** array_isspace / scanner_isspace: the whitespace the input functions skip or quote. */
const isSpace = (c: number | undefined): boolean =>
  c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;

/**
 * The fields of the record literal `buf[start, end)`, or undefined when it is not one (record_in's
 * grammar: '(' fields separated by ',' ')', an empty field is NULL, `""` inside quotes is a quote,
 * backslash escapes the next byte anywhere).
 */
export function recordLeaves(buf: Buffer, start: number, end: number): Leaves | undefined {
  let p = start;
  while (p < end && isSpace(buf[p])) p++;
  if (buf[p] !== 0x28) return undefined;
  p++;
  const leaves: Leaves = [];
  for (;;) {
    const fieldStart = p;
    let plain = true;
    let quoted = false;
    while (p < end && (quoted || (buf[p] !== 0x2c && buf[p] !== 0x29))) {
      const c = buf[p]!;
      if (c === BACKSLASH) {
        plain = false;
        p += 2;
      } else if (c === QUOTE) {
        plain = false;
        if (quoted && buf[p + 1] === QUOTE) p += 2;
        else {
          quoted = !quoted;
          p++;
        }
      } else p++;
    }
    if (p >= end || quoted) return undefined;
    const isNull = p === fieldStart;
    const simpleQuoted = !plain && isSimpleQuoted(buf, fieldStart, p);
    leaves.push(
      fieldStart,
      p,
      plain ? fieldStart : simpleQuoted ? fieldStart + 1 : -1,
      plain ? p : simpleQuoted ? p - 1 : -1,
      isNull ? 1 : 0,
    );
    if (buf[p] === 0x29) break;
    p++; // ','
  }
  p++;
  while (p < end && isSpace(buf[p])) p++;
  return p === end ? leaves : undefined;
}

/** Whether `buf[from, to)` is one quoted string without quotes or backslashes inside. */
function isSimpleQuoted(buf: Buffer, from: number, to: number): boolean {
  if (to - from < 2 || buf[from] !== QUOTE || buf[to - 1] !== QUOTE) return false;
  for (let i = from + 1; i < to - 1; i++) if (buf[i] === QUOTE || buf[i] === BACKSLASH) return false;
  return true;
}

/**
 * The elements of the array literal `buf[start, end)` at every depth, in order, or undefined when it
 * is not one (array_in's grammar: optional `[lo:hi]…=` dimensions, nested braces, elements separated
 * by `delimiter`, `NULL` unquoted for SQL NULL, backslash escapes, whitespace around elements).
 */
export function arrayLeaves(buf: Buffer, start: number, end: number, delimiter: number): Leaves | undefined {
  let p = start;
  while (p < end && isSpace(buf[p])) p++;
  if (buf[p] === 0x5b) {
    const equals = buf.indexOf(0x3d, p);
    if (equals === -1 || equals >= end) return undefined;
    p = equals + 1;
    while (p < end && isSpace(buf[p])) p++;
  }
  if (buf[p] !== 0x7b) return undefined;
  const leaves: Leaves = [];
  let depth = 0;
  // After '{' or a delimiter an element (or a nested '{') may come; after an element, a delimiter or '}'.
  let expectElement = true;
  let elementDepth = -1; // every element of a well-formed array is at the same depth
  while (p < end) {
    const c = buf[p]!;
    if (isSpace(c)) p++;
    else if (c === 0x7b) {
      if (!expectElement) return undefined;
      depth++;
      p++;
    } else if (c === 0x7d) {
      if (depth === 0) return undefined;
      depth--;
      p++;
      expectElement = false;
      if (depth === 0) break;
    } else if (c === delimiter) {
      if (expectElement) return undefined;
      expectElement = true;
      p++;
    } else {
      if (!expectElement || depth === 0 || (elementDepth !== -1 && elementDepth !== depth)) return undefined;
      elementDepth = depth;
      const next = arrayElement(buf, p, end, delimiter, leaves);
      if (next === -1) return undefined;
      p = next;
      expectElement = false;
    }
  }
  if (depth !== 0) return undefined;
  while (p < end && isSpace(buf[p])) p++;
  return p === end ? leaves : undefined;
}

/** Reads one element at `p` into `leaves`; returns the offset after it, or -1 if malformed. */
function arrayElement(buf: Buffer, p: number, end: number, delimiter: number, leaves: Leaves): number {
  const start = p;
  let plain = true;
  let quoted = false;
  let lastSolid = p; // end of the element without trailing unquoted whitespace
  while (p < end) {
    const c = buf[p]!;
    if (c === BACKSLASH) {
      plain = false;
      p += 2;
      lastSolid = p;
    } else if (c === QUOTE) {
      plain = false;
      quoted = !quoted;
      p++;
      lastSolid = p;
    } else if (!quoted && (c === delimiter || c === 0x7d || c === 0x7b)) {
      break;
    } else {
      p++;
      if (quoted || !isSpace(c)) lastSolid = p;
    }
  }
  if (quoted || p > end) return -1;
  const isNull = plain && isNullWord(buf, start, lastSolid);
  const simpleQuoted = !plain && isSimpleQuoted(buf, start, lastSolid);
  leaves.push(
    start,
    lastSolid,
    plain ? start : simpleQuoted ? start + 1 : -1,
    plain ? lastSolid : simpleQuoted ? lastSolid - 1 : -1,
    isNull ? 1 : 0,
  );
  return p;
}

/** Whether `buf[start, end)` is `NULL` in any case. */
function isNullWord(buf: Buffer, start: number, end: number): boolean {
  return (
    end - start === 4 &&
    (buf[start]! | 0x20) === 0x6e &&
    (buf[start + 1]! | 0x20) === 0x75 &&
    (buf[start + 2]! | 0x20) === 0x6c &&
    (buf[start + 3]! | 0x20) === 0x6c
  );
}

/**
 * The value of a leaf that holds quotes or escapes: quotes dropped (`""` inside quotes is a quote in a
 * record), a backslash keeps the next byte as it is.
 */
export function decodeLeaf(buf: Buffer, start: number, end: number, record: boolean): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  let w = 0;
  let quoted = false;
  for (let p = start; p < end; p++) {
    const c = buf[p]!;
    if (c === BACKSLASH && p + 1 < end) out[w++] = buf[++p]!;
    else if (c === QUOTE) {
      if (record && quoted && buf[p + 1] === QUOTE) out[w++] = buf[++p]!;
      else quoted = !quoted;
    } else out[w++] = c;
  }
  return out.subarray(0, w);
}

/** A record field as record_out writes it: empty for NULL, quoted (doubling `"` and `\`) when needed. */
export function recordField(value: Buffer | null): Buffer {
  if (value === null) return EMPTY;
  const n = value.length;
  let quote = n === 0;
  let extra = 0;
  for (let i = 0; i < n; i++) {
    const c = value[i]!;
    if (c === QUOTE || c === BACKSLASH) extra++;
    else if (c === 0x28 || c === 0x29 || c === 0x2c || isSpace(c)) quote = true;
  }
  if (!quote && extra === 0) return value;
  const out = Buffer.allocUnsafe(n + extra + 2);
  let w = 0;
  out[w++] = QUOTE;
  for (let i = 0; i < n; i++) {
    const c = value[i]!;
    if (c === QUOTE || c === BACKSLASH) out[w++] = c;
    out[w++] = c;
  }
  out[w] = QUOTE;
  return out;
}

const EMPTY = Buffer.alloc(0);
const NULL_ELEMENT = Buffer.from('NULL', 'latin1');

/** An array element as array_out writes it: `NULL`, or quoted (escaping `"` and `\`) when needed. */
export function arrayElementText(value: Buffer | null, delimiter: number): Buffer {
  if (value === null) return NULL_ELEMENT;
  const n = value.length;
  let quote = n === 0 || isNullWord(value, 0, n);
  let extra = 0;
  for (let i = 0; i < n; i++) {
    const c = value[i]!;
    if (c === QUOTE || c === BACKSLASH) extra++;
    else if (c === 0x7b || c === 0x7d || c === delimiter || isSpace(c)) quote = true;
  }
  if (!quote && extra === 0) return value;
  const out = Buffer.allocUnsafe(n + extra + 2);
  let w = 0;
  out[w++] = QUOTE;
  for (let i = 0; i < n; i++) {
    const c = value[i]!;
    if (c === QUOTE || c === BACKSLASH) out[w++] = BACKSLASH;
    out[w++] = c;
  }
  out[w] = QUOTE;
  return out;
}
