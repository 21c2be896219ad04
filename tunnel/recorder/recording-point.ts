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
  /** Recorded by a relay started over the spool of one that died while serving this connection. */
  | { type: 'relay.abandoned'; reason: string; process: { pid: number; host: string } }
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
    }
  | SshEvent;

/**
 * One line of a recording file: `sessionId` is the client connection's id (the record point's
 * `connectionId`), named as recording files have always named it.
 */
export type RecordedEvent = SessionEvent & { sessionId: string; at: string };

// ---------------------------------------------------------------------------------------------------
// SSH connections (tunnel/ssh): the same chain carries them, each tagged with its connection number.

/** What a session channel runs: a shell, a command, a subsystem (sftp). */
export type SshChannelKind = 'shell' | 'exec' | 'subsystem';

export type SshEvent =
  | {
      type: 'ssh.start';
      client: { address: string; port: number; user: string; auth: 'publickey' | 'password' };
      upstream: { host: string; port: number; user: string; hostKey: string; via?: string };
    }
  | {
      type: 'ssh.channel';
      channel: number;
      kind: SshChannelKind;
      command?: string;
      subsystem?: string;
      pty?: { term: string; cols: number; rows: number };
      env?: Record<string, string>;
    }
  /** A command line judged (like a `statement`): the final decision, after any hold. */
  | {
      type: 'ssh.exec';
      channel: number;
      command: string;
      decision: 'allow' | 'deny';
      rule: string;
      reason?: string;
      classes: readonly string[];
      commands: readonly { name: string; classes: readonly string[] }[];
      wouldHave?: 'deny' | 'hold';
    }
  /** An interactive shell started, or was refused (policy `shell:`). */
  | {
      type: 'ssh.shell';
      channel: number;
      decision: 'allow' | 'deny';
      rule: string;
      reason?: string;
      wouldHave?: 'deny' | 'hold';
    }
  /** A command line typed in an interactive shell that exec rules would not have allowed: recorded, not blocked. */
  | {
      type: 'ssh.line';
      channel: number;
      line: string;
      verdict: 'approve' | 'block';
      rule: string;
      classes: readonly string[];
    }
  /**
   * Terminal output, input and resizes as asciicast v2 events: `t` is seconds since the channel started,
   * `data` the text (output masked when the policy asks), or "COLSxROWS" for `r`.
   */
  | { type: 'term'; channel: number; t: number; code: 'o' | 'i' | 'r'; data: string; stream?: 'stderr' }
  /** A channel ended: the exit status or signal passed to the client, and what moved. */
  | {
      type: 'ssh.exit';
      channel: number;
      status?: number;
      signal?: string;
      bytesFromClient: number;
      bytesToClient: number;
      /** Output not recorded because it passed the policy's limit for commands without a terminal. */
      unrecordedBytes?: number;
    }
  /** One sftp operation; reads and writes are recorded per open file, with their byte totals at close. */
  | {
      type: 'sftp';
      channel: number;
      op: string;
      path?: string;
      target?: string;
      mode?: string;
      decision: 'allow' | 'deny';
      status?: string;
      bytesRead?: number;
      bytesWritten?: number;
    }
  | {
      type: 'forward';
      channel: number;
      direction: 'local';
      destination: { host: string; port: number };
      origin: { host: string; port: number };
      decision: 'allow' | 'deny';
      rule: string;
      /** Set when the forward ended. */
      bytesFromClient?: number;
      bytesToClient?: number;
      closed?: boolean;
      error?: string;
    }
  /** The tunnel's SSH connection to the bastion a Postgres target is reached through. */
  | {
      type: 'ssh.bastion';
      state: 'connected' | 'closed';
      via: string;
      host: string;
      port: number;
      user: string;
      hostKey: string;
    }
  /** Something the client asked for that the tunnel refused: remote/agent/X11 forwarding, an env variable. */
  | { type: 'ssh.refused'; channel?: number; what: string; detail?: string; rule: string };

export interface RecordingPoint {
  /** Records `event` of the client connection `connectionId` (the tunnel's own id for it). */
  record(connectionId: string, event: SessionEvent): void;
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
    record: (connectionId, event) => point.record(connectionId, rewrite(event)),
    ...(point.flush ? { flush: () => point.flush!() } : {}),
    ...(point.close ? { close: () => point.close!() } : {}),
  };
}
