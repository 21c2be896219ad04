/**
 * The guarded tunnels the app runs for the signed-in person: the engine (tunnel/runtime) started at
 * sign-in and stopped, every tunnel closed and the spool flushed, at sign-out or quit; Connect and
 * Disconnect; the stable port and local secret of each target; the live counts, pushed about once a
 * second while someone watches; and the statements each tunnel held, with how they ended.
 */
import type { ConnectionField, HoldView, TunnelView } from '../../preload/api.ts';
import type { HubClient } from '../../tunnel/hub-client/index.ts';
import { PortRegistry } from '../../tunnel/manager/port-registry.ts';
import type { OpenTunnel } from '../../tunnel/manager/tunnel-manager.ts';
import type { SessionEvent } from '../../tunnel/recorder/recording-point.ts';
import { startEngine, type Engine } from '../../tunnel/runtime/engine.ts';
import type { SignedIn } from './account.ts';
import type { AppStateStore } from './app-state.ts';
import { connectionDetails, connectionField } from './connection-details.ts';
import type { LocalSecrets } from './encrypted-store.ts';
import { AppError } from './errors.ts';
import type { HubConnection } from './hub-connection.ts';
import { myStatementHeld, tunnelEnded } from './notification-models.ts';
import type { NotificationsService } from './notifications.ts';
import type { Clipboard } from './ports.ts';

export interface TunnelsOptions {
  state: AppStateStore;
  connection: HubConnection;
  notifications: NotificationsService;
  clipboard: Clipboard;
  secrets: LocalSecrets;
  /** The Portcullis home: its directory (SSH targets keep their local keys there), spool and ports. */
  paths: { directory: string; spool: string; ports: string };
  portRange?: { first: number; last: number };
  maskKey?: Buffer;
  /** How often the live counts are pushed while watched. Default 1000 ms. */
  statsIntervalMs?: number;
  revocationPollMs?: number;
  log?: (message: string) => void;
  now?: () => Date;
}

interface Entry {
  tunnel: OpenTunnel;
  openedAt: string;
  holds: HoldView[];
  state: TunnelView['state'];
  closed: TunnelView['closed'];
  /** Closed from the app (Disconnect, sign-out, quit): no notification, and it leaves the list. */
  byUser: boolean;
}

const MAX_HOLDS = 50;

export class TunnelsService {
  private engine: Engine | undefined;
  private hub: HubClient | undefined;
  private readonly entries = new Map<string, Entry>();
  private ticker: NodeJS.Timeout | undefined;
  private watching = true;
  readonly ports: PortRegistry;
  private readonly connectedListeners = new Set<() => void>();

  constructor(private readonly options: TunnelsOptions) {
    this.ports = new PortRegistry(options.paths.ports, options.portRange);
  }

  /** Targets with a tunnel open now. */
  connected(): ReadonlySet<string> {
    return new Set([...this.entries].filter(([, e]) => e.state === 'open').map(([id]) => id));
  }

  onConnectedChange(listener: () => void): void {
    this.connectedListeners.add(listener);
  }

  /** Starts the engine for `signedIn`: sessions a crashed run left open are ended, the spool syncs. */
  async start({ account, me }: SignedIn): Promise<void> {
    await this.stop('signed in again');
    this.hub = account.hub;
    this.engine = await startEngine({
      hub: account.hub,
      tokens: account.tokens,
      identity: me,
      paths: this.options.paths,
      ...(this.options.portRange ? { portRange: this.options.portRange } : {}),
      ...(this.options.maskKey ? { maskKey: this.options.maskKey } : {}),
      ...(this.options.revocationPollMs ? { revocationPollMs: this.options.revocationPollMs } : {}),
      log: (message) => this.options.log?.(message),
      onSync: (state) => this.pushSync(state === 'failing'),
      onTunnelEvent: (tunnel, event) => this.onTunnelEvent(tunnel, event),
    });
    this.arm();
  }

  /** Closes every tunnel (tunnel.close recorded), flushes the spool, stops the engine. */
  async stop(reason: string, flushTimeoutMs?: number): Promise<{ pending: number }> {
    const engine = this.engine;
    if (!engine) return { pending: 0 };
    for (const entry of this.entries.values()) entry.byUser = true;
    const stopped = await engine.stop({
      reason,
      ...(flushTimeoutMs === undefined ? {} : { flushTimeoutMs }),
    });
    this.engine = undefined;
    this.hub = undefined;
    clearInterval(this.ticker);
    this.ticker = undefined;
    this.entries.clear();
    this.push();
    return stopped;
  }

  async connect(targetId: string, port?: number): Promise<TunnelView> {
    const engine = this.requireEngine();
    const existing = this.entries.get(targetId);
    if (existing?.state === 'open') return this.view(targetId, existing);
    this.entries.delete(targetId);
    const secret = await this.options.secrets.secretFor(targetId);
    const tunnel = await this.options.connection.call(() =>
      engine.open(targetId, { secret, ...(port === undefined ? {} : { port }) }),
    );
    const entry: Entry = {
      tunnel,
      openedAt: this.now().toISOString(),
      holds: [],
      state: 'open',
      closed: null,
      byUser: false,
    };
    this.entries.set(targetId, entry);
    void tunnel.closed.then((closed) => this.onClosed(targetId, entry, closed));
    this.push();
    this.connectedChanged();
    return this.view(targetId, entry);
  }

  async disconnect(targetId: string): Promise<void> {
    const entry = this.entries.get(targetId);
    if (!entry) return;
    entry.byUser = true;
    if (entry.state === 'open') {
      entry.state = 'closing';
      this.push();
      await entry.tunnel.close('disconnected in the app');
    }
    this.entries.delete(targetId);
    this.push();
    this.connectedChanged();
  }

  /** A new stable port for `targetId`; an open tunnel moves to it (its clients reconnect). */
  async setPort(targetId: string, port: number): Promise<number> {
    if (!Number.isInteger(port) || port < 1024 || port > 65_535) {
      throw new AppError('invalid', 'Choose a port from 1024 to 65535.');
    }
    const entry = this.entries.get(targetId);
    if (entry?.state !== 'open') {
      await this.ports.portFor(targetId, port);
      return port;
    }
    if (entry.tunnel.endpoint.port === port) return port;
    await this.disconnect(targetId);
    await this.connect(targetId, port);
    return port;
  }

  copy(targetId: string, field: ConnectionField): void {
    this.options.clipboard.writeText(connectionField(this.openTunnel(targetId).endpoint, field));
  }

  revealSecret(targetId: string): string {
    return this.openTunnel(targetId).endpoint.password;
  }

  /** Whether the live counts are pushed (the window is visible). */
  watchStats(on: boolean): void {
    this.watching = on;
    this.arm();
  }

  /** After sleep or a network change: ask the hub what must close, and sync what is spooled now. */
  async wake(): Promise<void> {
    const engine = this.engine;
    if (!engine) return;
    await engine.manager.checkRevocations().catch(() => undefined);
    void engine.syncNow().then((synced) => synced && this.pushSync(false));
  }

  /** The counts and holds as they are now, pushed if they changed. */
  push(): void {
    this.options.state.set(
      'tunnels',
      [...this.entries].map(([id, entry]) => this.view(id, entry)),
    );
    if (this.engine) {
      const status = this.engine.syncStatus();
      this.options.connection.setSync({ pending: status.pending, failing: status.consecutiveFailures > 0 });
    }
  }

  private arm(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
    if (!this.engine || !this.watching) return;
    this.ticker = setInterval(() => this.push(), this.options.statsIntervalMs ?? 1000);
    this.ticker.unref();
  }

  private view(targetId: string, entry: Entry): TunnelView {
    const { tunnel } = entry;
    return {
      targetId,
      targetName: tunnel.target.name,
      sessionId: tunnel.sessionId,
      policy: tunnel.policy,
      grantExpiresAt: tunnel.grantExpiresAt,
      openedAt: entry.openedAt,
      state: entry.state,
      closed: entry.closed,
      connection: connectionDetails(tunnel.endpoint, false),
      stats: tunnel.stats(),
      holds: entry.holds.map((h) => ({ ...h })),
    };
  }

  private onClosed(targetId: string, entry: Entry, closed: { cause: string; reason: string }): void {
    if (this.entries.get(targetId) !== entry) return;
    entry.state = 'closed';
    entry.closed = { cause: closed.cause, reason: closed.reason };
    if (entry.byUser) this.entries.delete(targetId);
    else {
      this.options.notifications.show('access', `tunnel:${targetId}`, tunnelEnded(targetId, closed.reason));
    }
    this.push();
    this.connectedChanged();
  }

  private onTunnelEvent(tunnel: OpenTunnel, event: SessionEvent): void {
    const entry = this.entries.get(tunnel.target.id);
    if (!entry || entry.tunnel !== tunnel) return;
    if (event.type === 'hold') {
      entry.holds = [
        {
          id: event.request,
          sql: event.sql,
          rule: event.rule,
          state: 'pending' as const,
          heldAt: this.now().toISOString(),
          decidedBy: null,
          comment: null,
          context: null,
        },
        ...entry.holds,
      ].slice(0, MAX_HOLDS);
      this.options.notifications.show(
        'statements',
        `mine:${event.request}`,
        myStatementHeld(tunnel.target.id, event.request, event.sql),
      );
      void this.fetchContext(entry, event.request);
    } else if (event.type === 'hold.resolved') {
      const hold = entry.holds.find((h) => h.id === event.request);
      if (hold) {
        hold.state = event.outcome;
        hold.decidedBy = event.by ?? null;
        hold.comment = event.comment ?? null;
      }
    } else {
      return;
    }
    this.push();
  }

  /** The tables and estimated rows the hub keeps with the hold. */
  private async fetchContext(entry: Entry, approvalId: string): Promise<void> {
    const hub = this.hub;
    if (!hub) return;
    try {
      const approval = await hub.approval(approvalId);
      const hold = entry.holds.find((h) => h.id === approvalId);
      if (hold && approval.context) hold.context = structuredClone(approval.context);
      this.push();
    } catch {
      // Only for the view: the hold itself goes on.
    }
  }

  private pushSync(failing: boolean): void {
    const pending = this.engine?.syncStatus().pending ?? 0;
    this.options.connection.setSync({ pending, failing });
  }

  private connectedChanged(): void {
    for (const listener of this.connectedListeners) listener();
  }

  private openTunnel(targetId: string): OpenTunnel {
    const entry = this.entries.get(targetId);
    if (entry?.state !== 'open') throw new AppError('not-found', `No tunnel to ${targetId} is open.`);
    return entry.tunnel;
  }

  private requireEngine(): Engine {
    if (!this.engine) throw new AppError('not-signed-in', 'Sign in first.');
    return this.engine;
  }

  private now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }
}
