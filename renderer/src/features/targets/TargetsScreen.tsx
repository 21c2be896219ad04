import { useState } from 'react';
import type { TargetView, TargetsView } from '../../../../preload/api.ts';
import { Empty, ErrorText, Failed, Loading } from '../../components/ListState.tsx';
import { ScreenHeading } from '../../components/ScreenHeading.tsx';
import { RequestAccessDialog } from './RequestAccessDialog.tsx';
import { TargetsTable } from './TargetsTable.tsx';
import { useTargets, type Targets } from './use-targets.ts';

export function TargetsScreen({ view }: { view: TargetsView }) {
  const t = useTargets(view);
  const [requesting, setRequesting] = useState<TargetView | null>(null);
  const busyError = t.connect.error ?? t.disconnect.error ?? t.cancel.error;
  return (
    <>
      <ScreenHeading>Targets</ScreenHeading>
      <Toolbar t={t} />
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
      {t.shown.length > 0 && <TargetsTable t={t} onRequest={setRequesting} />}
      <RequestAccessDialog target={requesting} request={t.request} onClose={() => setRequesting(null)} />
    </>
  );
}

function Toolbar({ t }: { t: Targets }) {
  return (
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
  );
}
