/**
 * A relay's side of a connection's start: TLS first (the user's tunnel verifies the relay's certificate),
 * then a startup packet whose user is the user's session, and the user's access token asked for as a
 * cleartext password, inside that TLS. Nothing is admitted here: the hub decides (relay-server.ts).
 * A CancelRequest, over TLS or not, is handed back for the server to match against its keys.
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { FramingError, MessageFramer, TLS_RECORD, UNTAGGED } from '../postgres/wire/framer.ts';
import { readStartupPacket } from '../postgres/wire/startup.ts';
import { Frontend, MAX_AUTHENTICATION_MESSAGE_LENGTH, StartupCode } from '../postgres/wire/codes.ts';
import { int32 } from '../postgres/wire/bytes.ts';

export type RelayStart =
  | { kind: 'connect'; socket: TLSSocket; sessionId: string; token: string; parameters: Map<string, string> }
  | { kind: 'cancel'; processId: number; secretKey: Buffer };

/** The connection cannot go on: `code` and `message` go to the client as a FATAL when it speaks Postgres. */
export class RelayRefusal extends Error {
  override name = 'RelayRefusal';
  constructor(
    message: string,
    readonly code: string,
    /** The socket to answer on (the TLS one once it is up); undefined: close without a word. */
    readonly socket: Socket | undefined,
  ) {
    super(message);
  }
}

const ACCEPT_TLS = Buffer.from('S');
const ASK_CLEARTEXT = Buffer.concat([Buffer.from('R'), int32(8), int32(3)]);

/** Runs the start of one accepted connection; rejects with a RelayRefusal. */
export async function relayHandshake(
  raw: Socket,
  secureContext: SecureContext,
  timeoutMs: number,
): Promise<RelayStart> {
  const deadline = setTimeout(
    () => raw.destroy(new Error('the connection did not start in time')),
    timeoutMs,
  );
  deadline.unref();
  try {
    const reader = new FrameReader(raw);
    const first = await reader.next();
    // Bytes sent before TLS is up would be read as if they came over it (CVE-2021-23214): refused.
    const early = reader.release({ pause: false });
    if (first.type === TLS_RECORD) throw new RelayRefusal('direct TLS is not offered', '08P01', undefined);
    const packet = readStartupPacket(first.frame);
    if (packet.cancel) return { kind: 'cancel', ...packet.cancel };
    if (packet.code !== StartupCode.sslRequest) {
      throw new RelayRefusal(
        'the relay accepts connections over TLS only (sslmode=verify-full)',
        '28000',
        raw,
      );
    }
    if (early > 0) throw new RelayRefusal('unexpected data after the TLS request', '08P01', undefined);
    raw.write(ACCEPT_TLS);
    const socket = await startTls(raw, secureContext);
    return await signIn(socket);
  } finally {
    clearTimeout(deadline);
  }
}

async function signIn(socket: TLSSocket): Promise<RelayStart> {
  const reader = new FrameReader(socket);
  const { type, frame } = await reader.next();
  if (type !== UNTAGGED) throw new RelayRefusal('expected a startup packet', '08P01', socket);
  const packet = readStartupPacket(frame);
  if (packet.cancel) return { kind: 'cancel', ...packet.cancel };
  if (packet.code >> 16 !== 3) throw new RelayRefusal('unsupported frontend protocol', '0A000', socket);
  const sessionId = packet.parameters.get('user') ?? '';
  if (!/^[0-9a-f-]{36}$/i.test(sessionId)) {
    throw new RelayRefusal(
      'the user must be your Portcullis session id: connect with `portcullis connect`',
      '28000',
      socket,
    );
  }
  const replication = packet.parameters.get('replication');
  if (replication && replication !== 'false') {
    throw new RelayRefusal('replication connections are not allowed through Portcullis', '42501', socket);
  }
  reader.expectTagged();
  socket.write(ASK_CLEARTEXT);
  const answer = await reader.next();
  if (answer.type !== Frontend.password)
    throw new RelayRefusal('expected a password message', '08P01', socket);
  // Nothing may follow before AuthenticationOk: the session's own framer starts after it.
  if (reader.release() > 0) throw new RelayRefusal('unexpected data during authentication', '08P01', socket);
  const token = answer.frame.subarray(5, answer.frame.length - 1).toString('utf8');
  return { kind: 'connect', socket, sessionId, token, parameters: packet.parameters };
}

function startTls(raw: Socket, secureContext: SecureContext): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = new TLSSocket(raw, { isServer: true, secureContext });
    const fail = (error: Error): void => {
      socket.destroy();
      reject(new RelayRefusal(`TLS failed: ${error.message}`, '08P01', undefined));
    };
    const closed = (): void => fail(new Error('closed during the TLS handshake'));
    socket.once('error', fail);
    socket.once('close', closed);
    socket.once('secure', () => {
      // Only our own listeners: the socket's own 'close' listener frees its TLS state.
      socket.off('error', fail);
      socket.off('close', closed);
      resolve(socket);
    });
  });
}

/** Reads whole startup-phase messages from a socket until released, a few kilobytes at most each. */
class FrameReader {
  private readonly framer = new MessageFramer({
    maxMessageSize: MAX_AUTHENTICATION_MESSAGE_LENGTH,
    startup: true,
  });
  private readonly frames: { type: number; frame: Buffer }[] = [];
  private waiting:
    { resolve: (f: { type: number; frame: Buffer }) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  private readonly onData = (chunk: Buffer): void => {
    try {
      this.framer.push(chunk, (type, frame) => this.frames.push({ type, frame: Buffer.from(frame) }));
    } catch (error) {
      const code = error instanceof FramingError ? error.code : '08P01';
      this.fail(new RelayRefusal((error as Error).message, code, undefined));
    }
    this.wake();
  };
  private readonly onEnd = (): void =>
    this.fail(new RelayRefusal('the client went away', '08006', undefined));

  constructor(private readonly socket: Socket) {
    socket.on('data', this.onData);
    socket.once('close', this.onEnd);
    socket.once('error', this.onEnd);
  }

  expectTagged(): void {
    this.framer.expectTagged();
  }

  next(): Promise<{ type: number; frame: Buffer }> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.wake();
    });
  }

  /** Stops reading; returns the bytes received beyond the messages read. */
  release(options: { pause: boolean } = { pause: true }): number {
    this.socket.off('data', this.onData);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onEnd);
    if (options.pause) this.socket.pause();
    return this.framer.bufferedBytes + this.frames.reduce((n, f) => n + f.frame.length, 0);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.wake();
  }

  private wake(): void {
    const waiting = this.waiting;
    if (!waiting) return;
    const frame = this.frames.shift();
    if (frame) {
      this.waiting = undefined;
      waiting.resolve(frame);
    } else if (this.failure) {
      this.waiting = undefined;
      waiting.reject(this.failure);
    }
  }
}
