/**
 * Reading recordings from a terminal (your own sessions; everyone's for auditors and admins):
 *
 *   portcullis sessions [--target ID] [--user SUBJECT] [--since TIME] [--limit N] [--json]
 *   portcullis replay SESSION [--json] [--transcript] [--speed N] [--idle-limit SECONDS] [--channel ID]
 *   portcullis export --since TIME [--until TIME] > audit.jsonl
 *   portcullis export --asciicast SESSION [--channel ID] > session.cast
 *
 * TIME is ISO-8601 (2025-03-01, 2025-03-01T09:00:00Z) or how long ago (30m, 2h, 7d). `replay --json` and
 * `export` print one JSON line per event / export line, exactly as the hub returns them. A session with
 * terminal recordings (SSH) is played in the terminal unless `--transcript` asks for the transcript.
 */
import { once } from 'node:events';
import type { Command } from 'commander';
import type { ExportLine, RecordedEvent, SessionSearch, SessionSummary } from '../../hub/api/types.ts';
import type { HubClient } from '../hub-client/index.ts';
import { asciicast, play, terminalChannels, type TerminalChannel } from '../runtime/asciicast.ts';
import {
  chainVerdict,
  count,
  sessionEvents,
  transcriptFooter,
  transcriptHeader,
  transcriptLine,
} from '../runtime/transcript.ts';
import { relativeTime, table, withJson } from './output.ts';
import { asSignedIn, parseLimit, parseTimeOption, signedInCommand } from './signed-in.ts';
import { UsageError } from './usage-error.ts';

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

interface ReplayOptions {
  json?: boolean;
  transcript?: boolean;
  speed?: string;
  idleLimit?: string;
  channel?: string;
}

function positiveNumber(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0)
    throw new UsageError(`${flag} must be a number above 0, got "${value}"`);
  return number;
}

async function allEvents(hub: HubClient, sessionId: string, signal: AbortSignal): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for await (const event of sessionEvents(hub, sessionId, { signal })) events.push(event);
  return events;
}

/** The channels `--channel` names (all of them without it); a name that matches none is a usage error. */
function chosenChannels(channels: TerminalChannel[], id: string | undefined): TerminalChannel[] {
  if (id === undefined) return channels;
  const chosen = channels.filter((channel) => channel.id === id || String(channel.channel) === id);
  if (chosen.length === 0) {
    const known = channels.map((c) => c.id).join(', ') || 'none';
    throw new UsageError(`no terminal channel ${id} in this session (its channels: ${known})`);
  }
  return chosen;
}

function channelTitle(channel: TerminalChannel): string {
  const what = channel.kind === 'exec' ? `command ${channel.command ?? ''}` : channel.kind;
  return `channel ${channel.id}: ${what} (${channel.cols}x${channel.rows}), started ${channel.startedAt}`;
}

export function replayCommand(): Command {
  return withJson(signedInCommand('replay'))
    .description(
      'Replay a recorded session: an SSH session plays in the terminal as it was seen; otherwise (or with --transcript) print the transcript: statements, decisions, holds and who decided them, results, and whether its hash chain verifies.',
    )
    .argument('<session>', 'the session id (see `portcullis sessions`)')
    .option('--transcript', 'print the transcript even when the session has terminal recordings')
    .option('--speed <n>', 'play this many times faster (default 1)')
    .option('--idle-limit <seconds>', 'cut pauses longer than this')
    .option('--channel <id>', 'play only this channel (connection:channel, as the transcript numbers them)')
    .action((sessionId: string, options: ReplayOptions) => {
      const speed = positiveNumber('--speed', options.speed) ?? 1;
      const idleLimit = positiveNumber('--idle-limit', options.idleLimit);
      return asSignedIn(options, async ({ hub }, { out }) => {
        const stdout = stdoutWriter();
        try {
          const session = await hub.session(sessionId);
          const events = await allEvents(hub, sessionId, stdout.signal);
          const channels = out.json || options.transcript ? [] : terminalChannels(events);
          if (channels.length > 0) {
            for (const channel of chosenChannels(channels, options.channel)) {
              out.note(`── ${channelTitle(channel)} ──`);
              await play(channel, {
                speed,
                ...(idleLimit ? { idleLimit } : {}),
                write: stdout.write,
                signal: stdout.signal,
              });
              out.note('');
            }
            out.note(chainVerdict(session));
            return;
          }
          if (!out.json) await stdout.write(`${transcriptHeader(session)}\n`);
          let terminalEvents = 0;
          for (const event of events) {
            if (!out.json && event.type === 'term') {
              terminalEvents++;
              continue;
            }
            await stdout.write(`${out.json ? JSON.stringify(event) : transcriptLine(event)}\n`);
          }
          if (out.json) return;
          const anomalies = session.anomalyCount > 0 ? await hub.sessionAnomalies(sessionId) : [];
          await stdout.write(`${transcriptFooter(session, anomalies)}\n`);
          if (terminalEvents > 0) {
            await stdout.write(
              `${count(terminalEvents, 'terminal event')}: play them with \`portcullis replay ${sessionId}\`, export them with \`portcullis export --asciicast ${sessionId}\`\n`,
            );
          }
        } catch (error) {
          if (!stdout.signal.aborted) throw error;
        } finally {
          stdout.close();
        }
      });
    });
}

/** `export --asciicast SESSION`: one channel as an asciicast v2 file. */
async function exportAsciicast(
  hub: HubClient,
  sessionId: string,
  channelId: string | undefined,
  out: { note(text: string): void },
): Promise<void> {
  const stdout = stdoutWriter();
  try {
    const session = await hub.session(sessionId);
    const channels = terminalChannels(await allEvents(hub, sessionId, stdout.signal));
    if (channels.length === 0)
      throw new UsageError(`session ${sessionId} has no terminal recording to export`);
    const [channel] =
      channelId === undefined
        ? [channels.find((c) => c.kind === 'shell') ?? channels[0]!]
        : chosenChannels(channels, channelId);
    const title = `${session.targetId}: ${session.displayName}, session ${session.id}, ${channelTitle(channel!)}`;
    for (const line of asciicast(channel!, title)) await stdout.write(`${line}\n`);
    const others = channels.filter((c) => c !== channel).map((c) => c.id);
    out.note(
      `exported ${channelTitle(channel!)}${others.length > 0 ? `; the session's other channels: ${others.join(', ')} (--channel ID)` : ''}`,
    );
  } catch (error) {
    if (!stdout.signal.aborted) throw error;
  } finally {
    stdout.close();
  }
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
    .option('--asciicast <session>', "write one SSH session's terminal as an asciicast v2 file instead")
    .option('--channel <id>', 'with --asciicast: the channel to export (default: the first shell)')
    .action(
      (options: { since?: string; until?: string; json?: boolean; asciicast?: string; channel?: string }) => {
        if (options.asciicast !== undefined) {
          const sessionId = options.asciicast;
          return asSignedIn({}, ({ hub }, { out }) => exportAsciicast(hub, sessionId, options.channel, out));
        }
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
      },
    );
}
