/**
 * A recorded session made readable: what each event says for people, the transcript `portcullis replay`
 * prints, and the timeline the desktop app shows — statements and decisions, holds and who decided them,
 * results with masked-cell counts, and whether the hash chain verifies.
 */
import type { HubClient, RequestOptions } from '../hub-client/index.ts';
import type { RecordedEvent, RecordingAnomaly, SessionSummary } from '../../hub/api/types.ts';
import type { SessionEvent } from '../recorder/recording-point.ts';
import { describeSshEvent, sshTimelineKind } from './ssh-transcript.ts';

export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "4 ms", "232.8 ms": a duration as people read it (the recording keeps the full precision). */
function milliseconds(ms: number): string {
  return `${Number.isInteger(ms) ? ms : ms.toFixed(1)} ms`;
}

/** "09:30:01.250": the time of day of an ISO-8601 UTC time (the transcript's header gives the date). */
function clock(iso: string): string {
  return /T(\d{2}:\d{2}:\d{2}(?:\.\d{3})?)/.exec(iso)?.[1] ?? iso;
}

function quoted(text: string | undefined): string {
  return text ? ` ("${text}")` : '';
}

/** The number a connected tunnel tags each client connection's events with, if any. */
export function connectionOf(event: Pick<RecordedEvent, 'payload'>): number | null {
  const connection = (event.payload as { connection?: unknown } | null)?.connection;
  return typeof connection === 'number' ? connection : null;
}

/** What one recorded event says, for people. Unknown types are shown with their payload. */
export function describeEvent(event: Pick<RecordedEvent, 'type' | 'payload'>): string {
  const connection = connectionOf(event);
  const text = describePayload(event);
  return connection === null ? text : `[${connection}] ${text}`;
}

export function describePayload(event: Pick<RecordedEvent, 'type' | 'payload'>): string {
  const e = { type: event.type, ...(event.payload as object) } as SessionEvent;
  switch (e.type) {
    case 'tunnel.open': {
      if (!e.identity || !e.target) break;
      const grant = e.grantExpiresAt ? `, access until ${e.grantExpiresAt}` : '';
      return `tunnel open: ${e.identity.name} (${e.identity.subject}, ${e.identity.kind}) to ${e.target.name} (${e.target.id}) on ${e.listen}, policy ${e.policy}${grant}`;
    }
    case 'tunnel.close':
      return `tunnel closed (${e.reason}): ${count(e.connections, 'connection')}, ${count(e.statements, 'statement')}, ${e.blocked} blocked, ${e.held} held, ${count(e.maskedCells, 'masked cell')}`;
    case 'tunnel.abandoned':
      return `tunnel abandoned: ${e.reason}`;
    case 'relay.open':
      if (!e.identity || !e.target) break;
      return `relay connection: ${e.identity.name} (${e.identity.subject}) to ${e.target.name} (${e.target.id}) from ${e.client?.address}, session ${e.session}, policy ${e.policy}`;
    case 'relay.abandoned':
      return `relay connection abandoned: ${e.reason}`;
    case 'relay.close':
      return `relay connection closed (${e.reason}): ${count(e.statements, 'statement')}, ${e.blocked} blocked, ${e.held} held, ${count(e.maskedCells, 'masked cell')}`;
    case 'session.start': {
      if (!e.client || !e.upstream) break;
      const app = e.client?.applicationName ? `, ${e.client.applicationName}` : '';
      return `session start: ${e.client.user}@${e.client.database} from ${e.client.address}${app} → ${e.upstream.user}@${e.upstream.host}:${e.upstream.port}/${e.upstream.database}${e.upstream.tls ? ' (TLS)' : ''}`;
    }
    case 'statement': {
      const classes = e.classes?.length ? ` [${e.classes.join(', ')}]` : '';
      const verdict =
        e.decision === 'deny'
          ? `DENIED${e.rule ? ` by ${e.rule}` : ''}${e.reason ? ` (${e.reason})` : ''}`
          : `allowed${e.wouldHave ? ` (would ${e.wouldHave} under enforcement${e.rule ? `: ${e.rule}` : ''})` : ''}`;
      const startup = e.protocol === 'startup' ? ' (a startup setting)' : '';
      return `${verdict}${classes}: ${e.sql}${startup}`;
    }
    case 'hold':
      return `HELD for approval (request ${e.request}${e.rule ? `, ${e.rule}` : ''}): ${e.sql}`;
    case 'hold.resolved':
      return `hold ${e.request} ${e.outcome}${e.by ? ` by ${e.by}` : ''}${quoted(e.comment)}`;
    case 'result':
      return `result ${e.command}: ${count(e.rows, 'row')}, ${count(e.maskedCells, 'masked cell')}, ${milliseconds(e.durationMs)}`;
    case 'error':
      return `error ${e.code} (${e.severity}): ${e.message}`;
    case 'auth.failed':
      return `local sign-in refused from ${e.client?.address}: ${e.reason}`;
    case 'cancel':
      return `cancel request ${e.forwarded ? 'forwarded to the server' : 'not forwarded'}`;
    case 'session.end':
      return `session end (${e.reason}): ${count(e.statements, 'statement')}, ${e.bytesFromClient} bytes in, ${e.bytesToClient} bytes out`;
    default:
      return describeSshEvent(e) ?? `${event.type}: ${JSON.stringify(event.payload)}`;
  }
  return `${event.type}: ${JSON.stringify(event.payload)}`;
}

function chainMark(event: RecordedEvent): string {
  if (event.chainOk === false) return '  [TAMPERED OR MISLINKED]';
  if (event.chainOk === null) return '  [unverified: an earlier event is missing]';
  return '';
}

export function transcriptLine(event: RecordedEvent): string {
  return `${clock(event.at)}  #${event.seq}  ${describeEvent(event)}${chainMark(event)}`;
}

export function transcriptHeader(session: SessionSummary): string {
  const closed = session.closedAt
    ? `closed ${session.closedAt}${session.closeReason ? ` (${session.closeReason})` : ''}`
    : session.status;
  return `Session ${session.id} on ${session.targetId} by ${session.displayName} (${session.subject})\nopened ${session.openedAt}, ${closed}; times are UTC\n`;
}

/** Whether the session's hash chain verifies, in one sentence. */
export function chainVerdict(session: SessionSummary): string {
  switch (session.chainStatus) {
    case 'ok':
      return session.lastSeq === 0
        ? 'chain: ok, nothing recorded yet'
        : `chain: ok, events 1–${session.lastSeq} verified`;
    case 'incomplete':
      return `chain: incomplete, events 1–${session.lastSeq} verified; events up to #${session.maxSeq} received, some in between missing`;
    default:
      return 'chain: BROKEN, the recording was altered or lost events: the marked events and the anomalies below say where';
  }
}

export function transcriptFooter(session: SessionSummary, anomalies: readonly RecordingAnomaly[]): string {
  const lines = ['', chainVerdict(session)];
  lines.push(
    `${count(session.statementCount, 'statement')}, ${session.deniedCount} denied, ${session.heldCount} held`,
  );
  if (anomalies.length > 0) {
    lines.push(`anomalies:`);
    for (const a of anomalies) {
      lines.push(`  ${a.seq === null ? '-' : `#${a.seq}`}  ${a.kind}  ${JSON.stringify(a.detail)}`);
    }
  }
  return lines.join('\n');
}

const EVENTS_PAGE = 1000;

/** A session's recorded events from the hub, in seq order, a page at a time. */
export async function* sessionEvents(
  hub: HubClient,
  sessionId: string,
  options: RequestOptions & { afterSeq?: number; pageSize?: number } = {},
): AsyncGenerator<RecordedEvent, void, void> {
  const limit = options.pageSize ?? EVENTS_PAGE;
  let afterSeq = options.afterSeq ?? 0;
  for (;;) {
    const page = await hub.sessionEvents(
      sessionId,
      { afterSeq, limit },
      options.signal ? { signal: options.signal } : {},
    );
    for (const event of page) {
      yield event;
      afterSeq = event.seq;
    }
    if (page.length < limit) return;
  }
}

/** The kind of step a timeline shows an event as. */
export type TimelineKind =
  'tunnel' | 'connection' | 'statement' | 'denied' | 'hold' | 'decision' | 'result' | 'error' | 'other';

export interface TimelineEntry {
  seq: number;
  at: string;
  type: string;
  kind: TimelineKind;
  /** The client connection the event belongs to (a connected tunnel numbers them). */
  connection: number | null;
  /** What happened, for people (describePayload). */
  text: string;
  /** `text` without the statement at its end, for a view that shows the statement on its own. */
  summary: string;
  /** The statement, for statements and holds. */
  sql: string | null;
  /** Cells masked in a result. */
  maskedCells: number;
  /** `ok`: verified against its predecessor; `tampered`: altered or mislinked; `unverified`: a gap before it. */
  chain: 'ok' | 'tampered' | 'unverified';
}

function timelineKind(event: SessionEvent): TimelineKind {
  switch (event.type) {
    case 'tunnel.open':
    case 'tunnel.close':
    case 'tunnel.abandoned':
    case 'relay.open':
    case 'relay.abandoned':
    case 'relay.close':
      return 'tunnel';
    case 'session.start':
    case 'session.end':
    case 'auth.failed':
    case 'cancel':
      return 'connection';
    case 'statement':
      return event.decision === 'deny' ? 'denied' : 'statement';
    case 'hold':
      return 'hold';
    case 'hold.resolved':
      return 'decision';
    case 'result':
      return 'result';
    case 'error':
      return 'error';
    default:
      return sshTimelineKind(event) ?? 'other';
  }
}

export function timelineEntry(event: RecordedEvent): TimelineEntry {
  const e = { type: event.type, ...(event.payload as object) } as SessionEvent;
  const sql = e.type === 'statement' || e.type === 'hold' ? e.sql : null;
  const text = describePayload(event);
  const tail = typeof sql === 'string' ? `: ${sql}` : null;
  return {
    seq: event.seq,
    at: event.at,
    type: event.type,
    kind: timelineKind(e),
    connection: connectionOf(event),
    text,
    summary: tail && text.endsWith(tail) ? text.slice(0, -tail.length) : text,
    sql: typeof sql === 'string' ? sql : null,
    maskedCells: e.type === 'result' && typeof e.maskedCells === 'number' ? e.maskedCells : 0,
    chain: event.chainOk === true ? 'ok' : event.chainOk === false ? 'tampered' : 'unverified',
  };
}

export interface Replay {
  session: SessionSummary;
  entries: TimelineEntry[];
  anomalies: RecordingAnomaly[];
  /** chainVerdict(session). */
  chain: string;
  /** More events were recorded than `maxEvents`: the timeline shows the first ones. */
  truncated: boolean;
}

/** A session as a timeline, its anomalies and its chain's verdict (at most `maxEvents` events). */
export async function replaySession(
  hub: HubClient,
  sessionId: string,
  options: RequestOptions & { maxEvents?: number } = {},
): Promise<Replay> {
  const max = options.maxEvents ?? 10_000;
  const session = await hub.session(sessionId, options);
  const entries: TimelineEntry[] = [];
  let truncated = false;
  for await (const event of sessionEvents(hub, sessionId, { ...options, pageSize: Math.min(max, 1000) })) {
    if (entries.length === max) {
      truncated = true;
      break;
    }
    entries.push(timelineEntry(event));
  }
  const anomalies = session.anomalyCount > 0 ? await hub.sessionAnomalies(sessionId, options) : [];
  return { session, entries, anomalies, chain: chainVerdict(session), truncated };
}
