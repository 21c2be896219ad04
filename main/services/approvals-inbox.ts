/**
 * What waits for the signed-in person's decision (held statements and access requests on the targets
 * they approve), and their own held statements and requests; kept current from the hub's events. A new
 * item raises a notification whose Approve and Deny decide at once as this person, recorded at the hub
 * as decided from a notification; requesters hear of decisions, grants, and grants about to end.
 */
import type { AccessRequest, Approval, DecisionChannel, HubEvent } from '../../hub/api/types.ts';
import type { ApprovalItem, ApprovalKind, ApprovalsView, DecideInput } from '../../preload/api.ts';
import type { HubClient } from '../../tunnel/hub-client/index.ts';
import { decideAs } from '../../tunnel/runtime/decisions.ts';
import type { AppStateStore } from './app-state.ts';
import { AppError, classify } from './errors.ts';
import type { HubConnection } from './hub-connection.ts';
import {
  accessRequestForApprover,
  heldStatementForApprover,
  myAccessChanged,
  myStatementDecided,
} from './notification-models.ts';
import type { NotificationsService } from './notifications.ts';
import { accessApproval, statementApproval } from './views.ts';

const MINE_LIMIT = 50;
const MAX_COMMENT = 2000;

export interface ApprovalsInboxOptions {
  state: AppStateStore;
  connection: HubConnection;
  notifications: NotificationsService;
}

const key = (item: { kind: ApprovalKind; id: string }): string => `${item.kind}:${item.id}`;

export class ApprovalsInbox {
  private hub: HubClient | undefined;

  constructor(private readonly options: ApprovalsInboxOptions) {
    options.connection.onEvent((event) => this.onHubEvent(event));
  }

  start(hub: HubClient): void {
    this.hub = hub;
  }

  stop(): void {
    this.hub = undefined;
    this.options.state.set('approvals', { status: 'idle', error: null, waiting: [], mine: [] });
  }

  async refresh(): Promise<ApprovalsView> {
    const hub = this.requireHub();
    const { state, connection } = this.options;
    if (state.get('approvals').status !== 'ready') {
      state.set('approvals', { ...state.get('approvals'), status: 'loading' });
    }
    try {
      const [statements, requests, myStatements, myRequests] = await connection.call(() =>
        Promise.all([
          hub.approvals('pending'),
          hub.accessRequests('pending'),
          hub.approvals('mine', { limit: MINE_LIMIT }),
          hub.accessRequests('mine', { limit: MINE_LIMIT }),
        ]),
      );
      const waiting = [...statements.map(statementApproval), ...requests.map(accessApproval)].sort((a, b) =>
        a.createdAt.localeCompare(b.createdAt),
      );
      const mine = [...myStatements.map(statementApproval), ...myRequests.map(accessApproval)]
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
        .slice(0, MINE_LIMIT);
      const view: ApprovalsView = { status: 'ready', error: null, waiting, mine };
      if (this.hub === hub) state.set('approvals', view);
      return view;
    } catch (error) {
      if (this.hub === hub) {
        state.set('approvals', {
          ...state.get('approvals'),
          status: 'error',
          error: classify(error).message,
        });
      }
      throw error;
    }
  }

  async get(kind: ApprovalKind, id: string): Promise<ApprovalItem> {
    const hub = this.requireHub();
    return kind === 'statement'
      ? statementApproval(await this.options.connection.call(() => hub.approval(id)))
      : accessApproval(await this.options.connection.call(() => hub.accessRequest(id)));
  }

  /** Decides as the signed-in person; `via` is recorded at the hub. */
  async decide(input: DecideInput, via: DecisionChannel): Promise<ApprovalItem> {
    const hub = this.requireHub();
    const comment = input.comment?.trim() ?? '';
    if (comment.length > MAX_COMMENT)
      throw new AppError('invalid', `The comment is longer than ${MAX_COMMENT} characters.`);
    if (via === 'app') this.options.notifications.actedInWindow(key(input));
    else this.options.notifications.close(key(input));
    const decided = await this.options.connection.call(() =>
      decideAs(hub, input.kind, input.id, { approve: input.approve, comment: comment || null, via }),
    );
    const item =
      decided.kind === 'statement' ? statementApproval(decided.approval) : accessApproval(decided.request);
    this.upsert(item, false);
    return item;
  }

  private onHubEvent(event: HubEvent): void {
    if (!this.hub) return;
    const approval = event.payload['approval'] as Approval | undefined;
    const request = event.payload['request'] as AccessRequest | undefined;
    switch (event.type) {
      case 'approval.requested':
        if (approval) this.newHeldStatement(approval);
        return;
      case 'approval.updated':
        if (approval) this.updated(statementApproval(approval), false);
        return;
      case 'approval.decided':
        if (approval) this.myStatementDecided(approval);
        return;
      case 'access.requested':
        if (request) this.newAccessRequest(request);
        return;
      case 'access.updated':
      case 'access.cancelled':
        if (request) {
          const decidedByMe = request.decisions.some((d) => d.approver.subject === this.subject());
          this.updated(accessApproval(request), decidedByMe);
        }
        return;
      case 'access.decided':
      case 'access.expiring':
      case 'access.expired':
      case 'access.revoked':
        if (request) this.myAccessChanged(event.type, request);
        return;
      default:
        return;
    }
  }

  private newHeldStatement(approval: Approval): void {
    const item = statementApproval(approval);
    this.upsert(item, true);
    this.options.notifications.show('approvals', key(item), heldStatementForApprover(approval), (approve) =>
      this.decide(
        { kind: 'statement', id: approval.id, approve, comment: approve ? '' : 'Denied from a notification' },
        'notification',
      ).then(() => undefined),
    );
  }

  private newAccessRequest(request: AccessRequest): void {
    const item = accessApproval(request);
    this.upsert(item, true);
    this.options.notifications.show('approvals', key(item), accessRequestForApprover(request), (approve) =>
      this.decide(
        { kind: 'access', id: request.id, approve, comment: approve ? '' : 'Denied from a notification' },
        'notification',
      ).then(() => undefined),
    );
  }

  /** Decided or changed elsewhere: it no longer waits (its notification goes), or it waits updated. */
  private updated(item: ApprovalItem, decidedByMe: boolean): void {
    const waits = item.state === 'pending' && !decidedByMe;
    if (!waits) this.options.notifications.close(key(item));
    this.upsert(item, waits);
  }

  private myStatementDecided(approval: Approval): void {
    const item = statementApproval(approval);
    this.upsert(item, false);
    // Withdrawn: the person's own client gave up (cancel, timeout): nothing to tell them.
    if (approval.state === 'withdrawn' || approval.state === 'pending') return;
    this.options.notifications.show(
      'statements',
      `mine:${approval.id}`,
      myStatementDecided(approval.targetId, approval.id, approval.sql, {
        state: approval.state,
        by: approval.decidedBy?.name ?? null,
        comment: approval.comment,
      }),
    );
  }

  private myAccessChanged(type: HubEvent['type'], request: AccessRequest): void {
    const item = accessApproval(request);
    const mine = request.requester.subject === this.subject();
    this.upsert(item, !mine && item.state === 'pending');
    if (!mine) {
      this.options.notifications.close(key(item));
      return;
    }
    const kind = type === 'access.decided' ? 'decided' : type === 'access.expiring' ? 'expiring' : 'ended';
    // A pending request that lapsed was never a grant: nothing ended.
    if (kind === 'ended' && request.decidedAt === null) return;
    this.options.notifications.show('access', `my-access:${request.id}`, myAccessChanged(request, kind));
  }

  /** Puts `item` in the lists: in `waiting` when it waits for me, in `mine` when it is mine. */
  private upsert(item: ApprovalItem, waits: boolean): void {
    const { state } = this.options;
    const view = state.get('approvals');
    const others = (list: ApprovalItem[]): ApprovalItem[] => list.filter((i) => key(i) !== key(item));
    const waiting = waits
      ? [...others(view.waiting), item].sort((a, b) => a.createdAt.localeCompare(b.createdAt))
      : others(view.waiting);
    const mine =
      item.requester.subject === this.subject()
        ? [item, ...others(view.mine)]
            .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
            .slice(0, MINE_LIMIT)
        : view.mine;
    state.set('approvals', { ...view, waiting, mine });
  }

  private subject(): string | undefined {
    const account = this.options.state.get('account');
    return account.state === 'signed-in' ? account.me.subject : undefined;
  }

  private requireHub(): HubClient {
    if (!this.hub) throw new AppError('not-signed-in', 'Sign in first.');
    return this.hub;
  }
}
