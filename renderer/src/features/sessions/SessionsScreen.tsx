import { useState } from 'react';
import type { SessionRow, TimelineEntryView, TimelineKind } from '../../../../preload/api.ts';
import { dateTime, relative } from '../../app/format.ts';
import { href } from '../../app/router.ts';
import { Badge, type Tone } from '../../components/Badge.tsx';
import { Empty, ErrorText, Failed, Loading } from '../../components/ListState.tsx';
import { ScreenHeading } from '../../components/ScreenHeading.tsx';
import { useReplay, useSessionSearch } from './use-sessions.ts';

const CHAIN_TONE: Record<SessionRow['chainStatus'], Tone> = { ok: 'good', incomplete: 'warn', broken: 'bad' };

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

function Replay({ sessionId }: { sessionId: string }) {
  const r = useReplay(sessionId);
  const [filter, setFilter] = useState<Filter>('all');
  if (r.replay.status === 'loading') return <Loading what="the recording" />;
  if (r.replay.status === 'error') return <Failed message={r.replay.message} onRetry={() => void r.load()} />;
  const { session, entries, chain, anomalies, truncated } = r.replay.value;
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
      <ol className="timeline" aria-label="Timeline">
        {entries
          .filter((e) => shown(e, filter))
          .map((entry) => (
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
      {anomalies.length > 0 && (
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
      )}
    </>
  );
}

function Search() {
  const s = useSessionSearch();
  const [text, setText] = useState('');
  const [decision, setDecision] = useState('');
  return (
    <>
      <ScreenHeading>Sessions</ScreenHeading>
      <form
        className="toolbar"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          void s.search({
            ...(text.trim() ? { text: text.trim() } : {}),
            ...(decision === 'held' || decision === 'denied' ? { decision } : {}),
          });
        }}
      >
        <label htmlFor="session-search" className="visually-hidden">
          Search sessions
        </label>
        <input
          id="session-search"
          type="search"
          placeholder="Person, target or session id"
          value={text}
          onChange={(event) => setText(event.target.value)}
        />
        <label htmlFor="session-decision" className="visually-hidden">
          Only sessions with
        </label>
        <select id="session-decision" value={decision} onChange={(event) => setDecision(event.target.value)}>
          <option value="">all sessions</option>
          <option value="held">with held statements</option>
          <option value="denied">with denied statements</option>
        </select>
        <button type="submit">Search</button>
      </form>
      {s.result.status === 'loading' && <Loading what="sessions" />}
      {s.result.status === 'error' && <Failed message={s.result.message} onRetry={() => void s.search({})} />}
      {s.result.status === 'ready' && s.result.value.length === 0 && (
        <Empty>
          <p>No recorded session matches.</p>
        </Empty>
      )}
      {s.result.status === 'ready' && s.result.value.length > 0 && (
        <table className="list">
          <caption className="visually-hidden">Recorded sessions, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Opened</th>
              <th scope="col">Who</th>
              <th scope="col">Target</th>
              <th scope="col">Status</th>
              <th scope="col">Statements</th>
              <th scope="col">Denied</th>
              <th scope="col">Held</th>
              <th scope="col">Chain</th>
            </tr>
          </thead>
          <tbody>
            {s.result.value.map((row) => (
              <tr key={row.id}>
                <th scope="row">
                  <a
                    href={href({ screen: 'sessions', sessionId: row.id })}
                    aria-label={`${dateTime(row.openedAt)}: replay the session of ${row.displayName} on ${row.targetId}, opened ${relative(row.openedAt)}`}
                  >
                    {dateTime(row.openedAt)}
                  </a>
                </th>
                <td>{row.kind === 'agent' ? `${row.displayName} (agent)` : row.displayName}</td>
                <td>{row.targetId}</td>
                <td>{row.status}</td>
                <td>{row.statementCount}</td>
                <td>{row.deniedCount}</td>
                <td>{row.heldCount}</td>
                <td>
                  <Badge tone={CHAIN_TONE[row.chainStatus]}>{row.chainStatus}</Badge>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

export function SessionsScreen({ sessionId }: { sessionId?: string }) {
  return sessionId ? <Replay key={sessionId} sessionId={sessionId} /> : <Search />;
}
