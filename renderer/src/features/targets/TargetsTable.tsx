import type { TargetView } from '../../../../preload/api.ts';
import { clock, duration, relative } from '../../app/format.ts';
import { href } from '../../app/router.ts';
import { Badge } from '../../components/Badge.tsx';
import type { Targets } from './use-targets.ts';

/** The targets shown, one row each, with what may be done with each. */
export function TargetsTable({ t, onRequest }: { t: Targets; onRequest: (target: TargetView) => void }) {
  return (
    <table className="list">
      <caption className="visually-hidden">Targets you may use or request</caption>
      <thead>
        <tr>
          <th scope="col">Target</th>
          <th scope="col">Database</th>
          <th scope="col">Policy</th>
          <th scope="col">Access</th>
          <th scope="col">Local port</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {t.shown.map((target) => (
          <tr key={target.id}>
            <th scope="row">
              <span className="name">{target.name}</span>
              <span className="sub">{target.id}</span>
            </th>
            <td>
              {target.database}
              <span className="sub">{target.address}</span>
            </td>
            <td>{target.policy}</td>
            <td>
              <Status target={target} />
            </td>
            <td>{target.port ?? '—'}</td>
            <td className="actions">
              <TargetActions target={target} t={t} onRequest={onRequest} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Status({ target }: { target: TargetView }) {
  switch (target.status) {
    case 'standing':
      return <Badge tone="good">standing access</Badge>;
    case 'granted':
      return (
        <Badge tone="info">{`granted until ${clock(target.grantExpiresAt)} (${relative(target.grantExpiresAt)})`}</Badge>
      );
    case 'pending':
      return <Badge tone="warn">waiting for approval</Badge>;
    case 'requestable':
      return (
        <Badge tone="neutral">
          {target.jit ? `requestable, up to ${duration(target.jit.maxDurationSeconds)}` : 'requestable'}
        </Badge>
      );
    default:
      return <Badge tone="neutral">no access</Badge>;
  }
}

/** Open or disconnect a connected target, connect a usable one, or request access / cancel the request. */
function TargetActions({
  target,
  t,
  onRequest,
}: {
  target: TargetView;
  t: Targets;
  onRequest: (target: TargetView) => void;
}) {
  if (target.connected) {
    return (
      <>
        <a className="button" href={href({ screen: 'tunnel', targetId: target.id })}>
          Open tunnel
        </a>
        <button
          type="button"
          onClick={() => void t.disconnect.run(target.id)}
          aria-label={`Disconnect ${target.id}`}
        >
          Disconnect
        </button>
      </>
    );
  }
  if (target.usable) {
    return (
      <button
        type="button"
        className="primary"
        onClick={() => void t.connect.run(target.id)}
        disabled={t.connect.busy}
        aria-label={`Connect to ${target.id}`}
      >
        Connect
      </button>
    );
  }
  if (target.status === 'pending' && target.pendingRequestId) {
    return (
      <button
        type="button"
        onClick={() => void t.cancel.run(target.pendingRequestId!)}
        aria-label={`Cancel request for ${target.id}`}
      >
        Cancel request
      </button>
    );
  }
  if (target.status === 'requestable') {
    return (
      <button type="button" onClick={() => onRequest(target)} aria-label={`Request access to ${target.id}`}>
        Request access
      </button>
    );
  }
  return null;
}
