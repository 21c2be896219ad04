/**
 * Masking COPY TO STDOUT rows (text and CSV formats) with the same rules as DataRow cells: each field
 * is unescaped (or unquoted), masked as a text-format value and escaped again.
 */
import { detectCell, maskCell } from './cell-values.ts';
import { isCompositeMask, maskComposite } from './composite-values.ts';
import { MalformedRowError, type RowMaskPlan } from './datarow.ts';

export interface CopyRowOptions {
  /** 'text' (default) or 'csv'. Binary COPY is not supported: refuse it when masking applies. */
  format?: 'text' | 'csv';
  /** Single-byte delimiter: tab for text, ',' for csv by default. */
  delimiter?: string;
  /** NULL marker: `\N` for text, the empty unquoted string for csv by default. */
  null?: string;
  /** CSV quote character, '"' by default. */
  quote?: string;
  /** CSV escape character, the quote character by default. */
  escape?: string;
}

export interface CopyRowResult {
  line: Buffer;
  maskedCells: number;
}

interface CopyField {
  start: number;
  end: number;
  quoted: boolean;
}

function singleByte(value: string, what: string): number {
  if (value.length !== 1 || value.charCodeAt(0) > 0x7f)
    throw new RangeError(`COPY ${what} must be one ASCII character`);
  return value.charCodeAt(0);
}

/**
 * Masks one COPY TO STDOUT row (the payload of one CopyData message: one row and its newline) with the
 * same rules as maskDataRow, in text format (tab-separated, `\N` NULLs, backslash escapes: the value is
 * unescaped, masked and re-escaped) or CSV (masked values are always quoted). A CSV HEADER line must not
 * be passed in. `plan.formats` is ignored; `plan.typeOids` may be empty (every column unknown, so text).
 * Returns the same Buffer object when nothing changed.
 */
export function maskCopyRow(line: Buffer, plan: RowMaskPlan, options: CopyRowOptions = {}): CopyRowResult {
  const csv = options.format === 'csv';
  const delimiter = singleByte(options.delimiter ?? (csv ? ',' : '\t'), 'delimiter');
  const quote = csv ? singleByte(options.quote ?? '"', 'quote') : -1;
  const escape = csv ? singleByte(options.escape ?? String.fromCharCode(quote), 'escape') : -1;
  const nullBytes = Buffer.from(options.null ?? (csv ? '' : '\\N'), 'utf8');

  let end = line.length;
  if (end > 0 && line[end - 1] === 0x0a) {
    end--;
    if (end > 0 && line[end - 1] === 0x0d) end--;
  }
  const fields = csv ? splitCsv(line, end, delimiter, quote, escape) : splitText(line, end, delimiter);
  const { columns, typeOids, detector } = plan;
  if (fields.length !== columns.length) {
    throw new MalformedRowError(`COPY row has ${fields.length} fields, the mask plan ${columns.length}`);
  }

  let edits: { start: number; end: number; bytes: Buffer }[] | undefined;
  let maskedCells = 0;
  for (let i = 0; i < fields.length; i++) {
    const mask = columns[i];
    if (mask === undefined && detector === undefined) continue;
    const field = fields[i]!;
    const raw = line.subarray(field.start, field.end);
    if (!field.quoted && raw.equals(nullBytes)) continue;
    const value = csv ? unquoteCsv(raw, field.quoted, quote, escape) : unescapeText(raw);
    let out: Buffer | null | undefined;
    if (isCompositeMask(mask)) {
      const result = maskComposite(mask, value, 0, value.length, 0, detector);
      if (!result.masked) continue;
      out = result.value === undefined ? value : result.value;
      maskedCells++;
    } else if (mask !== undefined) {
      out = maskCell(mask, value, typeOids[i] ?? 0, 0);
      maskedCells++;
    } else {
      out = detectCell(detector!, value, typeOids[i] ?? 0, 0);
      if (out === undefined) continue;
      maskedCells++;
    }
    const bytes = out === null ? nullBytes : csv ? quoteCsv(out, quote, escape) : escapeText(out, delimiter);
    if (!bytes.equals(raw)) (edits ??= []).push({ start: field.start, end: field.end, bytes });
  }
  if (edits === undefined) return { line, maskedCells };

  const parts: Buffer[] = [];
  let at = 0;
  for (const e of edits) {
    parts.push(line.subarray(at, e.start), e.bytes);
    at = e.end;
  }
  parts.push(line.subarray(at));
  return { line: Buffer.concat(parts), maskedCells };
}

function splitText(line: Buffer, end: number, delimiter: number): CopyField[] {
  const fields: CopyField[] = [];
  let start = 0;
  let p = 0;
  while (p < end) {
    const c = line[p];
    if (c === 0x5c) p += 2;
    else if (c === delimiter) {
      fields.push({ start, end: p, quoted: false });
      start = ++p;
    } else p++;
  }
  if (p > end) throw new MalformedRowError('COPY row ends with a lone backslash');
  fields.push({ start, end, quoted: false });
  return fields;
}

function splitCsv(line: Buffer, end: number, delimiter: number, quote: number, escape: number): CopyField[] {
  const fields: CopyField[] = [];
  let p = 0;
  for (;;) {
    const start = p;
    let quoted = false;
    if (p < end && line[p] === quote) {
      quoted = true;
      p++;
      for (;;) {
        if (p >= end) throw new MalformedRowError('COPY CSV row has an unterminated quoted field');
        const c = line[p];
        if (
          c === escape &&
          escape !== quote &&
          p + 1 < end &&
          (line[p + 1] === quote || line[p + 1] === escape)
        ) {
          p += 2;
        } else if (c === quote) {
          if (escape === quote && line[p + 1] === quote && p + 1 < end) p += 2;
          else {
            p++;
            break;
          }
        } else p++;
      }
      if (p < end && line[p] !== delimiter)
        throw new MalformedRowError('COPY CSV row has text after a closing quote');
    } else {
      while (p < end && line[p] !== delimiter) p++;
    }
    fields.push({ start, end: p, quoted });
    if (p >= end) return fields;
    p++; // delimiter
  }
}

const TEXT_ESCAPES: Readonly<Record<number, number>> = {
  0x62: 0x08, // \b
  0x66: 0x0c, // \f
  0x6e: 0x0a, // \n
  0x72: 0x0d, // \r
  0x74: 0x09, // \t
  0x76: 0x0b, // \v
};

const isOctal = (c: number | undefined): c is number => c !== undefined && c >= 0x30 && c <= 0x37;
function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** COPY text-format de-escaping (CopyReadAttributesText): \b \f \n \r \t \v, octal, \xhh, \<any>. */
function unescapeText(raw: Buffer): Buffer {
  if (raw.indexOf(0x5c) === -1) return raw;
  const out = Buffer.allocUnsafe(raw.length);
  let w = 0;
  for (let p = 0; p < raw.length; p++) {
    const c = raw[p]!;
    if (c !== 0x5c || p + 1 >= raw.length) {
      out[w++] = c;
      continue;
    }
    const next = raw[++p]!;
    if (isOctal(next)) {
      let v = next - 0x30;
      if (isOctal(raw[p + 1])) {
        v = v * 8 + raw[++p]! - 0x30;
        if (isOctal(raw[p + 1])) v = v * 8 + raw[++p]! - 0x30;
      }
      out[w++] = v & 0xff;
    } else if (next === 0x78 && hexValue(raw[p + 1]) >= 0) {
      let v = hexValue(raw[++p]);
      if (hexValue(raw[p + 1]) >= 0) v = v * 16 + hexValue(raw[++p]);
      out[w++] = v;
    } else {
      out[w++] = TEXT_ESCAPES[next] ?? next;
    }
  }
  return out.subarray(0, w);
}

const TEXT_ESCAPE_OUT: Readonly<Record<number, number>> = {
  0x08: 0x62,
  0x0c: 0x66,
  0x0a: 0x6e,
  0x0d: 0x72,
  0x09: 0x74,
  0x0b: 0x76,
  0x5c: 0x5c,
};

/** COPY text-format escaping (CopyAttributeOutText): backslash, control characters and the delimiter. */
function escapeText(value: Buffer, delimiter: number): Buffer {
  let extra = 0;
  for (const c of value) if (TEXT_ESCAPE_OUT[c] !== undefined || c === delimiter) extra++;
  if (extra === 0) return value;
  const out = Buffer.allocUnsafe(value.length + extra);
  let w = 0;
  for (const c of value) {
    const e = TEXT_ESCAPE_OUT[c];
    if (e !== undefined) {
      out[w++] = 0x5c;
      out[w++] = e;
    } else if (c === delimiter) {
      out[w++] = 0x5c;
      out[w++] = c;
    } else out[w++] = c;
  }
  return out;
}

function unquoteCsv(raw: Buffer, quoted: boolean, quote: number, escape: number): Buffer {
  if (!quoted) return raw;
  const out = Buffer.allocUnsafe(raw.length);
  let w = 0;
  for (let p = 1; p < raw.length - 1; p++) {
    const c = raw[p]!;
    if (
      (c === escape || c === quote) &&
      p + 1 < raw.length - 1 &&
      (raw[p + 1] === quote || raw[p + 1] === escape)
    ) {
      out[w++] = raw[++p]!;
    } else out[w++] = c;
  }
  return out.subarray(0, w);
}

/** Always quotes, doubling (or escaping) quote and escape characters: valid whatever the content. */
function quoteCsv(value: Buffer, quote: number, escape: number): Buffer {
  const out: number[] = [quote];
  for (const c of value) {
    if (c === quote || c === escape) out.push(escape);
    out.push(c);
  }
  out.push(quote);
  return Buffer.from(out);
}
