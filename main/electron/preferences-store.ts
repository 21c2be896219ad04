/** Preferences and the window's bounds in electron-store (a JSON file in the app's user data). */
import Store from 'electron-store';
import type { PreferencesStore } from '../services/ports.ts';

export interface WindowBounds {
  x?: number;
  y?: number;
  width: number;
  height: number;
}

export function electronStores(): {
  preferences: PreferencesStore;
  bounds: { read(): WindowBounds | undefined; write(bounds: WindowBounds): void };
} {
  const store = new Store<Record<string, unknown>>({ name: 'preferences' });
  return {
    preferences: { read: () => store.get('preferences'), write: (value) => store.set('preferences', value) },
    bounds: {
      read: () => {
        const value = store.get('windowBounds') as WindowBounds | undefined;
        return value && Number.isFinite(value.width) && Number.isFinite(value.height) ? value : undefined;
      },
      write: (bounds) => store.set('windowBounds', bounds),
    },
  };
}
