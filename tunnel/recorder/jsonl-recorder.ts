/**
 * Appends every session event as one JSON line: the standalone `portcullis guard --record FILE`.
 *
 * Writing: the events of one event-loop turn are gathered and written together, with one synchronous
 * write, at the end of the turn — and before the session releases anything to the client (the session
 * calls `flush` first; a statement itself goes to the server without waiting for it). A statement's events
 * are therefore in the operating system's hands before the client has its result, and the write is
 * shared by every connection of the turn and made while the server runs the statement: a process killed with
 * SIGKILL loses no event of a result the client has seen, only events of the current turn that nobody
 * has seen the outcome of. An OS crash or power loss may lose what the OS had not yet written to the
 * disk (the file is fsynced on close). `writeThrough` (a policy with `recording: strict`) writes each
 * event before `record` returns instead, so no statement is forwarded before its event is written.
 *
 * Failures are loud and leave no half line: a write that fails (disk full, file size limit, I/O error) is
 * cut back to the last whole line, reported once through `onFailure`, and every later event is tried
 * again; the first write that succeeds is preceded by a `recording.gap` line saying how many events were
 * lost, and `onRecovery` is told.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { eventTime } from './event-time.ts';
import type { RecordedEvent, RecordingPoint, SessionEvent } from './recording-point.ts';

export interface JsonLinesRecorderOptions {
  /** Writing started failing (once per episode; the event that failed is lost). */
  onFailure?: (error: Error) => void;
  /** Writing works again, after `lost` events were lost. */
  onRecovery?: (lost: number) => void;
  /** Write each event before `record` returns, instead of once per event-loop turn. */
  writeThrough?: boolean;
}

export class JsonLinesRecorder implements RecordingPoint {
  private lost = 0;
  private failure: Error | undefined;
  private fd: number | undefined;
  /** Lines recorded and not yet written, in order. */
  private pending: string[] = [];
  private flushScheduled = false;

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

  record(connectionId: string, event: SessionEvent): void {
    // The file's field keeps its name `sessionId`: replay, audit and users' own tools read it.
    const line: RecordedEvent = { sessionId: connectionId, at: eventTime(), ...event };
    this.pending.push(JSON.stringify(line) + '\n');
    if (this.options.writeThrough) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushAtEndOfTurn);
    }
  }

  /** Writes what was recorded and not yet written. */
  flush(): void {
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    this.append(lines.length === 1 ? lines[0]! : lines.join(''), lines.length);
  }

  private readonly flushAtEndOfTurn = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  close(): Promise<void> {
    this.flush();
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

  /** Appends `text`, `events` whole lines, or counts them lost. */
  private append(text: string, events: number): void {
    if (this.fd === undefined) {
      this.lost += events;
      return;
    }
    const gap = this.failure
      ? JSON.stringify({ type: 'recording.gap', at: new Date().toISOString(), lost: this.lost }) + '\n'
      : '';
    try {
      this.write(Buffer.from(gap + text));
    } catch (error) {
      this.lost += events;
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
