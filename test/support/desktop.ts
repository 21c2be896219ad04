/**
 * The desktop app's main-process services, for tests: the real services (main/services) with fake
 * adapters in place of Electron's — a notifier that records what would be shown and can click its body or
 * an action, a tray that keeps its models, a push channel that mirrors the renderer's state — signed in
 * through the real browser flow (driven over HTTP) against a real hub.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AppState, Destination, PushChannel, PushContract } from '../../preload/api.ts';
import { DesktopServices, type DesktopConfig } from '../../main/services/desktop-services.ts';
import type { Encryption } from '../../main/services/encrypted-store.ts';
import { testEncryption } from './test-encryption.ts';
import type {
  NotificationHandlers,
  NotificationModel,
  Notifier,
  TrayModel,
} from '../../main/services/ports.ts';
import { homePathsIn } from '../../tunnel/account/home.ts';
import { demoUser, fakeBrowser } from '../identity/browser-driver.ts';
import { freeRange, until } from './waiting.ts';

export interface ShownNotification {
  model: NotificationModel;
  handlers: NotificationHandlers;
  closed: boolean;
  at: number;
}

/** Records notifications; `act` and `click` do what a person's click would. */
export class FakeNotifier implements Notifier {
  readonly shown: ShownNotification[] = [];

  show(model: NotificationModel, handlers: NotificationHandlers): void {
    for (const n of this.shown) if (n.model.id === model.id) n.closed = true;
    this.shown.push({ model, handlers, closed: false, at: performance.now() });
  }

  close(id: string): void {
    for (const n of this.shown) if (n.model.id === id) n.closed = true;
  }

  /** The notification (open or not) whose title matches, waiting for it to appear. */
  async waitFor(title: RegExp | string, timeoutMs = 20_000): Promise<ShownNotification> {
    return until(
      `a notification "${String(title)}" (shown: ${this.titles().join(' | ')})`,
      () =>
        this.shown.find((n) =>
          typeof title === 'string' ? n.model.title.includes(title) : title.test(n.model.title),
        ),
      timeoutMs,
    );
  }

  titles(): string[] {
    return this.shown.map((n) => n.model.title);
  }

  act(notification: ShownNotification, actionId: string): void {
    notification.handlers.onAction(actionId);
  }

  click(notification: ShownNotification): void {
    notification.handlers.onClick();
  }
}

export { testEncryption } from './test-encryption.ts';

export interface TestDesktop {
  services: DesktopServices;
  notifier: FakeNotifier;
  trays: TrayModel[];
  /** The renderer's view of the state, rebuilt from what main pushed. */
  mirror(): AppState;
  pushes: { channel: PushChannel; message: unknown }[];
  navigations: Destination[];
  clipboard: string[];
  shown: number;
  quits: number;
  startAtLogin: boolean[];
  /** The path the save dialog answers with (null: cancelled). */
  saveAs: string | null;
  home: string;
  /** Signs `username` in through the browser step, driven over HTTP. */
  signIn(username: string): Promise<void>;
  /** The next sign-in's browser step signs `username` in (for a sign-in started from the window). */
  browserSignsInAs(username: string): void;
  /** Sends each push also to `listener` (the renderer bridge). */
  forward(listener: (channel: PushChannel, message: unknown) => void): void;
}

export interface DesktopOptions {
  hubUrl: string;
  home?: string;
  encryption?: Encryption;
  config?: Partial<DesktopConfig>;
}

export async function createTestDesktop(options: DesktopOptions): Promise<TestDesktop> {
  const home = options.home ?? (await mkdtemp(path.join(tmpdir(), 'portcullis-desktop-')));
  const notifier = new FakeNotifier();
  let state: AppState | undefined;
  let stored: unknown;
  const listeners: ((channel: PushChannel, message: unknown) => void)[] = [];
  let browser: ((url: string) => Promise<void>) | undefined;
  const desktop: TestDesktop = {
    services: undefined as unknown as DesktopServices,
    notifier,
    trays: [],
    mirror: () => structuredClone(state ?? desktop.services.state.snapshot()),
    pushes: [],
    navigations: [],
    clipboard: [],
    shown: 0,
    quits: 0,
    startAtLogin: [],
    saveAs: null,
    home,
    async signIn(username) {
      desktop.browserSignsInAs(username);
      await desktop.services.account.signIn(options.hubUrl);
    },
    browserSignsInAs(username) {
      browser = fakeBrowser(demoUser(username)).openBrowser;
    },
    forward: (listener) => listeners.push(listener),
  };
  const send = <P extends PushChannel>(channel: P, message: PushContract[P]): void => {
    desktop.pushes.push({ channel, message });
    if (channel === 'push:state') {
      const push = message as PushContract['push:state'];
      state =
        push.kind === 'snapshot'
          ? push.state
          : { ...(state ?? desktop.services.state.snapshot()), ...push.patch };
    } else {
      desktop.navigations.push(message as Destination);
    }
    for (const listener of listeners) listener(channel, message);
  };
  desktop.services = new DesktopServices(
    {
      sender: { send },
      notifier,
      tray: { update: (model) => desktop.trays.push(model) },
      clipboard: { writeText: (text) => desktop.clipboard.push(text) },
      browser: {
        open: async (url) => {
          if (!browser) throw new Error('no browser driver: call signIn(username)');
          await browser(url);
        },
      },
      dialogs: { chooseSaveFile: async () => desktop.saveAs },
      app: { show: () => desktop.shown++, quit: () => desktop.quits++ },
      preferences: { read: () => stored, write: (value) => (stored = structuredClone(value)) },
      system: { setStartAtLogin: (enabled) => desktop.startAtLogin.push(enabled) },
      encryption: options.encryption ?? testEncryption(),
    },
    {
      home: homePathsIn(home),
      defaultHubUrl: options.hubUrl,
      statsIntervalMs: 100,
      revocationPollMs: 1000,
      // Ports of their own: other programs on a shared machine use the default range too.
      portRange: options.config?.portRange ?? (await freeRange(20)),
      ...options.config,
    },
  );
  return desktop;
}
