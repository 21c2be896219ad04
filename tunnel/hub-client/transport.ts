/**
 * The one request helper every part of the hub client shares: the base URL, the access token asked
 * before each request, timeouts and aborts, and the hub's `{error, message, field}` answers as HubError.
 */
import type { ApiError } from '../../hub/api/types.ts';
import { describeCause, HubError } from './errors.ts';

export interface HubClientOptions {
  /** The hub's base URL, e.g. http://127.0.0.1:8470. */
  url: string;
  /** The caller's current access token; null/undefined/'' sends no Authorization header. */
  token?: () => Promise<string | null | undefined> | string | null | undefined;
  /** Default globalThis.fetch. */
  fetch?: typeof fetch;
  /** How long an ordinary request may take. Default 30 000 ms. */
  timeoutMs?: number;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

type Query = Record<string, string | number | undefined>;

export interface Call {
  method: 'GET' | 'POST';
  path: string;
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** Overrides the client's timeout (e.g. for long polls). */
  timeoutMs?: number;
}

interface Init {
  method: string;
  headers: Record<string, string>;
  body?: string;
}

export interface Transport {
  /** The hub's base URL, without a trailing slash. */
  readonly base: string;
  /** A JSON request: the parsed answer, null for 204. */
  json<T>(call: Call): Promise<T>;
  /** A request whose body the caller reads (a stream); `timeoutMs` null waits as long as it flows. */
  open(
    call: Call & { headers?: Record<string, string> },
    accept: string,
    timeoutMs: number | null,
  ): Promise<Response>;
}

/** A path segment from an id: `a/b` cannot reach another route. */
export const segment = (value: string): string => encodeURIComponent(value);

export function createTransport(options: HubClientOptions): Transport {
  const base = options.url.replace(/\/+$/, '');
  if (!URL.canParse(base)) throw new TypeError(`hub url ${JSON.stringify(options.url)} is not a URL`);
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const defaultTimeout = options.timeoutMs ?? 30_000;

  async function send(url: string, init: Init, signal: AbortSignal | undefined, timeoutMs: number | null) {
    const timeout = timeoutMs === null ? undefined : AbortSignal.timeout(timeoutMs);
    const signals = [signal, timeout].filter((s): s is AbortSignal => s !== undefined);
    try {
      return await doFetch(url, {
        ...init,
        signal: signals.length > 0 ? AbortSignal.any(signals) : undefined,
      });
    } catch (error) {
      const cause = { cause: error };
      if (signal?.aborted) throw new HubError(0, 'aborted', 'the request was aborted', undefined, cause);
      if (timeout?.aborted) {
        const message = `the hub at ${base} did not answer within ${timeoutMs} ms`;
        throw new HubError(0, 'timeout', message, undefined, cause);
      }
      const message = `cannot reach the hub at ${base}: ${describeCause(error)}`;
      throw new HubError(0, 'unreachable', message, undefined, cause);
    }
  }

  async function open(
    call: Call & { headers?: Record<string, string> },
    accept: string,
    timeoutMs: number | null,
  ): Promise<Response> {
    const token = await options.token?.();
    const headers: Record<string, string> = { accept, ...call.headers };
    if (token) headers['authorization'] = `Bearer ${token}`;
    const init: Init = { method: call.method, headers };
    if (call.method === 'POST') {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(call.body ?? {});
    }
    const response = await send(urlOf(base, call.path, call.query), init, call.signal, timeoutMs);
    if (!response.ok) throw await failure(response);
    return response;
  }

  async function json<T>(call: Call): Promise<T> {
    const response = await open(call, 'application/json', call.timeoutMs ?? defaultTimeout);
    if (response.status === 204) return null as T;
    const text = await response.text();
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      const message = 'the hub answered with something other than JSON';
      throw new HubError(response.status, 'http_error', message, undefined, { cause: error });
    }
  }

  return { base, json, open };
}

function urlOf(base: string, path: string, query?: Query): string {
  const url = new URL(base + path);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  return url.href;
}

/** The hub's own error body as a HubError; anything else (a proxy's page, say) as http_error. */
async function failure(response: Response): Promise<HubError> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as Partial<ApiError>;
    if (typeof body.error === 'string' && typeof body.message === 'string') {
      return new HubError(response.status, body.error, body.message, body.field);
    }
  } catch {
    // not JSON
  }
  const snippet = text.trim().slice(0, 200);
  return new HubError(
    response.status,
    'http_error',
    `the hub answered HTTP ${response.status}${snippet ? `: ${snippet}` : ''}`,
  );
}
