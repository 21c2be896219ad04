import { MAX_STARTUP_PACKET_LENGTH } from './codes.ts';

export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

/** `type` of an untagged startup packet (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest). */
export const UNTAGGED = 0;
/** `type` of a TLS record (a direct-TLS ClientHello) seen where a startup packet was expected. */
export const TLS_RECORD = 0x16;

export class FramingError extends Error {
  constructor(
    message: string,
    /** SQLSTATE to report to the peer, when the peer speaks the protocol at all. */
    readonly code: string,
  ) {
    super(message);
    this.name = 'FramingError';
  }
}

/**
 * A startup packet whose length no client could mean (a Terminate or an HTTP request where the startup
 * packet belongs): PostgreSQL answers it with silence and a close, not an ErrorResponse.
 */
export class InvalidStartupPacket extends FramingError {
  constructor(message: string) {
    super(message, '08P01');
    this.name = 'InvalidStartupPacket';
  }
}

/** Receives each complete message: its type byte (or UNTAGGED / TLS_RECORD) and its whole bytes, header included. */
export type FrameHandler = (type: number, frame: Buffer) => void;

/**
 * Cuts a PostgreSQL byte stream into whole messages, for any split of the stream into chunks.
 *
 * Frames are views into the received chunks wherever a message lies inside one chunk (the common case),
 * and are copied only when a message straddles chunks, so large results are framed without copying.
 * A stream starts in the untagged startup phase when `startup` is set; the handler switches the phase
 * with `expectTagged()` once the startup packet that opens the session has been read.
 */
export class MessageFramer {
  private parts: Buffer[] = [];
  private partsLength = 0;
  /** Bytes needed before the pending message is whole; 0 while its header is still incomplete. */
  private needed = 0;
  private startup: boolean;
  private maxMessageSize: number;

  constructor(options: { maxMessageSize?: number; startup?: boolean } = {}) {
    this.startup = options.startup ?? false;
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  }

  /**
   * Changes the largest message accepted from now on: a session keeps it at a few kilobytes until the
   * client has authenticated, so nothing an unauthenticated client sends costs more than that.
   */
  limitMessageSize(maxMessageSize: number): void {
    this.maxMessageSize = maxMessageSize;
  }

  get inStartupPhase(): boolean {
    return this.startup;
  }

  expectTagged(): void {
    this.startup = false;
  }

  /** Bytes received but not yet part of a whole message. */
  get bufferedBytes(): number {
    return this.partsLength;
  }

  /** Frames every whole message in `chunk` (with what was left over before it). Throws FramingError. */
  push(chunk: Buffer, onFrame: FrameHandler): void {
    let data = chunk;
    if (this.partsLength > 0) {
      this.parts.push(chunk);
      this.partsLength += chunk.length;
      if (this.partsLength < (this.needed || this.headerSize())) return;
      data = Buffer.concat(this.parts, this.partsLength);
      this.parts = [];
      this.partsLength = 0;
      this.needed = 0;
    }

    let offset = 0;
    const maxMessageSize = this.maxMessageSize;
    while (offset < data.length) {
      const remaining = data.length - offset;
      let type: number;
      let total: number;
      if (this.startup) {
        if (data[offset] === TLS_RECORD) {
          // TLS record header: type, version (2), length (2). A startup packet can never start with 0x16
          // because its length would exceed the startup limit.
          if (remaining < 5) break;
          type = TLS_RECORD;
          total = 5 + data.readUInt16BE(offset + 3);
        } else {
          if (remaining < 4) break;
          type = UNTAGGED;
          total = data.readUInt32BE(offset);
          if (total < 8) throw new InvalidStartupPacket(`invalid startup packet length ${total}`);
          if (total > MAX_STARTUP_PACKET_LENGTH) {
            throw new InvalidStartupPacket(`startup packet of ${total} bytes is too large`);
          }
        }
      } else {
        if (remaining < 5) break;
        type = data[offset]!;
        const length = data.readUInt32BE(offset + 1);
        if (length < 4) throw new FramingError(`invalid message length ${length}`, '08P01');
        if (length > maxMessageSize) {
          throw new FramingError(
            `message of ${length} bytes exceeds the maximum message size of ${maxMessageSize} bytes`,
            '54000',
          );
        }
        total = length + 1;
      }
      if (remaining < total) {
        this.needed = total;
        break;
      }
      onFrame(type, data.subarray(offset, offset + total));
      offset += total;
    }

    if (offset < data.length) {
      const rest = data.subarray(offset);
      this.parts.push(rest);
      this.partsLength = rest.length;
    }
  }

  private headerSize(): number {
    return this.startup ? 4 : 5;
  }
}
