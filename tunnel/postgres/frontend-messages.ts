/**
 * Readers for the frontend messages the tunnel must understand. Each takes a whole frame as cut by
 * MessageFramer (header included) and throws ProtocolViolation on malformed content, so one bad client
 * is refused without affecting anyone else.
 */

export class ProtocolViolation extends Error {
  readonly code = '08P01';
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolViolation';
  }
}

class Reader {
  private offset: number;
  constructor(
    private readonly buf: Buffer,
    start: number,
    private readonly what: string,
  ) {
    this.offset = start;
  }

  private need(n: number): void {
    if (this.offset + n > this.buf.length) throw new ProtocolViolation(`truncated ${this.what} message`);
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  cstring(): string {
    const end = this.buf.indexOf(0, this.offset);
    if (end < 0) throw new ProtocolViolation(`unterminated string in ${this.what} message`);
    const s = this.buf.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return s;
  }

  bytes(n: number): Buffer {
    if (n < 0) throw new ProtocolViolation(`negative length in ${this.what} message`);
    this.need(n);
    const b = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }

  rest(): Buffer {
    const b = this.buf.subarray(this.offset);
    this.offset = this.buf.length;
    return b;
  }

  get atEnd(): boolean {
    return this.offset >= this.buf.length;
  }
}

/** Offset of the payload in a tagged frame (type byte + length). */
const TAGGED = 5;

export interface StartupPacket {
  /** Protocol version or special request code (see StartupCode). */
  code: number;
  /** Startup parameters (StartupMessage only). */
  parameters: Map<string, string>;
  /** CancelRequest only. */
  cancel?: { processId: number; secretKey: Buffer };
}

export function readStartupPacket(frame: Buffer): StartupPacket {
  const r = new Reader(frame, 4, 'startup');
  const code = r.int32() >>> 0;
  const parameters = new Map<string, string>();
  if (code === 80877102) {
    const processId = r.int32();
    return { code, parameters, cancel: { processId, secretKey: Buffer.from(r.rest()) } };
  }
  if (code >> 16 === 3) {
    for (;;) {
      const name = r.cstring();
      if (name === '') break;
      parameters.set(name, r.cstring());
    }
    if (!r.atEnd) throw new ProtocolViolation('trailing bytes after startup parameters');
  }
  return { code, parameters };
}

export function readQuery(frame: Buffer): string {
  return new Reader(frame, TAGGED, 'Query').cstring();
}

export interface ParseMessage {
  statement: string;
  sql: string;
  parameterTypes: number[];
}

export function readParse(frame: Buffer): ParseMessage {
  const r = new Reader(frame, TAGGED, 'Parse');
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
  const r = new Reader(frame, TAGGED, 'Bind');
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
  const r = new Reader(frame, TAGGED, 'Execute');
  return { portal: r.cstring(), maxRows: r.int32() };
}

/** Describe and Close share a shape: 'S' for a prepared statement, 'P' for a portal, then the name. */
export function readTarget(frame: Buffer): { kind: 'S' | 'P'; name: string } {
  const r = new Reader(frame, TAGGED, 'Describe/Close');
  const kind = String.fromCharCode(r.bytes(1)[0]!);
  if (kind !== 'S' && kind !== 'P') throw new ProtocolViolation(`invalid Describe/Close target '${kind}'`);
  return { kind, name: r.cstring() };
}

export function readSaslInitialResponse(frame: Buffer): { mechanism: string; data: string } {
  const r = new Reader(frame, TAGGED, 'SASLInitialResponse');
  const mechanism = r.cstring();
  const length = r.int32();
  return { mechanism, data: length === -1 ? '' : r.bytes(length).toString('utf8') };
}

export function readSaslResponse(frame: Buffer): string {
  return frame.toString('utf8', TAGGED);
}
