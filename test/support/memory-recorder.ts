import type { RecordingPoint, SessionEvent } from '../../tunnel/recorder/recording-point.ts';

/** Keeps every recorded event in memory so tests can read what a session left behind. */
export class MemoryRecorder implements RecordingPoint {
  readonly events: (SessionEvent & { sessionId: string })[] = [];

  record(sessionId: string, event: SessionEvent): void {
    this.events.push({ sessionId, ...event });
  }

  ofType<T extends SessionEvent['type']>(type: T): Extract<SessionEvent, { type: T }>[] {
    return this.events.filter((e) => e.type === type) as unknown as Extract<SessionEvent, { type: T }>[];
  }
}
