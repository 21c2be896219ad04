/**
 * A tunnel built from a hub session's material the way the tunnel manager builds it: where and as whom
 * from the hub, every upstream connection authenticated by the hub (delegated credentials). Tests use it
 * to reach a target's database as the session's role without any password on this side.
 */
import type { OpenedSession } from '../../hub/api/types.ts';
import type { HubClient } from '../../tunnel/hub-client/index.ts';
import { hubProver } from '../../tunnel/manager/hub-prover.ts';
import { upstreamFromMaterial } from '../../tunnel/manager/session-material.ts';
import type { DecisionPoint } from '../../tunnel/policy/decision-point.ts';
import type { RecordingPoint } from '../../tunnel/recorder/recording-point.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import { delegatedCredentials } from '../../tunnel/postgres/upstream-credentials.ts';

/** Numbers a tunnel's local connections 1, 2, … as the hub knows them (proofs, held statements). */
export function connectionNumbering(): (connectionId: string) => number {
  const numbers = new Map<string, number>();
  return (connectionId) => {
    let number = numbers.get(connectionId);
    if (number === undefined) numbers.set(connectionId, (number = numbers.size + 1));
    return number;
  };
}

export interface DelegatedTunnel {
  tunnel: PostgresTunnel;
  endpoint: TunnelEndpoint;
  close(): Promise<void>;
}

export async function openDelegatedTunnel(
  hub: HubClient,
  session: OpenedSession,
  options: {
    decisions?: DecisionPoint;
    recorder?: RecordingPoint;
    /** Share it with a HubApprover, so held statements name the connection the hub authenticated. */
    numbering?: (connectionId: string) => number;
  } = {},
): Promise<DelegatedTunnel> {
  const numbering = options.numbering ?? connectionNumbering();
  const tunnel = new PostgresTunnel({
    upstream: upstreamFromMaterial(session),
    upstreamCredentials: (connectionId) => {
      const connection = numbering(connectionId);
      return delegatedCredentials(
        hubProver({ hub, sessionId: session.sessionId, purpose: 'client', connection: () => connection }),
      );
    },
    ...(options.decisions ? { decisions: options.decisions } : {}),
    ...(options.recorder ? { recorder: options.recorder } : {}),
  });
  const endpoint = await tunnel.listen();
  return { tunnel, endpoint, close: () => tunnel.close() };
}
