/**
 * GET /v1/events: the caller's live events as Server-Sent Events.
 *
 *   retry: 2000          (once: how long an EventSource waits before reconnecting)
 *   id: 41               (once: the position the stream starts after; no event is dispatched for it)
 *
 *   id: 42               (per event: its id, for Last-Event-ID)
 *   event: approval.requested
 *   data: {"id":42,"type":"approval.requested","payload":{…},"createdAt":"…"}
 *
 *   : heartbeat          (every heartbeatMs, 15 s by default: keeps proxies and idle timers away)
 *
 * A reconnecting client sends `Last-Event-ID` (or `?after=`) and gets the stored events after it, then
 * live ones. Without either, the stream starts at the hub's current end of the log. The first `id:` line
 * names that position, so a client that reconnects before any event arrived still misses nothing.
 *
 * The stream ends when the client goes away, when the caller's access token expires (the client
 * reconnects with a fresh one, so a revoked identity stops listening), and when the hub shuts down.
 */
import type { ServerResponse } from 'node:http';
import type { Identity } from '../api/types.ts';
import type { HubServices } from '../services/index.ts';

export interface EventStreamOptions {
  services: HubServices;
  identity: Identity;
  /** Resume after this event id; undefined: from the hub's current end of the log. */
  after: number | undefined;
  response: ServerResponse;
  /** Aborts when the hub shuts down. */
  shutdown: AbortSignal;
  heartbeatMs: number;
  /** When the caller's access token expires (ms since the epoch); the stream ends then. */
  tokenExpiresAt: number | undefined;
  retryMs: number;
  onError(error: unknown): void;
}

/** Longest a setTimeout may wait. */
const MAX_TIMER = 2_147_483_647;

export async function streamEvents(options: EventStreamOptions): Promise<void> {
  const { services, identity, response } = options;
  const after = options.after ?? services.events.lastId;
  const local = new AbortController();
  const signal = AbortSignal.any([local.signal, options.shutdown]);
  const stop = (): void => local.abort();
  response.on('close', stop);

  const write = async (chunk: string): Promise<void> => {
    if (response.destroyed || response.writableEnded) return stop();
    if (response.write(chunk)) return;
    // A slow reader: wait for the socket to drain (or the stream to end) before reading more events.
    await new Promise<void>((resolve) => {
      const done = (): void => {
        response.off('drain', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      response.once('drain', done);
      signal.addEventListener('abort', done);
    });
  };

  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-content-type-options': 'nosniff',
  });
  response.flushHeaders();

  const heartbeat = setInterval(() => void write(': heartbeat\n\n'), Math.max(10, options.heartbeatMs));
  heartbeat.unref();
  let expiry: NodeJS.Timeout | undefined;
  if (options.tokenExpiresAt !== undefined) {
    expiry = setTimeout(stop, Math.min(MAX_TIMER, Math.max(1000, options.tokenExpiresAt - Date.now())));
    expiry.unref();
  }

  try {
    await write(`retry: ${options.retryMs}\nid: ${after}\n\n`);
    for await (const event of services.events.subscribe(identity, { after, signal })) {
      await write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      if (signal.aborted) break;
    }
  } catch (error) {
    if (!signal.aborted) options.onError(error);
  } finally {
    clearInterval(heartbeat);
    if (expiry) clearTimeout(expiry);
    response.off('close', stop);
    if (!response.destroyed && !response.writableEnded) response.end();
  }
}
