import { connect, type Socket } from 'node:net';
import { serialize } from 'pg-protocol';
import { MessageFramer } from '../../tunnel/postgres/wire/framer.ts';
import { ScramClient } from '../../tunnel/postgres/wire/scram.ts';

/** A message as the server sent it: its type letter and whole bytes. */
export interface RawMessage {
  type: string;
  bytes: Buffer;
}

/**
 * A byte-level PostgreSQL client for tests that must control exactly what goes on the wire
 * (splits, garbage, pipelining) and see exactly what comes back.
 */
export class RawClient {
  private readonly framer = new MessageFramer({ maxMessageSize: 1 << 30 });
  private readonly queue: RawMessage[] = [];
  private waiter: (() => void) | undefined;
  closed = false;
  bytesReceived = 0;
  /** The BackendKeyData the server handed out at login, for CancelRequest. */
  backendKey: { processId: number; secretKey: Buffer } | undefined;

  /** Frames what arrives and queues each message for `next()`. */
  private readonly onData = (chunk: Buffer): void => {
    this.bytesReceived += chunk.length;
    this.framer.push(chunk, (type, bytes) => this.queue.push({ type: String.fromCharCode(type), bytes }));
    this.wake();
  };

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  /** `allowHalfOpen`: keep sending after the server has closed its side, as a hostile client would. */
  static async open(
    port: number,
    host = '127.0.0.1',
    options: { allowHalfOpen?: boolean } = {},
  ): Promise<RawClient> {
    const socket = connect({ port, host, allowHalfOpen: options.allowHalfOpen ?? false });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  /** Opens a connection and authenticates with SCRAM-SHA-256, returning after the first ReadyForQuery. */
  static async login(port: number, user: string, password: string, database = user): Promise<RawClient> {
    const client = await RawClient.open(port);
    await client.authenticate(user, password, database);
    return client;
  }

  /** A client over a connection opened elsewhere (a TLS socket, say). */
  static over(socket: Socket): RawClient {
    return new RawClient(socket);
  }

  /** Sends the startup packet and signs in with SCRAM-SHA-256, up to the first ReadyForQuery. */
  async authenticate(user: string, password: string, database = user): Promise<void> {
    this.write(serialize.startup({ user, database }));
    const sasl = await this.next();
    if (sasl.type === 'E') throw new Error(`server error: ${errorMessage(sasl.bytes)}`);
    if (sasl.type !== 'R') throw new Error(`expected authentication request, got ${sasl.type}`);
    const scram = new ScramClient(password);
    this.write(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', scram.clientFirst()));
    const cont = await this.expectAuth(11);
    this.write(serialize.sendSCRAMClientFinalMessage(scram.handleServerFirst(cont)));
    scram.verifyServerFinal(await this.expectAuth(12));
    const key = (await this.until('Z')).find((m) => m.type === 'K');
    if (key) {
      this.backendKey = {
        processId: key.bytes.readInt32BE(5),
        secretKey: Buffer.from(key.bytes.subarray(9)),
      };
    }
  }

  /**
   * Sends a CancelRequest on a connection of its own, as libpq's PQcancel does, and returns once the
   * server has closed that connection (it closes it after signalling the backend).
   */
  static async cancel(
    port: number,
    key: { processId: number; secretKey: Buffer },
    host = '127.0.0.1',
  ): Promise<void> {
    const socket = connect(port, host);
    const request = Buffer.alloc(12 + key.secretKey.length);
    request.writeInt32BE(request.length, 0);
    request.writeInt32BE(80877102, 4);
    request.writeInt32BE(key.processId, 8);
    key.secretKey.copy(request, 12);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('connect', () => socket.write(request));
      socket.on('data', () => {});
      socket.once('close', () => resolve());
    });
  }

  private async expectAuth(code: number): Promise<string> {
    const message = await this.next();
    if (message.type === 'E') throw new Error(`server error: ${errorMessage(message.bytes)}`);
    if (message.type !== 'R' || message.bytes.readInt32BE(5) !== code) {
      throw new Error(`expected authentication code ${code}`);
    }
    return message.bytes.toString('utf8', 9);
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  async next(): Promise<RawMessage> {
    while (this.queue.length === 0) {
      if (this.closed) throw new Error('connection closed');
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    return this.queue.shift()!;
  }

  /** Collects messages up to and including the first one of the given type. */
  async until(type: string): Promise<RawMessage[]> {
    const messages: RawMessage[] = [];
    for (;;) {
      const message = await this.next();
      messages.push(message);
      if (message.type === type) return messages;
    }
  }

  /** Waits for the server to close the connection, returning what it sent before. */
  async closedAfter(): Promise<RawMessage[]> {
    const messages: RawMessage[] = [];
    for (;;) {
      try {
        messages.push(await this.next());
      } catch {
        return messages;
      }
    }
  }

  /**
   * Reads and discards everything up to the next ReadyForQuery, counting rows, without queueing
   * messages: for results too large to hold, and for benchmarks where the client must not be the
   * bottleneck.
   */
  async discardUntilReady(): Promise<{ rows: number }> {
    if (this.queue.length > 0) throw new Error('discardUntilReady needs an empty queue');
    let rows = 0;
    let done = false;
    const framer = new MessageFramer({ maxMessageSize: 1 << 30 });
    this.socket.removeAllListeners('data');
    await new Promise<void>((resolve, reject) => {
      const onClose = (): void => reject(new Error('connection closed'));
      this.socket.once('close', onClose);
      this.socket.on('data', (chunk: Buffer) => {
        this.bytesReceived += chunk.length;
        framer.push(chunk, (type, bytes) => {
          if (done) this.queue.push({ type: String.fromCharCode(type), bytes });
          else if (type === 0x44) rows++;
          else if (type === 0x5a) done = true;
        });
        if (done) {
          this.socket.off('close', onClose);
          resolve();
        }
      });
    });
    this.socket.removeAllListeners('data');
    this.socket.on('data', this.onData);
    return { rows };
  }

  end(): void {
    this.socket.end(serialize.end());
  }
}

/** The M (message) field of an ErrorResponse or NoticeResponse. */
export function errorMessage(bytes: Buffer): string {
  return errorField(bytes, 'M');
}

export function errorField(bytes: Buffer, field: string): string {
  let offset = 5;
  while (offset < bytes.length && bytes[offset] !== 0) {
    const end = bytes.indexOf(0, offset + 1);
    if (String.fromCharCode(bytes[offset]!) === field) return bytes.toString('utf8', offset + 1, end);
    offset = end + 1;
  }
  return '';
}

/**
 * The client's side of a SCRAM sign-in on `socket` (whose startup message the caller sends): answers the
 * server's SASL requests with `password`, calls `proofSent` once the final message is written, and hands
 * every other message to `other` — where a wrong password meets its FATAL. `stage` says how far it got:
 * 0 startup sent, 1 first message sent, 2 proof sent.
 */
export function scramClientSide(
  socket: Socket,
  password: string,
  handlers: { proofSent?(): void; other(data: Buffer): void },
): { readonly stage: 0 | 1 | 2 } {
  const scram = new ScramClient(password);
  const progress = { stage: 0 as 0 | 1 | 2 };
  socket.on('data', (data: Buffer) => {
    if (progress.stage === 0 && data[0] === 0x52) {
      progress.stage = 1;
      socket.write(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', scram.clientFirst()));
    } else if (progress.stage === 1 && data[0] === 0x52) {
      progress.stage = 2;
      socket.write(serialize.sendSCRAMClientFinalMessage(scram.handleServerFirst(data.toString('utf8', 9))));
      handlers.proofSent?.();
    } else handlers.other(data);
  });
  return progress;
}
