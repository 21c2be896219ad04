/**
 * The app's main-process services wired together, from ports (main/electron/ in the app, fakes in the
 * tests) and a configuration. This is the only place that knows how they depend on one another; the
 * lifecycle lives here too: start (restore the sign-in, end abandoned sessions), quit (every tunnel
 * closed cleanly, the spool flushed), wake (after sleep or a network change: renew the sign-in, re-check
 * grants, resume syncing), and where a link or a notification leads.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Destination } from '../../preload/api.ts';
import type { HomePaths } from '../../tunnel/account/home.ts';
import { AccountService, type SignedIn } from './account.ts';
import { ApprovalsInbox } from './approvals-inbox.ts';
import { AppStateStore, initialState } from './app-state.ts';
import { destinationOf } from './deep-link.ts';
import { EncryptedTokenStore, LocalSecrets, type Encryption } from './encrypted-store.ts';
import { HubConnection } from './hub-connection.ts';
import { NotificationsService } from './notifications.ts';
import type {
  Browser,
  Clipboard,
  Dialogs,
  EventSender,
  Notifier,
  PreferencesStore,
  SystemSettings,
  Tray,
  TrayAction,
  TrayModel,
} from './ports.ts';
import { PreferencesService } from './preferences.ts';
import { RecordingsService } from './recordings.ts';
import { TargetsService } from './targets.ts';
import { trayModel } from './tray-model.ts';
import { TunnelsService } from './tunnels.ts';

export interface DesktopPorts {
  sender: EventSender;
  notifier: Notifier;
  tray: Tray;
  clipboard: Clipboard;
  browser: Browser;
  dialogs: Dialogs;
  /** Brings the window forward; quits the app (the tray's Quit). */
  app: { show(): void; quit(): void };
  preferences: PreferencesStore;
  system: SystemSettings;
  encryption: Encryption;
}

export interface DesktopConfig {
  /** Where the profile, the encrypted tokens and secrets, the ports and the spool live. */
  home: HomePaths;
  defaultHubUrl: string;
  /** Where new targets' stable ports are picked from (default 15432–15631). */
  portRange?: { first: number; last: number };
  maskKey?: Buffer;
  statsIntervalMs?: number;
  revocationPollMs?: number;
  signInTimeoutMs?: number;
  log?: (message: string) => void;
}

export class DesktopServices {
  readonly state: AppStateStore;
  readonly connection: HubConnection;
  readonly preferences: PreferencesService;
  readonly notifications: NotificationsService;
  readonly account: AccountService;
  readonly tunnels: TunnelsService;
  readonly targets: TargetsService;
  readonly approvals: ApprovalsInbox;
  readonly recordings: RecordingsService;
  private lastTray: TrayModel | undefined;
  private quitting: Promise<void> | undefined;

  constructor(
    private readonly ports: DesktopPorts,
    private readonly config: DesktopConfig,
  ) {
    this.state = new AppStateStore(initialState(config.defaultHubUrl), ports.sender);
    this.connection = new HubConnection(this.state);
    this.preferences = new PreferencesService(
      this.state,
      ports.preferences,
      ports.system,
      config.defaultHubUrl,
    );
    this.notifications = new NotificationsService({
      notifier: ports.notifier,
      preferences: () => this.preferences.current().notifications,
      open: (destination) => this.navigate(destination),
    });
    const file = (name: string): string => `${config.home.directory}/${name}`;
    this.account = new AccountService({
      state: this.state,
      paths: config.home,
      tokenStore: new EncryptedTokenStore(file('tokens.sealed'), ports.encryption),
      browser: ports.browser,
      ...(config.signInTimeoutMs ? { signInTimeoutMs: config.signInTimeoutMs } : {}),
    });
    this.tunnels = new TunnelsService({
      state: this.state,
      connection: this.connection,
      notifications: this.notifications,
      clipboard: ports.clipboard,
      secrets: new LocalSecrets(file('local-secrets.sealed'), ports.encryption),
      paths: config.home,
      ...(config.portRange ? { portRange: config.portRange } : {}),
      ...(config.maskKey ? { maskKey: config.maskKey } : {}),
      ...(config.statsIntervalMs ? { statsIntervalMs: config.statsIntervalMs } : {}),
      ...(config.revocationPollMs ? { revocationPollMs: config.revocationPollMs } : {}),
      ...(config.log ? { log: config.log } : {}),
    });
    this.targets = new TargetsService({
      state: this.state,
      connection: this.connection,
      ports: () => this.tunnels.ports.all(),
      connected: () => this.tunnels.connected(),
    });
    this.approvals = new ApprovalsInbox({
      state: this.state,
      connection: this.connection,
      notifications: this.notifications,
    });
    this.recordings = new RecordingsService({
      connection: this.connection,
      dialogs: ports.dialogs,
      hub: () => this.account.current()?.account.hub,
    });
    this.tunnels.onConnectedChange(() => this.targets.connectedChanged());
    this.account.onChange((signedIn) => (signedIn ? this.signedIn(signedIn) : this.signingOut()));
    this.connection.onReconnect(() => void this.reread());
    this.state.onChange((state) => this.updateTray(trayModel(state)));
  }

  /** At start: preferences, the sign-in kept from last time (ending sessions a crashed run left open). */
  async start(): Promise<void> {
    const preferences = this.preferences.load();
    this.updateTray(trayModel(this.state.snapshot()));
    await this.account.restore(preferences.hubUrl);
  }

  /** Quit: every tunnel closed with tunnel.close recorded, the spool flushed to the hub. Idempotent. */
  quit(): Promise<void> {
    this.quitting ??= (async () => {
      this.connection.stop();
      await this.tunnels.stop('Portcullis was quit');
    })();
    return this.quitting;
  }

  /** After sleep/resume or a network change. */
  async wake(): Promise<void> {
    const signedIn = this.account.current();
    if (!signedIn) return;
    await this.account
      .renew()
      .catch((error: Error) => this.config.log?.(`renewing the sign-in: ${error.message}`));
    const still = this.account.current();
    if (!still) return;
    this.connection.start(still.account.hub);
    await this.tunnels.wake();
    await this.reread();
  }

  /** Shows the window on `destination`. */
  navigate(destination: Destination): void {
    this.ports.app.show();
    this.ports.sender.send('push:navigate', destination);
  }

  /** A portcullis:// link: opens the app where it points (an approval's kind is looked up). */
  async openLink(link: string): Promise<boolean> {
    const destination = destinationOf(link);
    if (!destination) return false;
    if (destination.screen === 'approvals' && destination.id && !destination.kind) {
      for (const kind of ['statement', 'access'] as const) {
        const found = await this.approvals.get(kind, destination.id).then(
          () => true,
          () => false,
        );
        if (found) {
          destination.kind = kind;
          break;
        }
      }
    }
    this.navigate(destination);
    return true;
  }

  handleTrayAction(action: TrayAction): void {
    switch (action.kind) {
      case 'open':
        this.ports.app.show();
        return;
      case 'quit':
        this.ports.app.quit();
        return;
      case 'navigate':
        this.navigate(action.to);
        return;
      case 'disconnect':
        void this.tunnels.disconnect(action.targetId).catch(() => undefined);
        return;
    }
  }

  /** Whether the window is visible: the live counts are pushed only while someone can see them. */
  windowVisible(visible: boolean): void {
    this.tunnels.watchStats(visible);
    if (visible) this.tunnels.push();
  }

  private async signedIn(signedIn: SignedIn): Promise<void> {
    const { hub } = signedIn.account;
    this.connection.start(hub);
    this.targets.start(hub);
    this.approvals.start(hub);
    if (this.preferences.current().hubUrl !== signedIn.account.profile.hub) {
      this.preferences.update({ hubUrl: signedIn.account.profile.hub });
    }
    // The lists need not wait for the engine (its classifier takes a moment to load).
    await Promise.all([this.tunnels.start(signedIn), this.reread()]);
  }

  private async signingOut(): Promise<void> {
    this.connection.stop();
    await this.tunnels.stop('signed out of Portcullis');
    this.targets.stop();
    this.approvals.stop();
  }

  /** Reads targets and approvals again (after a reconnection, events may have been missed). */
  private async reread(): Promise<void> {
    if (!this.account.current()) return;
    await Promise.allSettled([this.targets.refresh(), this.approvals.refresh()]);
  }

  private updateTray(model: TrayModel): void {
    if (isDeepStrictEqual(model, this.lastTray)) return;
    this.lastTray = model;
    this.ports.tray.update(model);
  }
}
