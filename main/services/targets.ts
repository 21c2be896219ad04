/**
 * The targets the signed-in person may use or request, with how they stand on each (standing, granted
 * until …, pending, requestable), the stable port remembered for each and whether a tunnel is open; and
 * asking for just-in-time access. Re-read when the hub says an access request or grant changed.
 */
import type { AccessRequestInput, HubEvent } from '../../hub/api/types.ts';
import { parseDuration } from '../../hub/api/duration.ts';
import type { AccessApproval, RequestAccessInput, TargetView } from '../../preload/api.ts';
import type { HubClient } from '../../tunnel/hub-client/index.ts';
import type { AppStateStore } from './app-state.ts';
import { AppError, classify } from './errors.ts';
import type { HubConnection } from './hub-connection.ts';
import { accessApproval, targetView } from './views.ts';

export interface TargetsOptions {
  state: AppStateStore;
  connection: HubConnection;
  /** The remembered port of every target. */
  ports: () => Promise<Record<string, number>>;
  /** Targets with a tunnel open now. */
  connected: () => ReadonlySet<string>;
}

const MAX_REASON = 2000;

export class TargetsService {
  private hub: HubClient | undefined;
  private refreshing: Promise<TargetView[]> | undefined;
  private again = false;

  constructor(private readonly options: TargetsOptions) {
    options.connection.onEvent((event) => this.onHubEvent(event));
  }

  start(hub: HubClient): void {
    this.hub = hub;
  }

  stop(): void {
    this.hub = undefined;
    this.options.state.set('targets', { status: 'idle', items: [], error: null });
  }

  /** Reads the targets again; concurrent calls share one read (and one more after it, if asked during). */
  refresh(): Promise<TargetView[]> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = this.read().finally(() => {
      this.refreshing = undefined;
      if (this.again) {
        this.again = false;
        void this.refresh().catch(() => undefined);
      }
    });
    return this.refreshing;
  }

  /** The connected flags changed (a tunnel opened or closed): no need to ask the hub. */
  connectedChanged(): void {
    const targets = this.options.state.get('targets');
    const connected = this.options.connected();
    this.options.state.set('targets', {
      ...targets,
      items: targets.items.map((t) => ({ ...t, connected: connected.has(t.id) })),
    });
  }

  async requestAccess(input: RequestAccessInput): Promise<AccessApproval> {
    const hub = this.requireHub();
    const reason = input.reason.trim();
    if (reason === '') throw new AppError('invalid', 'Say why you need access: the approvers read it.');
    if (reason.length > MAX_REASON)
      throw new AppError('invalid', `The reason is longer than ${MAX_REASON} characters.`);
    const request: AccessRequestInput = { targetId: input.targetId, reason };
    if (input.duration !== undefined && input.duration.trim() !== '') {
      if (parseDuration(input.duration) === undefined) {
        throw new AppError('invalid', `"${input.duration}" is not a duration such as 30m or 1h`);
      }
      request.duration = input.duration.trim();
    }
    const created = await this.options.connection.call(() => hub.requestAccess(request));
    await this.refresh().catch(() => undefined);
    return accessApproval(created);
  }

  async cancelRequest(requestId: string): Promise<AccessApproval> {
    const hub = this.requireHub();
    const cancelled = await this.options.connection.call(() =>
      hub.revokeAccess(requestId, 'cancelled in the app'),
    );
    await this.refresh().catch(() => undefined);
    return accessApproval(cancelled);
  }

  private async read(): Promise<TargetView[]> {
    const hub = this.requireHub();
    const { state } = this.options;
    // A list on screen stays while it is read again; only a first read (or one after an error) shows loading.
    if (state.get('targets').status !== 'ready')
      state.set('targets', { ...state.get('targets'), status: 'loading' });
    try {
      const [targets, ports] = await Promise.all([
        this.options.connection.call(() => hub.targets()),
        this.options.ports().catch(() => ({}) as Record<string, number>),
      ]);
      const connected = this.options.connected();
      const items = targets.map((t) => targetView(t, ports[t.id], connected.has(t.id)));
      if (this.hub === hub) state.set('targets', { status: 'ready', items, error: null });
      return items;
    } catch (error) {
      if (this.hub === hub) {
        state.set('targets', { ...state.get('targets'), status: 'error', error: classify(error).message });
      }
      throw error;
    }
  }

  private onHubEvent(event: HubEvent): void {
    if (!this.hub || !event.type.startsWith('access.')) return;
    void this.refresh().catch(() => undefined);
  }

  private requireHub(): HubClient {
    if (!this.hub) throw new AppError('not-signed-in', 'Sign in first.');
    return this.hub;
  }
}
