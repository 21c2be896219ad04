/**
 * The signed-in account's link to the hub: one live event stream, handed to every service that listens,
 * and whether the hub is reachable — from the stream's (re)connections and from the calls the services
 * make — shown in the app instead of hidden.
 */
import type { HubEvent } from '../../hub/api/types.ts';
import type { HubView } from '../../preload/api.ts';
import type { HubClient } from '../../tunnel/hub-client/index.ts';
import type { AppStateStore } from './app-state.ts';
import { isUnreachable } from './errors.ts';

type EventListener = (event: HubEvent) => void;

export class HubConnection {
  private stream: AbortController | undefined;
  private lastEventId: number | undefined;
  private readonly listeners = new Set<EventListener>();
  private readonly openListeners = new Set<() => void>();

  constructor(
    private readonly state: AppStateStore,
    private readonly now: () => Date = () => new Date(),
  ) {}

  onEvent(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Told each time the stream (re)connects: a good moment to re-read what may have been missed. */
  onReconnect(listener: () => void): () => void {
    this.openListeners.add(listener);
    return () => this.openListeners.delete(listener);
  }

  /** Follows `hub`'s events until stop(); resumes after the last event seen. */
  start(hub: HubClient): void {
    this.stop();
    const abort = new AbortController();
    this.stream = abort;
    void this.follow(hub, abort.signal);
  }

  stop(): void {
    this.stream?.abort();
    this.stream = undefined;
  }

  /** Runs a hub call, noting whether the hub answered. */
  async call<T>(body: () => Promise<T>): Promise<T> {
    try {
      const value = await body();
      this.reachable();
      return value;
    } catch (error) {
      if (isUnreachable(error)) this.unreachable((error as Error).message);
      else if (error && typeof (error as { status?: unknown }).status === 'number') this.reachable();
      throw error;
    }
  }

  reachable(): void {
    this.setStatus('reachable', null);
  }

  unreachable(message: string): void {
    this.setStatus('unreachable', message);
  }

  setSync(sync: HubView['sync']): void {
    this.state.set('hub', { ...this.state.get('hub'), sync });
  }

  private setStatus(status: HubView['status'], message: string | null): void {
    const current = this.state.get('hub');
    if (current.status === status && current.message === message) return;
    const since = current.status === status ? current.since : this.now().toISOString();
    this.state.set('hub', { ...current, status, message, since });
  }

  private async follow(hub: HubClient, signal: AbortSignal): Promise<void> {
    try {
      for await (const event of hub.events({
        signal,
        ...(this.lastEventId === undefined ? {} : { after: this.lastEventId }),
        onOpen: () => {
          this.reachable();
          for (const listener of this.openListeners) listener();
        },
        onError: (error) => this.unreachable(error.message),
      })) {
        this.lastEventId = event.id;
        for (const listener of this.listeners) listener(event);
      }
    } catch (error) {
      if (!signal.aborted) this.unreachable((error as Error).message);
    }
  }
}
