/**
 * Shows native notifications, as the person's preferences allow, and never for what they just did in the
 * window: a decision taken there, a request made there. An approver's notification carries Approve and
 * Deny, which decide at once; clicking its body opens the approval.
 */
import type { Destination, Preferences } from '../../preload/api.ts';
import type { NotificationModel, Notifier } from './ports.ts';

export type NotificationTopic = keyof Preferences['notifications'];

export interface NotificationsOptions {
  notifier: Notifier;
  preferences: () => Preferences['notifications'];
  /** Brings the window forward on `destination`. */
  open: (destination: Destination) => void;
  /** How long something done in the window keeps its notifications away. Default 30 s. */
  quietMs?: number;
  now?: () => number;
}

export class NotificationsService {
  /** Subjects (e.g. "statement:ID") the person acted on in the window, and until when to keep quiet. */
  private readonly quiet = new Map<string, number>();
  private readonly shown = new Set<string>();

  constructor(private readonly options: NotificationsOptions) {}

  /** The person acted on `subject` in the window: no notification about it for a while. */
  actedInWindow(subject: string): void {
    const now = this.now();
    for (const [key, until] of this.quiet) if (until <= now) this.quiet.delete(key);
    this.quiet.set(subject, now + (this.options.quietMs ?? 30_000));
    this.close(subject);
  }

  /**
   * Shows `model` unless the topic is turned off or the person just acted on `subject`. `decide`, when
   * given, answers the Approve and Deny actions.
   */
  show(
    topic: NotificationTopic,
    subject: string,
    model: NotificationModel,
    decide?: (approve: boolean) => Promise<void>,
  ): boolean {
    if (!this.options.preferences()[topic]) return false;
    if ((this.quiet.get(subject) ?? 0) > this.now()) return false;
    this.shown.add(model.id);
    this.options.notifier.show(model, {
      onClick: () => this.options.open(model.opens),
      onAction: (action) => {
        if (!decide || (action !== 'approve' && action !== 'deny')) {
          this.options.open(model.opens);
          return;
        }
        // A decision that fails (someone else was first) opens the approval, which says so.
        decide(action === 'approve').catch(() => this.options.open(model.opens));
      },
    });
    return true;
  }

  /** Takes the notification for `id` away, when one is shown (decided elsewhere, or by the person). */
  close(id: string): void {
    if (!this.shown.delete(id)) return;
    this.options.notifier.close(id);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}
