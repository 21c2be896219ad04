/**
 * The app as electron-vite bundles it, checked without Electron: the sandboxed preload is a classic
 * CommonJS script that needs only `electron` (and is run here in a bare V8 context against a fake
 * electron, the way a sandboxed renderer evaluates it), main is ESM with nothing but electron, node
 * built-ins and runtime dependencies left external, and the renderer page carries the CSP.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { build } from 'electron-vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PortcullisApi } from '../../preload/api.ts';
import { apiKey, ipcChannels } from '../../preload/api.ts';
import { contentSecurityPolicy } from '../../main/security.ts';

const repo = path.resolve(import.meta.dirname, '..', '..');

/** Module specifiers a bundle loads at run time (static and dynamic imports, requires). */
function runtimeImports(code: string): string[] {
  const patterns = [
    /^\s*import\s+(?:[^'"]*?\sfrom\s+)?["']([^"']+)["']/gm,
    /^\s*export\s+[^'"]*?\sfrom\s+["']([^"']+)["']/gm,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
    /\brequire\(\s*["']([^"']+)["']\s*\)/g,
  ];
  const found = new Set<string>();
  for (const pattern of patterns) for (const match of code.matchAll(pattern)) found.add(match[1]!);
  return [...found].sort();
}

describe('the electron-vite bundle', () => {
  let out: string;

  beforeAll(async () => {
    out = await mkdtemp(path.join(tmpdir(), 'portcullis-bundle-'));
    // An outDir given inline is split into <outDir>/main, /preload and /renderer by electron-vite.
    await build({ root: repo, build: { outDir: out, emptyOutDir: true }, logLevel: 'warn' });
  });

  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('lays out main, preload and renderer where main/index.ts looks for them', () => {
    for (const file of [
      'main/index.js',
      'main/parse-worker.js',
      'preload/index.cjs',
      'renderer/index.html',
    ]) {
      expect(existsSync(path.join(out, file)), file).toBe(true);
    }
  });

  it('makes the preload a single CommonJS script that requires only electron', async () => {
    const code = await readFile(path.join(out, 'preload', 'index.cjs'), 'utf8');
    expect(runtimeImports(code)).toEqual(['electron']);
    expect(code).not.toMatch(/^\s*(import|export)\s/m);
  });

  it('runs the preload in a bare context: it exposes exactly the typed API, each method one invoke', async () => {
    const code = await readFile(path.join(out, 'preload', 'index.cjs'), 'utf8');
    const exposed: [string, unknown][] = [];
    const invoked: unknown[][] = [];
    const listening = new Map<string, (event: unknown, message: unknown) => void>();
    const electron = {
      contextBridge: { exposeInMainWorld: (key: string, value: unknown) => exposed.push([key, value]) },
      ipcRenderer: {
        invoke: (...args: unknown[]) => {
          invoked.push(args);
          return Promise.resolve({ ok: true, value: `answer to ${String(args[0])}` });
        },
        on: (channel: string, handler: (event: unknown, message: unknown) => void) =>
          listening.set(channel, handler),
        off: (channel: string) => listening.delete(channel),
      },
    };
    const sandboxRequire = (id: string): unknown => {
      if (id === 'electron') return electron;
      throw new Error(`a sandboxed preload cannot require ${id}`);
    };
    const module = { exports: {} };
    vm.runInNewContext(code, { require: sandboxRequire, module, exports: module.exports });

    expect(exposed.map(([key]) => key)).toEqual([apiKey]);
    const api = exposed[0]![1] as PortcullisApi;
    const methods = Object.entries(api).flatMap(([group, calls]) =>
      Object.keys(calls as object).map((name) => `${group}.${name}`),
    );
    // One method per channel, plus the two push listeners.
    expect(methods).toHaveLength(ipcChannels.length + 2);
    await expect(api.app.version()).resolves.toEqual({ ok: true, value: 'answer to app:version' });
    await expect(api.tunnels.connect('shop-db', 15432)).resolves.toMatchObject({ ok: true });
    await expect(api.approvals.decide({ kind: 'statement', id: 'a', approve: true })).resolves.toMatchObject({
      ok: true,
    });
    expect(invoked).toEqual([
      ['app:version'],
      ['tunnels:connect', 'shop-db', 15432],
      ['approvals:decide', { kind: 'statement', id: 'a', approve: true }],
    ]);

    // Pushes reach the listener without the event object, and stop when unsubscribed.
    const received: unknown[] = [];
    const stop = api.app.onState((push) => received.push(push));
    listening.get('push:state')!({ sender: 'secret' }, { kind: 'patch', patch: {} });
    expect(received).toEqual([{ kind: 'patch', patch: {} }]);
    stop();
    expect(listening.has('push:state')).toBe(false);
  });

  it('makes main an ES module that leaves only electron, node and runtime dependencies external', async () => {
    const code = await readFile(path.join(out, 'main', 'index.js'), 'utf8');
    const pkg = JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const allowed = new Set([
      'electron',
      ...builtinModules.map((m) => `node:${m}`),
      ...Object.keys(pkg.dependencies),
    ]);
    // Main and the parse worker's entry share a chunk of the bundle's own.
    const imports = runtimeImports(code);
    const own = imports.filter((m) => m.startsWith('./'));
    for (const chunk of own) expect(existsSync(path.join(out, 'main', chunk)), chunk).toBe(true);
    expect(imports).toContain('electron');
    expect(
      imports.filter((m) => !m.startsWith('./') && !allowed.has(m.replace(/^((?:@[^/]+\/)?[^/]+).*$/, '$1'))),
    ).toEqual([]);
    expect(code).toMatch(/^import\s/m);
    expect(code).not.toMatch(/\brequire\(/);
  });

  it('keeps native modules out of main, and ships the renderer minified, without Node or the engine', async () => {
    const main = await readFile(path.join(out, 'main', 'index.js'), 'utf8');
    expect(runtimeImports(main)).toEqual(
      expect.arrayContaining(['better-sqlite3', 'electron', 'electron-store']),
    );
    const assets = path.join(out, 'renderer', 'assets');
    const scripts = (await readdir(assets)).filter((f) => f.endsWith('.js'));
    expect(scripts).toHaveLength(1);
    const renderer = await readFile(path.join(assets, scripts[0]!), 'utf8');
    expect(/react(-dom)?\.development/.test(renderer), 'React development build').toBe(false);
    expect(renderer.split('\n').length, 'lines').toBeLessThan(50); // minified
    expect(runtimeImports(renderer).filter((m) => !m.startsWith('./'))).toEqual([]);
    // The renderer reaches main only through window.portcullis, and names no token or credential field.
    expect(/ipcRenderer|\brequire\(/.test(renderer), 'Electron or Node in the renderer').toBe(false);
    expect(/refreshToken|accessToken|password_env/.test(renderer), 'token fields in the renderer').toBe(
      false,
    );
  });

  it('ships a renderer page with the CSP and only external, relative scripts', async () => {
    const html = await readFile(path.join(out, 'renderer', 'index.html'), 'utf8');
    const csp = [...html.matchAll(/<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"/gi)];
    expect(csp.map((m) => m[1])).toEqual([contentSecurityPolicy(false, 'meta')]);
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(body!.trim(), 'inline script').toBe('');
      const src = /\bsrc="([^"]+)"/.exec(attributes!)?.[1];
      expect(src).toMatch(/^\.\/assets\//);
      expect(existsSync(path.join(out, 'renderer', src!))).toBe(true);
    }
  });
});
