import type { HoldView, TunnelView } from '../../../../preload/api.ts';
import { bytes, clock, count, estimate, relative } from '../../app/format.ts';
import { href } from '../../app/router.ts';
import { Badge, type Tone } from '../../components/Badge.tsx';
import { Empty, ErrorText } from '../../components/ListState.tsx';
import { ScreenHeading } from '../../components/ScreenHeading.tsx';
import { ConnectCard } from './ConnectCard.tsx';
import { useTunnel } from './use-tunnel.ts';

const HOLD_TONE: Record<HoldView['state'], Tone> = {
  pending: 'warn',
  approved: 'good',
  denied: 'bad',
  expired: 'bad',
  withdrawn: 'neutral',
  timeout: 'bad',
  cancelled: 'neutral',
};

function holdOutcome(hold: HoldView): string {
  switch (hold.state) {
    case 'pending':
      return 'Waiting for an approver';
    case 'approved':
      return `Approved${hold.decidedBy ? ` by ${hold.decidedBy}` : ''}: it ran`;
    case 'denied':
      return `Denied${hold.decidedBy ? ` by ${hold.decidedBy}` : ''}`;
    case 'timeout':
      return 'Nobody decided in time: it did not run';
    case 'cancelled':
      return 'Cancelled by the client: it did not run';
    default:
      return `${hold.state[0]!.toUpperCase()}${hold.state.slice(1)}`;
  }
}

function Holds({ holds }: { holds: HoldView[] }) {
  if (holds.length === 0) {
    return (
      <p className="hint">No statement of this tunnel has been held. Writes the policy holds appear here.</p>
    );
  }
  return (
    <ul className="holds">
      {holds.map((hold) => (
        <li key={hold.id} className="hold">
          <div className="hold-head">
            <Badge tone={HOLD_TONE[hold.state]}>{hold.state}</Badge>
            <span>{holdOutcome(hold)}</span>
            <span className="sub">held at {clock(hold.heldAt)}</span>
          </div>
          <pre className="sql">{hold.sql}</pre>
          <p className="sub">
            {[estimate(hold.context), hold.rule].filter(Boolean).join(' · ')}
            {hold.comment ? ` · “${hold.comment}”` : ''}
          </p>
        </li>
      ))}
    </ul>
  );
}

function Stats({ tunnel }: { tunnel: TunnelView }) {
  const s = tunnel.stats;
  const items: [string, string][] = [
    ['Open connections', count(s.open)],
    ['Connections', count(s.connections)],
    ['Statements', count(s.statements)],
    ['Blocked', count(s.blocked)],
    ['Held', count(s.held)],
    ['Masked cells', count(s.maskedCells)],
    ['Sent to client', bytes(s.bytesToClient)],
    ['Received', bytes(s.bytesFromClient)],
  ];
  return (
    <dl className="stats">
      {items.map(([label, value]) => (
        <div key={label} className="stat">
          <dt>{label}</dt>
          <dd data-testid={`stat-${label.toLowerCase().replace(/\s+/g, '-')}`}>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function OpenTunnel({ tunnel }: { tunnel: TunnelView }) {
  const t = useTunnel(tunnel.targetId);
  const closed = tunnel.state === 'closed';
  return (
    <>
      <ScreenHeading focusKey={tunnel.targetId}>
        {tunnel.targetName} <span className="sub">({tunnel.targetId})</span>
      </ScreenHeading>
      <p className="lead">
        {closed ? (
          <Badge tone="bad">closed</Badge>
        ) : (
          <Badge tone="good">{tunnel.state === 'closing' ? 'closing' : 'open'}</Badge>
        )}{' '}
        Open since {clock(tunnel.openedAt)} · policy {tunnel.policy}
        {tunnel.grantExpiresAt
          ? ` · access until ${clock(tunnel.grantExpiresAt)} (${relative(tunnel.grantExpiresAt)})`
          : ''}{' '}
        · recorded as session{' '}
        <a href={href({ screen: 'sessions', sessionId: tunnel.sessionId })}>{tunnel.sessionId.slice(0, 8)}</a>
      </p>
      {closed && (
        <div className="banner banner-bad" role="alert">
          <p>This tunnel closed: {tunnel.closed?.reason}.</p>
          <button type="button" onClick={() => void t.reconnect.run()} disabled={t.reconnect.busy}>
            Connect again
          </button>
          <ErrorText message={t.reconnect.error} />
        </div>
      )}
      {!closed && <ConnectCard tunnel={tunnel} t={t} />}
      <section aria-labelledby="counts-heading">
        <h2 id="counts-heading">Live counts</h2>
        <Stats tunnel={tunnel} />
      </section>
      <section aria-labelledby="holds-heading">
        <h2 id="holds-heading">Held statements</h2>
        <Holds holds={tunnel.holds} />
      </section>
      <div className="footer-actions">
        <button type="button" onClick={() => void t.disconnect.run()} disabled={t.disconnect.busy}>
          {closed ? 'Dismiss' : 'Disconnect'}
        </button>
        <ErrorText message={t.disconnect.error} />
      </div>
    </>
  );
}

export function TunnelScreen({ tunnels, targetId }: { tunnels: TunnelView[]; targetId: string | undefined }) {
  const selected = tunnels.find((t) => t.targetId === targetId) ?? (targetId ? undefined : tunnels[0]);
  if (tunnels.length === 0 || !selected) {
    return (
      <>
        <ScreenHeading>Tunnels</ScreenHeading>
        <Empty>
          <p>{targetId ? `No tunnel to ${targetId} is open.` : 'No tunnel is open.'}</p>
          <p>
            Connect to a target from <a href={href({ screen: 'targets' })}>Targets</a>.
          </p>
        </Empty>
      </>
    );
  }
  return (
    <>
      {tunnels.length > 1 && (
        <nav aria-label="Open tunnels" className="tabs">
          {tunnels.map((t) => (
            <a
              key={t.targetId}
              href={href({ screen: 'tunnel', targetId: t.targetId })}
              aria-current={t.targetId === selected.targetId ? 'page' : undefined}
            >
              {t.targetId}
            </a>
          ))}
        </nav>
      )}
      <OpenTunnel key={selected.targetId} tunnel={selected} />
    </>
  );
}
