import { useState } from 'react';
import type { TargetView, TargetsView } from '../../../../preload/api.ts';
import { clock, duration, relative } from '../../app/format.ts';
import { href } from '../../app/router.ts';
import { Badge } from '../../components/Badge.tsx';
import { Empty, ErrorText, Failed, Loading } from '../../components/ListState.tsx';
import { ScreenHeading } from '../../components/ScreenHeading.tsx';
import { RequestAccessDialog } from './RequestAccessDialog.tsx';
import { useTargets } from './use-targets.ts';

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

export function TargetsScreen({ view }: { view: TargetsView }) {
  const t = useTargets(view);
  const [requesting, setRequesting] = useState<TargetView | null>(null);
  const busyError = t.connect.error ?? t.disconnect.error ?? t.cancel.error;
  return (
    <>
      <ScreenHeading>Targets</ScreenHeading>
      <div className="toolbar">
        <label htmlFor="target-search" className="visually-hidden">
          Search targets
        </label>
        <input
          id="target-search"
          type="search"
          placeholder="Search targets"
          value={t.search}
          onChange={(event) => t.setSearch(event.target.value)}
        />
        <button type="button" onClick={() => void t.refresh.run()} disabled={t.refresh.busy}>
          Refresh
        </button>
      </div>
      <ErrorText message={busyError} />
      {view.status === 'loading' && view.items.length === 0 && <Loading what="your targets" />}
      {view.status === 'error' && (
        <Failed message={`Could not read your targets: ${view.error}`} onRetry={() => void t.refresh.run()} />
      )}
      {view.status === 'ready' && view.items.length === 0 && (
        <Empty>
          <p>No targets: none of your groups may use or request one yet. Ask an administrator of the hub.</p>
        </Empty>
      )}
      {view.items.length > 0 && t.shown.length === 0 && (
        <Empty>
          <p>No target matches “{t.search}”.</p>
        </Empty>
      )}
      {t.shown.length > 0 && (
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
                  {target.connected ? (
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
                  ) : target.usable ? (
                    <button
                      type="button"
                      className="primary"
                      onClick={() => void t.connect.run(target.id)}
                      disabled={t.connect.busy}
                      aria-label={`Connect to ${target.id}`}
                    >
                      Connect
                    </button>
                  ) : target.status === 'pending' && target.pendingRequestId ? (
                    <button
                      type="button"
                      onClick={() => void t.cancel.run(target.pendingRequestId!)}
                      aria-label={`Cancel request for ${target.id}`}
                    >
                      Cancel request
                    </button>
                  ) : target.status === 'requestable' ? (
                    <button
                      type="button"
                      onClick={() => setRequesting(target)}
                      aria-label={`Request access to ${target.id}`}
                    >
                      Request access
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <RequestAccessDialog target={requesting} request={t.request} onClose={() => setRequesting(null)} />
    </>
  );
}
