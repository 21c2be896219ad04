/** Just-in-time access: ask for it, list and read requests, decide, cancel or revoke. */
import type {
  AccessRequest,
  AccessRequestInput,
  AccessRequestScope,
  DecisionInput,
} from '../../hub/api/types.ts';
import { segment, type RequestOptions, type Transport } from './transport.ts';

export interface AccessRequestsClient {
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
}

export function accessRequestsClient({ json }: Transport): AccessRequestsClient {
  const of = (requestId: string, rest = ''): string => `/v1/access-requests/${segment(requestId)}${rest}`;
  return {
    requestAccess: (input, o = {}) =>
      json({ method: 'POST', path: '/v1/access-requests', body: input, signal: o.signal }),
    accessRequests: (scope = 'mine', page = {}, o = {}) =>
      json({
        method: 'GET',
        path: '/v1/access-requests',
        query: { scope, limit: page.limit },
        signal: o.signal,
      }),
    accessRequest: (requestId, o = {}) => json({ method: 'GET', path: of(requestId), signal: o.signal }),
    decideAccess: (requestId, decision, o = {}) =>
      json({ method: 'POST', path: of(requestId, '/decision'), body: decision, signal: o.signal }),
    revokeAccess: (requestId, comment, o = {}) =>
      json({
        method: 'POST',
        path: of(requestId, '/revoke'),
        body: comment === undefined ? {} : { comment },
        signal: o.signal,
      }),
  };
}
