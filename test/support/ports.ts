/**
 * Ports for test processes. Test files run side by side, each starting servers and tunnels: a port one
 * file picks must not be one another file's home keeps or the kernel hands out next.
 */
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { isPortFree } from '../../tunnel/manager/port-registry.ts';

/** A port the kernel just handed out and released: for a server the test starts at once. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * A free port below the kernel's ephemeral range (which starts at 32768), picked at random: for a port
 * kept for later, as `--port N` keeps one, that the kernel will not give another test's connection.
 */
export async function keptPort(taken: ReadonlySet<number> = new Set()): Promise<number> {
  let port: number;
  do port = 20_000 + Math.floor(Math.random() * 12_000);
  while (taken.has(port) || !(await isPortFree(port)));
  return port;
}

/**
 * Gives each target of a new home a stable port of its own, as `--port N` would: homes of test files
 * running side by side would otherwise all start at the first port of the range (15432, or 12222 for
 * SSH), and one file's tunnel could take the port another file's home keeps.
 */
export async function keepPortsApart(home: string, targetIds: readonly string[]): Promise<void> {
  const ports: Record<string, number> = {};
  const taken = new Set<number>();
  for (const target of targetIds) {
    const port = await keptPort(taken);
    taken.add(port);
    ports[target] = port;
  }
  await writeFile(path.join(home, 'ports.json'), JSON.stringify({ ports }), { mode: 0o600 });
}
