/**
 * The browser preview's bridge, for machines where Electron's binary cannot be installed: serves the
 * renderer, built as shipped, to a browser on this machine, and carries its `window.portcullis` calls
 * (POST /ipc/CHANNEL, answered by the same IPC layer Electron's ipcMain answers: arguments validated,
 * failures as values) and main's pushes (GET /push, server-sent events).
 *
 * Only the person who started it gets in. The address it prints carries a key that becomes an HttpOnly,
 * SameSite=Strict cookie; every request must carry that cookie and name this server as its Host (so a
 * DNS-rebound name cannot reach it), and every call must come from this origin. Pages get the app's
 * production CSP as a header.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ipcChannels, type IpcChannel, type PushChannel } from '../../preload/api.ts';
import type { Handlers } from '../ipc/handlers.ts';
import { invoker } from '../ipc/register.ts';
import type { EventSender } from '../services/ports.ts';
import { contentSecurityPolicy, contentTypeFor } from '../security.ts';

export const bridgeScriptPath = '/portcullis-bridge.js';
const cookieName = 'portcullis-preview';
const maxCallBytes = 256 * 1024;
const heartbeatMs = 15_000;

export interface BridgeOptions {
  handlers: Handlers;
  /** The renderer as Vite built it (out/renderer). */
  rendererRoot: string;
  /** The page-side script that defines window.portcullis over this server (renderer/browser-preview). */
  bridgeScript: string;
  port?: number;
  /** Told how many pages listen to the pushes (the live counts are sent only while someone looks). */
  onListeners?: (count: number) => void;
}

export interface BrowserBridge {
  /** The address to open: it lets this browser in. */
  url: string;
  origin: string;
  /** Pushes to every page that listens. */
  sender: EventSender;
  close(): Promise<void>;
}

function sameSecret(given: string | undefined, key: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieOf(request: IncomingMessage): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === cookieName) return value.join('=');
  }
  return undefined;
}

const securityHeaders = {
  'Content-Security-Policy': contentSecurityPolicy(false, 'header'),
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

function answer(
  response: ServerResponse,
  status: number,
  body: string,
  type = 'text/plain; charset=utf-8',
): void {
  response.writeHead(status, { ...securityHeaders, 'Content-Type': type }).end(body);
}

/** The call's body, or null when it is too large (read to its end all the same, so the answer arrives). */
async function readBody(request: IncomingMessage): Promise<string | null> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= maxCallBytes) chunks.push(chunk);
  }
  return size > maxCallBytes ? null : Buffer.concat(chunks).toString('utf8');
}

/** The file under `root` that `pathname` names, or null when it would leave `root`. */
function fileUnder(root: string, pathname: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const base = path.resolve(root);
  const file = path.resolve(base, decoded === '/' ? 'index.html' : decoded.replace(/^\/+/, ''));
  return file.startsWith(base + path.sep) ? file : null;
}

/** index.html with the bridge loaded before the app's module script (a classic script runs first). */
function withBridge(html: string): string {
  return html.replace('<script', `<script src=".${bridgeScriptPath}"></script>\n    <script`);
}

/** A running bridge, as its request handlers see it. */
interface Bridge {
  options: BridgeOptions;
  /** The secret the printed address carries and the cookie repeats. */
  key: string;
  /** `127.0.0.1:PORT`, the only Host it answers. */
  host: string;
  origin: string;
  invoke: (channel: IpcChannel, args: unknown[]) => Promise<unknown>;
  /** The pages listening to the pushes. */
  listeners: Set<ServerResponse>;
}

export async function startBrowserBridge(options: BridgeOptions): Promise<BrowserBridge> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${port}`;
  const origin = `http://${host}`;
  // Who may call is settled in route (cookie, Host, Origin): the page is the app's own.
  const appUrl = `${origin}/index.html`;
  const answerCall = invoker(options.handlers, appUrl);
  const bridge: Bridge = {
    options,
    key: randomBytes(32).toString('base64url'),
    host,
    origin,
    invoke: (channel, args) => answerCall(channel, appUrl, args),
    listeners: new Set(),
  };
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    route(bridge, request, response).catch(() => {
      if (!response.headersSent) answer(response, 500, 'failed');
      else response.destroy();
    });
  });
  return {
    url: `${origin}/enter?key=${bridge.key}`,
    origin,
    sender: {
      send(channel: PushChannel, message: unknown) {
        const event = `data: ${JSON.stringify({ channel, message })}\n\n`;
        for (const listener of bridge.listeners) listener.write(event);
      },
    },
    async close() {
      for (const listener of bridge.listeners) listener.end();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function route(bridge: Bridge, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.headers.host !== bridge.host) return answer(response, 421, 'wrong host');
  const url = new URL(request.url ?? '/', bridge.origin);
  if (url.pathname === '/enter') return enter(bridge, url, response);
  if (!sameSecret(cookieOf(request), bridge.key)) {
    return answer(response, 403, 'Open the address `npm start` printed to use the Portcullis preview.');
  }
  if (url.pathname.startsWith('/ipc/'))
    return call(bridge, request, response, decodeURIComponent(url.pathname.slice(5)));
  if (request.method !== 'GET') return answer(response, 405, 'GET only');
  if (url.pathname === '/push') return listen(bridge, response);
  return serveFile(bridge.options, response, url.pathname);
}

/** The printed address: its key becomes the cookie every later request must carry. */
function enter(bridge: Bridge, url: URL, response: ServerResponse): void {
  if (!sameSecret(url.searchParams.get('key') ?? undefined, bridge.key)) {
    return answer(response, 403, 'wrong key');
  }
  response
    .writeHead(303, {
      ...securityHeaders,
      'Set-Cookie': `${cookieName}=${bridge.key}; HttpOnly; SameSite=Strict; Path=/`,
      Location: '/',
    })
    .end();
}

async function call(
  bridge: Bridge,
  request: IncomingMessage,
  response: ServerResponse,
  channel: string,
): Promise<void> {
  if (request.method !== 'POST') return answer(response, 405, 'POST only');
  if (request.headers.origin !== bridge.origin) {
    return answer(response, 403, 'calls come from the app’s own page');
  }
  if (!(ipcChannels as readonly string[]).includes(channel)) return answer(response, 404, 'no such channel');
  const body = await readBody(request);
  if (body === null) return answer(response, 413, 'too large');
  let args: unknown;
  try {
    args = JSON.parse(body);
  } catch {
    args = undefined;
  }
  const result = Array.isArray(args)
    ? await bridge.invoke(channel as IpcChannel, args)
    : { ok: false, code: 'invalid', message: `${channel}: invalid arguments` };
  answer(response, 200, JSON.stringify(result), 'application/json');
}

/** A page listening to main's pushes, kept open with a heartbeat. */
function listen({ listeners, options }: Bridge, response: ServerResponse): void {
  const listenersChanged = (): void => options.onListeners?.(listeners.size);
  response.writeHead(200, { ...securityHeaders, 'Content-Type': 'text/event-stream' });
  response.write(': portcullis\n\n');
  listeners.add(response);
  const heartbeat = setInterval(() => response.write(': still here\n\n'), heartbeatMs);
  response.on('close', () => {
    clearInterval(heartbeat);
    listeners.delete(response);
    listenersChanged();
  });
  listenersChanged();
}

async function serveFile(options: BridgeOptions, response: ServerResponse, pathname: string): Promise<void> {
  if (pathname === bridgeScriptPath)
    return answer(response, 200, options.bridgeScript, contentTypeFor('x.js'));
  const file = fileUnder(options.rendererRoot, pathname);
  if (!file) return answer(response, 404, 'not found');
  const body = await readFile(file).catch(() => null);
  if (!body) return answer(response, 404, 'not found');
  if (path.basename(file) === 'index.html' && path.dirname(file) === path.resolve(options.rendererRoot)) {
    return answer(response, 200, withBridge(body.toString('utf8')), contentTypeFor(file));
  }
  response.writeHead(200, { ...securityHeaders, 'Content-Type': contentTypeFor(file) }).end(body);
}
