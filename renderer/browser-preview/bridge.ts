/**
 * `window.portcullis` in the browser preview (main/browser): the preload's own client code, whose calls go
 * to the preview server as POST /ipc/CHANNEL and whose pushes arrive as server-sent events on /push. It is
 * loaded as a classic script before the app's module, as the preload runs before the page in Electron.
 */
import { apiKey, type ErrorCode, type PushChannel } from '../../preload/api.ts';
import { createPortcullisApi } from '../../preload/client.ts';

const listeners = new Map<PushChannel, Set<(message: unknown) => void>>();

const pushes = new EventSource('./push');
pushes.addEventListener('message', (event: MessageEvent<string>) => {
  const { channel, message } = JSON.parse(event.data) as { channel: PushChannel; message: unknown };
  for (const listener of listeners.get(channel) ?? []) listener(message);
});

function failure(code: ErrorCode, message: string): { ok: false; code: ErrorCode; message: string } {
  return { ok: false, code, message };
}

async function invoke(channel: string, ...args: unknown[]): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(`./ipc/${encodeURIComponent(channel)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(args),
      credentials: 'same-origin',
    });
  } catch {
    return failure('unreachable', 'The Portcullis preview stopped (npm start is no longer running).');
  }
  if (!response.ok) return failure('refused', `${channel}: ${await response.text()}`);
  return response.json();
}

const api = createPortcullisApi({
  invoke,
  listen(channel, listener) {
    const set = listeners.get(channel) ?? new Set();
    listeners.set(channel, set);
    set.add(listener);
    return () => set.delete(listener);
  },
});

Object.defineProperty(window, apiKey, { value: Object.freeze(api), enumerable: true });
