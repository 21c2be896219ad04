import type { Writable } from 'node:stream';

/**
 * Holds what a session writes to its sockets until the current event-loop turn ends (cork, then
 * uncork from setImmediate): everything one turn sends to a socket leaves in one write (writev), and
 * `beforeRelease` — the recording's flush — runs once first, so what the client is about to see the
 * outcome of is in the operating system's hands before the client can see it, with one recording
 * write per turn instead of one per statement.
 *
 * setImmediate runs right after the poll phase that delivered the data, so holding a write costs no
 * round trip; libuv does not block in poll while an immediate is pending.
 */
export class TurnWrites {
  private corked: Writable[] = [];
  private spare: Writable[] = [];
  private scheduled = false;

  constructor(private readonly beforeRelease: () => void) {}

  /** Writes `bytes` to `socket` at the end of this turn; returns what socket.write returns (backpressure). */
  write(socket: Writable, bytes: Buffer): boolean {
    if (!this.corked.includes(socket)) {
      socket.cork();
      this.corked.push(socket);
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.release);
    }
    return socket.write(bytes);
  }

  /** Releases the held writes now (before ending a socket, say). */
  readonly release = (): void => {
    this.scheduled = false;
    if (this.corked.length === 0) return;
    this.beforeRelease();
    const corked = this.corked;
    this.corked = this.spare;
    this.spare = corked;
    for (const socket of corked) {
      if (!socket.destroyed) socket.uncork();
    }
    corked.length = 0;
  };
}
