/** Preferences, saved in main as soon as they change; signing out. */
import type { PreferencesChange } from '../../../../preload/api.ts';
import { api, unwrap } from '../../app/api.ts';
import { useAction } from '../../app/use-action.ts';

/** What the settings screen's sections read and do. */
export type Settings = ReturnType<typeof useSettings>;

export function useSettings() {
  const update = useAction(async (change: PreferencesChange) => unwrap(api().settings.update(change)));
  const signOut = useAction(async () => unwrap(api().account.signOut()));
  return { update, signOut };
}
