/**
 * What the main-process services need from the outside world, as small interfaces. main/electron/
 * implements them with Electron (notifications, tray, clipboard, dialogs, safeStorage, the window); the
 * tests implement them with fakes that record what would be shown and can "click".
 */
import type { Destination, PushChannel, PushContract } from '../../preload/api.ts';

/** An action button on a notification. */
export interface NotificationAction {
  id: string;
  label: string;
}

/** A native notification, as plain data. */
export interface NotificationModel {
  /** Stable per subject (e.g. "approval:ID"): showing it again replaces it. */
  id: string;
  title: string;
  body: string;
  actions: NotificationAction[];
  /** Where clicking the notification's body leads. */
  opens: Destination;
  /** Stays until acted on (something waits for this person). */
  urgent: boolean;
}

export interface NotificationHandlers {
  onClick(): void;
  onAction(actionId: string): void;
}

export interface Notifier {
  show(notification: NotificationModel, handlers: NotificationHandlers): void;
  /** Takes a shown notification away (it was decided elsewhere). */
  close(id: string): void;
}

export interface TrayMenuItem {
  label: string;
  /** Absent: a line of information, not clickable. */
  action?: TrayAction;
  enabled?: boolean;
}

export type TrayAction =
  | { kind: 'open' }
  | { kind: 'quit' }
  | { kind: 'navigate'; to: Destination }
  | { kind: 'disconnect'; targetId: string };

export interface TrayModel {
  tooltip: string;
  /** What waits for this person's decision (the badge). */
  badge: number;
  items: TrayMenuItem[];
}

export interface Tray {
  update(model: TrayModel): void;
}

/** Pushes messages to the renderer (the window's webContents, when there is a window). */
export interface EventSender {
  send<P extends PushChannel>(channel: P, message: PushContract[P]): void;
}

export interface Clipboard {
  writeText(text: string): void;
}

export interface Browser {
  /** Opens a URL in the system browser (only the identity provider's sign-in page). */
  open(url: string): Promise<void>;
}

export interface Dialogs {
  /** Asks where to save a file; null when the person cancelled. */
  chooseSaveFile(defaultName: string): Promise<string | null>;
}

/** The window, so that a notification click or a link can bring it forward. */
export interface WindowControl {
  show(): void;
}

/** Persistent preferences (electron-store in the app): the raw stored value, validated by the service. */
export interface PreferencesStore {
  read(): unknown;
  write(value: unknown): void;
}

/** Operating-system integration the preferences drive. */
export interface SystemSettings {
  setStartAtLogin(enabled: boolean): void;
}
