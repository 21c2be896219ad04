/**
 * One stable local port per target, so that a saved DBeaver or DataGrip connection keeps working from one
 * day to the next. The first time a target is opened it gets the first port of the range that no other
 * target holds and that is free now; `--port N` assigns N for good. A port that is taken when the tunnel
 * opens is never silently swapped for another: the caller is told, and chooses.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { writePrivateFile } from '../identity/private-file.ts';

export const DEFAULT_PORT_RANGE = { first: 15432, last: 15631 } as const;
/** SSH targets get ports of their own kind, clear of the Postgres ones. */
export const SSH_PORT_RANGE = { first: 12222, last: 12421 } as const;

/** The target's port is held by another program (or another tunnel). */
export class PortInUseError extends Error {
  override name = 'PortInUseError';
  constructor(
    readonly targetId: string,
    readonly port: number,
  ) {
    super(
      `port ${port} (kept for ${targetId}) is in use by another program or tunnel; ` +
        `stop it, or choose another port with \`portcullis connect ${targetId} --port N\` (it will be remembered)`,
    );
  }
}

export class PortRegistryError extends Error {
  override name = 'PortRegistryError';
}

/** Whether `port` can be listened on at `host` right now. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

export class PortRegistry {
  constructor(
    readonly file: string,
    private readonly range: { first: number; last: number } = DEFAULT_PORT_RANGE,
  ) {}

  /** Every target's remembered port. */
  async all(): Promise<Record<string, number>> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new PortRegistryError(`cannot read ${this.file}: ${(error as Error).message}`);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new PortRegistryError(
        `${this.file} is not valid JSON; fix or delete it (ports will be reassigned)`,
      );
    }
    const ports = (value as { ports?: unknown } | null)?.ports;
    if (typeof ports !== 'object' || ports === null || Array.isArray(ports)) {
      throw new PortRegistryError(`${this.file} has no "ports" object; fix or delete it`);
    }
    const result: Record<string, number> = {};
    for (const [target, port] of Object.entries(ports)) {
      if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65_535) {
        throw new PortRegistryError(`${this.file}: the port of ${target} is not a port number`);
      }
      result[target] = port as number;
    }
    return result;
  }

  /**
   * The port for `targetId`: `requested` (remembered from now on), else the remembered one, else a new
   * one from the range. Throws PortInUseError when the port to use is taken; never picks another.
   */
  async portFor(
    targetId: string,
    requested?: number,
    range: { first: number; last: number } = this.range,
  ): Promise<number> {
    if (requested !== undefined && (!Number.isInteger(requested) || requested < 1 || requested > 65_535)) {
      throw new PortRegistryError(`--port must be between 1 and 65535, got ${requested}`);
    }
    const ports = await this.all();
    const port = requested ?? ports[targetId] ?? (await this.pick(ports, range));
    if (!(await isPortFree(port))) throw new PortInUseError(targetId, port);
    if (ports[targetId] !== port) {
      // A port can be remembered for one target only: the one asking last gets it.
      for (const [other, otherPort] of Object.entries(ports)) if (otherPort === port) delete ports[other];
      ports[targetId] = port;
      await writePrivateFile(this.file, `${JSON.stringify({ ports }, null, 2)}\n`);
    }
    return port;
  }

  private async pick(ports: Record<string, number>, range: { first: number; last: number }): Promise<number> {
    const held = new Set(Object.values(ports));
    for (let port = range.first; port <= range.last; port++) {
      if (!held.has(port) && (await isPortFree(port))) return port;
    }
    throw new PortRegistryError(
      `no free port between ${range.first} and ${range.last}; choose one with --port N`,
    );
  }
}
