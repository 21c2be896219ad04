/**
 * Native notifications. Approve and Deny are real buttons where the OS shows actions (macOS); elsewhere
 * clicking the notification opens the approval, as the services ask. A notification is kept referenced
 * until it is closed, or its click handlers would be garbage collected with it.
 */
import { Notification } from 'electron';
import type { NotificationHandlers, NotificationModel, Notifier } from '../services/ports.ts';

export class ElectronNotifier implements Notifier {
  private readonly shown = new Map<string, Notification>();

  constructor(private readonly icon: string | undefined) {}

  show(model: NotificationModel, handlers: NotificationHandlers): void {
    if (!Notification.isSupported()) return;
    this.close(model.id);
    const notification = new Notification({
      title: model.title,
      body: model.body,
      ...(this.icon ? { icon: this.icon } : {}),
      actions: model.actions.map((a) => ({ type: 'button' as const, text: a.label })),
      urgency: model.urgent ? 'critical' : 'normal',
      timeoutType: model.urgent ? 'never' : 'default',
    });
    notification.on('click', () => handlers.onClick());
    notification.on('action', (_event, index) => {
      const action = model.actions[index];
      if (action) handlers.onAction(action.id);
    });
    notification.on('close', () => {
      if (this.shown.get(model.id) === notification) this.shown.delete(model.id);
    });
    this.shown.set(model.id, notification);
    notification.show();
  }

  close(id: string): void {
    this.shown.get(id)?.close();
    this.shown.delete(id);
  }
}
