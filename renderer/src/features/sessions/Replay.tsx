import { useState } from 'react';
import type { ReplayView, TimelineEntryView, TimelineKind } from '../../../../preload/api.ts';
import { dateTime } from '../../app/format.ts';
import { href } from '../../app/router.ts';
import { Badge, type Tone } from '../../components/Badge.tsx';
import { ErrorText, Failed, Loading } from '../../components/ListState.tsx';
import { ScreenHeading } from '../../components/ScreenHeading.tsx';
import { CHAIN_TONE } from './chain-tone.ts';
import { useReplay, type Replay as ReplayState } from './use-sessions.ts';

const KIND_LABEL: Record<TimelineKind, string> = {
  tunnel: 'tunnel',
  connection: 'connection',
  statement: 'statement',
  denied: 'denied',
  hold: 'held',
  decision: 'decision',
  result: 'result',
  error: 'error',
  other: 'event',
};

const KIND_TONE: Partial<Record<TimelineKind, Tone>> = {
  denied: 'bad',
  hold: 'warn',
  decision: 'info',
  error: 'bad',
};

type Filter = 'all' | 'statements' | 'holds';

function shown(entry: TimelineEntryView, filter: Filter): boolean {
  if (filter === 'statements') return ['statement', 'denied', 'hold', 'decision'].includes(entry.kind);
  if (filter === 'holds')
    return entry.kind === 'hold' || entry.kind === 'decision' || entry.kind === 'denied';
  return true;
}

/** One recorded session: what it was, its timeline (filtered), its chain's verdict and its anomalies. */
export function Replay({ sessionId }: { sessionId: string }) {
  const r = useReplay(sessionId);
  const [filter, setFilter] = useState<Filter>('all');
  if (r.replay.status === 'loading') return <Loading what="the recording" />;
  if (r.replay.status === 'error') return <Failed message={r.replay.message} onRetry={() => void r.load()} />;
  const { session, entries, chain, anomalies, truncated } = r.replay.value;
  return (
    <>
      <ReplaySummary sessionId={sessionId} session={session} chain={chain} />
      <ReplayToolbar r={r} filter={filter} setFilter={setFilter} />
      {r.exported && (
        <p role="status" className="hint">
          {r.exported}
        </p>
      )}
      <ErrorText message={r.exportSession.error} />
      {truncated && (
        <p className="hint">
          The timeline shows the first {entries.length} events; export the session for all of them.
        </p>
      )}
      <Timeline entries={entries.filter((e) => shown(e, filter))} />
      {anomalies.length > 0 && <Anomalies anomalies={anomalies} />}
    </>
  );
}

function ReplaySummary({
  sessionId,
  session,
  chain,
}: {
  sessionId: string;
  session: ReplayView['session'];
  chain: string;
}) {
  return (
    <>
      <ScreenHeading focusKey={sessionId}>
        Session on {session.targetId} by {session.displayName}
      </ScreenHeading>
      <p className="lead">
        Opened {dateTime(session.openedAt)}
        {session.closedAt
          ? `, closed ${dateTime(session.closedAt)}${session.closeReason ? ` (${session.closeReason})` : ''}`
          : `, ${session.status}`}
        {' · '}
        {session.statementCount} statements, {session.deniedCount} denied, {session.heldCount} held
      </p>
      <div className={`banner banner-${CHAIN_TONE[session.chainStatus]}`} role="status">
        <Badge tone={CHAIN_TONE[session.chainStatus]}>{`chain ${session.chainStatus}`}</Badge>{' '}
        <span>{chain}</span>
      </div>
    </>
  );
}

function ReplayToolbar({
  r,
  filter,
  setFilter,
}: {
  r: ReplayState;
  filter: Filter;
  setFilter: (filter: Filter) => void;
}) {
  return (
    <div className="toolbar">
      <a className="button" href={href({ screen: 'sessions' })}>
        All sessions
      </a>
      <label htmlFor="timeline-filter">Show</label>
      <select
        id="timeline-filter"
        value={filter}
        onChange={(event) => setFilter(event.target.value as Filter)}
      >
        <option value="all">every event</option>
        <option value="statements">statements and decisions</option>
        <option value="holds">holds, denials and decisions</option>
      </select>
      <button type="button" onClick={() => void r.exportSession.run()} disabled={r.exportSession.busy}>
        Export as JSON lines
      </button>
    </div>
  );
}

function Timeline({ entries }: { entries: TimelineEntryView[] }) {
  return (
    <ol className="timeline" aria-label="Timeline">
      {entries.map((entry) => (
        <li
          key={entry.seq}
          className={`event event-${entry.kind}${entry.chain !== 'ok' ? ' event-suspect' : ''}`}
        >
          <span className="event-time">{dateTime(entry.at).slice(11)}</span>
          <span className="event-seq">#{entry.seq}</span>
          <Badge tone={KIND_TONE[entry.kind] ?? 'neutral'}>{KIND_LABEL[entry.kind]}</Badge>
          {entry.connection !== null && <span className="sub">connection {entry.connection}</span>}
          <span className="event-text">{entry.summary}</span>
          {entry.sql && <pre className="sql">{entry.sql}</pre>}
          {entry.chain !== 'ok' && (
            <span className="chain-mark" role="note">
              {entry.chain === 'tampered'
                ? 'Altered or mislinked'
                : 'Unverified: an earlier event is missing'}
            </span>
          )}
        </li>
      ))}
    </ol>
  );
}

function Anomalies({ anomalies }: { anomalies: ReplayView['anomalies'] }) {
  return (
    <section aria-labelledby="anomalies-heading">
      <h2 id="anomalies-heading">Anomalies</h2>
      <ul>
        {anomalies.map((a, i) => (
          <li key={i}>
            {a.seq === null ? '' : `#${a.seq} `}
            {a.kind}: <code>{a.detail}</code>
          </li>
        ))}
      </ul>
    </section>
  );
}
