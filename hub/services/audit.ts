/**
 * Reading recordings. Everyone reads their own sessions; only auditors and admins read other people's.
 */
import type {
  ExportLine,
  Identity,
  RecordedEvent,
  RecordingAnomaly,
  SessionSearch,
  SessionSummary,
} from '../api/types.ts';
import { isAuditor, type ServiceContext } from './context.ts';
import { ForbiddenError, NotFoundError, ValidationError } from './errors.ts';
import { clampLimit, readTime } from './input.ts';
import { recordedEvent, recordingAnomaly, sessionSummary, type SessionRow } from './rows.ts';

const EXPORT_SESSIONS_PAGE = 100;
const EXPORT_EVENTS_PAGE = 1000;

export class AuditService {
  constructor(private readonly ctx: ServiceContext) {}

  /** Sessions newest first. Without the auditor role, only the caller's own (asking for others' is refused). */
  async searchSessions(query: SessionSearch, viewer: Identity): Promise<SessionSummary[]> {
    const auditor = isAuditor(this.ctx.config(), viewer);
    if (query.subject !== undefined && query.subject !== viewer.subject && !auditor) {
      throw new ForbiddenError("only auditors read other people's sessions");
    }
    const subject = auditor ? query.subject : viewer.subject;
    const from = readTime(query.from, 'from');
    const to = readTime(query.to, 'to');
    let before: Pick<SessionRow, 'id' | 'opened_at'> | undefined;
    if (query.before !== undefined) {
      before = await this.ctx.hub.db
        .selectFrom('sessions')
        .select(['id', 'opened_at'])
        .where('id', '=', query.before)
        .executeTakeFirst();
      if (!before) throw new ValidationError('before', 'no such session');
    }
    const rows = await this.ctx.hub.db
      .selectFrom('sessions')
      .selectAll()
      .$if(subject !== undefined, (qb) => qb.where('subject', '=', subject!))
      .$if(query.targetId !== undefined, (qb) => qb.where('target_id', '=', query.targetId!))
      .$if(from !== undefined, (qb) => qb.where('opened_at', '>=', from!))
      .$if(to !== undefined, (qb) => qb.where('opened_at', '<', to!))
      .$if(query.decision === 'denied', (qb) => qb.where('denied_count', '>', 0))
      .$if(query.decision === 'held', (qb) => qb.where('held_count', '>', 0))
      .$if(query.chainStatus !== undefined, (qb) => qb.where('chain_status', '=', query.chainStatus!))
      .$if(before !== undefined, (qb) =>
        qb.where((eb) =>
          eb.or([
            eb('opened_at', '<', before!.opened_at),
            eb.and([eb('opened_at', '=', before!.opened_at), eb('id', '<', before!.id)]),
          ]),
        ),
      )
      .orderBy('opened_at', 'desc')
      .orderBy('id', 'desc')
      .limit(clampLimit(query.limit, 100))
      .execute();
    return rows.map(sessionSummary);
  }

  /** One session's summary, for its owner, auditors and admins. */
  async getSession(sessionId: string, viewer: Identity): Promise<SessionSummary> {
    return sessionSummary(await this.readable(sessionId, viewer));
  }

  /** A session's events in seq order (a page: after `afterSeq`, at most `limit`, default 5000). */
  async sessionEvents(
    sessionId: string,
    viewer: Identity,
    options: { afterSeq?: number; limit?: number } = {},
  ): Promise<RecordedEvent[]> {
    await this.readable(sessionId, viewer);
    const rows = await this.ctx.hub.db
      .selectFrom('session_events')
      .selectAll()
      .where('session_id', '=', sessionId)
      .where('seq', '>', Math.max(0, Math.floor(options.afterSeq ?? 0)))
      .orderBy('seq')
      .limit(clampLimit(options.limit, 5000, 10_000))
      .execute();
    return rows.map(recordedEvent);
  }

  /** What verification found wrong with a session's recording, oldest first. */
  async sessionAnomalies(sessionId: string, viewer: Identity): Promise<RecordingAnomaly[]> {
    await this.readable(sessionId, viewer);
    const rows = await this.ctx.hub.db
      .selectFrom('recording_anomalies')
      .selectAll()
      .where('session_id', '=', sessionId)
      .orderBy('id')
      .execute();
    return rows.map(recordingAnomaly);
  }

  /**
   * Every session opened at or after `since` that the viewer may read (all of them for auditors), as
   * JSON lines: the session, then its events in seq order, then its anomalies. Streams page by page.
   */
  async *exportJsonLines(since: Date | string, viewer: Identity): AsyncGenerator<string, void, void> {
    const from = readTime(since, 'since')!;
    const auditor = isAuditor(this.ctx.config(), viewer);
    const db = this.ctx.hub.db;
    let cursor: { opened_at: string; id: string } | undefined;
    for (;;) {
      const after = cursor;
      const sessions = await db
        .selectFrom('sessions')
        .selectAll()
        .where('opened_at', '>=', from)
        .$if(!auditor, (qb) => qb.where('subject', '=', viewer.subject))
        .$if(after !== undefined, (qb) =>
          qb.where((eb) =>
            eb.or([
              eb('opened_at', '>', after!.opened_at),
              eb.and([eb('opened_at', '=', after!.opened_at), eb('id', '>', after!.id)]),
            ]),
          ),
        )
        .orderBy('opened_at')
        .orderBy('id')
        .limit(EXPORT_SESSIONS_PAGE)
        .execute();
      for (const session of sessions) {
        yield line({ kind: 'session', session: sessionSummary(session) });
        let seq = 0;
        for (;;) {
          const events = await db
            .selectFrom('session_events')
            .selectAll()
            .where('session_id', '=', session.id)
            .where('seq', '>', seq)
            .orderBy('seq')
            .limit(EXPORT_EVENTS_PAGE)
            .execute();
          for (const event of events) {
            yield line({ kind: 'event', sessionId: session.id, event: recordedEvent(event) });
            seq = Number(event.seq);
          }
          if (events.length < EXPORT_EVENTS_PAGE) break;
        }
        const anomalies = await db
          .selectFrom('recording_anomalies')
          .selectAll()
          .where('session_id', '=', session.id)
          .orderBy('id')
          .execute();
        for (const anomaly of anomalies) yield line({ kind: 'anomaly', anomaly: recordingAnomaly(anomaly) });
      }
      if (sessions.length < EXPORT_SESSIONS_PAGE) return;
      const last = sessions.at(-1)!;
      cursor = { opened_at: last.opened_at, id: last.id };
    }
  }

  private async readable(sessionId: string, viewer: Identity): Promise<SessionRow> {
    const row = await this.ctx.hub.db
      .selectFrom('sessions')
      .selectAll()
      .where('id', '=', String(sessionId))
      .executeTakeFirst();
    if (!row) throw new NotFoundError(`no session ${sessionId}`);
    if (row.subject !== viewer.subject && !isAuditor(this.ctx.config(), viewer)) {
      throw new ForbiddenError("only auditors read other people's sessions");
    }
    return row;
  }
}

function line(value: ExportLine): string {
  return JSON.stringify(value) + '\n';
}
