/**
 * A relay as `portcullis relay` and the demo run it: the server, its recording spool and the outbox that
 * delivers the recording to the hub; on start, the connections a dead predecessor left open in the spool
 * are ended there (abandoned-connections.ts). Stopping ends every connection (relay.close recorded) and gives the
 * outbox a few seconds to deliver what is spooled; what is left is delivered at the next start.
 *
 *   const relay = await startRelay({ hub, tls: { cert, key }, spoolPath, port: 6433 });
 *   …
 *   await relay.stop();
 */
import type { HubClient } from '../hub-client/index.ts';
import { loadClassifier } from '../policy/classifier.ts';
import { hubSink, Outbox, type OutboxStatus } from '../recorder/outbox.ts';
import { RecordingSpool } from '../recorder/spool.ts';
import { endAbandonedConnections } from './abandoned-connections.ts';
import { RelayServer, type RelayServerOptions } from './relay-server.ts';

export { RelayServer, type RelayServerOptions } from './relay-server.ts';

export interface RelayOptions extends Omit<RelayServerOptions, 'spool'> {
  hub: HubClient;
  /** The recording spool's file (kept until the hub has every event). */
  spoolPath: string;
}

export interface RunningRelay {
  readonly server: RelayServer;
  readonly host: string;
  readonly port: number;
  syncStatus(): OutboxStatus;
  /** Delivers what is spooled now; false when it could not within `timeoutMs`. */
  syncNow(timeoutMs?: number): Promise<boolean>;
  stop(reason?: string): Promise<{ pending: number }>;
}

export async function startRelay(options: RelayOptions): Promise<RunningRelay> {
  const log = (message: string): void => options.log?.(message);
  await loadClassifier();
  const spool = new RecordingSpool(options.spoolPath, { log: (message) => log(`recording: ${message}`) });
  const outbox = new Outbox(spool, hubSink(options.hub));
  const server = new RelayServer({ ...options, spool });
  outbox.start();
  let address: { host: string; port: number };
  try {
    const abandoned = endAbandonedConnections(spool, options.hub, log);
    if (abandoned.length > 0) {
      log(`ended ${abandoned.length} connection(s) a relay that died was serving; their recordings sync now`);
    }
    address = await server.listen();
  } catch (error) {
    await outbox.stop();
    await spool.close().catch(() => undefined);
    throw error;
  }
  let stopping: Promise<{ pending: number }> | undefined;
  const flush = (timeoutMs: number): Promise<boolean> =>
    outbox.flush({ timeoutMs }).then(
      () => true,
      () => false,
    );
  return {
    server,
    ...address,
    syncStatus: () => outbox.status(),
    syncNow: (timeoutMs = 30_000) => flush(timeoutMs),
    stop(reason) {
      stopping ??= (async () => {
        await server.close(reason);
        await flush(5000);
        const pending = outbox.status().pending;
        await outbox.stop();
        await spool.close().catch((error: Error) => log(error.message));
        return { pending };
      })();
      return stopping;
    },
  };
}
