/**
 * The person's preferences: the hub address, which notifications they want, closing to the tray, starting
 * at login. Read from the injected store (electron-store in the app), checked, and written back whole; a
 * stored value that does not check out is replaced by the defaults, field by field.
 */
import { z } from 'zod';
import type { Preferences, PreferencesChange } from '../../preload/api.ts';
import type { AppStateStore } from './app-state.ts';
import { AppError } from './errors.ts';
import type { PreferencesStore, SystemSettings } from './ports.ts';

const hubUrl = z
  .string()
  .trim()
  .max(2000)
  .refine(
    (value) => /^https?:\/\/[^\s/]+/.test(value),
    'must be an http(s) address such as https://hub.example.com',
  );

const stored = z.object({
  hubUrl: hubUrl.catch(''),
  notifications: z
    .object({
      approvals: z.boolean().catch(true),
      statements: z.boolean().catch(true),
      access: z.boolean().catch(true),
    })
    .catch({ approvals: true, statements: true, access: true }),
  closeToTray: z.boolean().catch(true),
  startAtLogin: z.boolean().catch(false),
});

export const preferencesChange = z
  .object({
    hubUrl: hubUrl.optional(),
    notifications: z
      .object({ approvals: z.boolean(), statements: z.boolean(), access: z.boolean() })
      .partial()
      .strict()
      .optional(),
    closeToTray: z.boolean().optional(),
    startAtLogin: z.boolean().optional(),
  })
  .strict();

export class PreferencesService {
  constructor(
    private readonly state: AppStateStore,
    private readonly store: PreferencesStore,
    private readonly system: SystemSettings,
    private readonly defaultHubUrl: string,
  ) {}

  load(): Preferences {
    const raw = this.store.read();
    const parsed = stored.safeParse(typeof raw === 'object' && raw !== null ? raw : {});
    const preferences: Preferences = parsed.success
      ? parsed.data
      : { ...this.state.get('preferences'), hubUrl: '' };
    if (preferences.hubUrl === '') preferences.hubUrl = this.defaultHubUrl;
    this.state.set('preferences', preferences);
    return preferences;
  }

  current(): Preferences {
    return this.state.get('preferences');
  }

  update(change: PreferencesChange): Preferences {
    const checked = preferencesChange.safeParse(change);
    if (!checked.success) {
      const issue = checked.error.issues[0]!;
      throw new AppError('invalid', `${issue.path.join('.') || 'preferences'}: ${issue.message}`);
    }
    const current = this.current();
    const next: Preferences = {
      ...current,
      ...checked.data,
      notifications: { ...current.notifications, ...checked.data.notifications },
    };
    this.store.write(next);
    if (next.startAtLogin !== current.startAtLogin) this.system.setStartAtLogin(next.startAtLogin);
    this.state.set('preferences', next);
    return next;
  }
}
