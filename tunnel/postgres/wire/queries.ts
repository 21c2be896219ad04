/**
 * Readers for the client's query messages: the simple Query and the extended protocol's Parse, Bind,
 * Execute, Describe and Close. Each takes a whole frame as cut by MessageFramer (header included) and
 * throws ProtocolViolation on malformed content, so one bad client is refused without affecting anyone
 * else.
 */
import { TAGGED_HEADER_LENGTH } from './codes.ts';
import { MessageReader, ProtocolViolation } from './reader.ts';

export function readQuery(frame: Buffer): string {
  return new MessageReader(frame, TAGGED_HEADER_LENGTH, 'Query').cstring();
}

export interface ParseMessage {
  statement: string;
  sql: string;
  parameterTypes: number[];
}

export function readParse(frame: Buffer): ParseMessage {
  const r = new MessageReader(frame, TAGGED_HEADER_LENGTH, 'Parse');
  const statement = r.cstring();
  const sql = r.cstring();
  const count = r.int16();
  const parameterTypes: number[] = [];
  for (let i = 0; i < count; i++) parameterTypes.push(r.int32() >>> 0);
  return { statement, sql, parameterTypes };
}

export interface BindMessage {
  portal: string;
  statement: string;
  parameterFormats: number[];
  /** Parameter values as received; null for SQL NULL. */
  parameters: (Buffer | null)[];
  resultFormats: number[];
}

export function readBind(frame: Buffer): BindMessage {
  const r = new MessageReader(frame, TAGGED_HEADER_LENGTH, 'Bind');
  const portal = r.cstring();
  const statement = r.cstring();
  const parameterFormats: number[] = [];
  for (let i = r.int16(); i > 0; i--) parameterFormats.push(r.int16());
  const parameters: (Buffer | null)[] = [];
  for (let i = r.int16(); i > 0; i--) {
    const length = r.int32();
    parameters.push(length === -1 ? null : r.bytes(length));
  }
  const resultFormats: number[] = [];
  for (let i = r.int16(); i > 0; i--) resultFormats.push(r.int16());
  return { portal, statement, parameterFormats, parameters, resultFormats };
}

export function readExecute(frame: Buffer): { portal: string; maxRows: number } {
  const r = new MessageReader(frame, TAGGED_HEADER_LENGTH, 'Execute');
  return { portal: r.cstring(), maxRows: r.int32() };
}

/** Describe and Close share a shape: 'S' for a prepared statement, 'P' for a portal, then the name. */
export function readTarget(frame: Buffer): { kind: 'S' | 'P'; name: string } {
  const r = new MessageReader(frame, TAGGED_HEADER_LENGTH, 'Describe/Close');
  const kind = String.fromCharCode(r.bytes(1)[0]!);
  if (kind !== 'S' && kind !== 'P') throw new ProtocolViolation(`invalid Describe/Close target '${kind}'`);
  return { kind, name: r.cstring() };
}
