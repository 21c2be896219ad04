/**
 * The recording of one connected tunnel: one hub session, whose chain holds the tunnel's own events
 * (tunnel.open, tunnel.close) and every client connection's events, each tagged with the connection's
 * number. It also keeps the tunnel's live counts, and tells the manager when the spool starts failing so
 * that a policy asking for strict recording can end the sessions.
 */
import type { RecordingPoint, SessionEvent, TunnelTotals } from '../recorder/recording-point.ts';
import { RecordingError, type RecordingSpool } from '../recorder/spool.ts';

export type TunnelCounts = Omit<TunnelTotals, 'bytesFromClient' | 'bytesToClient'> & {
  /** Client connections that reached the upstream since the tunnel opened. */
  connections: number;
  /** Connections the tunnel refused (wrong secret, sign-in or grant ended). */
  refused: number;
};

export class TunnelRecording implements RecordingPoint {
  readonly counts: TunnelCounts = {
    connections: 0,
    refused: 0,
    statements: 0,
    blocked: 0,
    held: 0,
    maskedCells: 0,
  };
  private readonly connectionNumbers = new Map<string, number>();
  private nextConnection = 1;
  /** A look at the spool after its batch write is scheduled. */
  private checkScheduled = false;
  /** The current failure episode has been reported. */
  private reported = false;

  constructor(
    private readonly spool: RecordingSpool,
    readonly sessionId: string,
    private readonly onError: (error: RecordingError) => void,
    /** Sees every connection event after it is counted (the CLI tells its user about holds). */
    private readonly onEvent: (event: SessionEvent) => void = () => {},
  ) {}

  /** The number a client connection has in the recording (`connectionId` is the proxy's own id for it). */
  connectionNumber(connectionId: string): number {
    let connection = this.connectionNumbers.get(connectionId);
    if (connection === undefined) {
      connection = this.nextConnection++;
      this.connectionNumbers.set(connectionId, connection);
    }
    return connection;
  }

  /** A client connection's event. */
  record(connectionId: string, event: SessionEvent): void {
    const connection = this.connectionNumber(connectionId);
    this.count(event);
    this.onEvent(event);
    if (event.type === 'session.end' || event.type === 'auth.failed') {
      this.connectionNumbers.delete(connectionId);
    }
    const tagged: SessionEvent = Object.assign({}, event, { connection });
    this.write(tagged);
  }

  /** The tunnel's own events; throws when the spool refuses them (the tunnel must not open unrecorded). */
  recordTunnel(event: SessionEvent): void {
    this.spool.record(this.sessionId, event);
  }

  private write(event: SessionEvent): void {
    try {
      this.spool.record(this.sessionId, event);
    } catch (error) {
      if (error instanceof RecordingError) this.failed(error);
      else throw error;
    }
    this.checkSpool();
  }

  /**
   * A spool that is not strict (the app's) takes every event and fails only when it writes its batch, at
   * the end of this event-loop turn, without `record` throwing: look once that write has run.
   */
  private checkSpool(): void {
    if (this.checkScheduled) return;
    this.checkScheduled = true;
    setImmediate(() => {
      this.checkScheduled = false;
      if (!this.spool.failing) {
        this.reported = false;
        return;
      }
      const message = this.spool.failureMessage ?? 'the recording spool is failing';
      this.failed(new RecordingError('write-failed', message, { sessionId: this.sessionId }));
    });
  }

  /** Reports a failure once per episode. */
  private failed(error: RecordingError): void {
    if (this.reported) return;
    this.reported = true;
    this.onError(error);
  }

  private count(event: SessionEvent): void {
    switch (event.type) {
      case 'session.start':
        this.counts.connections++;
        return;
      case 'auth.failed':
        this.counts.refused++;
        return;
      case 'statement':
        this.counts.statements++;
        if (event.decision === 'deny') this.counts.blocked++;
        return;
      case 'hold':
        this.counts.held++;
        return;
      case 'result':
        this.counts.maskedCells += event.maskedCells;
        return;
      default:
        return;
    }
  }
}
