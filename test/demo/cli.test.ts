/**
 * `portcullis demo` (and `npm start`) as a real child process: one JSON ready line on stdout, the guide on
 * stderr, exit 0 on SIGTERM with everything stopped; a taken port or a foreign directory is one line on
 * stderr and exit code 1.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { createConnection, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHubClient } from '../../tunnel/hub-client/index.ts';
import { sshdMissing } from '../../hub/demo/sshd.ts';
import { CLI } from '../support/guard-process.ts';
import { exitedWithOutput } from '../support/commands.ts';
import { until } from '../support/waiting.ts';

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'portcullis-demo-cli-'));
  await chmod(scratch, 0o755); // as root, PostgreSQL runs as the postgres user, who must pass through it
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

interface DemoProcess {
  /** The first stdout line, parsed; undefined when the process exited first. */
  ready: Record<string, unknown> | undefined;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

async function runDemo(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<DemoProcess> {
  const env = { ...process.env, ...options.env };
  if (!options.env || !('npm_lifecycle_event' in options.env)) delete env.npm_lifecycle_event;
  const child = spawn(process.execPath, [CLI, 'demo', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => (stdout += `${line}\n`));
  const exited = exitedWithOutput(child);
  const first = new Promise<string>((resolve) => lines.once('line', resolve));
  const line = await Promise.race([first, exited.then(() => undefined)]);
  return {
    ready: line === undefined ? undefined : (JSON.parse(line) as Record<string, unknown>),
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async stop(signal) {
      child.kill(signal);
      return exited;
    },
  };
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

function occupyPort(): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const ephemeral = [
  ...['--hub-port', '0', '--idp-port', '0', '--postgres-port', '0'],
  ...['--ssh-port', '0', '--relay-port', '0'],
];

describe('portcullis demo', () => {
  // The first two tests share a data directory: the second run is the one that finds it.
  const sharedDataDir = (): string => path.join(scratch, 'demo');

  it('as `npm start` runs it: one JSON ready line, the guide and the desktop note on stderr, exit 0 on SIGTERM', async () => {
    const dataDir = sharedDataDir();
    const demo = await runDemo(['--data-dir', dataDir, ...ephemeral], {
      env: { npm_lifecycle_event: 'start' },
    });
    let code: number | null = null;
    try {
      expect(demo.ready, demo.stderr()).toBeDefined();
      const ready = demo.ready!;
      expect(Object.keys(ready)).toEqual([
        'event',
        'hub',
        'issuer',
        'users',
        'agent',
        'targets',
        'ssh',
        'relay',
        'dataDir',
      ]);
      expect(ready).toMatchObject({
        event: 'ready',
        hub: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
        issuer: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
        agent: { clientId: 'nightly-report-agent', clientSecret: expect.any(String) },
        dataDir,
      });
      expect(ready.users).toContainEqual({
        username: 'elena',
        password: 'elena-demo-password',
        name: 'Elena Garcia',
        groups: ['engineering', 'managers'],
      });
      expect(ready.targets).toEqual([
        {
          id: 'shop-db',
          name: 'Shop (production)',
          policy: 'policies/shop.yaml',
          access: 'standing: engineering',
        },
        expect.objectContaining({ id: 'shop-reporting', policy: 'policies/reporting.yaml' }),
        expect.objectContaining({ id: 'shop-admin', policy: 'guarded' }),
        ...(sshdMissing() ? [] : [expect.objectContaining({ id: 'shop-web', policy: 'policies/web.yaml' })]),
      ]);
      if (sshdMissing()) expect(demo.stderr()).toContain(`shop-web is left out: ${sshdMissing()}`);

      const hub = ready.hub as string;
      expect(await createHubClient({ url: hub }).identity()).toMatchObject({ issuer: ready.issuer });
      // The guide follows the ready line, on the other stream: it may not have been read yet.
      const guide = await until('the guide after the ready line', () =>
        demo.stderr().includes('drop table orders;') ? demo.stderr() : undefined,
      );
      expect(guide).toContain(`portcullis login --hub ${hub}`);
      expect(guide).toContain('portcullis connect shop-db');
      expect(guide).toContain('psql "<url from connect>"');
      expect(guide).toContain("update payments set status = 'refunded' where id = 1;");
      expect(guide).toContain('drop table orders;');
      expect(guide).toContain('PORTCULLIS_HOME=~/.config/portcullis-elena');
      expect(guide).toContain('portcullis approve ID');
      expect(guide).toContain(`PORTCULLIS_HUB=${hub} PORTCULLIS_CLIENT_ID=nightly-report-agent`);
      // npm start says itself how the app comes up (scripts/start.mjs); the demo's guide is the CLI's.
      expect(guide).not.toMatch(/desktop window/);

      const hubYaml = await readFile(path.join(dataDir, 'hub.yaml'), 'utf8');
      const postgresPort = Number(/address: '127\.0\.0\.1:(\d+)'/.exec(hubYaml)![1]);
      expect(await refusesConnections(postgresPort)).toBe(false);

      code = await demo.stop('SIGTERM');
      expect(await refusesConnections(postgresPort)).toBe(true);
      expect(await refusesConnections(Number(new URL(hub).port))).toBe(true);
    } finally {
      if (code === null) code = await demo.stop('SIGKILL');
    }
    expect(code).toBe(0);
    expect(demo.stdout().trim().split('\n')).toHaveLength(1);
    expect(demo.stderr()).toMatch(/SIGTERM: shutting down\n.*stopped\n$/);
  });

  it('run again on the same directory, reuses its database, and stops cleanly even when PostgreSQL stopped first', async () => {
    const dataDir = sharedDataDir();
    const demo = await runDemo(['--data-dir', dataDir, ...ephemeral]);
    let code: number | null = null;
    try {
      expect(demo.ready, demo.stderr()).toMatchObject({ event: 'ready', dataDir });
      expect(demo.stderr()).toMatch(/reusing the shop database: 300 customers, 600 orders/);
      expect(demo.stderr()).not.toMatch(/first start|desktop window/);

      // Ctrl-C in a terminal signals the whole process group: PostgreSQL may be gone before the demo closes.
      const postmaster = await readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8');
      const [pid, , , port] = postmaster.split('\n');
      process.kill(Number(pid), 'SIGINT');
      while (!(await refusesConnections(Number(port)))) await new Promise((r) => setTimeout(r, 50));

      code = await demo.stop('SIGINT');
    } finally {
      if (code === null) code = await demo.stop('SIGKILL');
    }
    expect(code).toBe(0);
    expect(demo.stderr()).toMatch(/SIGINT: shutting down\n.*stopped\n$/);
  });

  it('says which port is taken and which flag to pass, in one line with exit code 1, before creating anything', async () => {
    const taken = await occupyPort();
    const port = (taken.address() as AddressInfo).port;
    const dataDir = path.join(scratch, 'port-taken');
    try {
      const demo = await runDemo(['--data-dir', dataDir, ...ephemeral, '--hub-port', String(port)]);
      expect(demo.ready).toBeUndefined();
      expect(await demo.exited).toBe(1);
      expect(demo.stderr()).toBe(
        `portcullis: port ${port} is in use — is another demo running? pass --hub-port to use another port\n`,
      );
      await expect(readdir(dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      taken.close();
    }
  });

  it('will not --reset a directory that is not a demo’s: one line, exit code 1, nothing deleted', async () => {
    const foreign = path.join(scratch, 'foreign');
    await mkdir(foreign);
    await writeFile(path.join(foreign, 'notes.txt'), 'mine');
    const demo = await runDemo(['--data-dir', foreign, ...ephemeral, '--reset']);
    expect(demo.ready).toBeUndefined();
    expect(await demo.exited).toBe(1);
    expect(demo.stderr()).toMatch(
      /^portcullis: refusing to reset .*foreign: it does not look like a Portcullis demo directory.*\n$/,
    );
    expect(await readFile(path.join(foreign, 'notes.txt'), 'utf8')).toBe('mine');
  });
});
