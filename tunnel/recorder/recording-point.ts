/**
 * The one place every session event passes through. The proxy emits events here and never decides
 * where they go: a JSON-lines file for `portcullis guard --record`, the local spool that syncs to the
 * hub in the connected app.
 */

export interface ClientInfo {
  address: string;
  port: number;
  user: string;
  database: string;
  applicationName?: string;
  /** The run-time settings the client asked for at startup and the tunnel passed on to the server. */
  settings?: Record<string, string>;
}

export interface UpstreamInfo {
  host: string;
  port: number;
  database: string;
  user: string;
  tls: boolean;
  authMechanism: string;
}

/** What a connected tunnel's recording says about the tunnel as a whole (one hub session per tunnel). */
export interface TunnelTotals {
  connections: number;
  statements: number;
  blocked: number;
  held: number;
  maskedCells: number;
  bytesFromClient: number;
  bytesToClient: number;
}

export type SessionEvent =
  | {
      type: 'tunnel.open';
      identity: { subject: string; name: string; kind: string };
      target: { id: string; name: string };
      listen: string;
      policy: string;
      grantExpiresAt: string | null;
      /** The process that runs the tunnel: a later run ends the session if this one died. */
      process: { pid: number; host: string };
    }
  | ({ type: 'tunnel.close'; reason: string } & TunnelTotals)
  /** Recorded by a later run for a tunnel whose process ended without closing it (killed, crashed). */
  | { type: 'tunnel.abandoned'; reason: string; process: { pid: number; host: string } }
  /** A relay began serving one connection of the user's session `session` (its own hub session). */
  | {
      type: 'relay.open';
      identity: { subject: string; name: string; kind: string };
      target: { id: string; name: string };
      session: string;
      client: { address: string; port: number };
      policy: string;
      grantExpiresAt: string | null;
      process: { pid: number; host: string };
    }
  | ({ type: 'relay.close'; reason: string; refused: number } & Omit<
      TunnelTotals,
      'bytesFromClient' | 'bytesToClient'
    >)
  | { type: 'session.start'; client: ClientInfo; upstream: UpstreamInfo }
  | {
      type: 'statement';
      /** `startup`: a setting in the startup packet, judged as the SET that would make it. */
      protocol: 'simple' | 'extended' | 'function-call' | 'startup';
      sql: string;
      decision: 'allow' | 'deny';
      rule?: string;
      reason?: string;
      classes?: readonly string[];
      /** Under `observe`: what enforcement would have done. */
      wouldHave?: 'deny' | 'hold';
    }
  | { type: 'hold'; request: string; sql: string; rule: string }
  | {
      type: 'hold.resolved';
      request: string;
      outcome: 'approved' | 'denied' | 'timeout' | 'cancelled';
      by?: string;
      comment?: string;
    }
  | { type: 'result'; command: string; rows: number; maskedCells: number; durationMs: number }
  | { type: 'error'; code: string; message: string; severity: string }
  | { type: 'auth.failed'; client: Omit<ClientInfo, 'database' | 'user'> & { user?: string }; reason: string }
  | { type: 'cancel'; forwarded: boolean }
  | {
      type: 'session.end';
      reason: string;
      bytesFromClient: number;
      bytesToClient: number;
      statements: number;
    };

export type RecordedEvent = SessionEvent & { sessionId: string; at: string };

export interface RecordingPoint {
  record(sessionId: string, event: SessionEvent): void;
  /**
   * Writes now what `record` buffered; the session calls it before it releases anything to the
   * client, so that what the client has seen the result of is recorded.
   */
  flush?(): void;
  /** Flushes whatever is buffered; called when the tunnel closes. */
  close?(): Promise<void>;
}

export const recordNothing: RecordingPoint = { record: () => {} };

/**
 * A recording point that records `rewrite(event)` in `point`, and flushes and closes as `point` does:
 * a wrapper that dropped `flush` would let clients see results whose events are not yet written.
 */
export function rewritingEvents(
  point: RecordingPoint,
  rewrite: (event: SessionEvent) => SessionEvent,
): RecordingPoint {
  return {
    record: (sessionId, event) => point.record(sessionId, rewrite(event)),
    ...(point.flush ? { flush: () => point.flush!() } : {}),
    ...(point.close ? { close: () => point.close!() } : {}),
  };
}
