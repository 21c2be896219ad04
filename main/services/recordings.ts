/**
 * Recorded sessions at the hub (the person's own; everyone's for auditors): search, replay as a timeline
 * with the chain's verdict (tunnel/runtime's transcript), and export one session as JSON lines in the
 * hub's export format, to a file the person chooses.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { ExportLine, SessionSearch } from '../../hub/api/types.ts';
import type { ReplayView, SessionQuery, SessionRow } from '../../preload/api.ts';
import type { HubClient } from '../../tunnel/hub-client/index.ts';
import { replaySession, sessionEvents } from '../../tunnel/runtime/transcript.ts';
import { AppError } from './errors.ts';
import type { HubConnection } from './hub-connection.ts';
import type { Dialogs } from './ports.ts';
import { anomalyView, sessionRow, timelineEntryView } from './views.ts';

export interface RecordingsOptions {
  connection: HubConnection;
  dialogs: Dialogs;
  hub: () => HubClient | undefined;
}

const SEARCH_LIMIT = 200;

function matches(row: SessionRow, text: string): boolean {
  const needle = text.toLowerCase();
  return [row.id, row.targetId, row.subject, row.displayName, row.closeReason ?? ''].some((field) =>
    field.toLowerCase().includes(needle),
  );
}

export class RecordingsService {
  constructor(private readonly options: RecordingsOptions) {}

  async search(query: SessionQuery): Promise<SessionRow[]> {
    const hub = this.requireHub();
    const search: SessionSearch = { limit: Math.min(query.limit ?? SEARCH_LIMIT, 1000) };
    if (query.targetId) search.targetId = query.targetId;
    if (query.subject) search.subject = query.subject;
    if (query.from) search.from = query.from;
    if (query.decision) search.decision = query.decision;
    const sessions = await this.options.connection.call(() => hub.searchSessions(search));
    const rows = sessions.map(sessionRow);
    const text = query.text?.trim() ?? '';
    return text === '' ? rows : rows.filter((row) => matches(row, text));
  }

  async replay(sessionId: string): Promise<ReplayView> {
    const hub = this.requireHub();
    const replay = await this.options.connection.call(() =>
      replaySession(hub, sessionId, { maxEvents: 5000 }),
    );
    return {
      session: sessionRow(replay.session),
      entries: replay.entries.map(timelineEntryView),
      chain: replay.chain,
      anomalies: replay.anomalies.map(anomalyView),
      truncated: replay.truncated,
    };
  }

  /** Writes the session, its events and its anomalies as the hub's export lines. */
  async export(sessionId: string): Promise<{ path: string; lines: number }> {
    const hub = this.requireHub();
    const session = await this.options.connection.call(() => hub.session(sessionId));
    const file = await this.options.dialogs.chooseSaveFile(`portcullis-session-${session.id}.jsonl`);
    if (!file) throw new AppError('cancelled', 'Export cancelled.');
    const out = createWriteStream(file, { mode: 0o600 });
    let lines = 0;
    const write = async (line: ExportLine): Promise<void> => {
      lines++;
      if (!out.write(`${JSON.stringify(line)}\n`)) await once(out, 'drain');
    };
    try {
      await write({ kind: 'session', session });
      for await (const event of sessionEvents(hub, sessionId))
        await write({ kind: 'event', sessionId, event });
      const anomalies = session.anomalyCount > 0 ? await hub.sessionAnomalies(sessionId) : [];
      for (const anomaly of anomalies) await write({ kind: 'anomaly', anomaly });
    } finally {
      out.end();
      await finished(out);
    }
    return { path: file, lines };
  }

  private requireHub(): HubClient {
    const hub = this.options.hub();
    if (!hub) throw new AppError('not-signed-in', 'Sign in first.');
    return hub;
  }
}
