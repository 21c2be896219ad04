/**
 * The browser preview `npm start` runs where Electron's binary cannot be installed (main/browser): the
 * renderer built as shipped, served by the bridge server to real Chromium, whose window.portcullis
 * (renderer/browser-preview/bridge.ts, bundled as start.mjs bundles it) calls the REAL IPC layer and
 * services over HTTP, on the embedded demo. Only the browser that opened the printed address gets in.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build as esbuild } from 'esbuild';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type RunningDemo } from '../../hub/demo/index.ts';
import { demoRelayLauncher } from '../../tunnel/relay/demo-relay.ts';
import {
  commandClipboard,
  downloadsDialogs,
  jsonPreferences,
  terminalNotifier,
} from '../../main/browser/adapters.ts';
import { startBrowserBridge, type BrowserBridge } from '../../main/browser/bridge-server.ts';
import { fragmentOf } from '../../main/browser/index.ts';
import { handlers } from '../../main/ipc/handlers.ts';
import { createTestDesktop, type TestDesktop } from '../support/desktop.ts';
import {
  chromiumPath,
  haveChromium,
  startRendererHarness,
  type RendererHarness,
} from '../support/renderer-bridge.ts';

if (!haveChromium) {
  console.warn(
    `test/renderer/browser-preview: skipped, ${chromiumPath} not found (apt-get install chromium)`,
  );
}

const repo = path.resolve(import.meta.dirname, '..', '..');

async function bridgeScript(): Promise<string> {
  const result = await esbuild({
    entryPoints: [path.join(repo, 'renderer', 'browser-preview', 'bridge.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    write: false,
  });
  return result.outputFiles[0]!.text;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request, with whatever Host and Origin a hostile page or name could send. */
function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe.skipIf(!haveChromium)(
  'the browser preview',
  () => {
    let scratch: string;
    let demo: RunningDemo;
    let harness: RendererHarness;
    let desktop: TestDesktop;
    let bridge: BrowserBridge;
    const listenerCounts: number[] = [];
    let cookie = '';

    beforeAll(async () => {
      scratch = await mkdtemp(path.join(tmpdir(), 'portcullis-preview-'));
      execFileSync('chmod', ['755', scratch]); // as root, PostgreSQL runs as its own user
      demo = await startDemo({ dataDir: path.join(scratch, 'demo'), relay: demoRelayLauncher() });
      harness = await startRendererHarness('9.9.9');
      desktop = await createTestDesktop({ hubUrl: demo.hubUrl });
      await desktop.services.start();
      bridge = await startBrowserBridge({
        handlers: handlers(desktop.services, { version: '9.9.9', platform: 'other' }),
        rendererRoot: harness.outDir,
        bridgeScript: await bridgeScript(),
        onListeners: (count) => listenerCounts.push(count),
      });
      desktop.forward((channel, message) => bridge.sender.send(channel as never, message as never));
    }, 180_000);

    afterAll(async () => {
      await desktop?.services.quit().catch(() => undefined);
      await bridge?.close();
      await harness?.close();
      await demo?.close();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    it('lets in only the browser that opened its address', async () => {
      const host = new URL(bridge.origin).host;
      expect((await send(`${bridge.origin}/`)).status).toBe(403);
      expect((await send(`${bridge.origin}/push`)).status).toBe(403);
      expect((await send(`${bridge.origin}/enter?key=guessed`)).status).toBe(403);

      const entered = await send(bridge.url);
      expect(entered.status).toBe(303);
      expect(entered.headers.location).toBe('/');
      const setCookie = String(entered.headers['set-cookie']);
      expect(setCookie).toMatch(/HttpOnly/);
      expect(setCookie).toMatch(/SameSite=Strict/);
      cookie = setCookie.split(';')[0]!;

      const page = await send(`${bridge.origin}/`, { headers: { cookie } });
      expect(page.status).toBe(200);
      expect(page.headers['content-security-policy']).toMatch(/script-src 'self'(;|$)/);
      expect(page.body).toMatch(/<script src="\.\/portcullis-bridge\.js"><\/script>\s*<script type="module"/);

      // A name that resolves to 127.0.0.1 (DNS rebinding) is not this server, cookie or not.
      expect(
        (await send(`${bridge.origin}/`, { headers: { cookie, host: `evil.example:${host.split(':')[1]}` } }))
          .status,
      ).toBe(421);
      // Nothing escapes the renderer's directory.
      for (const escape of [
        '/..%2f..%2fpackage.json',
        '/%2e%2e/%2e%2e/package.json',
        '/assets/..%5c..%5cpackage.json',
      ]) {
        expect((await send(`${bridge.origin}${escape}`, { headers: { cookie } })).status, escape).toBe(404);
      }
    });

    it('answers calls from its own origin only, with values, after checking their arguments', async () => {
      const call = (channel: string, body: string, origin = bridge.origin) =>
        send(`${bridge.origin}/ipc/${encodeURIComponent(channel)}`, {
          method: 'POST',
          headers: { cookie, origin, 'content-type': 'application/json' },
          body,
        });
      expect(JSON.parse((await call('app:version', '[]')).body)).toEqual({ ok: true, value: '9.9.9' });
      expect((await call('app:version', '[]', 'http://evil.example')).status).toBe(403);
      expect((await call('app:version', '[]', 'null')).status).toBe(403);
      expect((await call('no:such', '[]')).status).toBe(404);
      expect(JSON.parse((await call('tunnels:set-port', '["shop-db", 99999]')).body)).toMatchObject({
        ok: false,
        code: 'invalid',
      });
      expect(JSON.parse((await call('tunnels:connect', '{"not":"an array"}')).body)).toMatchObject({
        ok: false,
        code: 'invalid',
      });
      expect((await call('app:version', `[${'"x",'.repeat(100_000)}"x"]`)).status).toBe(413);
      const noCookie = await send(`${bridge.origin}/ipc/app:state`, {
        method: 'POST',
        headers: { origin: bridge.origin },
        body: '[]',
      });
      expect(noCookie.status).toBe(403);
    });

    it('runs the app in Chromium: Priya signs in, sees her targets pushed, connects shop-db', async () => {
      const context = await harness.browser.newContext({ viewport: { width: 1280, height: 820 } });
      try {
        const page = await context.newPage();
        const problems: string[] = [];
        page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
        page.on('pageerror', (e) => problems.push(e.message));
        await page.goto(bridge.url);
        expect(page.url()).toBe(`${bridge.origin}/`);
        expect(
          await page.evaluate(
            `({ require: typeof require, process: typeof process, api: Object.keys(window.portcullis) })`,
          ),
        ).toEqual({
          require: 'undefined',
          process: 'undefined',
          api: ['app', 'account', 'targets', 'tunnels', 'approvals', 'sessions', 'settings'],
        });
        expect(await page.evaluate('window.portcullis.app.version()')).toEqual({ ok: true, value: '9.9.9' });

        desktop.browserSignsInAs('priya');
        await page.getByRole('button', { name: 'Sign in with your browser' }).click();
        await page.getByRole('heading', { name: 'Targets' }).waitFor({ timeout: 30_000 });
        await expect
          .poll(() => page.getByRole('row', { name: /Shop \(production\)/ }).textContent())
          .toMatch(/standing access/);
        expect(listenerCounts.at(-1)).toBe(1);
        expect(await page.getByTestId('app-version').textContent()).toBe('9.9.9');

        await page.getByRole('button', { name: 'Connect to shop-db' }).click();
        await page.getByRole('heading', { name: /Shop \(production\)/ }).waitFor();
        await page.getByText(/^psql "postgresql:\/\/shop_app:••••••••@127\.0\.0\.1:\d+\/shop/).waitFor();
        // The local secret reaches the page only when asked for.
        const secret = desktop.services.tunnels.revealSecret('shop-db');
        expect(await page.content()).not.toContain(secret);
        const { host, port, user, database } = desktop.mirror().tunnels[0]!.connection;
        const client = new pg.Client({ host, port, user, database, password: secret });
        await client.connect();
        try {
          await client.query('select count(*) from orders');
          await client.query('select count(*) from customers');
          // The live counts come over the push stream while the page listens.
          await expect
            .poll(() => page.getByTestId('stat-statements').textContent(), { timeout: 30_000 })
            .toMatch(/^[2-9]|\d\d/);
        } finally {
          await client.end();
        }
        expect(problems).toEqual([]);
        await desktop.services.tunnels.disconnect('shop-db');
      } finally {
        await context.close();
      }
      await expect.poll(() => listenerCounts.at(-1)).toBe(0);
    });
    // A loaded machine makes the Chromium scenario take well over the default minute.
  },
  180_000,
);

describe('the preview’s adapters', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'portcullis-preview-adapters-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('copies with the first clipboard command installed, and says what to do when there is none', async () => {
    const copied = path.join(dir, 'clipboard');
    commandClipboard([['no-such-clipboard-tool'], ['sh', '-c', `cat > '${copied}'`]]).writeText('psql "…"');
    expect(await readFile(copied, 'utf8')).toBe('psql "…"');
    expect(() => commandClipboard([['no-such-clipboard-tool']]).writeText('x')).toThrow(/Show password/);
  });

  it('saves exports in Downloads without overwriting, and keeps preferences in an owner-only file', async () => {
    const dialogs = downloadsDialogs(dir);
    const first = await dialogs.chooseSaveFile('portcullis-session-1.jsonl');
    expect(first).toBe(path.join(dir, 'portcullis-session-1.jsonl'));
    await writeFile(first!, '');
    expect(await dialogs.chooseSaveFile('../../portcullis-session-1.jsonl')).toBe(
      path.join(dir, 'portcullis-session-1 (2).jsonl'),
    );

    const store = jsonPreferences(path.join(dir, 'prefs', 'app-preferences.json'), () => undefined);
    expect(store.read()).toBeUndefined();
    store.write({ hubUrl: 'http://a' });
    store.write({ hubUrl: 'http://b' });
    await store.flushed();
    expect(store.read()).toEqual({ hubUrl: 'http://b' });
    const { mode } = await import('node:fs').then((fs) =>
      fs.statSync(path.join(dir, 'prefs', 'app-preferences.json')),
    );
    expect(mode & 0o777).toBe(0o600);
  });

  it('prints notifications with the page they open', () => {
    const lines: string[] = [];
    terminalNotifier(
      (line) => lines.push(line),
      (to) => `http://127.0.0.1:1/${fragmentOf(to)}`,
    ).show(
      {
        id: 'approval:1',
        title: 'Priya Shah wants to run an UPDATE on shop-db',
        body: 'update payments …\n≈ 1,203 rows in payments',
        actions: [],
        opens: { screen: 'approvals', kind: 'statement', id: 'a/1' },
        urgent: true,
      },
      { onClick: () => undefined, onAction: () => undefined },
    );
    expect(lines).toEqual([
      '🔔 Priya Shah wants to run an UPDATE on shop-db — update payments … ≈ 1,203 rows in payments (http://127.0.0.1:1/#/approvals/statement/a%2F1)',
    ]);
  });
});
