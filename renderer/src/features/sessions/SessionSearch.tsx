import { useState } from 'react';
import type { SessionQuery, SessionRow } from '../../../../preload/api.ts';
import { dateTime, relative } from '../../app/format.ts';
import { href } from '../../app/router.ts';
import { Badge } from '../../components/Badge.tsx';
import { Empty, Failed, Loading } from '../../components/ListState.tsx';
import { ScreenHeading } from '../../components/ScreenHeading.tsx';
import { CHAIN_TONE } from './chain-tone.ts';
import { useSessionSearch } from './use-sessions.ts';

/** Recorded sessions, newest first, searched by person, target or id and by what was held or denied. */
export function SessionSearch() {
  const s = useSessionSearch();
  return (
    <>
      <ScreenHeading>Sessions</ScreenHeading>
      <SearchForm onSearch={(query) => void s.search(query)} />
      {s.result.status === 'loading' && <Loading what="sessions" />}
      {s.result.status === 'error' && <Failed message={s.result.message} onRetry={() => void s.search({})} />}
      {s.result.status === 'ready' && s.result.value.length === 0 && (
        <Empty>
          <p>No recorded session matches.</p>
        </Empty>
      )}
      {s.result.status === 'ready' && s.result.value.length > 0 && <SessionsTable rows={s.result.value} />}
    </>
  );
}

function SearchForm({ onSearch }: { onSearch: (query: SessionQuery) => void }) {
  const [text, setText] = useState('');
  const [decision, setDecision] = useState('');
  return (
    <form
      className="toolbar"
      role="search"
      onSubmit={(event) => {
        event.preventDefault();
        onSearch({
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
  );
}

function SessionsTable({ rows }: { rows: SessionRow[] }) {
  return (
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
        {rows.map((row) => (
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
  );
}
