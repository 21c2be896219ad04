import { createWriteStream, type WriteStream } from 'node:fs';
import type { RecordedEvent, RecordingPoint, SessionEvent } from './recording-point.ts';

/** Appends every session event as one JSON line: the standalone `portcullis guard --record FILE`. */
export class JsonLinesRecorder implements RecordingPoint {
  private readonly out: WriteStream;

  private constructor(out: WriteStream) {
    this.out = out;
  }

  /** Opens FILE for appending, failing early (before the tunnel listens) if it cannot be written. */
  static async open(file: string): Promise<JsonLinesRecorder> {
    const out = createWriteStream(file, { flags: 'a', mode: 0o600 });
    await new Promise<void>((resolve, reject) => {
      out.once('open', () => resolve());
      out.once('error', reject);
    });
    return new JsonLinesRecorder(out);
  }

  record(sessionId: string, event: SessionEvent): void {
    const line: RecordedEvent = { sessionId, at: new Date().toISOString(), ...event };
    this.out.write(JSON.stringify(line) + '\n');
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }
}
