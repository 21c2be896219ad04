/** Waiting in tests for things that happen in other processes, and finding free ports. */
import { isPortFree } from '../../tunnel/manager/port-registry.ts';

/**
 * Asks `probe` until it answers something other than undefined; a probe that throws (say, a hub that is
 * restarting) is asked again. Fails naming `what`, with the last error, after `timeoutMs`.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? ` (${String(last)})` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `count` consecutive loopback ports that are free now (other programs on this machine come and go). */
export async function freeRange(count: number): Promise<{ first: number; last: number }> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const first = 20_000 + Math.floor(Math.random() * 20_000);
    let free = true;
    for (let port = first; port < first + count && free; port++) free = await isPortFree(port);
    if (free) return { first, last: first + count - 1 };
  }
  throw new Error(`no ${count} consecutive free ports found`);
}
