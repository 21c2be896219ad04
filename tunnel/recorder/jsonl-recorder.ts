/**
 * Appends every session event as one JSON line: the standalone `portcullis guard --record FILE`.
 *
 * Durability: each event is written with one synchronous write before `record` returns, so it is in the
 * operating system's hands before the session goes on — before a statement is forwarded, before a result
 * is released to the client. A process killed with SIGKILL loses nothing it recorded; an OS crash or
 * power loss may lose what the OS had not yet written to the disk (the file is fsynced on close).
 *
 * Failures are loud and leave no half line: a write that fails (disk full, file size limit, I/O error) is
 * cut back to the last whole line, reported once through `onFailure`, and every later event is tried
 * again; the first that succeeds is preceded by a `recording.gap` line saying how many events were lost,
 * and `onRecovery` is told.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import type { RecordedEvent, RecordingPoint, SessionEvent } from './recording-point.ts';

export interface JsonLinesRecorderOptions {
  /** Writing started failing (once per episode; the event that failed is lost). */
  onFailure?: (error: Error) => void;
  /** Writing works again, after `lost` events were lost. */
  onRecovery?: (lost: number) => void;
}

export class JsonLinesRecorder implements RecordingPoint {
  private lost = 0;
  private failure: Error | undefined;
  private fd: number | undefined;

  private constructor(
    readonly file: string,
    fd: number,
    private readonly options: JsonLinesRecorderOptions,
  ) {
    this.fd = fd;
  }

  /** Opens FILE for appending (created 0600), failing early — before the tunnel listens — if it cannot. */
  static open(file: string, options: JsonLinesRecorderOptions = {}): JsonLinesRecorder {
    return new JsonLinesRecorder(file, openSync(file, 'a', 0o600), options);
  }

  /** Whether the last write failed (events are being lost). */
  get failing(): boolean {
    return this.failure !== undefined;
  }

  record(sessionId: string, event: SessionEvent): void {
    const line: RecordedEvent = { sessionId, at: new Date().toISOString(), ...event };
    this.append(JSON.stringify(line) + '\n');
  }

  close(): Promise<void> {
    if (this.fd !== undefined) {
      try {
        fsyncSync(this.fd);
      } catch {
        // Closing still releases the file; a failing disk was reported when writing.
      }
      closeSync(this.fd);
      this.fd = undefined;
    }
    return Promise.resolve();
  }

  private append(text: string): void {
    if (this.fd === undefined) {
      this.lost++;
      return;
    }
    const gap = this.failure
      ? JSON.stringify({ type: 'recording.gap', at: new Date().toISOString(), lost: this.lost }) + '\n'
      : '';
    try {
      this.write(Buffer.from(gap + text));
    } catch (error) {
      this.lost++;
      if (!this.failure) {
        this.failure = error as Error;
        this.options.onFailure?.(this.failure);
      }
      return;
    }
    if (this.failure) {
      this.failure = undefined;
      const lost = this.lost;
      this.lost = 0;
      this.options.onRecovery?.(lost);
    }
  }

  /** Writes all of `bytes` or none: a partial write is cut back off the end of the file. */
  private write(bytes: Buffer): void {
    const fd = this.fd!;
    let written = 0;
    try {
      while (written < bytes.length) written += writeSync(fd, bytes, written);
    } catch (error) {
      if (written > 0) {
        try {
          ftruncateSync(fd, fstatSync(fd).size - written);
        } catch {
          // The half line stays; the failure itself is what gets reported.
        }
      }
      throw error;
    }
  }
}
