/**
 * The port registry: one stable local port per target, remembered in a private JSON file, never silently
 * swapped for another when it is taken. Real sockets on loopback; no hub, no database.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PortInUseError, PortRegistry, PortRegistryError } from '../../tunnel/manager/port-registry.ts';
import { freeRange } from '../support/waiting.ts';

let dir: string;
let file: string;
const squatters: Server[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'portcullis-ports-'));
  file = path.join(dir, 'ports.json');
});

/** The other programs stop listening. */
const release = (): Promise<unknown> =>
  Promise.all(squatters.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));

afterEach(async () => {
  await release();
  await rm(dir, { recursive: true, force: true });
});

/** Another program listening on `port`. */
async function squat(port: number): Promise<void> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1', exclusive: true }, resolve);
  });
  squatters.push(server);
}

const remembered = async (): Promise<unknown> => JSON.parse(await readFile(file, 'utf8')) as unknown;

describe('assigning a port', () => {
  it('gives a new target the first port of the range that is free and not held by another target', async () => {
    const range = await freeRange(5);
    await writeFile(file, JSON.stringify({ ports: { 'app-db': range.first } }));
    await squat(range.first + 1);

    const port = await new PortRegistry(file, range).portFor('reports-db');

    expect(port).toBe(range.first + 2);
    expect(await remembered()).toEqual({ ports: { 'app-db': range.first, 'reports-db': range.first + 2 } });
  });

  it('remembers the port across registries, even once the next port would be lower', async () => {
    const range = await freeRange(4);
    await squat(range.first);
    const first = await new PortRegistry(file, range).portFor('app-db');
    expect(first).toBe(range.first + 1);
    await release();

    // A new process (a new registry on the same file) gets the same port back, not the now-free first one.
    expect(await new PortRegistry(file, range).portFor('app-db')).toBe(first);
    expect(await new PortRegistry(file, range).portFor('reports-db')).toBe(range.first);
  });

  it('writes the file for its owner only', async () => {
    const range = await freeRange(2);
    await new PortRegistry(path.join(dir, 'nested', 'ports.json'), range).portFor('app-db');
    const mode = (await stat(path.join(dir, 'nested', 'ports.json'))).mode & 0o777;
    expect(mode).toBe(0o600);
  });

  it('says so when every port of the range is taken or held', async () => {
    const range = await freeRange(2);
    await writeFile(file, JSON.stringify({ ports: { 'app-db': range.first } }));
    await squat(range.last);
    const error = await new PortRegistry(file, range).portFor('reports-db').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PortRegistryError);
    expect((error as Error).message).toBe(
      `no free port between ${range.first} and ${range.last}; choose one with --port N`,
    );
  });
});

describe('--port', () => {
  it('assigns the requested port for good', async () => {
    const range = await freeRange(3);
    const registry = new PortRegistry(file, range);
    expect(await registry.portFor('app-db')).toBe(range.first);

    const chosen = await freeRange(1);
    expect(await registry.portFor('app-db', chosen.first)).toBe(chosen.first);
    expect(await new PortRegistry(file, range).portFor('app-db')).toBe(chosen.first);
    expect(await remembered()).toEqual({ ports: { 'app-db': chosen.first } });
  });

  it('takes the port away from the target that held it', async () => {
    const range = await freeRange(3);
    const registry = new PortRegistry(file, range);
    const appPort = await registry.portFor('app-db');
    expect(appPort).toBe(range.first);

    expect(await registry.portFor('reports-db', appPort)).toBe(appPort);
    expect(await remembered()).toEqual({ ports: { 'reports-db': appPort } });
    // app-db gets a new port next time; never the one reports-db holds now.
    expect(await registry.portFor('app-db')).toBe(range.first + 1);
  });

  it('refuses a value that is not a port', async () => {
    const registry = new PortRegistry(file, await freeRange(1));
    for (const bad of [0, 65_536, 1.5, -1]) {
      await expect(registry.portFor('app-db', bad)).rejects.toThrow(
        new PortRegistryError(`--port must be between 1 and 65535, got ${bad}`),
      );
    }
  });
});

describe('a taken port', () => {
  it('throws PortInUseError naming the target and its port, and never picks another', async () => {
    const range = await freeRange(3);
    const registry = new PortRegistry(file, range);
    const port = await registry.portFor('app-db');
    await squat(port);

    const error = await registry.portFor('app-db').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PortInUseError);
    expect(error).toMatchObject({ targetId: 'app-db', port });
    expect((error as Error).message).toBe(
      `port ${port} (kept for app-db) is in use by another program or tunnel; ` +
        'stop it, or choose another port with `portcullis connect app-db --port N` (it will be remembered)',
    );
    expect(await remembered()).toEqual({ ports: { 'app-db': port } });
  });

  it('is not remembered when it was requested with --port', async () => {
    const range = await freeRange(2);
    const registry = new PortRegistry(file, range);
    const port = await registry.portFor('app-db');
    const taken = await freeRange(1);
    await squat(taken.first);

    await expect(registry.portFor('app-db', taken.first)).rejects.toMatchObject({
      name: 'PortInUseError',
      targetId: 'app-db',
      port: taken.first,
    });
    expect(await remembered()).toEqual({ ports: { 'app-db': port } });
  });
});

describe('a damaged ports.json', () => {
  it.each([
    [
      'not JSON',
      '{"ports": {"app-db": 15432',
      'is not valid JSON; fix or delete it (ports will be reassigned)',
    ],
    ['no ports object', '{"ports": [15432]}', 'has no "ports" object; fix or delete it'],
    ['null', 'null', 'has no "ports" object; fix or delete it'],
    [
      'a port that is not a number',
      '{"ports": {"app-db": "15432"}}',
      ': the port of app-db is not a port number',
    ],
    ['a port out of range', '{"ports": {"app-db": 70000}}', ': the port of app-db is not a port number'],
  ])('%s gives a PortRegistryError naming the file, and is left as it was', async (_, text, says) => {
    await writeFile(file, text);
    const registry = new PortRegistry(file, await freeRange(1));

    const error = await registry.portFor('app-db').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PortRegistryError);
    expect((error as Error).message).toBe(`${file}${says.startsWith(':') ? '' : ' '}${says}`);
    await expect(registry.all()).rejects.toBeInstanceOf(PortRegistryError);
    expect(await readFile(file, 'utf8')).toBe(text);
  });

  it('an unreadable path gives a PortRegistryError too', async () => {
    const registry = new PortRegistry(dir, await freeRange(1)); // a directory, not a file
    await expect(registry.all()).rejects.toThrow(PortRegistryError);
    await expect(registry.all()).rejects.toThrow(`cannot read ${dir}`);
  });
});
