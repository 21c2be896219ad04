// What the IdP's own pages read from a request and how they answer: a bounded form body, HTML that may not
// be framed or run scripts, and an error's status and words.

import type { IncomingMessage, ServerResponse } from 'node:http';

const MAX_FORM_BYTES = 16 * 1024;

export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = req.headers['content-type'] ?? '';
  if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    throw Object.assign(new Error('expected an application/x-www-form-urlencoded form'), { status: 415 });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw Object.assign(new Error('form too large'), { status: 413 });
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader(
    'Content-Security-Policy',
    // No form-action: browsers apply it to the redirects that follow the login POST, and the last of those
    // goes to the app's loopback listener.
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  );
  res.end(html);
}

export function errorStatus(error: unknown): number {
  const status = (error as { status?: unknown; statusCode?: unknown }).status;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

export function errorText(error: unknown): string {
  const e = error as { error_description?: unknown; message?: unknown };
  if (typeof e.error_description === 'string') return e.error_description;
  return typeof e.message === 'string' ? e.message : String(error);
}
