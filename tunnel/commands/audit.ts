/**
 * Reading recordings from a terminal (your own sessions; everyone's for auditors and admins):
 *
 *   portcullis sessions [--target ID] [--user SUBJECT] [--since TIME] [--limit N] [--json]
 *   portcullis replay SESSION [--json]
 *   portcullis export --since TIME [--until TIME] > audit.jsonl
 *
 * TIME is ISO-8601 (2025-03-01, 2025-03-01T09:00:00Z) or how long ago (30m, 2h, 7d). `replay --json` and
 * `export` print one JSON line per event / export line, exactly as the hub returns them.
 */
import { once } from 'node:events';
import type { Command } from 'commander';
import type {
  ExportLine,
  RecordedEvent,
  RecordingAnomaly,
  SessionSearch,
  SessionSummary,
} from '../../hub/api/types.ts';
import type { SessionEvent } from '../recorder/recording-point.ts';
import { relativeTime, table, withJson } from './output.ts';
import { asSignedIn, parseLimit, parseTimeOption, signedInCommand } from './signed-in.ts';
import { UsageError } from './usage-error.ts';

const EVENTS_PAGE = 1000;

function chainCell(session: SessionSummary): string {
  if (session.anomalyCount === 0) return session.chainStatus;
  return `${session.chainStatus} (${count(session.anomalyCount, 'anomaly', 'anomalies')})`;
}

export function renderSessions(sessions: readonly SessionSummary[]): string {
  if (sessions.length === 0) return 'No recorded sessions match.';
  return [
    table(
      ['ID', 'TARGET', 'WHO', 'OPENED', 'STATUS', 'STATEMENTS', 'DENIED', 'HELD', 'CHAIN'],
      sessions.map((s) => [
        s.id,
        s.targetId,
        s.kind === 'agent' ? `${s.displayName} (agent)` : s.displayName,
        relativeTime(s.openedAt),
        s.status,
        String(s.statementCount),
        String(s.deniedCount),
        String(s.heldCount),
        chainCell(s),
      ]),
    ),
    '',
    'Replay one with `portcullis replay ID`.',
  ].join('\n');
}

/** "09:30:01.250": the time of day of an ISO-8601 UTC time (the transcript's header gives the date). */
function clock(iso: string): string {
  return /T(\d{2}:\d{2}:\d{2}(?:\.\d{3})?)/.exec(iso)?.[1] ?? iso;
}

function quoted(text: string | undefined): string {
  return text ? ` ("${text}")` : '';
}

/** What one recorded event says, for people. Unknown types are shown with their payload. */
export function describeEvent(event: Pick<RecordedEvent, 'type' | 'payload'>): string {
  // A connected tunnel tags each client connection's events with its number.
  const connection = (event.payload as { connection?: unknown } | null)?.connection;
  const text = describePayload(event);
  return typeof connection === 'number' ? `[${connection}] ${text}` : text;
}

function describePayload(event: Pick<RecordedEvent, 'type' | 'payload'>): string {
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
      return `${verdict}${classes}: ${e.sql}`;
    }
    case 'hold':
      return `HELD for approval (request ${e.request}${e.rule ? `, ${e.rule}` : ''}): ${e.sql}`;
    case 'hold.resolved':
      return `hold ${e.request} ${e.outcome}${e.by ? ` by ${e.by}` : ''}${quoted(e.comment)}`;
    case 'result':
      return `result ${e.command}: ${count(e.rows, 'row')}, ${count(e.maskedCells, 'masked cell')}, ${e.durationMs} ms`;
    case 'error':
      return `error ${e.code} (${e.severity}): ${e.message}`;
    case 'auth.failed':
      return `local sign-in refused from ${e.client?.address}: ${e.reason}`;
    case 'cancel':
      return `cancel request ${e.forwarded ? 'forwarded to the server' : 'not forwarded'}`;
    case 'session.end':
      return `session end (${e.reason}): ${count(e.statements, 'statement')}, ${e.bytesFromClient} bytes in, ${e.bytesToClient} bytes out`;
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

export function transcriptFooter(session: SessionSummary, anomalies: readonly RecordingAnomaly[]): string {
  const lines = [''];
  switch (session.chainStatus) {
    case 'ok':
      lines.push(
        session.lastSeq === 0
          ? 'chain: ok, nothing recorded yet'
          : `chain: ok, events 1–${session.lastSeq} verified`,
      );
      break;
    case 'incomplete':
      lines.push(
        `chain: incomplete, events 1–${session.lastSeq} verified; events up to #${session.maxSeq} received, some in between missing`,
      );
      break;
    default:
      lines.push(
        'chain: BROKEN, the recording was altered or lost events: the marked events and the anomalies below say where',
      );
  }
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

/**
 * Writes to stdout at the pace of its reader. A reader that goes away (`| head`) aborts `signal`, so the
 * command ends quietly instead of failing on EPIPE.
 */
interface StdoutWriter {
  signal: AbortSignal;
  write(text: string): Promise<void>;
  close(): void;
}

function stdoutWriter(): StdoutWriter {
  const closed = new AbortController();
  const onError = (): void => closed.abort();
  process.stdout.on('error', onError);
  return {
    signal: closed.signal,
    async write(text) {
      if (closed.signal.aborted) return;
      if (!process.stdout.write(text)) await once(process.stdout, 'drain', { signal: closed.signal });
    },
    close: () => process.stdout.off('error', onError),
  };
}

export function sessionsCommand(): Command {
  return withJson(signedInCommand('sessions'))
    .description("List recorded sessions, newest first (yours; everyone's for auditors and admins).")
    .option('--target <id>', 'only sessions on this target')
    .option('--user <subject>', "only this person's or agent's sessions (auditors and admins)")
    .option('--since <time>', 'opened at or after: ISO-8601, or how long ago (30m, 2h, 7d)')
    .option('--limit <n>', 'at most N sessions (1–1000; default 100)')
    .action((options: { target?: string; user?: string; since?: string; limit?: string; json?: boolean }) => {
      const query: SessionSearch = {};
      if (options.target !== undefined) query.targetId = options.target;
      if (options.user !== undefined) query.subject = options.user;
      if (options.since !== undefined) query.from = parseTimeOption('--since', options.since);
      if (options.limit !== undefined) query.limit = parseLimit('--limit', options.limit);
      return asSignedIn(options, async ({ hub }, { out }) => {
        const sessions = await hub.searchSessions(query);
        out.result(sessions, () => renderSessions(sessions));
      });
    });
}

export function replayCommand(): Command {
  return withJson(signedInCommand('replay'))
    .description(
      'Print a recorded session as a transcript: statements, decisions, holds and who decided them, results, and whether its hash chain verifies.',
    )
    .argument('<session>', 'the session id (see `portcullis sessions`)')
    .action((sessionId: string, options: { json?: boolean }) =>
      asSignedIn(options, async ({ hub }, { out }) => {
        const stdout = stdoutWriter();
        try {
          const session = await hub.session(sessionId);
          if (!out.json) await stdout.write(`${transcriptHeader(session)}\n`);
          let afterSeq = 0;
          for (;;) {
            const page = await hub.sessionEvents(
              sessionId,
              { afterSeq, limit: EVENTS_PAGE },
              { signal: stdout.signal },
            );
            for (const event of page) {
              await stdout.write(`${out.json ? JSON.stringify(event) : transcriptLine(event)}\n`);
              afterSeq = event.seq;
            }
            if (page.length < EVENTS_PAGE) break;
          }
          if (out.json) return;
          const anomalies = session.anomalyCount > 0 ? await hub.sessionAnomalies(sessionId) : [];
          await stdout.write(`${transcriptFooter(session, anomalies)}\n`);
        } catch (error) {
          if (!stdout.signal.aborted) throw error;
        } finally {
          stdout.close();
        }
      }),
    );
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function tally(counts: Record<ExportLine['kind'], number>): string {
  return `${count(counts.session, 'session')}, ${count(counts.event, 'event')}, ${count(counts.anomaly, 'anomaly', 'anomalies')}`;
}

export function exportCommand(): Command {
  return signedInCommand('export')
    .description(
      "Stream the audit trail as JSON lines (each session, its events, its anomalies) to stdout: yours, or everyone's for auditors and admins.",
    )
    .option(
      '--since <time>',
      'sessions opened at or after: ISO-8601, or how long ago (30m, 2h, 7d) (required)',
    )
    .option('--until <time>', 'sessions opened before this time')
    .option('--json', 'accepted like everywhere else: the output is always JSON lines')
    .action((options: { since?: string; until?: string; json?: boolean }) => {
      if (options.since === undefined) {
        throw new UsageError('export needs --since TIME, e.g. --since 7d or --since 2025-03-01');
      }
      const since = parseTimeOption('--since', options.since);
      const until = options.until === undefined ? undefined : parseTimeOption('--until', options.until);
      return asSignedIn({}, async ({ hub }, { out }) => {
        const counts = { session: 0, event: 0, anomaly: 0 };
        let shownAt = 0;
        const stdout = stdoutWriter();
        try {
          for await (const line of hub.exportAudit(since, { signal: stdout.signal })) {
            if (until !== undefined && line.kind === 'session' && line.session.openedAt >= until) break;
            await stdout.write(`${JSON.stringify(line)}\n`);
            counts[line.kind]++;
            // In a log every update is a line of its own: one a second is plenty.
            if (Date.now() - shownAt >= 1000) {
              shownAt = Date.now();
              out.progress(`exporting… ${tally(counts)}`);
            }
          }
        } catch (error) {
          if (!stdout.signal.aborted) throw error;
        } finally {
          stdout.close();
        }
        out.progress(undefined);
        out.note(`exported ${tally(counts)} since ${since}${until ? ` until ${until}` : ''}`);
      });
    });
}
