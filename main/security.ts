/**
 * The desktop app's security policy as pure functions: no electron import, so plain Node tests
 * (test/main/security.test.ts) exercise exactly what main/index.ts enforces.
 */
import path from 'node:path';
import type { Platform } from '../preload/api.ts';

/** The packaged renderer is served from this privileged, standard, secure custom scheme, not file://. */
export const appScheme = 'app';
export const appHost = 'portcullis';
export const appOrigin = `${appScheme}://${appHost}`;
export const packagedAppUrl = `${appOrigin}/index.html`;

export type CspDelivery = 'header' | 'meta';

/**
 * The renderer's Content-Security-Policy.
 *
 * Production allows nothing but the app's own origin: no inline script or style (React sets styles
 * through the CSSOM, which CSP does not restrict), no eval, no plugins, no <base>, no framing, no forms.
 * Development (the Vite dev server) additionally needs the inline React Refresh preamble, injected
 * <style> elements and the HMR websocket.
 *
 * `frame-ancestors` is only honoured as a header; browsers ignore it (with a console warning) in a
 * <meta> element, so the meta variant leaves it out.
 */
export function contentSecurityPolicy(dev: boolean, delivery: CspDelivery = 'header'): string {
  const directives: [string, ...string[]][] = [
    ['default-src', "'self'"],
    dev ? ['script-src', "'self'", "'unsafe-inline'"] : ['script-src', "'self'"],
    dev ? ['style-src', "'self'", "'unsafe-inline'"] : ['style-src', "'self'"],
    dev ? ['connect-src', "'self'", 'ws://localhost:*', 'ws://127.0.0.1:*'] : ['connect-src', "'self'"],
    ['img-src', "'self'", 'data:'],
    ['font-src', "'self'"],
    ['object-src', "'none'"],
    ['base-uri', "'none'"],
    ['form-action', "'none'"],
  ];
  if (delivery === 'header') directives.push(['frame-ancestors', "'none'"]);
  return directives.map((d) => d.join(' ')).join('; ');
}

/**
 * Response headers with the app's CSP in place of any the response carried (header names compare
 * case-insensitively, so a server's own `content-security-policy` cannot survive beside ours).
 */
export function withContentSecurityPolicy(
  headers: Record<string, string[]> | undefined,
  csp: string,
): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() !== 'content-security-policy') result[name] = value;
  }
  result['Content-Security-Policy'] = [csp];
  return result;
}

function parse(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** The URL without its fragment; null when it does not parse. */
function withoutHash(url: string): string | null {
  const u = parse(url);
  if (!u) return null;
  u.hash = '';
  return u.href;
}

/**
 * Whether the window may navigate to `url`. The renderer is a single page: the only navigation allowed
 * is to the app's own page again (a reload, or a change of fragment). Everything else, including other
 * paths of the app's own origin, is refused.
 */
export function isAllowedNavigation(url: string, appUrl: string): boolean {
  const target = withoutHash(url);
  return target !== null && target === withoutHash(appUrl);
}

/** Whether `url` belongs to the app's own origin. Opaque origins (file:, data:, about:) never match. */
export function isAppOrigin(url: string, appUrl: string): boolean {
  const u = parse(url);
  const app = parse(appUrl);
  if (!u || !app) return false;
  // WHATWG gives non-special schemes (and file:) the opaque origin "null"; compare the parts instead,
  // which is right for a standard custom scheme such as app://portcullis.
  if (u.protocol === 'file:' || app.protocol === 'file:' || u.host === '' || app.host === '') return false;
  return u.protocol === app.protocol && u.host === app.host;
}

/** IPC is answered only for frames showing the app itself (Electron security checklist: validate the sender). */
export function isTrustedIpcSender(frameUrl: string | undefined, appUrl: string): boolean {
  return frameUrl !== undefined && isAppOrigin(frameUrl, appUrl);
}

/**
 * The URL to hand to the system browser for a link the renderer tried to open, or null to drop it.
 * Only plain https URLs with a host and without embedded credentials leave the app.
 */
export function externalUrlToOpen(url: string): string | null {
  const u = parse(url);
  if (!u || u.protocol !== 'https:' || u.hostname === '' || u.username !== '' || u.password !== '') {
    return null;
  }
  return u.href;
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

export function contentTypeFor(file: string): string {
  return contentTypes[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * The file under `root` that an app:// request names, or null when the request is for another host or
 * would escape `root` (encoded or not). `/` is the index page.
 */
export function resolveAppAsset(root: string, requestUrl: string): string | null {
  const u = parse(requestUrl);
  if (!u || u.protocol !== `${appScheme}:` || u.host !== appHost) return null;
  let pathname: string;
  try {
    pathname = decodeURIComponent(u.pathname);
  } catch {
    return null;
  }
  if (pathname.includes('\0') || pathname.includes('\\')) return null;
  const relative = pathname === '/' || pathname === '' ? 'index.html' : pathname.replace(/^\/+/, '');
  const base = path.resolve(root);
  const file = path.resolve(base, relative);
  if (file !== base && !file.startsWith(base + path.sep)) return null;
  return file === base ? null : file;
}

export function toPlatform(platform: string): Platform {
  return platform === 'darwin' || platform === 'linux' || platform === 'win32' ? platform : 'other';
}
