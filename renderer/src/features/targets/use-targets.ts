/** The targets list: search, connect/disconnect, request access and cancel a request. */
import { useMemo, useState } from 'react';
import type { RequestAccessInput, TargetView, TargetsView } from '../../../../preload/api.ts';
import { api, unwrap } from '../../app/api.ts';
import { go } from '../../app/router.ts';
import { useAction } from '../../app/use-action.ts';

export function matchesSearch(target: TargetView, search: string): boolean {
  const needle = search.trim().toLowerCase();
  if (needle === '') return true;
  return [target.id, target.name, target.database, target.address, target.policy, target.status].some((f) =>
    f.toLowerCase().includes(needle),
  );
}

/** What the targets screen's parts read and do. */
export type Targets = ReturnType<typeof useTargets>;

export function useTargets(view: TargetsView) {
  const [search, setSearch] = useState('');
  const shown = useMemo(() => view.items.filter((t) => matchesSearch(t, search)), [view.items, search]);
  const refresh = useAction(async () => unwrap(api().targets.refresh()));
  const connect = useAction(async (targetId: string) => {
    await unwrap(api().tunnels.connect(targetId));
    go({ screen: 'tunnel', targetId });
  });
  const disconnect = useAction(async (targetId: string) => unwrap(api().tunnels.disconnect(targetId)));
  const request = useAction(async (input: RequestAccessInput) => unwrap(api().targets.requestAccess(input)));
  const cancel = useAction(async (requestId: string) => unwrap(api().targets.cancelRequest(requestId)));
  return { search, setSearch, shown, refresh, connect, disconnect, request, cancel };
}
