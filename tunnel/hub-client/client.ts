/**
 * A typed client of the hub's HTTP API (hub/http), for the tunnel and the desktop app: one method per
 * route, the hub's own API types, errors as HubError. Plain fetch: no dependency on the hub's server code.
 *
 *   const hub = createHubClient({ url: 'http://127.0.0.1:8470', token: () => tokens.accessToken() });
 *   const session = await hub.openSession('payments-db');
 *   for await (const event of hub.events({ signal })) …
 *
 * `token` is asked before every request (and every reconnection of the event stream), so it can refresh.
 */
import type {
  AccessRequest,
  AccessRequestInput,
  AccessRequestScope,
  ApiError,
  ApprovalScope,
  CommandApproval,
  DecisionInput,
  ExportLine,
  Health,
  HubIdentity,
  HoldInput,
  HubEvent,
  IngestResult,
  Me,
  OpenedSession,
  Proof,
  ProofRecord,
  ProofRequest,
  RecordedEvent,
  RecordingAnomaly,
  RecordingEventInput,
  RelayAdmission,
  RelayConnectionInput,
  SessionSearch,
  SessionSummary,
  SessionToClose,
  TargetEntitlement,
  PolicyCheck,
} from '../../hub/api/types.ts';
import { parseEventStream, type SseState } from './sse.ts';

/**
 * What the hub refused, or why it could not be asked. `status` is the HTTP status, or 0 when no answer
 * came (unreachable, timed out, aborted); `code` is the hub's error code (`forbidden`, `not_found`,
 * `conflict`, `invalid`, `expired`, …) or `unreachable` / `timeout` / `aborted` / `http_error`.
 */
export class HubError extends Error {
  override name = 'HubError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** For `invalid`: the field the hub named. */
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

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

export interface HubClient {
  readonly url: string;
  health(options?: RequestOptions): Promise<Health>;
  /** How to sign in to this hub (no token needed). */
  identity(options?: RequestOptions): Promise<HubIdentity>;
  me(options?: RequestOptions): Promise<Me>;
  targets(options?: RequestOptions): Promise<TargetEntitlement[]>;
  /** Admins: whether each target's policy names only what its database has. */
  policyChecks(options?: RequestOptions): Promise<PolicyCheck[]>;
  /** Admins: checks one target's policy against its database now. */
  recheckPolicy(targetId: string, options?: RequestOptions): Promise<PolicyCheck>;

  openSession(targetId: string, options?: RequestOptions): Promise<OpenedSession>;
  closeSession(sessionId: string, reason?: string, options?: RequestOptions): Promise<SessionSummary>;
  /** Asks the hub to answer one connection's authentication challenge (delegated credentials). */
  prove(sessionId: string, request: ProofRequest, options?: RequestOptions): Promise<Proof>;
  /** The proofs the hub gave for a session. */
  proofs(sessionId: string, options?: RequestOptions): Promise<ProofRecord[]>;
  /** A relay asks the hub to admit a connection it accepted (the caller must be a relay). */
  admitRelayConnection(input: RelayConnectionInput, options?: RequestOptions): Promise<RelayAdmission>;
  searchSessions(query?: SessionSearch, options?: RequestOptions): Promise<SessionSummary[]>;
  session(sessionId: string, options?: RequestOptions): Promise<SessionSummary>;
  sessionsToClose(options?: RequestOptions): Promise<SessionToClose[]>;
  sessionEvents(
    sessionId: string,
    page?: { afterSeq?: number; limit?: number },
    options?: RequestOptions,
  ): Promise<RecordedEvent[]>;
  sessionAnomalies(sessionId: string, options?: RequestOptions): Promise<RecordingAnomaly[]>;
  ingestRecording(
    sessionId: string,
    events: readonly RecordingEventInput[],
    options?: RequestOptions,
  ): Promise<IngestResult>;
  /** The JSON-lines export, one parsed line at a time, as the hub streams it. */
  exportAudit(since: Date | string, options?: RequestOptions): AsyncGenerator<ExportLine, void, void>;

  requestAccess(input: AccessRequestInput, options?: RequestOptions): Promise<AccessRequest>;
  accessRequests(
    scope?: AccessRequestScope,
    page?: { limit?: number },
    options?: RequestOptions,
  ): Promise<AccessRequest[]>;
  accessRequest(requestId: string, options?: RequestOptions): Promise<AccessRequest>;
  decideAccess(requestId: string, decision: DecisionInput, options?: RequestOptions): Promise<AccessRequest>;
  /** Cancels a pending request or revokes a grant. */
  revokeAccess(requestId: string, comment?: string | null, options?: RequestOptions): Promise<AccessRequest>;

  holdStatement(input: HoldInput, options?: RequestOptions): Promise<CommandApproval>;
  approvals(
    scope?: ApprovalScope,
    page?: { limit?: number },
    options?: RequestOptions,
  ): Promise<CommandApproval[]>;
  approval(approvalId: string, options?: RequestOptions): Promise<CommandApproval>;
  /** Long-polls until the held statement is decided (or withdrawn/expired); null when `timeoutSeconds` passed first. */
  waitForApproval(
    approvalId: string,
    wait?: { timeoutSeconds?: number },
    options?: RequestOptions,
  ): Promise<CommandApproval | null>;
  decideApproval(
    approvalId: string,
    decision: DecisionInput,
    options?: RequestOptions,
  ): Promise<CommandApproval>;
  withdrawApproval(
    approvalId: string,
    reason?: string | null,
    options?: RequestOptions,
  ): Promise<CommandApproval>;

  /** The caller's live events; reconnects with Last-Event-ID until the signal aborts. */
  events(options?: EventsOptions): AsyncGenerator<HubEvent, void, void>;
}

type Query = Record<string, string | number | undefined>;

interface Call {
  method: 'GET' | 'POST';
  path: string;
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** Overrides the client's timeout (e.g. for long polls). */
  timeoutMs?: number;
}

const MAX_RETRY_MS = 10_000;

function describeCause(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    const { code, message, cause } = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === 'string' && code !== '') return code;
    if (cause === undefined) return typeof message === 'string' && message !== '' ? message : String(current);
    current = cause;
  }
  return String(error);
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

export function createHubClient(options: HubClientOptions): HubClient {
  const base = options.url.replace(/\/+$/, '');
  if (!URL.canParse(base)) throw new TypeError(`hub url ${JSON.stringify(options.url)} is not a URL`);
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const defaultTimeout = options.timeoutMs ?? 30_000;

  function urlOf(path: string, query?: Query): string {
    const url = new URL(base + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url.href;
  }

  async function headers(extra: Record<string, string>): Promise<Record<string, string>> {
    const token = await options.token?.();
    return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
  }

  /** Sends a request; a network failure, timeout or abort becomes a HubError with status 0. */
  async function send(
    url: string,
    init: { method: string; headers: Record<string, string>; body?: string },
    signal: AbortSignal | undefined,
    timeoutMs: number | null,
  ): Promise<Response> {
    const timeout = timeoutMs === null ? undefined : AbortSignal.timeout(timeoutMs);
    const signals = [signal, timeout].filter((s): s is AbortSignal => s !== undefined);
    try {
      return await doFetch(url, {
        ...init,
        signal: signals.length > 0 ? AbortSignal.any(signals) : undefined,
      });
    } catch (error) {
      if (signal?.aborted)
        throw new HubError(0, 'aborted', 'the request was aborted', undefined, { cause: error });
      if (timeout?.aborted) {
        throw new HubError(
          0,
          'timeout',
          `the hub at ${base} did not answer within ${timeoutMs} ms`,
          undefined,
          {
            cause: error,
          },
        );
      }
      throw new HubError(
        0,
        'unreachable',
        `cannot reach the hub at ${base}: ${describeCause(error)}`,
        undefined,
        {
          cause: error,
        },
      );
    }
  }

  async function failure(response: Response): Promise<HubError> {
    const text = await response.text().catch(() => '');
    try {
      const body = JSON.parse(text) as Partial<ApiError>;
      if (typeof body.error === 'string' && typeof body.message === 'string') {
        return new HubError(response.status, body.error, body.message, body.field);
      }
    } catch {
      // not JSON: a proxy's page, say
    }
    const snippet = text.trim().slice(0, 200);
    return new HubError(
      response.status,
      'http_error',
      `the hub answered HTTP ${response.status}${snippet ? `: ${snippet}` : ''}`,
    );
  }

  async function open(call: Call, accept: string, timeoutMs: number | null): Promise<Response> {
    const init: { method: string; headers: Record<string, string>; body?: string } = {
      method: call.method,
      headers: await headers({ accept }),
    };
    if (call.method === 'POST') {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(call.body ?? {});
    }
    const response = await send(urlOf(call.path, call.query), init, call.signal, timeoutMs);
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
      throw new HubError(
        response.status,
        'http_error',
        'the hub answered with something other than JSON',
        undefined,
        {
          cause: error,
        },
      );
    }
  }

  const id = (value: string): string => encodeURIComponent(value);

  async function* exportAudit(
    since: Date | string,
    requestOptions: RequestOptions = {},
  ): AsyncGenerator<ExportLine, void, void> {
    const sinceText = since instanceof Date ? since.toISOString() : since;
    const response = await open(
      { method: 'GET', path: '/v1/audit/export', query: { since: sinceText }, signal: requestOptions.signal },
      'application/x-ndjson',
      null,
    );
    if (!response.body) return;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let newline: number;
        while ((newline = buffer.indexOf('\n')) !== -1) {
          const line = buffer.slice(0, newline).trim();
          buffer = buffer.slice(newline + 1);
          if (line !== '') yield JSON.parse(line) as ExportLine;
        }
      }
      if (buffer.trim() !== '') yield JSON.parse(buffer) as ExportLine;
    } finally {
      await reader.cancel().catch(() => {});
    }
  }

  async function* events(eventOptions: EventsOptions = {}): AsyncGenerator<HubEvent, void, void> {
    const { signal } = eventOptions;
    const maxRetries = eventOptions.maxRetries ?? Infinity;
    let after = eventOptions.after;
    let failures = 0;
    while (!signal?.aborted) {
      const connection = new AbortController();
      const stop = (): void => connection.abort();
      signal?.addEventListener('abort', stop);
      const state: SseState = { lastEventId: after === undefined ? '' : String(after), retryMs: undefined };
      let delay: number;
      try {
        const extra: Record<string, string> = {};
        if (after !== undefined) extra['last-event-id'] = String(after);
        const response = await send(
          urlOf('/v1/events'),
          { method: 'GET', headers: await headers({ accept: 'text/event-stream', ...extra }) },
          connection.signal,
          null,
        );
        if (!response.ok) throw await failure(response);
        if (!response.body) throw new HubError(response.status, 'http_error', 'the event stream has no body');
        failures = 0;
        eventOptions.onOpen?.({ after });
        for await (const message of parseEventStream(response.body, state)) {
          if (state.lastEventId !== '') after = Number(state.lastEventId);
          let event: HubEvent;
          try {
            event = JSON.parse(message.data) as HubEvent;
          } catch {
            eventOptions.onError?.(new HubError(0, 'http_error', 'the hub sent an event that is not JSON'));
            continue;
          }
          yield event;
        }
        // The hub ended the stream (its shutdown, or the access token expired): connect again.
        delay = eventOptions.retryMs ?? state.retryMs ?? 1000;
      } catch (caught) {
        if (signal?.aborted) return;
        const error =
          caught instanceof HubError
            ? caught
            : new HubError(
                0,
                'unreachable',
                `the event stream from ${base} broke: ${describeCause(caught)}`,
                undefined,
                {
                  cause: caught,
                },
              );
        // The hub refused us (bad token, bad request): trying again would not help.
        if (error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429)
          throw error;
        failures++;
        if (failures > maxRetries) throw error;
        eventOptions.onError?.(error);
        delay = Math.min(MAX_RETRY_MS, (eventOptions.retryMs ?? 1000) * 2 ** (failures - 1));
      } finally {
        if (state.lastEventId !== '') after = Number(state.lastEventId);
        signal?.removeEventListener('abort', stop);
        connection.abort();
      }
      await sleep(delay, signal);
    }
  }

  return {
    url: base,
    health: (o = {}) => json({ method: 'GET', path: '/healthz', signal: o.signal }),
    identity: (o = {}) => json({ method: 'GET', path: '/v1/identity', signal: o.signal }),
    me: (o = {}) => json({ method: 'GET', path: '/v1/me', signal: o.signal }),
    targets: (o = {}) => json({ method: 'GET', path: '/v1/targets', signal: o.signal }),
    policyChecks: (o = {}) => json({ method: 'GET', path: '/v1/policy-checks', signal: o.signal }),
    recheckPolicy: (targetId, o = {}) =>
      json({ method: 'POST', path: `/v1/policy-checks/${id(targetId)}`, body: {}, signal: o.signal }),

    openSession: (targetId, o = {}) =>
      json({ method: 'POST', path: '/v1/sessions', body: { targetId }, signal: o.signal }),
    closeSession: (sessionId, reason, o = {}) =>
      json({
        method: 'POST',
        path: `/v1/sessions/${id(sessionId)}/close`,
        body: reason === undefined ? {} : { reason },
        signal: o.signal,
      }),
    prove: (sessionId, request, o = {}) =>
      json({ method: 'POST', path: `/v1/sessions/${id(sessionId)}/proofs`, body: request, signal: o.signal }),
    proofs: (sessionId, o = {}) =>
      json({ method: 'GET', path: `/v1/sessions/${id(sessionId)}/proofs`, signal: o.signal }),
    admitRelayConnection: (input, o = {}) =>
      json({ method: 'POST', path: '/v1/relay/connections', body: input, signal: o.signal }),
    searchSessions: (query = {}, o = {}) =>
      json({ method: 'GET', path: '/v1/sessions', query: { ...query }, signal: o.signal }),
    session: (sessionId, o = {}) =>
      json({ method: 'GET', path: `/v1/sessions/${id(sessionId)}`, signal: o.signal }),
    sessionsToClose: (o = {}) => json({ method: 'GET', path: '/v1/sessions/to-close', signal: o.signal }),
    sessionEvents: (sessionId, page = {}, o = {}) =>
      json({
        method: 'GET',
        path: `/v1/sessions/${id(sessionId)}/events`,
        query: { afterSeq: page.afterSeq, limit: page.limit },
        signal: o.signal,
      }),
    sessionAnomalies: (sessionId, o = {}) =>
      json({ method: 'GET', path: `/v1/sessions/${id(sessionId)}/anomalies`, signal: o.signal }),
    ingestRecording: (sessionId, recorded, o = {}) =>
      json({
        method: 'POST',
        path: `/v1/sessions/${id(sessionId)}/recordings`,
        body: { events: recorded },
        signal: o.signal,
      }),
    exportAudit,

    requestAccess: (input, o = {}) =>
      json({ method: 'POST', path: '/v1/access-requests', body: input, signal: o.signal }),
    accessRequests: (scope = 'mine', page = {}, o = {}) =>
      json({
        method: 'GET',
        path: '/v1/access-requests',
        query: { scope, limit: page.limit },
        signal: o.signal,
      }),
    accessRequest: (requestId, o = {}) =>
      json({ method: 'GET', path: `/v1/access-requests/${id(requestId)}`, signal: o.signal }),
    decideAccess: (requestId, decision, o = {}) =>
      json({
        method: 'POST',
        path: `/v1/access-requests/${id(requestId)}/decision`,
        body: decision,
        signal: o.signal,
      }),
    revokeAccess: (requestId, comment, o = {}) =>
      json({
        method: 'POST',
        path: `/v1/access-requests/${id(requestId)}/revoke`,
        body: comment === undefined ? {} : { comment },
        signal: o.signal,
      }),

    holdStatement: (input, o = {}) =>
      json({
        method: 'POST',
        path: '/v1/approvals',
        body: {
          sessionId: input.sessionId,
          connection: input.connection,
          sql: input.sql,
          classes: [...input.classes],
          rule: input.rule,
          timeoutSeconds: input.timeoutSeconds,
          context: input.context,
        },
        signal: o.signal,
      }),
    approvals: (scope = 'pending', page = {}, o = {}) =>
      json({ method: 'GET', path: '/v1/approvals', query: { scope, limit: page.limit }, signal: o.signal }),
    approval: (approvalId, o = {}) =>
      json({ method: 'GET', path: `/v1/approvals/${id(approvalId)}`, signal: o.signal }),
    waitForApproval: (approvalId, wait = {}, o = {}) =>
      json({
        method: 'GET',
        path: `/v1/approvals/${id(approvalId)}/wait`,
        query: { timeout: wait.timeoutSeconds },
        signal: o.signal,
        timeoutMs: ((wait.timeoutSeconds ?? 30) + 15) * 1000,
      }),
    decideApproval: (approvalId, decision, o = {}) =>
      json({
        method: 'POST',
        path: `/v1/approvals/${id(approvalId)}/decision`,
        body: decision,
        signal: o.signal,
      }),
    withdrawApproval: (approvalId, reason, o = {}) =>
      json({
        method: 'POST',
        path: `/v1/approvals/${id(approvalId)}/withdraw`,
        body: reason === undefined ? {} : { reason },
        signal: o.signal,
      }),

    events,
  };
}
