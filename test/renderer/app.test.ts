/**
 * The desktop app's renderer, built by Vite exactly as shipped, in real (Debian) Chromium, with
 * `window.portcullis` bridged to the REAL main-process services in this process (test/support/
 * renderer-bridge.ts), on the embedded demo (real IdP, hub and PostgreSQL with the demo shop).
 *
 * Priya signs in (the browser step driven), connects shop-db, a client runs queries and her counts move;
 * her UPDATE of payments is held, Elena's services raise a notification with the planner's estimate, the
 * test clicks its Approve, Priya's client gets its result and her window shows who approved. Marcus asks
 * for shop-admin and Elena approves from the Approvals screen — both by keyboard only — and Marcus
 * connects. Tom replays Priya's session and exports it. Every screen passes axe-core without serious
 * violations, runs under the production CSP without tripping it, and is photographed light and dark
 * (into .tmp/screenshots, or the directory PORTCULLIS_SCREENSHOTS names: `npm run screenshots` updates
 * docs/screenshots).
 */
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type RunningDemo } from '../../hub/demo/index.ts';
import { demoRelayLauncher } from '../../tunnel/relay/demo-relay.ts';
import { contentSecurityPolicy } from '../../main/security.ts';
import { seriousViolations } from '../support/axe.ts';
import { createTestDesktop, type TestDesktop } from '../support/desktop.ts';
import {
  chromiumPath,
  haveChromium,
  startRendererHarness,
  type AppPage,
  type RendererHarness,
} from '../support/renderer-bridge.ts';
import { until } from '../support/waiting.ts';

if (!haveChromium) {
  console.warn(
    `test/renderer: skipped, ${chromiumPath} not found; install Debian chromium to run (apt-get install chromium)`,
  );
}

const repo = path.resolve(import.meta.dirname, '..', '..');
const shots = path.resolve(repo, process.env.PORTCULLIS_SCREENSHOTS ?? '.tmp/screenshots');
const version = (JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8')) as { version: string })
  .version;

let scratch: string;
let demo: RunningDemo;
let harness: RendererHarness;
const desktops: TestDesktop[] = [];
const pages: Record<string, AppPage> = {};
let priyaClient: pg.Client | undefined;
let priyaSession = '';

async function desktopFor(): Promise<TestDesktop> {
  const desktop = await createTestDesktop({ hubUrl: demo.hubUrl, config: { statsIntervalMs: 250 } });
  desktops.push(desktop);
  await desktop.services.start();
  return desktop;
}

/** Photographs the page in light and dark, after an axe-core check of what it shows. */
async function screen(app: AppPage, name: string): Promise<void> {
  const { page } = app;
  await page.waitForLoadState('networkidle');
  expect(await seriousViolations(page), `${name} (light)`).toEqual([]);
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    if (scheme === 'dark') expect(await seriousViolations(page), `${name} (dark)`).toEqual([]);
    await page.screenshot({ path: path.join(shots, `${name}-${scheme}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: 'light' });
  expect(await app.problems(), name).toEqual([]);
}

/** Presses Tab until the focused element's accessible name matches; fails after `max` presses. */
async function tabTo(page: Page, name: RegExp, max = 60): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const focused = (await page.evaluate(`(() => {
      const el = document.activeElement;
      if (!el) return '';
      const label = el.getAttribute('aria-label');
      if (label) return label;
      const byFor = el.id ? document.querySelector('label[for="' + el.id + '"]')?.textContent : null;
      return byFor ?? el.textContent ?? '';
    })()`)) as string;
    if (name.test(focused.trim())) return;
  }
  throw new Error(`Tab never reached ${name}`);
}

/** Signs in from the sign-in screen by keyboard only; the desktop's browser port plays the person's browser. */
async function signInThroughTheWindow(app: AppPage, desktop: TestDesktop, username: string): Promise<void> {
  const { page } = app;
  await page.getByRole('heading', { name: 'Sign in to Portcullis' }).waitFor();
  expect(await page.getByLabel('Hub address').inputValue()).toBe(demo.hubUrl);
  desktop.browserSignsInAs(username);
  await tabTo(page, /^Sign in with your browser$/);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Targets' }).waitFor({ timeout: 30_000 });
}

beforeAll(async () => {
  if (!haveChromium) return;
  await mkdir(shots, { recursive: true });
  scratch = await mkdtemp(path.join(tmpdir(), 'portcullis-app-'));
  await chmod(scratch, 0o755); // as root, PostgreSQL runs as its own user, who must pass through it
  demo = await startDemo({ dataDir: path.join(scratch, 'demo'), relay: demoRelayLauncher() });
  harness = await startRendererHarness(version);
}, 180_000);

afterAll(async () => {
  await priyaClient?.end().catch(() => undefined);
  for (const desktop of desktops) await desktop.services.quit().catch(() => undefined);
  await harness?.close();
  await demo?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe.skipIf(!haveChromium)(
  'the desktop app in Chromium, bridged to the real main-process services',
  () => {
    let priya: TestDesktop;
    let elena: TestDesktop;
    let marcus: TestDesktop;

    it('shows the sign-in screen under the production CSP, and signs Priya in through her browser', async () => {
      priya = await desktopFor();
      const app = await harness.open(priya);
      pages.priya = app;
      const { page } = app;
      expect(await page.title()).toBe('Portcullis');
      const metas = page.locator('meta[http-equiv="Content-Security-Policy"]');
      expect(await metas.getAttribute('content')).toBe(contentSecurityPolicy(false, 'meta'));
      expect(await page.locator('script:not([src])').count()).toBe(0);
      await page.getByRole('heading', { name: 'Sign in to Portcullis' }).waitFor();
      await screen(app, 'sign-in');

      // Through the window: the button asks main, main opens "the browser", which signs in at the IdP.
      priya.browserSignsInAs('priya');
      await page.getByRole('button', { name: 'Sign in with your browser' }).click();
      await page.getByRole('heading', { name: 'Targets' }).waitFor({ timeout: 30_000 });
      expect(await page.getByText('Priya Shah').first().isVisible()).toBe(true);
    });

    it('lists her targets with their status, and connects shop-db with copy-ready details', async () => {
      const app = pages.priya!;
      const { page } = app;
      const shopDb = page.getByRole('row', { name: /Shop \(production\)/ });
      await expect.poll(() => shopDb.textContent()).toMatch(/standing access/);
      await expect
        .poll(() => page.getByRole('row', { name: /shop-admin/ }).textContent())
        .toMatch(/requestable, up to 1 h/);
      await page.getByLabel('Search targets').fill('report');
      await expect.poll(() => page.getByRole('row').count()).toBe(2);
      await page.getByLabel('Search targets').fill('');
      await screen(app, 'targets');

      await page.getByRole('button', { name: 'Connect to shop-db' }).click();
      await page.getByRole('heading', { name: /Shop \(production\)/ }).waitFor();
      expect(
        await page
          .getByText(/^psql "postgresql:\/\/shop_app:••••••••@127\.0\.0\.1:\d+\/shop\?sslmode=disable"$/)
          .count(),
      ).toBe(1);
      // The secret reaches the renderer only when asked for.
      const secret = priya.services.tunnels.revealSecret('shop-db');
      expect(await page.content()).not.toContain(secret);
      await page.getByRole('button', { name: 'Show password' }).click();
      await expect.poll(() => page.content()).toContain(secret);
      await page.getByRole('button', { name: 'Hide password' }).click();

      await page.getByRole('button', { name: 'Copy Connection URI' }).click();
      await page.getByRole('button', { name: 'Copy Connection URI' }).getByText('Copied').waitFor();
      // While it says "Copied", its accessible name still contains what it shows.
      expect(await seriousViolations(page), 'a copy just confirmed').toEqual([]);
      const uri = priya.clipboard.at(-1)!;
      expect(uri).toContain(encodeURIComponent(secret));
      priyaClient = new pg.Client({ connectionString: uri });
      await priyaClient.connect();
      const customers = await priyaClient.query('select full_name, email from customers order by id limit 5');
      expect(customers.rows).toHaveLength(5);
      expect(customers.rows[0].email).not.toMatch(/^[^*]+@/); // masked: the local part is gone
      await priyaClient.query('select count(*) from orders');
      await expect
        .poll(() => page.getByTestId('stat-statements').textContent(), { timeout: 30_000 })
        .toMatch(/^[2-9]|\d\d/);
      await expect.poll(() => page.getByTestId('stat-open-connections').textContent()).toBe('1');
      priyaSession = priya.mirror().tunnels[0]!.sessionId;
    });

    it('holds her UPDATE of payments; Elena’s notification says how many rows, its Approve lets it run', async () => {
      elena = await desktopFor();
      await elena.signIn('elena');
      const { page } = pages.priya!;
      const update = priyaClient!.query(`update payments set status = 'refunded' where status = 'captured'`);
      const ask = await elena.notifier.waitFor('Priya Shah wants to run a write on shop-db');
      expect(ask.model.body).toMatch(
        /^update payments set status = 'refunded' where status = 'captured'\n≈ [\d,]+ rows? in payments · held by /,
      );
      await page.getByText('Waiting for an approver').waitFor();
      await expect.poll(() => page.getByText(/≈ [\d,]+ rows? in payments/).count()).toBeGreaterThan(0);

      elena.notifier.act(ask, 'approve');
      const result = await update;
      expect(result.rowCount).toBeGreaterThan(0);
      await page.getByText('Approved by Elena Garcia: it ran').waitFor();
      await screen(pages.priya!, 'tunnel');
    });

    it('Marcus asks for shop-admin by keyboard; Elena approves it by keyboard on the Approvals screen; he connects', async () => {
      marcus = await desktopFor();
      const marcusApp = await harness.open(marcus);
      pages.marcus = marcusApp;
      await signInThroughTheWindow(marcusApp, marcus, 'marcus');
      const mp = marcusApp.page;
      await tabTo(mp, /^Request access to shop-admin$/);
      await mp.keyboard.press('Enter');
      await mp.getByRole('dialog', { name: 'Request access to Shop (admin, just-in-time)' }).waitFor();
      await mp.keyboard.type('incident 4711: orders stuck in checkout');
      await tabTo(mp, /^For how long\?$/);
      await screen(marcusApp, 'request-access');
      await tabTo(mp, /^Send request$/);
      await mp.keyboard.press('Enter');
      await expect
        .poll(() => mp.getByRole('row', { name: /shop-admin/ }).textContent())
        .toMatch(/waiting for approval/);

      const elenaApp = await harness.open(elena);
      pages.elena = elenaApp;
      const ep = elenaApp.page;
      await ep.getByRole('heading', { name: 'Targets' }).waitFor();
      await tabTo(ep, /^Approvals/);
      await ep.keyboard.press('Enter');
      await ep.getByRole('heading', { name: 'Approvals' }).waitFor();
      await ep.getByRole('heading', { name: 'Marcus Reed asks for access to shop-admin' }).waitFor();
      await screen(elenaApp, 'approvals');
      await tabTo(ep, /^Comment/);
      await ep.keyboard.type('go ahead, keep it short');
      await tabTo(ep, /^Approve$/);
      await ep.keyboard.press('Enter');
      await marcus.notifier.waitFor('Access to shop-admin granted by Elena Garcia');
      await ep.getByText('Nothing waits for your decision.').waitFor();

      await expect
        .poll(() => mp.getByRole('row', { name: /shop-admin/ }).textContent())
        .toMatch(/granted until/);
      await tabTo(mp, /^Connect to shop-admin$/);
      await mp.keyboard.press('Enter');
      await mp.getByRole('heading', { name: /Shop \(admin, just-in-time\)/ }).waitFor();
      await expect.poll(() => mp.getByText(/access until/).count()).toBe(1);
    });

    it('Tom finds Priya’s session, replays it with who approved and the chain’s verdict, and exports it', async () => {
      await priyaClient!.end();
      priyaClient = undefined;
      await priya.services.tunnels.disconnect('shop-db');
      await until('Priya’s recording to reach the hub', () =>
        priya.mirror().hub.sync.pending === 0 ? true : undefined,
      );
      const tom = await desktopFor();
      const tomApp = await harness.open(tom);
      pages.tom = tomApp;
      await signInThroughTheWindow(tomApp, tom, 'tom');
      const { page } = tomApp;
      await page.getByRole('link', { name: 'Sessions' }).click();
      await page.getByRole('heading', { name: 'Sessions' }).waitFor();
      await page.getByLabel('Only sessions with').selectOption('held');
      await page.getByRole('button', { name: 'Search' }).click();
      const link = page.getByRole('link', { name: /replay the session of Priya Shah on shop-db/ }).first();
      await link.waitFor();
      await screen(tomApp, 'sessions');
      await link.click();
      await page.getByRole('heading', { name: 'Session on shop-db by Priya Shah' }).waitFor();
      expect(page.url()).toContain(priyaSession);
      await page.getByText(/^hold .* approved by Elena Garcia$/).waitFor();
      await page.getByText(/^chain: ok, events 1–\d+ verified$/).waitFor();
      expect(
        await page.getByText("update payments set status = 'refunded' where status = 'captured'").count(),
      ).toBeGreaterThan(0);
      await screen(tomApp, 'replay');

      tom.saveAs = path.join(scratch, 'priya-session.jsonl');
      await page.getByRole('button', { name: 'Export as JSON lines' }).click();
      await page.getByText(/^Saved \d+ lines to /).waitFor();
      const lines = (await readFile(tom.saveAs, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { kind: string });
      expect(lines[0]).toMatchObject({ kind: 'session', session: { id: priyaSession } });
      expect(lines.filter((l) => l.kind === 'event').length).toBeGreaterThan(5);
    });

    it('shows the settings, and a hub that cannot be reached', async () => {
      const app = pages.priya!;
      const { page } = app;
      await page.getByRole('link', { name: 'Settings' }).click();
      await page.getByRole('heading', { name: 'Settings' }).waitFor();
      await page.getByLabel('Start Portcullis when I log in').check();
      await until('start at login', () => (priya.startAtLogin.at(-1) === true ? true : undefined));
      await screen(app, 'settings');

      priya.services.connection.unreachable('cannot reach the hub at http://127.0.0.1:8470: ECONNREFUSED');
      await page.getByRole('alert').filter({ hasText: 'The hub cannot be reached' }).waitFor();
      priya.services.connection.reachable();
      await expect.poll(() => page.getByText('The hub cannot be reached').count()).toBe(0);
    });

    it('opens the approval a portcullis:// link points at', async () => {
      const request = await marcus.services.targets.requestAccess({
        targetId: 'shop-admin',
        reason: 'a second look',
      });
      const { page } = pages.elena!;
      await elena.services.openLink(`portcullis://approvals/${request.id}`);
      await page.waitForURL(new RegExp(`#/approvals/access/${request.id}$`));
      await page.locator('article.opened').getByText('a second look').waitFor();
      await marcus.services.targets.cancelRequest(request.id);
    });

    it('enforces the CSP: injected script, handler, string timer, style and cross-origin fetch are refused', async () => {
      const { page } = pages.tom!;
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
      expect((await pages.tom!.problems()).filter((p) => p.startsWith('csp:')).sort()).toEqual(
        [
          'csp: connect-src http://127.0.0.2:9/',
          'csp: script-src eval',
          'csp: script-src-attr inline',
          'csp: script-src-elem inline',
          'csp: style-src-elem inline',
        ].sort(),
      );
    });
  },
  // Each step is a person's whole scenario through Chromium, the services, the hub and PostgreSQL: on a
  // loaded machine one takes well over the default minute.
  180_000,
);
