/** The caller's live events: Server-Sent Events, reconnected with Last-Event-ID until the caller stops. */
import type { HubEvent } from '../../hub/api/types.ts';
import { describeCause, HubError } from './errors.ts';
import { parseEventStream, type SseState } from './sse.ts';
import type { Transport } from './transport.ts';

export interface EventsOptions {
  /** Resume after this event id (sent as Last-Event-ID). Default: from the hub's current end. */
  after?: number;
  /** Ends the iteration. */
  signal?: AbortSignal;
  /** Called each time the stream is (re)connected, with the position it resumes after (if known). */
  onOpen?: (info: { after: number | undefined }) => void;
  /** Called when a connection fails or drops and the client will try again. */
  onError?: (error: HubError) => void;
  /** Delay before the first reconnection attempt (doubling to 10 s while it keeps failing). Default 1000. */
  retryMs?: number;
  /** Give up (throw the last HubError) after this many failed attempts in a row. Default Infinity. */
  maxRetries?: number;
}

export interface EventsClient {
  /** The caller's live events; reconnects with Last-Event-ID until the signal aborts. */
  events(options?: EventsOptions): AsyncGenerator<HubEvent, void, void>;
}

const MAX_RETRY_MS = 10_000;

export function eventsClient(transport: Transport): EventsClient {
  return { events: (options = {}) => follow(transport, options) };
}

async function* follow(transport: Transport, options: EventsOptions): AsyncGenerator<HubEvent, void, void> {
  const { signal } = options;
  const maxRetries = options.maxRetries ?? Infinity;
  const position: Position = { after: options.after };
  let failures = 0;
  while (!signal?.aborted) {
    let delay: number;
    try {
      const connected = connect(transport, position, options, () => (failures = 0));
      for await (const event of connected) yield event;
      // The hub ended the stream (its shutdown, or the access token expired): connect again.
      delay = options.retryMs ?? position.retryMs ?? 1000;
    } catch (caught) {
      if (signal?.aborted) return;
      const error = asHubError(caught, transport.base);
      // The hub refused us (bad token, bad request): trying again would not help.
      if (error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429)
        throw error;
      failures++;
      if (failures > maxRetries) throw error;
      options.onError?.(error);
      delay = Math.min(MAX_RETRY_MS, (options.retryMs ?? 1000) * 2 ** (failures - 1));
    }
    await sleep(delay, signal);
  }
}

interface Position {
  after: number | undefined;
  /** The retry delay the hub asked for on the last connection. */
  retryMs?: number | undefined;
}

/** One connection of the stream: its events, `position` kept at the last id seen. */
async function* connect(
  transport: Transport,
  position: Position,
  options: EventsOptions,
  onConnected: () => void,
): AsyncGenerator<HubEvent, void, void> {
  const connection = new AbortController();
  const stop = (): void => connection.abort();
  options.signal?.addEventListener('abort', stop);
  const state: SseState = {
    lastEventId: position.after === undefined ? '' : String(position.after),
    retryMs: undefined,
  };
  try {
    const headers: Record<string, string> = {};
    if (position.after !== undefined) headers['last-event-id'] = String(position.after);
    const response = await transport.open(
      { method: 'GET', path: '/v1/events', headers, signal: connection.signal },
      'text/event-stream',
      null,
    );
    if (!response.body) throw new HubError(response.status, 'http_error', 'the event stream has no body');
    onConnected();
    options.onOpen?.({ after: position.after });
    for await (const message of parseEventStream(response.body, state)) {
      if (state.lastEventId !== '') position.after = Number(state.lastEventId);
      const event = parseEvent(message.data, options);
      if (event) yield event;
    }
  } finally {
    if (state.lastEventId !== '') position.after = Number(state.lastEventId);
    position.retryMs = state.retryMs;
    options.signal?.removeEventListener('abort', stop);
    connection.abort();
  }
}

function parseEvent(data: string, options: EventsOptions): HubEvent | undefined {
  try {
    return JSON.parse(data) as HubEvent;
  } catch {
    options.onError?.(new HubError(0, 'http_error', 'the hub sent an event that is not JSON'));
    return undefined;
  }
}

function asHubError(caught: unknown, base: string): HubError {
  if (caught instanceof HubError) return caught;
  const message = `the event stream from ${base} broke: ${describeCause(caught)}`;
  return new HubError(0, 'unreachable', message, undefined, { cause: caught });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done);
  });
}
