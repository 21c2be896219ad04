/**
 * Held statements as a tunnel sends them, for tests that talk to the hub's API directly: the hub takes a
 * hold only from a connection it authenticated, so `connectionSignedIn` first has the hub answer one
 * connection's md5 challenge (as the tunnel does when that connection signs in upstream).
 */
import type { HoldInput } from '../../hub/api/types.ts';
import type { HubClient } from '../../tunnel/hub-client/index.ts';

/** The hub authenticates `connection` of the session, as it does when a tunnel connection signs in. */
export async function connectionSignedIn(hub: HubClient, sessionId: string, connection = 1): Promise<void> {
  await hub.prove(sessionId, { method: 'postgres-md5', connection, salt: 'AAAAAA==' });
}

/** A session opened on `targetId` with its first connection signed in: ready to hold statements. */
export async function holdingSession(hub: HubClient, targetId: string): Promise<string> {
  const { sessionId } = await hub.openSession(targetId);
  await connectionSignedIn(hub, sessionId);
  return sessionId;
}

/** A write held under `writes need approval` on connection 1 of the session. */
export function heldWrite(sessionId: string, sql: string, connection = 1): HoldInput {
  return { sessionId, connection, sql, classes: ['write'], rule: 'writes need approval' };
}
