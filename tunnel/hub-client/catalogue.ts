/** The hub itself and what the caller may reach: health, sign-in details, me, targets, policy checks. */
import type { Health, HubIdentity, Me, PolicyCheck, TargetEntitlement } from '../../hub/api/types.ts';
import { segment, type RequestOptions, type Transport } from './transport.ts';

export interface CatalogueClient {
  health(options?: RequestOptions): Promise<Health>;
  /** How to sign in to this hub (no token needed). */
  identity(options?: RequestOptions): Promise<HubIdentity>;
  me(options?: RequestOptions): Promise<Me>;
  targets(options?: RequestOptions): Promise<TargetEntitlement[]>;
  /** Admins: whether each target's policy names only what its database has. */
  policyChecks(options?: RequestOptions): Promise<PolicyCheck[]>;
  /** Admins: checks one target's policy against its database now. */
  recheckPolicy(targetId: string, options?: RequestOptions): Promise<PolicyCheck>;
}

export function catalogueClient({ json }: Transport): CatalogueClient {
  return {
    health: (o = {}) => json({ method: 'GET', path: '/healthz', signal: o.signal }),
    identity: (o = {}) => json({ method: 'GET', path: '/v1/identity', signal: o.signal }),
    me: (o = {}) => json({ method: 'GET', path: '/v1/me', signal: o.signal }),
    targets: (o = {}) => json({ method: 'GET', path: '/v1/targets', signal: o.signal }),
    policyChecks: (o = {}) => json({ method: 'GET', path: '/v1/policy-checks', signal: o.signal }),
    recheckPolicy: (targetId, o = {}) =>
      json({ method: 'POST', path: `/v1/policy-checks/${segment(targetId)}`, body: {}, signal: o.signal }),
  };
}
