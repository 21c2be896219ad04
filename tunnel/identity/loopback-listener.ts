/**
 * The one-shot loopback listener a browser sign-in's redirect comes back to (RFC 8252 §7.3): 127.0.0.1, an
 * ephemeral port, `/callback` only, the first sign-in response only; the browser gets a small page.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const CALLBACK_PATH = '/callback';

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** The page the browser shows after the redirect. */
export function callbackPage(title: string, message: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)} - Portcullis</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2933}
h1{font-size:1.4rem}</style></head>
<body><h1 id="title">${escapeHtml(title)}</h1><p id="message">${escapeHtml(message)}</p></body>
</html>
`;
}

function send(res: ServerResponse, status: number, html: string): Promise<void> {
  return new Promise<void>((resolve) => {
    res.once('close', () => resolve());
    res.statusCode = status;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    // The page's own URL carries the authorization code: it must not leak through a Referer.
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Connection', 'close');
    res.end(html, () => resolve());
  });
}

export interface Callback {
  params: URLSearchParams;
  /** Answers the browser; resolves once the page is written (or the browser went away). */
  respond(status: number, html: string): Promise<void>;
}

export interface LoopbackListener {
  redirectUri: string;
  received: Promise<Callback>;
  close(): Promise<void>;
}

export async function listenLoopback(): Promise<LoopbackListener> {
  let deliver!: (callback: Callback) => void;
  const received = new Promise<Callback>((resolve) => (deliver = resolve));
  let delivered = false;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== CALLBACK_PATH) {
      void send(res, 404, callbackPage('Not found', 'This address only receives the Portcullis sign-in.'));
      return;
    }
    if (req.method !== 'GET') {
      res.setHeader('Allow', 'GET');
      void send(res, 405, callbackPage('Not allowed', 'The sign-in response arrives by GET.'));
      return;
    }
    const params = url.searchParams;
    if (!params.has('code') && !params.has('error') && !params.has('state')) {
      void send(res, 400, callbackPage('Not a sign-in response', 'Start the sign-in from Portcullis.'));
      return;
    }
    if (delivered) {
      void send(res, 409, callbackPage('Already handled', 'This sign-in has already been handled.'));
      return;
    }
    delivered = true;
    deliver({ params, respond: (status, html) => send(res, status, html) });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    redirectUri: `http://127.0.0.1:${port}${CALLBACK_PATH}`,
    received,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
