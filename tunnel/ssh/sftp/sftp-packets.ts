/**
 * The SFTP (version 3) wire format, as far as the proxy reads it: a framer that cuts the byte stream
 * into packets (uint32 length, byte type, body) without copying their data, a reader of the fields of
 * a request or reply, and the STATUS reply the proxy sends itself when it refuses a request.
 */

export const SftpType = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const;

export const SftpStatus = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  OP_UNSUPPORTED: 8,
} as const;

export const STATUS_NAMES: Record<number, string> = {
  0: 'ok',
  1: 'eof',
  2: 'no such file',
  3: 'permission denied',
  4: 'failure',
  5: 'bad message',
  6: 'no connection',
  7: 'connection lost',
  8: 'operation unsupported',
};

/** Open flags (SSH_FXF_*). */
export const OpenFlag = { READ: 1, WRITE: 2, APPEND: 4, CREAT: 8, TRUNC: 0x10, EXCL: 0x20 } as const;

/** Larger than any SFTP implementation sends (OpenSSH's limit is 256 KiB): a larger length is an attack. */
export const MAX_PACKET = 1024 * 1024;

export class SftpProtocolError extends Error {
  override name = 'SftpProtocolError';
}

/** Cuts a byte stream into whole packets (length prefix included), in order, across any chunking. */
export class SftpFramer {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer, packet: (bytes: Buffer) => void): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= 4) {
      const head = this.peek(4);
      const length = head.readUInt32BE(0);
      if (length < 1 || length > MAX_PACKET) throw new SftpProtocolError(`an SFTP packet of ${length} bytes`);
      if (this.buffered < 4 + length) return;
      packet(this.take(4 + length));
    }
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks);
      out = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.buffered -= n;
    return out;
  }
}

/** Reads a packet's fields in order; out-of-bounds reads throw SftpProtocolError. */
export class SftpReader {
  private offset = 5;

  constructor(readonly packet: Buffer) {}

  get type(): number {
    return this.packet[4]!;
  }

  uint32(): number {
    this.need(4);
    const value = this.packet.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  uint64(): number {
    this.need(8);
    const value = Number(this.packet.readBigUInt64BE(this.offset));
    this.offset += 8;
    return value;
  }

  /** A string field's bytes (not copied). */
  bytes(): Buffer {
    const length = this.uint32();
    this.need(length);
    const value = this.packet.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  string(): string {
    return this.bytes().toString('utf8');
  }

  private need(n: number): void {
    if (this.offset + n > this.packet.length) throw new SftpProtocolError('a truncated SFTP packet');
  }
}

/** SSH_FXP_STATUS id code message. */
export function statusPacket(id: number, code: number, message: string): Buffer {
  const text = Buffer.from(message, 'utf8');
  const body = Buffer.alloc(1 + 4 + 4 + 4 + text.length + 4);
  let p = 0;
  body[p++] = SftpType.STATUS;
  body.writeUInt32BE(id, p);
  body.writeUInt32BE(code, (p += 4));
  body.writeUInt32BE(text.length, (p += 4));
  text.copy(body, (p += 4));
  body.writeUInt32BE(0, p + text.length); // language tag: empty
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length, 0);
  return Buffer.concat([length, body]);
}

/** "r", "w", "rw+" …: an open's flags for people. */
export function describeOpenFlags(flags: number): string {
  const parts: string[] = [];
  if (flags & OpenFlag.READ) parts.push('read');
  if (flags & OpenFlag.WRITE) parts.push('write');
  if (flags & OpenFlag.APPEND) parts.push('append');
  if (flags & OpenFlag.CREAT) parts.push('create');
  if (flags & OpenFlag.TRUNC) parts.push('truncate');
  if (flags & OpenFlag.EXCL) parts.push('exclusive');
  return parts.join(',') || 'none';
}
