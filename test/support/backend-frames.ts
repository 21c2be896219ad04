/** Builders of the server's messages, for tests that play the server's side of the protocol. */
import type { FieldDescription } from '../../tunnel/postgres/wire/results.ts';
import { buildDataRow } from '../../tunnel/postgres/wire/results.ts';
import { errorResponse } from '../../tunnel/postgres/wire/notices.ts';

function frame(type: string, payload: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.alloc(5 + payload.length);
  out[0] = type.charCodeAt(0);
  out.writeInt32BE(4 + payload.length, 1);
  payload.copy(out, 5);
  return out;
}

function cstring(text: string): Buffer {
  return Buffer.from(`${text}\0`, 'utf8');
}

/** A column: text (25) of no table unless said otherwise. */
export function field(name: string, options: Partial<FieldDescription> = {}): FieldDescription {
  return {
    name,
    tableOid: 0,
    columnNumber: 0,
    typeOid: 25,
    typeSize: -1,
    typeModifier: -1,
    format: 0,
    ...options,
  };
}

export function rowDescription(fields: readonly FieldDescription[]): Buffer {
  const parts: Buffer[] = [Buffer.from([fields.length >> 8, fields.length & 0xff])];
  for (const f of fields) {
    const fixed = Buffer.alloc(18);
    fixed.writeUInt32BE(f.tableOid, 0);
    fixed.writeInt16BE(f.columnNumber, 4);
    fixed.writeUInt32BE(f.typeOid, 6);
    fixed.writeInt16BE(f.typeSize, 10);
    fixed.writeInt32BE(f.typeModifier, 12);
    fixed.writeInt16BE(f.format, 16);
    parts.push(cstring(f.name), fixed);
  }
  return frame('T', Buffer.concat(parts));
}

export const dataRow = (cells: (string | Buffer | null)[]): Buffer => buildDataRow(cells);
export const commandComplete = (tag: string): Buffer => frame('C', cstring(tag));
export const parseComplete = (): Buffer => frame('1');
export const bindComplete = (): Buffer => frame('2');
export const closeComplete = (): Buffer => frame('3');
export const noData = (): Buffer => frame('n');
export const portalSuspended = (): Buffer => frame('s');
export const emptyQueryResponse = (): Buffer => frame('I');
export const readyForQuery = (status: 'I' | 'T' | 'E' = 'I'): Buffer => frame('Z', Buffer.from(status));
export const copyData = (line: string): Buffer => frame('d', Buffer.from(line));
export const serverError = (message = 'boom', code = '42P01'): Buffer =>
  errorResponse({ severity: 'ERROR', code, message });

export function parameterDescription(types: readonly number[]): Buffer {
  const payload = Buffer.alloc(2 + 4 * types.length);
  payload.writeInt16BE(types.length, 0);
  types.forEach((t, i) => payload.writeUInt32BE(t, 2 + 4 * i));
  return frame('t', payload);
}

export function copyOutResponse(columns: number): Buffer {
  const payload = Buffer.alloc(3 + 2 * columns);
  payload.writeInt16BE(columns, 1);
  return frame('H', payload);
}
