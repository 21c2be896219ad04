/**
 * `npm start` (scripts/start.mjs) where Electron's binary is missing and cannot be fetched — as on the
 * build machines: it tries Electron's own installer, says in one line why it cannot and how to get it,
 * and runs the embedded demo with the app's browser preview (main/browser), whose printed address lets a
 * browser in. (Where the binary is installed it would launch the app instead; then this test skips.)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
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

  it.skipIf(haveElectron)(
    'says in one line that it cannot fetch Electron and how to, then runs the demo and the app in the browser',
    async () => {
      scratch = await mkdtemp(path.join(tmpdir(), 'portcullis-start-'));
      await chmod(scratch, 0o755); // as root, PostgreSQL runs as its own user, who must pass through it
      const child = spawn(
        process.execPath,
        [
          start,
          '--data-dir',
          path.join(scratch, 'demo'),
          '--hub-port',
          '0',
          '--idp-port',
          '0',
          '--postgres-port',
          '0',
        ],
        {
          env: { ...offline, PORTCULLIS_HOME: path.join(scratch, 'home') },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = once(child, 'exit');
      try {
        const lines = createInterface({ input: child.stdout });
        const printed: Record<string, unknown>[] = [];
        lines.on('line', (line) => {
          if (line.startsWith('{')) printed.push(JSON.parse(line) as Record<string, unknown>);
        });
        child.on('exit', () => printed.push({ event: 'exit' }));
        const ready = await until(
          'the demo',
          () => printed.find((p) => p.event === 'ready' || p.event === 'exit'),
          150_000,
        );
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
        await until('the demo guide', () => (stderr.includes('priya-demo-password') ? true : undefined));

        const preview = await until(
          'the preview',
          () => printed.find((p) => p.event === 'preview' || p.event === 'exit'),
          60_000,
        );
        expect(preview, stderr).toMatchObject({
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
    300_000,
  );
});
