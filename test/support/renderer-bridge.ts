/**
 * Runs the renderer, built by Vite exactly as the app ships it, in Debian Chromium with `window.portcullis`
 * made by the preload's own code (preload/client.ts, bundled here as the preload bundles it), whose
 * transport forwards every call to the REAL main-process IPC layer (main/ipc: sender check, argument
 * validation, the handlers, the services) in this test process, and every push back into the page.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build as esbuild } from 'esbuild';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { build, mergeConfig } from 'vite';
import { rendererConfig } from '../../electron.vite.config.ts';
import { handlers } from '../../main/ipc/handlers.ts';
import { invoker } from '../../main/ipc/register.ts';
import { contentTypeFor } from '../../main/security.ts';
import type { IpcChannel } from '../../preload/api.ts';
import type { TestDesktop } from './desktop.ts';

export const chromiumPath = '/usr/bin/chromium';
export const haveChromium = existsSync(chromiumPath);

const repo = path.resolve(import.meta.dirname, '..', '..');

/** The flags the machine's notes ask for: headless, no sandbox as root, nothing phoning home. */
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-default-apps',
  '--disable-sync',
  '--no-first-run',
  '--metrics-recording-only',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
];

export interface RendererHarness {
  url: string;
  outDir: string;
  browser: Browser;
  /** A page of the app for `desktop`: its own browser context, bridged to its services. */
  open(desktop: TestDesktop, options?: { colorScheme?: 'light' | 'dark' }): Promise<AppPage>;
  close(): Promise<void>;
}

export interface AppPage {
  page: Page;
  context: BrowserContext;
  /** Console errors, page errors and CSP violations seen so far. */
  problems(): Promise<string[]>;
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

/** preload/client.ts as one classic script defining `PortcullisPreload.createPortcullisApi`. */
async function preloadClientScript(): Promise<string> {
  const result = await esbuild({
    entryPoints: [path.join(repo, 'preload', 'client.ts')],
    bundle: true,
    format: 'iife',
    globalName: 'PortcullisPreload',
    write: false,
    target: 'chrome120',
  });
  return result.outputFiles[0]!.text;
}

function initScript(client: string): string {
  return `${client}
    (() => {
      const listeners = new Map();
      window.__portcullisPush = (channel, message) => {
        for (const listener of listeners.get(channel) ?? []) listener(message);
      };
      window.portcullis = Object.freeze(PortcullisPreload.createPortcullisApi({
        invoke: (channel, ...args) => window.__portcullisInvoke(channel, args),
        listen: (channel, listener) => {
          if (!listeners.has(channel)) listeners.set(channel, new Set());
          listeners.get(channel).add(listener);
          return () => listeners.get(channel).delete(listener);
        },
      }));
      delete window.PortcullisPreload;
      window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__cspViolations.push(e.effectiveDirective + ' ' + e.blockedURI);
      });
    })();`;
}

export async function startRendererHarness(version: string): Promise<RendererHarness> {
  const outDir = await mkdtemp(path.join(tmpdir(), 'portcullis-renderer-'));
  await build(
    mergeConfig(rendererConfig(outDir), {
      configFile: false,
      base: './',
      mode: 'production',
      logLevel: 'warn',
    }),
  );
  const { server, url } = await serveStatic(outDir);
  const appUrl = `${url}/index.html`;
  const script = initScript(await preloadClientScript());
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
  return {
    url: appUrl,
    outDir,
    browser,
    async open(desktop, options = {}) {
      const context = await browser.newContext({
        viewport: { width: 1280, height: 820 },
        colorScheme: options.colorScheme ?? 'light',
        locale: 'en-GB',
      });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
      const invoke = invoker(handlers(desktop.services, { version, platform: 'linux' }), appUrl);
      await page.exposeBinding('__portcullisInvoke', (source, channel: IpcChannel, args: unknown[]) =>
        invoke(channel, source.frame.url(), args),
      );
      desktop.forward((channel, message) => {
        if (page.isClosed()) return;
        page
          .evaluate(
            ([c, m]) =>
              (globalThis as unknown as { __portcullisPush(c: unknown, m: unknown): void }).__portcullisPush(
                c,
                m,
              ),
            [channel, message] as const,
          )
          .catch(() => undefined);
      });
      await page.addInitScript(script);
      await page.goto(appUrl);
      return {
        page,
        context,
        async problems() {
          const csp = page.isClosed() ? [] : ((await page.evaluate('window.__cspViolations')) as string[]);
          return [...problems, ...csp.map((v) => `csp: ${v}`)];
        },
      };
    },
    async close() {
      await browser.close();
      await new Promise((resolve) => server.close(resolve));
      await rm(outDir, { recursive: true, force: true });
    },
  };
}
