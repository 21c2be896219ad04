import { useEffect, useRef, useState } from 'react';
import type { ApprovalItem, ApprovalKind, ApprovalsView } from '../../../../preload/api.ts';
import { clock, duration, estimate, relative } from '../../app/format.ts';
import { href } from '../../app/router.ts';
import type { Action } from '../../app/use-action.ts';
import { Badge, type Tone } from '../../components/Badge.tsx';
import { Empty, ErrorText, Failed, Loading } from '../../components/ListState.tsx';
import { ScreenHeading } from '../../components/ScreenHeading.tsx';
import { useApprovals, type Approvals } from './use-approvals.ts';

const TONE: Record<string, Tone> = {
  pending: 'warn',
  approved: 'good',
  denied: 'bad',
  expired: 'neutral',
  withdrawn: 'neutral',
  revoked: 'bad',
  cancelled: 'neutral',
};

function decidedBy(item: ApprovalItem): string | null {
  if (item.kind === 'statement') {
    if (!item.decidedBy) return null;
    const via =
      item.decidedVia === 'notification'
        ? ' from a notification'
        : item.decidedVia === 'cli'
          ? ' from the CLI'
          : '';
    return `${item.state} by ${item.decidedBy}${via}${item.comment ? `: “${item.comment}”` : ''}`;
  }
  const decisive = item.decisions.find((d) => d.approve === (item.state === 'approved'));
  if (!decisive) return null;
  return `${item.state} by ${decisive.approver}${decisive.comment ? `: “${decisive.comment}”` : ''}`;
}

function Facts({ item }: { item: ApprovalItem }) {
  if (item.kind === 'statement') {
    return (
      <dl className="facts">
        <dt>Requested by</dt>
        <dd>{item.requester.name}</dd>
        <dt>Target</dt>
        <dd>{item.targetId}</dd>
        <dt>Why it was held</dt>
        <dd>
          {item.rule} ({item.classes.join(', ')})
        </dd>
        {item.context && (
          <>
            <dt>Touches</dt>
            <dd>{estimate(item.context) ?? (item.context.tables.join(', ') || 'no table')}</dd>
          </>
        )}
        {item.holds > 1 && (
          <>
            <dt>Waiting</dt>
            <dd>{item.holds} identical statements, released together by this decision</dd>
          </>
        )}
        <dt>Asked</dt>
        <dd>
          {relative(item.createdAt)} · expires {relative(item.expiresAt)}
        </dd>
      </dl>
    );
  }
  return (
    <dl className="facts">
      <dt>Requested by</dt>
      <dd>{item.requester.name}</dd>
      <dt>Target</dt>
      <dd>{item.targetId}</dd>
      <dt>For</dt>
      <dd>
        {duration(item.durationSeconds)}
        {item.expiresAt && item.state === 'approved' ? ` (until ${clock(item.expiresAt)})` : ''}
      </dd>
      <dt>Reason</dt>
      <dd>{item.reason}</dd>
      <dt>Asked</dt>
      <dd>{relative(item.createdAt)}</dd>
    </dl>
  );
}

function DecisionForm({
  item,
  decide,
}: {
  item: ApprovalItem;
  decide: Action<[ApprovalItem, boolean, string]>;
}) {
  const [comment, setComment] = useState('');
  const [needsReason, setNeedsReason] = useState(false);
  const id = `comment-${item.kind}-${item.id}`;
  return (
    <form className="decision" onSubmit={(event) => event.preventDefault()}>
      <label htmlFor={id}>Comment (the requester sees it; required to deny)</label>
      <textarea
        id={id}
        rows={2}
        maxLength={2000}
        value={comment}
        onChange={(event) => setComment(event.target.value)}
      />
      {needsReason && comment.trim() === '' && (
        <p className="error-text" role="alert">
          Say why you deny it.
        </p>
      )}
      <ErrorText message={decide.error} />
      <div className="decision-actions">
        <button
          type="button"
          className="primary"
          disabled={decide.busy}
          onClick={() => void decide.run(item, true, comment.trim())}
        >
          Approve
        </button>
        <button
          type="button"
          className="danger"
          disabled={decide.busy}
          onClick={() => {
            if (comment.trim() === '') setNeedsReason(true);
            else void decide.run(item, false, comment.trim());
          }}
        >
          Deny
        </button>
      </div>
    </form>
  );
}

function ItemCard({
  item,
  waiting,
  opened,
  decide,
}: {
  item: ApprovalItem;
  waiting: boolean;
  opened: boolean;
  decide: Action<[ApprovalItem, boolean, string]>;
}) {
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    if (opened) ref.current?.scrollIntoView({ block: 'nearest' });
  }, [opened]);
  const title =
    item.kind === 'statement'
      ? `${item.requester.name} wants to run a statement on ${item.targetId}`
      : `${item.requester.name} asks for access to ${item.targetId}`;
  const outcome = decidedBy(item);
  const headingId = `approval-${item.kind}-${item.id}`;
  return (
    <article ref={ref} className={`approval card${opened ? ' opened' : ''}`} aria-labelledby={headingId}>
      <header className="approval-head">
        <Badge tone={TONE[item.state] ?? 'neutral'}>{item.state}</Badge>
        <h3 id={headingId}>
          <a href={href({ screen: 'approvals', kind: item.kind, id: item.id })}>{title}</a>
        </h3>
        <span className="sub">{item.kind === 'statement' ? 'held statement' : 'access request'}</span>
      </header>
      {item.kind === 'statement' && <pre className="sql">{item.sql}</pre>}
      <Facts item={item} />
      {outcome && <p className="outcome">{outcome}</p>}
      {waiting && item.state === 'pending' && <DecisionForm item={item} decide={decide} />}
    </article>
  );
}

export function ApprovalsScreen({
  view,
  kind,
  id,
}: {
  view: ApprovalsView;
  kind?: ApprovalKind;
  id?: string;
}) {
  const a = useApprovals(view, kind, id);
  const isOpened = (item: ApprovalItem): boolean => item.id === id && (!kind || kind === item.kind);
  const openedElsewhere =
    a.opened && !view.waiting.some(isOpened) && !view.mine.some(isOpened) ? a.opened : undefined;
  return (
    <>
      <ScreenHeading focusKey={id}>Approvals</ScreenHeading>
      <div className="toolbar">
        <button type="button" onClick={() => void a.refresh.run()} disabled={a.refresh.busy}>
          Refresh
        </button>
      </div>
      {a.missing && <Failed message={a.missing} />}
      {openedElsewhere && (
        <section aria-labelledby="opened-heading">
          <h2 id="opened-heading">Opened from a link</h2>
          <ItemCard item={openedElsewhere} waiting={false} opened decide={a.decide} />
        </section>
      )}
      <WaitingSection view={view} a={a} isOpened={isOpened} />
      <section aria-labelledby="mine-heading">
        <h2 id="mine-heading">Yours</h2>
        {view.status === 'ready' && view.mine.length === 0 && (
          <Empty>
            <p>None of your statements was held and you have asked for no access.</p>
          </Empty>
        )}
        {view.mine.map((item) => (
          <ItemCard
            key={`${item.kind}:${item.id}`}
            item={item}
            waiting={false}
            opened={isOpened(item)}
            decide={a.decide}
          />
        ))}
      </section>
    </>
  );
}

/** What waits for the signed-in person's decision. */
function WaitingSection({
  view,
  a,
  isOpened,
}: {
  view: ApprovalsView;
  a: Approvals;
  isOpened: (item: ApprovalItem) => boolean;
}) {
  return (
    <section aria-labelledby="waiting-heading">
      <h2 id="waiting-heading">Waiting for you ({view.waiting.length})</h2>
      {view.status === 'loading' && view.waiting.length === 0 && <Loading what="what waits for you" />}
      {view.status === 'error' && (
        <Failed message={`Could not read approvals: ${view.error}`} onRetry={() => void a.refresh.run()} />
      )}
      {view.status === 'ready' && view.waiting.length === 0 && (
        <Empty>
          <p>Nothing waits for your decision.</p>
        </Empty>
      )}
      {view.waiting.map((item) => (
        <ItemCard
          key={`${item.kind}:${item.id}`}
          item={item}
          waiting
          opened={isOpened(item)}
          decide={a.decide}
        />
      ))}
    </section>
  );
}
