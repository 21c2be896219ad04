/**
 * `npm start` (scripts/start.mjs) where Electron's binary is missing and cannot be fetched — as on the
 * build machines: it tries Electron's own installer, says in one line why it cannot and how to get it,
 * and runs the embedded demo with the app's browser preview (main/browser), whose printed address lets a
 * browser in. (Where the binary is installed it would launch the app instead; then this test skips.)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { stillRunning } from '../support/process-state.ts';
import { until } from '../support/waiting.ts';

const repo = path.resolve(import.meta.dirname, '..', '..');
const start = path.join(repo, 'scripts', 'start.mjs');
const { installedElectron, fetchElectron } = (await import(start)) as {
  installedElectron(dir?: string): string | null;
  fetchElectron(dir?: string, timeoutMs?: number): string | null;
};
const haveElectron = installedElectron() !== null;
if (haveElectron)
  console.warn('test/package/start: skipped, the Electron binary is installed (npm start would launch it)');

// A mirror that refuses connections: the download fails at once, with or without internet.
const offline = { ...process.env, ELECTRON_MIRROR: 'http://127.0.0.1:9/', electron_config_cache: '' };

let scratch: string | undefined;
afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('npm start without the Electron binary', () => {
  it('finds no binary in an electron package without one, and says why the installer failed', () => {
    expect(installedElectron(path.join(repo, 'node_modules', 'no-such-electron'))).toBeNull();
    expect(fetchElectron(path.join(repo, 'node_modules', 'no-such-electron'))).toMatch(/npm install/);
  });

  // Deadlines for a loaded 2-core machine: each start builds the app (electron-vite) and initialises a
  // new PostgreSQL before the demo is ready; a quiet machine is done in about a minute.

  /** `npm start` on a scratch demo, as a user runs it; its JSON lines and stderr as they come. */
  async function launch() {
    scratch ??= await mkdtemp(path.join(tmpdir(), 'portcullis-start-'));
    await chmod(scratch, 0o755); // as root, PostgreSQL runs as its own user, who must pass through it
    const dataDir = await mkdtemp(path.join(scratch, 'run-'));
    await chmod(dataDir, 0o755);
    const child = spawn(
      process.execPath,
      [
        start,
        '--data-dir',
        path.join(dataDir, 'demo'),
        '--hub-port',
        '0',
        '--idp-port',
        '0',
        '--postgres-port',
        '0',
      ],
      {
        env: { ...offline, PORTCULLIS_HOME: path.join(dataDir, 'home') },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, 'exit');
    const printed: Record<string, unknown>[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('{')) printed.push(JSON.parse(line) as Record<string, unknown>);
    });
    child.on('exit', () => printed.push({ event: 'exit' }));
    const printedEvent = (event: string, ms: number) =>
      until(`the ${event} line`, () => printed.find((p) => p.event === event || p.event === 'exit'), ms);
    return { child, exited, printedEvent, stderr: () => stderr };
  }

  /** The pids of a process's children (Linux /proc). */
  function childrenOf(pid: number): number[] {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return text ? text.split(/\s+/).map(Number) : [];
  }

  it.skipIf(haveElectron)(
    'says in one line that it cannot fetch Electron and how to, then runs the demo and the app in the browser',
    async () => {
      const { child, exited, printedEvent, stderr: output } = await launch();
      try {
        const ready = await printedEvent('ready', 400_000);
        const stderr = output();
        expect(ready, stderr).toMatchObject({
          event: 'ready',
          hub: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
        });
        const says = stderr.split('\n').filter((line) => line.includes('cannot fetch Electron'));
        expect(says).toEqual([
          expect.stringMatching(
            /^portcullis: cannot fetch Electron \(.*ECONNREFUSED.*\); run `node node_modules\/electron\/install\.js` where the internet \(or ELECTRON_MIRROR\) is reachable, then `npm start` again — starting the demo with the app in your browser instead\.$/,
          ),
        ]);
        await until('the demo guide', () => (output().includes('priya-demo-password') ? true : undefined));

        const preview = await printedEvent('preview', 120_000);
        expect(preview, output()).toMatchObject({
          url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/enter\?key=/),
        });
        const entered = await fetch(preview.url as string, { redirect: 'manual' });
        expect(entered.status).toBe(303);
        const cookie = entered.headers.get('set-cookie')!.split(';')[0]!;
        const page = await fetch(new URL('/', preview.url as string), { headers: { cookie } });
        expect(await page.text()).toContain('<script src="./portcullis-bridge.js"></script>');
        const state = await fetch(new URL('/ipc/app:state', preview.url as string), {
          method: 'POST',
          headers: {
            cookie,
            origin: new URL(preview.url as string).origin,
            'content-type': 'application/json',
          },
          body: '[]',
        });
        // Offered the demo's hub at sign-in, nobody signed in yet.
        expect(await state.json()).toMatchObject({
          ok: true,
          value: { account: { state: 'signed-out', hubUrl: ready.hub } },
        });
      } finally {
        child.kill('SIGINT');
        await exited;
      }
      expect(child.exitCode).toBe(0);
    },
    600_000,
  );

  it.skipIf(haveElectron || process.platform !== 'linux')(
    'leaves neither the demo nor the preview running when it is killed with SIGKILL',
    async () => {
      const { child, exited, printedEvent, stderr } = await launch();
      let left: number[] = [];
      try {
        expect(await printedEvent('preview', 450_000), stderr()).toMatchObject({ event: 'preview' });
        left = childrenOf(child.pid!);
        // The demo (with its hub, identity provider and PostgreSQL), the browser preview (and esbuild's service).
        expect(left.length).toBeGreaterThanOrEqual(2);
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
      try {
        await until(
          'the demo, the preview and every other child to stop',
          () => (left.some(stillRunning) ? undefined : true),
          120_000,
        );
      } finally {
        for (const pid of left.filter(stillRunning)) process.kill(pid, 'SIGKILL');
      }
    },
    600_000,
  );
});
