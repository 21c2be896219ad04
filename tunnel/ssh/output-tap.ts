/**
 * The stream every byte of a channel's output passes on its way to the client: masked when the policy
 * asks (TerminalMasker), then shown to the recording. Backpressure flows through it like any pipe.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { TerminalMasker } from './terminal-masker.ts';

export class OutputTap extends Transform {
  private timer: NodeJS.Timeout | undefined;
  /** Values masked so far. */
  masked = 0;

  /**
   * @param holdMs how long text the masker holds back (a line that may continue) waits for more output
   *   before it is sent as it is: short on a terminal, where someone waits for the echo; without it the
   *   text waits for the next chunk or the end of the output.
   */
  constructor(
    private readonly masker: TerminalMasker | undefined,
    private readonly seen: (bytes: Buffer) => void,
    private readonly holdMs?: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.masker) {
      this.seen(chunk);
      callback(null, chunk);
      return;
    }
    clearTimeout(this.timer);
    const result = this.masker.push(chunk);
    this.emitMasked(result.bytes, result.masked);
    if (this.masker.holding && this.holdMs !== undefined) {
      this.timer = setTimeout(() => this.release(), this.holdMs);
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    clearTimeout(this.timer);
    this.release();
    callback();
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    clearTimeout(this.timer);
    callback(error);
  }

  private release(): void {
    if (!this.masker || this.destroyed) return;
    const result = this.masker.flush();
    this.emitMasked(result.bytes, result.masked);
  }

  private emitMasked(bytes: Buffer, masked: number): void {
    this.masked += masked;
    if (bytes.length === 0) return;
    this.seen(bytes);
    this.push(bytes);
  }
}
