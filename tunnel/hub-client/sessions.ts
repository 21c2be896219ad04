/** Sessions: open and close them, prove their connections, admit relay connections, read them back. */
import type {
  OpenedSession,
  Proof,
  ProofRecord,
  ProofRequest,
  RecordedEvent,
  RecordingAnomaly,
  RelayAdmission,
  RelayConnectionInput,
  RelayLeaseInput,
  RelayLeaseResult,
  SessionSearch,
  SessionSummary,
  SessionToClose,
} from '../../hub/api/types.ts';
import { segment, type RequestOptions, type Transport } from './transport.ts';

export interface SessionsClient {
  openSession(targetId: string, options?: RequestOptions): Promise<OpenedSession>;
  closeSession(sessionId: string, reason?: string, options?: RequestOptions): Promise<SessionSummary>;
  /** Asks the hub to answer one connection's authentication challenge (delegated credentials). */
  prove(sessionId: string, request: ProofRequest, options?: RequestOptions): Promise<Proof>;
  /** The proofs the hub gave for a session. */
  proofs(sessionId: string, options?: RequestOptions): Promise<ProofRecord[]>;
  /** A relay asks the hub to admit a connection it accepted (the caller must be a relay). */
  admitRelayConnection(input: RelayConnectionInput, options?: RequestOptions): Promise<RelayAdmission>;
  /** A relay renews the leases of the connections it serves, and learns which of them to end. */
  renewRelayLeases(input: RelayLeaseInput, options?: RequestOptions): Promise<RelayLeaseResult>;
  searchSessions(query?: SessionSearch, options?: RequestOptions): Promise<SessionSummary[]>;
  session(sessionId: string, options?: RequestOptions): Promise<SessionSummary>;
  sessionsToClose(options?: RequestOptions): Promise<SessionToClose[]>;
  sessionEvents(
    sessionId: string,
    page?: { afterSeq?: number; limit?: number },
    options?: RequestOptions,
  ): Promise<RecordedEvent[]>;
  sessionAnomalies(sessionId: string, options?: RequestOptions): Promise<RecordingAnomaly[]>;
}

export function sessionsClient({ json }: Transport): SessionsClient {
  const of = (sessionId: string, rest = ''): string => `/v1/sessions/${segment(sessionId)}${rest}`;
  return {
    openSession: (targetId, o = {}) =>
      json({ method: 'POST', path: '/v1/sessions', body: { targetId }, signal: o.signal }),
    closeSession: (sessionId, reason, o = {}) =>
      json({
        method: 'POST',
        path: of(sessionId, '/close'),
        body: reason === undefined ? {} : { reason },
        signal: o.signal,
      }),
    prove: (sessionId, request, o = {}) =>
      json({ method: 'POST', path: of(sessionId, '/proofs'), body: request, signal: o.signal }),
    proofs: (sessionId, o = {}) => json({ method: 'GET', path: of(sessionId, '/proofs'), signal: o.signal }),
    admitRelayConnection: (input, o = {}) =>
      json({ method: 'POST', path: '/v1/relay/connections', body: input, signal: o.signal }),
    renewRelayLeases: (input, o = {}) =>
      json({ method: 'POST', path: '/v1/relay/leases', body: input, signal: o.signal }),
    searchSessions: (query = {}, o = {}) =>
      json({ method: 'GET', path: '/v1/sessions', query: { ...query }, signal: o.signal }),
    session: (sessionId, o = {}) => json({ method: 'GET', path: of(sessionId), signal: o.signal }),
    sessionsToClose: (o = {}) => json({ method: 'GET', path: '/v1/sessions/to-close', signal: o.signal }),
    sessionEvents: (sessionId, page = {}, o = {}) =>
      json({
        method: 'GET',
        path: of(sessionId, '/events'),
        query: { afterSeq: page.afterSeq, limit: page.limit },
        signal: o.signal,
      }),
    sessionAnomalies: (sessionId, o = {}) =>
      json({ method: 'GET', path: of(sessionId, '/anomalies'), signal: o.signal }),
  };
}
