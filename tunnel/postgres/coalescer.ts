/**
 * Gathers the messages bound for one socket while a received chunk is processed, so they leave in as
 * few writes as possible: consecutive views of the same received bytes merge back into one view (no
 * copy), and what cannot merge is written in order. One write per chunk is the common case.
 */
const NOTHING: readonly Buffer[] = [];

export class Coalescer {
  private pieces: Buffer[] = [];
  private last: Buffer | undefined;
  private lastLength = 0;

  add(bytes: Buffer): void {
    if (
      this.last &&
      bytes.buffer === this.last.buffer &&
      bytes.byteOffset === this.last.byteOffset + this.lastLength
    ) {
      this.lastLength += bytes.length;
      return;
    }
    this.seal();
    this.last = bytes;
    this.lastLength = bytes.length;
  }

  /** Hands every gathered piece to `write`, in order, and starts over. */
  flush(write: (bytes: Buffer) => void): void {
    for (const piece of this.take()) write(piece);
  }

  /** Every gathered piece, in order; starts over. */
  take(): readonly Buffer[] {
    this.seal();
    if (this.pieces.length === 0) return NOTHING;
    const pieces = this.pieces;
    this.pieces = [];
    return pieces;
  }

  private seal(): void {
    const last = this.last;
    if (!last) return;
    this.pieces.push(
      last.length === this.lastLength ? last : Buffer.from(last.buffer, last.byteOffset, this.lastLength),
    );
    this.last = undefined;
  }
}
