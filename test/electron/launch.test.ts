/**
 * The real desktop app in real Electron, driven by playwright-core. It needs the Electron binary, which
 * `npm install` downloads; where that download was impossible (no internet) the tests skip and say why.
 * test/electron/bundle.test.ts covers what can be checked of the bundle without Electron.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'electron-vite';
import { _electron } from 'playwright-core';
import type { ElectronApplication, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packagedAppUrl } from '../../main/security.ts';

const repo = path.resolve(import.meta.dirname, '..', '..');

/** The Electron executable, or why these tests cannot run here. */
function findElectron(): { executable: string } | { skip: string } {
  const dir = path.join(repo, 'node_modules', 'electron');
  const pathFile = path.join(dir, 'path.txt');
  if (!existsSync(pathFile)) {
    return { skip: 'the Electron binary is not installed (node_modules/electron/path.txt is missing)' };
  }
  const executable = path.join(dir, 'dist', readFileSync(pathFile, 'utf8').trim());
  if (!existsSync(executable)) return { skip: `the Electron binary ${executable} is missing` };
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    return { skip: 'there is no display (run under xvfb-run)' };
  }
  return { executable };
}

const electron = findElectron();
if ('skip' in electron) console.warn(`test/electron/launch: skipped, ${electron.skip}`);

describe.skipIf('skip' in electron)('the desktop app in Electron', () => {
  let app: ElectronApplication;
  let page: Page;

  beforeAll(async () => {
    if (!('executable' in electron)) return;
    // Builds out/ exactly as `npm run build` does; `electron .` then starts package.json's main.
    await build({ root: repo, logLevel: 'warn' });
    const env = { ...process.env };
    delete env.ELECTRON_RENDERER_URL;
    app = await _electron.launch({
      executablePath: electron.executable,
      // Chromium refuses to run as root with its OS sandbox on (CI containers run as root).
      args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '.'],
      cwd: repo,
      env: env as Record<string, string>,
    });
    page = await app.firstWindow();
    await page.waitForLoadState('domcontentloaded');
  });

  afterAll(async () => {
    await app?.close();
  });

  it('opens one window on the app:// page, answering the app version through preload and IPC', async () => {
    const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string };
    expect(app.windows()).toHaveLength(1);
    expect(page.url()).toBe(packagedAppUrl);
    expect(await page.title()).toBe('Portcullis');
    expect(await page.evaluate('window.portcullis.app.version()')).toEqual({ ok: true, value: pkg.version });
    await page.getByRole('heading', { name: 'Sign in to Portcullis' }).waitFor();
  });

  it('gives the renderer no Node.js, only the preload API', async () => {
    const globals = await page.evaluate(`({
      require: typeof require,
      process: typeof process,
      module: typeof module,
      Buffer: typeof Buffer,
      api: Object.keys(window.portcullis),
    })`);
    expect(globals).toMatchObject({
      require: 'undefined',
      process: 'undefined',
      module: 'undefined',
      Buffer: 'undefined',
      api: ['app', 'account', 'targets', 'tunnels', 'approvals', 'sessions', 'settings'],
    });
    expect(await page.evaluate('window.portcullis.app.platform()')).toMatchObject({ ok: true });
  });

  it('refuses to navigate away or to open windows', async () => {
    expect(await page.evaluate(`window.open('file:///etc/passwd') === null`)).toBe(true);
    await page.evaluate(`location.href = 'http://127.0.0.1:9/'`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(page.url()).toBe(packagedAppUrl);
    expect(app.windows()).toHaveLength(1);
  });

  it('enforces the CSP on the page', async () => {
    const injected = await page.evaluate(`(async () => {
      const script = document.createElement('script');
      script.textContent = 'window.__injected = true';
      document.body.append(script);
      await new Promise((resolve) => setTimeout(resolve, 50));
      return window.__injected === true;
    })()`);
    expect(injected).toBe(false);
  });

  it('denies every permission request', async () => {
    const state = await page.evaluate(
      `navigator.permissions.query({ name: 'geolocation' }).then((s) => s.state, (e) => e.name)`,
    );
    expect(state).not.toBe('granted');
  });
});
