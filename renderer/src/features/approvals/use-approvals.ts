/** What waits for my decision and my own requests; deciding with a comment; one approval opened by link. */
import { useEffect, useState } from 'react';
import type { ApprovalItem, ApprovalKind, ApprovalsView } from '../../../../preload/api.ts';
import { api, unwrap } from '../../app/api.ts';
import { useAction } from '../../app/use-action.ts';

const same = (a: ApprovalItem, kind: ApprovalKind | undefined, id: string): boolean =>
  a.id === id && (kind === undefined || a.kind === kind);

/** What the approvals screen's parts read and do. */
export type Approvals = ReturnType<typeof useApprovals>;

export function useApprovals(view: ApprovalsView, kind: ApprovalKind | undefined, id: string | undefined) {
  const refresh = useAction(async () => unwrap(api().approvals.refresh()));
  const decide = useAction(async (item: ApprovalItem, approve: boolean, comment: string) =>
    unwrap(
      api().approvals.decide({ kind: item.kind, id: item.id, approve, ...(comment ? { comment } : {}) }),
    ),
  );
  // A link may name an approval that is in neither list (decided already, or someone else's).
  const listed = id ? [...view.waiting, ...view.mine].find((a) => same(a, kind, id)) : undefined;
  const [fetched, setFetched] = useState<ApprovalItem | { missing: string } | undefined>();
  useEffect(() => {
    setFetched(undefined);
    if (!id || listed) return;
    let current = true;
    const kinds: ApprovalKind[] = kind ? [kind] : ['statement', 'access'];
    void (async () => {
      for (const k of kinds) {
        const result = await api().approvals.get(k, id);
        if (result.ok) {
          if (current) setFetched(result.value);
          return;
        }
      }
      if (current) setFetched({ missing: `No held statement or access request ${id} that you may see.` });
    })();
    return () => {
      current = false;
    };
  }, [id, kind, listed]);
  const opened = listed ?? (fetched && 'id' in fetched ? fetched : undefined);
  const missing = !listed && fetched && 'missing' in fetched ? fetched.missing : null;
  return { refresh, decide, opened, missing };
}
