/**
 * The state the renderer shows, kept in main: one snapshot, changed a top-level part at a time. Changes
 * made in the same turn of the event loop go out as one patch; a part set to what it already is sends
 * nothing (the stats ticker relies on that to stay quiet while nothing moves).
 */
import { isDeepStrictEqual } from 'node:util';
import type { AppState } from '../../preload/api.ts';
import type { EventSender } from './ports.ts';

export const initialState = (hubUrl: string): AppState => ({
  account: { state: 'starting' },
  hub: { status: 'unknown', message: null, since: null, sync: { pending: 0, failing: false } },
  targets: { status: 'idle', items: [], error: null },
  tunnels: [],
  approvals: { status: 'idle', error: null, waiting: [], mine: [] },
  preferences: {
    hubUrl,
    notifications: { approvals: true, statements: true, access: true },
    closeToTray: true,
    startAtLogin: false,
  },
});

type Listener = (state: AppState, changed: readonly (keyof AppState)[]) => void;

export class AppStateStore {
  private state: AppState;
  private pending: Partial<AppState> | undefined;
  private readonly listeners = new Set<Listener>();

  constructor(
    initial: AppState,
    private readonly sender: EventSender,
  ) {
    this.state = structuredClone(initial);
  }

  snapshot(): AppState {
    return structuredClone(this.state);
  }

  get<K extends keyof AppState>(key: K): AppState[K] {
    return this.state[key];
  }

  set<K extends keyof AppState>(key: K, value: AppState[K]): void {
    if (isDeepStrictEqual(this.state[key], value)) return;
    this.state = { ...this.state, [key]: structuredClone(value) };
    if (!this.pending) {
      this.pending = {};
      queueMicrotask(() => this.flush());
    }
    this.pending[key] = this.state[key];
  }

  /** Told after each batch of changes (the tray and the badge follow the state). */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sends the whole state again (a window that just loaded). */
  resend(): void {
    this.sender.send('push:state', { kind: 'snapshot', state: this.snapshot() });
  }

  private flush(): void {
    const patch = this.pending;
    this.pending = undefined;
    if (!patch) return;
    this.sender.send('push:state', { kind: 'patch', patch });
    const changed = Object.keys(patch) as (keyof AppState)[];
    for (const listener of this.listeners) listener(this.state, changed);
  }
}
