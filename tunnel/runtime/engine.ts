/**
 * The tunnel engine of one signed-in account, as the CLI's `connect` and the desktop app's main process
 * both run it: the local recording spool, the outbox that syncs it to the hub, one TunnelManager, the
 * sessions a dead process left open ended on start, and on stop every tunnel closed (tunnel.close
 * recorded) and the spool flushed to the hub as far as it will go.
 *
 *   const engine = await startEngine({ hub, tokens, identity, paths, log });
 *   const tunnel = await engine.open('shop-db', { port: 15432 });
 *   …
 *   await engine.stop();
 */
import type { HubClient } from '../hub-client/index.ts';
import type { TokenManager } from '../identity/index.ts';
import { PortRegistry } from '../manager/port-registry.ts';
import { TunnelCertificateStore } from '../manager/tunnel-certificates.ts';
import {
  TunnelManager,
  type OpenOptions,
  type OpenTunnel,
  type TunnelManagerOptions,
} from '../manager/tunnel-manager.ts';
import { loadClassifier } from '../policy/classifier.ts';
import { hubSink, Outbox, type OutboxStatus } from '../recorder/outbox.ts';
import { RecordingSpool } from '../recorder/spool.ts';

export interface EngineOptions {
  hub: HubClient;
  /** The signed-in account's tokens: renewed when a client connects. */
  tokens: TokenManager;
  /** The caller as the hub sees them (`hub.me()`), for the recording. */
  identity: { subject: string; name: string; kind: string };
  /**
   * The spool database, the stable-port file, the local CAs' directory and the home directory SSH
   * targets keep their keys in (HomePaths has them all).
   */
  paths: { spool: string; ports: string; tls?: string; directory?: string };
  /** Where new targets' stable ports are picked from. Default 15432–15631. */
  portRange?: { first: number; last: number };
  /** The key of the `hash` mask. */
  maskKey?: Buffer;
  /** One line for people per thing worth saying (outages once, not per retry). */
  log?: (message: string) => void;
  /** How often the manager asks the hub which sessions must close. Default 30 s. */
  revocationPollMs?: number;
  /** Told when syncing fails for the first time in a row, and when it works again. */
  onSync?: (state: 'failing' | 'recovered', error?: Error) => void;
  /** Sees each client connection's event of every tunnel (holds and their outcome, say). */
  onTunnelEvent?: TunnelManagerOptions['onEvent'];
}

export interface EngineStopped {
  /** Recorded events the hub has not acknowledged yet: kept in the spool for the next start. */
  pending: number;
}

export interface Engine {
  readonly manager: TunnelManager;
  /** Sessions of dead tunnel processes that this start ended. */
  readonly abandoned: readonly string[];
  open(targetId: string, options?: OpenOptions): Promise<OpenTunnel>;
  syncStatus(): OutboxStatus;
  /** Delivers what is spooled now, without waiting out a backoff (after sleep or a network change). */
  syncNow(timeoutMs?: number): Promise<boolean>;
  /**
   * Closes every tunnel with `reason` (recorded as tunnel.close), gives the outbox up to `flushTimeoutMs`
   * (default 5 s; 0: no wait) to deliver what is spooled, and closes the spool. Idempotent.
   */
  stop(options?: { reason?: string; flushTimeoutMs?: number }): Promise<EngineStopped>;
}

const DEFAULT_FLUSH_MS = 5000;

export async function startEngine(options: EngineOptions): Promise<Engine> {
  const log = (message: string): void => options.log?.(message);
  await loadClassifier();
  const spool = new RecordingSpool(options.paths.spool, { log: (message) => log(`recording: ${message}`) });
  const outbox = new Outbox(spool, hubSink(options.hub), syncReporting(log, options.onSync));
  const manager = tunnelManager(options, spool, log);
  let abandoned: string[];
  try {
    outbox.start(); // also delivers what earlier runs left in the spool
    abandoned = manager.endAbandonedSessions();
  } catch (error) {
    await outbox.stop();
    await spool.close().catch(() => undefined);
    throw error;
  }
  if (abandoned.length > 0) {
    log(`ended ${abandoned.length} session(s) whose tunnel process had died; their recordings sync now`);
  }

  let stopping: Promise<EngineStopped> | undefined;
  const stop = (reason: string | undefined, flushTimeoutMs: number): Promise<EngineStopped> =>
    stopEngine({ manager, outbox, spool, log }, reason, flushTimeoutMs);
  return {
    manager,
    abandoned,
    open: (targetId, openOptions = {}) => manager.open(targetId, openOptions),
    syncStatus: () => outbox.status(),
    syncNow: (timeoutMs = 30_000) =>
      stopping
        ? Promise.resolve(false)
        : outbox.flush({ timeoutMs }).then(
            () => true,
            () => false,
          ),
    stop(stopOptions = {}) {
      stopping ??= stop(stopOptions.reason, stopOptions.flushTimeoutMs ?? DEFAULT_FLUSH_MS);
      return stopping;
    },
  };
}

function tunnelManager(
  options: EngineOptions,
  spool: RecordingSpool,
  log: (message: string) => void,
): TunnelManager {
  return new TunnelManager({
    hub: options.hub,
    tokens: options.tokens,
    spool,
    ports: new PortRegistry(options.paths.ports, options.portRange),
    ...(options.paths.tls ? { certificates: new TunnelCertificateStore(options.paths.tls) } : {}),
    identity: options.identity,
    ...(options.maskKey ? { maskKey: options.maskKey } : {}),
    ...(options.revocationPollMs ? { revocationPollMs: options.revocationPollMs } : {}),
    ...(options.paths.directory ? { home: options.paths.directory } : {}),
    ...(options.onTunnelEvent ? { onEvent: options.onTunnelEvent } : {}),
    log,
  });
}

/**
 * Closes every tunnel, gives the outbox up to FLUSH_TIMEOUT_MS to deliver what is spooled, and closes the
 * spool; says how many events stay kept locally.
 */
async function stopEngine(
  parts: { manager: TunnelManager; outbox: Outbox; spool: RecordingSpool; log: (message: string) => void },
  reason: string | undefined,
  flushTimeoutMs: number,
): Promise<EngineStopped> {
  const { manager, outbox, spool, log } = parts;
  await manager.closeAll(reason);
  if (flushTimeoutMs > 0) {
    try {
      await outbox.flush({ timeoutMs: flushTimeoutMs });
    } catch {
      log(
        `${outbox.status().pending} recorded event(s) are kept locally and will sync the next time you connect`,
      );
    }
  }
  const pending = outbox.status().pending;
  await outbox.stop();
  await spool.close().catch((error: Error) => log(error.message));
  return { pending };
}

/** One line when an outage starts and one when it ends, not one per retry. */
function syncReporting(
  log: (message: string) => void,
  onSync: EngineOptions['onSync'],
): { onError: (error: unknown) => void; onRecovered: () => void } {
  let failures = 0;
  return {
    onError: (error) => {
      if (failures++ > 0) return;
      log(`cannot sync the recording yet (${(error as Error).message}); it is kept here and retried`);
      onSync?.('failing', error as Error);
    },
    onRecovered: () => {
      failures = 0;
      log('the hub is reachable again; the recording is syncing');
      onSync?.('recovered');
    },
  };
}
