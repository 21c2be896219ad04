// Drives the development IdP's browser step over plain HTTP: follow the authorization request to the login
// form, post the credentials, follow the redirects (login → consent → authorization endpoint) and stop at the
// first redirect that leaves the IdP, i.e. the loopback redirect URI carrying `code` and `state`. It does not
// fetch that URL: the caller decides whether to hand it to a real loopback listener or straight to
// openid-client's authorizationCodeGrant.

export interface HttpSignInOptions {
  username: string;
  password: string;
  /** Default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Upper bound on requests made, default 20. */
  maxSteps?: number;
}

export class HttpSignInError extends Error {
  override name = 'HttpSignInError';
  constructor(
    message: string,
    /** HTTP status of the last IdP response. */
    readonly status: number,
    /** Body of the last IdP response (the login form with its error, or an error page). */
    readonly body: string,
    readonly url: string,
  ) {
    super(message);
  }
}

/** Just enough of a cookie jar for one origin: oidc-provider's cookies are host-only. */
class CookieJar {
  readonly #cookies = new Map<string, string>();

  store(setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => {
        const [key = '', v = ''] = a.split('=', 2).map((s) => s.trim());
        if (key.toLowerCase() === 'max-age') return Number(v) <= 0;
        if (key.toLowerCase() === 'expires') return Date.parse(v) <= Date.now();
        return false;
      });
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

function unescapeHtml(text: string): string {
  return text
    .replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code)))
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"');
}

function pageMessage(html: string): string | undefined {
  const match = /id="(?:login-error|message)"[^>]*>([^<]*)</.exec(html);
  return match?.[1] === undefined ? undefined : unescapeHtml(match[1]);
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Completes the development IdP's sign-in for `authorizationUrl` and returns the redirect to the client's
 * redirect URI (with `code`, `state` and `iss`, or with `error` when the IdP refused the request).
 * Throws HttpSignInError when the IdP answers with a page instead, e.g. a wrong password.
 */
export async function signInOverHttp(
  authorizationUrl: URL | string,
  options: HttpSignInOptions,
): Promise<URL> {
  const doFetch = options.fetch ?? fetch;
  const maxSteps = options.maxSteps ?? 20;
  const start = new URL(authorizationUrl);
  const jar = new CookieJar();
  let url = start;
  let method: 'GET' | 'POST' = 'GET';
  let body: URLSearchParams | undefined;
  let submitted = false;

  for (let step = 0; step < maxSteps; step++) {
    const headers: Record<string, string> = { accept: 'text/html' };
    const cookie = jar.header();
    if (cookie) headers.cookie = cookie;
    if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await doFetch(url, { method, headers, body, redirect: 'manual' });
    jar.store(res.headers.getSetCookie());

    const location = res.headers.get('location');
    if (REDIRECTS.has(res.status) && location) {
      await res.body?.cancel();
      const next = new URL(location, url);
      if (next.origin !== start.origin) return next;
      url = next;
      method = 'GET';
      body = undefined;
      continue;
    }

    const html = await res.text();
    const action = /<form id="login-form" method="post" action="([^"]+)"/.exec(html)?.[1];
    if (res.status === 200 && action && !submitted) {
      url = new URL(unescapeHtml(action), url);
      method = 'POST';
      body = new URLSearchParams({ username: options.username, password: options.password });
      submitted = true;
      continue;
    }
    const reason = pageMessage(html) ?? `unexpected response ${res.status}`;
    throw new HttpSignInError(`sign-in failed: ${reason}`, res.status, html, url.href);
  }
  throw new HttpSignInError(`sign-in did not finish within ${maxSteps} requests`, 0, '', url.href);
}
