/**
 * A cursor over one message's payload that refuses to read past its end, so a malformed message
 * becomes one ProtocolViolation for its sender instead of a misread.
 */

export class ProtocolViolation extends Error {
  readonly code = '08P01';
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolViolation';
  }
}

export class MessageReader {
  private offset: number;
  constructor(
    private readonly buf: Buffer,
    start: number,
    /** The message's name, for the error. */
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
