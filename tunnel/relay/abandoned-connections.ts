/**
 * A relay started over the spool of one that died (killed, crashed, its machine restarted) ends, in the
 * recording, the connections that one was serving: `relay.abandoned` after their last event, so the
 * recording says how it ended rather than stopping mid-statement. The hub has closed (or will close) their
 * sessions once their leases run out; the relay asks it to now, in case it did not yet. Connections of a
 * relay still alive on this machine (another process on the same spool) are left alone.
 */
import { hostname } from 'node:os';
import type { HubClient } from '../hub-client/index.ts';
import { isAlive } from '../manager/process-alive.ts';
import type { RecordingSpool } from '../recorder/spool.ts';

/** Records relay.abandoned for each such connection; returns their sessions. */
export function endAbandonedConnections(
  spool: RecordingSpool,
  hub: HubClient,
  log: (message: string) => void,
): string[] {
  const ended: string[] = [];
  for (const bounds of spool.sessionBounds()) {
    if (bounds.first.type !== 'relay.open') continue;
    if (bounds.last.type === 'relay.close' || bounds.last.type === 'relay.abandoned') continue;
    const owner = (bounds.first.payload as { process?: { pid?: unknown; host?: unknown } }).process;
    if (typeof owner?.pid !== 'number' || owner.host !== hostname() || isAlive(owner.pid)) continue;
    const reason = `the relay process (pid ${owner.pid}) ended while serving this connection`;
    spool.record(bounds.sessionId, {
      type: 'relay.abandoned',
      reason,
      process: { pid: owner.pid, host: owner.host },
    });
    // Not awaited: an unreachable hub must not hold up the relay's start (the recording says it anyway).
    void hub.closeSession(bounds.sessionId, reason).catch((error: Error) => {
      log(`closing ${bounds.sessionId} at the hub: ${error.message}; its recording will once it syncs`);
    });
    ended.push(bounds.sessionId);
  }
  return ended;
}
