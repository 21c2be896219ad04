/**
 * How PostgreSQL and common formats write a text value inside a larger one, for tests that embed
 * values in records, arrays, CSV lines and JSON documents.
 */

/** One field of a record literal as record_out writes it. */
export function recordField(value: string | null): string {
  if (value === null) return '';
  if (value !== '' && !/[",\\()\s]/.test(value)) return value;
  return `"${value.replace(/(["\\])/g, '$1$1')}"`;
}

/** A record literal `(a,"b c",,…)` as record_out writes it. */
export function recordLiteral(fields: readonly (string | null)[]): string {
  return `(${fields.map(recordField).join(',')})`;
}

/** One element of an array literal as array_out writes it. */
export function arrayElement(value: string | null): string {
  if (value === null) return 'NULL';
  if (value !== '' && !/[",\\{}\s]/.test(value) && value.toUpperCase() !== 'NULL') return value;
  return `"${value.replace(/(["\\])/g, '\\$1')}"`;
}

/** A one-dimensional array literal `{a,"b c",NULL}` as array_out writes it. */
export function arrayLiteral(elements: readonly (string | null)[]): string {
  return `{${elements.map(arrayElement).join(',')}}`;
}

/** One CSV field, quoted only when it must be (RFC 4180). */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export type Syntax = 'text' | 'csv' | 'record' | 'array' | 'json-array' | 'json-object';

export const SYNTAXES: readonly Syntax[] = ['text', 'csv', 'record', 'array', 'json-array', 'json-object'];

/** `value` written as one field among ordinary neighbours in `syntax`. */
export function embed(syntax: Syntax, value: string): string {
  switch (syntax) {
    case 'text':
      return value;
    case 'csv':
      return ['17', csvField(value), '2024-03-14'].join(',');
    case 'record':
      return recordLiteral(['17', value, null, '2024-03-14']);
    case 'array':
      return arrayLiteral(['17', value, null, '42']);
    case 'json-array':
      return `[17,${JSON.stringify(value)},null,42]`;
    case 'json-object':
      return JSON.stringify({ id: 17, note: value, at: '2024-03-14' });
  }
}
