/**
 * The React renderer, built by Vite exactly as the app ships it, running in real (Debian) Chromium.
 *
 * The preload boundary is the one thing faked: the page gets a `window.portcullis` from an init script,
 * as the sandboxed preload would provide it in Electron. The page is served over plain HTTP with no CSP
 * header, so what is enforced here is the <meta> policy alone.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { build, mergeConfig } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rendererConfig } from '../../electron.vite.config.ts';
import { contentSecurityPolicy, contentTypeFor } from '../../main/security.ts';

const chromiumPath = '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);
if (!haveChromium) {
  console.warn(
    `test/renderer: skipped, ${chromiumPath} not found; install Debian chromium to run (apt-get install chromium)`,
  );
}

/** Serves `root` read-only on 127.0.0.1, like the app:// protocol handler does in Electron. */
async function serveStatic(root: string): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    const file = path.join(root, pathname === '/' ? 'index.html' : pathname);
    if (!file.startsWith(root + path.sep)) {
      response.writeHead(404).end();
      return;
    }
    readFile(file).then(
      (body) => response.writeHead(200, { 'Content-Type': contentTypeFor(file) }).end(body),
      () => response.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}

/** What the preload exposes, faked: `version` resolves to the given string, or rejects when null. */
function fakePreload(version: string | null): string {
  const versionCall =
    version === null
      ? `Promise.reject(new Error('main is gone'))`
      : `Promise.resolve({ ok: true, value: ${JSON.stringify(version)} })`;
  return `
    window.portcullis = Object.freeze({
      app: Object.freeze({ version: () => ${versionCall}, platform: () => Promise.resolve({ ok: true, value: 'linux' }) }),
    });
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(e.effectiveDirective + ' ' + e.blockedURI);
    });
  `;
}

describe.skipIf(!haveChromium)('the renderer in Chromium', () => {
  let outDir: string;
  let server: Server;
  let baseUrl: string;
  let browser: Browser;

  beforeAll(async () => {
    outDir = await mkdtemp(path.join(tmpdir(), 'portcullis-renderer-'));
    await build(
      mergeConfig(rendererConfig(outDir), {
        configFile: false,
        base: './',
        mode: 'production',
        logLevel: 'warn',
      }),
    );
    ({ server, url: baseUrl } = await serveStatic(outDir));
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  /** Opens the app with the fake preload; collects console errors and uncaught exceptions. */
  async function open(version: string | null): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.addInitScript(fakePreload(version));
    await page.goto(`${baseUrl}/index.html`);
    return { page, errors };
  }

  const violations = (page: Page): Promise<string[]> => page.evaluate('window.__cspViolations');

  it('shows the signed-out state and the version the preload reports', async () => {
    const { page, errors } = await open('9.8.7-test');
    expect(await page.title()).toBe('Portcullis');
    await expect.poll(() => page.getByTestId('app-version').textContent()).toBe('9.8.7-test');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Portcullis');
    expect(await page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Sign in' }).isDisabled()).toBe(true);
    // The app runs under the strict policy without tripping it: no inline script or style, no eval.
    expect(await violations(page)).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('says the version is unknown when the main process does not answer', async () => {
    const { page } = await open(null);
    await expect.poll(() => page.getByTestId('app-version').textContent()).toBe('unknown');
    expect(await page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
    await page.close();
  });

  it('carries the production CSP as a <meta> element, and no inline script', async () => {
    const { page } = await open('1.0.0');
    const metas = page.locator('meta[http-equiv="Content-Security-Policy"]');
    expect(await metas.count()).toBe(1);
    expect(await metas.getAttribute('content')).toBe(contentSecurityPolicy(false, 'meta'));
    expect(await page.locator('script:not([src])').count()).toBe(0);
    await page.close();
  });

  it('enforces the CSP: injected script, handler, string timer, style and cross-origin fetch are refused', async () => {
    const { page } = await open('1.0.0');
    await expect.poll(() => page.getByTestId('app-version').textContent()).toBe('1.0.0');
    const outcome = await page.evaluate(`(async () => {
      const script = document.createElement('script');
      script.textContent = 'window.__injected = true';
      document.body.append(script);
      const button = document.createElement('button');
      button.setAttribute('onclick', 'window.__handler = true');
      document.body.append(button);
      button.click();
      setTimeout('window.__timerString = true', 0);
      const style = document.createElement('style');
      style.textContent = 'body { --injected: yes; }';
      document.head.append(style);
      let fetchResult;
      try { await fetch('http://127.0.0.2:9/'); fetchResult = 'fetched'; } catch (e) { fetchResult = e.name; }
      await new Promise((resolve) => setTimeout(resolve, 50));
      return {
        injected: window.__injected === true,
        handler: window.__handler === true,
        timerString: window.__timerString === true,
        style: getComputedStyle(document.body).getPropertyValue('--injected'),
        fetchResult,
      };
    })()`);
    expect(outcome).toEqual({
      injected: false,
      handler: false,
      timerString: false,
      style: '',
      fetchResult: 'TypeError',
    });
    expect((await violations(page)).sort()).toEqual(
      [
        'connect-src http://127.0.0.2:9/',
        'script-src eval',
        'script-src-attr inline',
        'script-src-elem inline',
        'style-src-elem inline',
      ].sort(),
    );
    await page.close();
  });
});
