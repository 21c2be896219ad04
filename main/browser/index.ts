/**
 * The browser preview's composition root: the desktop app's main-process services and IPC layer, as in
 * Electron, with the renderer shown in a browser on this machine over the bridge server. `npm start` runs
 * it (bundled to out/browser/index.mjs by scripts/start.mjs) where Electron's binary cannot be installed.
 *
 *   node out/browser/index.mjs --hub URL [--port N]
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { Destination } from '../../preload/api.ts';
import { homePathsIn, portcullisHome, HOME_ENV } from '../../tunnel/account/home.ts';
import { maskKeyFromEnvironment } from '../../tunnel/commands/mask-key.ts';
import { stopWhenParentExits } from '../../tunnel/runtime/parent-process.ts';
import { handlers } from '../ipc/handlers.ts';
import { DesktopServices } from '../services/desktop-services.ts';
import {
  commandBrowser,
  commandClipboard,
  downloadsDialogs,
  jsonPreferences,
  noKeychain,
  terminalNotifier,
  terminalTray,
  unsupportedSystemSettings,
} from './adapters.ts';
import { startBrowserBridge, type BrowserBridge } from './bridge-server.ts';

// Bundled layout: out/browser/index.mjs beside bridge.js, and the renderer in out/renderer.
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

/** The page's fragment for a destination (renderer/src/app/router.ts reads it). */
export function fragmentOf(destination: Destination): string {
  const e = encodeURIComponent;
  switch (destination.screen) {
    case 'approvals':
      if (destination.id && destination.kind) return `#/approvals/${destination.kind}/${e(destination.id)}`;
      return destination.id ? `#/approvals/${e(destination.id)}` : '#/approvals';
    case 'tunnel':
      return `#/tunnel/${e(destination.targetId)}`;
    case 'sessions':
      return destination.sessionId ? `#/sessions/${e(destination.sessionId)}` : '#/sessions';
    default:
      return '#/targets';
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { hub: { type: 'string' }, port: { type: 'string', default: '0' } },
  });
  const log = (line: string): void => console.log(`portcullis: ${line}`);
  const version = (JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8')) as { version: string })
    .version;
  const home = process.env[HOME_ENV]
    ? portcullisHome()
    : homePathsIn(path.join(portcullisHome().directory, 'app-preview'));
  const maskKey = maskKeyFromEnvironment();
  // The services push through the bridge, and the bridge answers with the services: wired in two steps.
  const page: { bridge?: BrowserBridge } = {};
  const services: DesktopServices = new DesktopServices(
    {
      sender: { send: (channel, message) => page.bridge?.sender.send(channel, message) },
      notifier: terminalNotifier(log, (to) => `${page.bridge?.origin ?? ''}/${fragmentOf(to)}`),
      tray: terminalTray(log),
      clipboard: commandClipboard(),
      browser: commandBrowser(log),
      dialogs: downloadsDialogs(),
      app: { show: () => undefined, quit: () => void stop() },
      preferences: jsonPreferences(path.join(home.directory, 'app-preferences.json'), log),
      system: unsupportedSystemSettings(log),
      encryption: noKeychain,
    },
    {
      home,
      defaultHubUrl: values.hub ?? 'http://127.0.0.1:8470',
      ...(maskKey ? { maskKey } : {}),
      log,
    },
  );
  const bridge = await startBrowserBridge({
    handlers: handlers(services, { version, platform: 'other' }),
    rendererRoot: path.join(repo, 'out', 'renderer'),
    bridgeScript: await readFile(path.join(here, 'bridge.js'), 'utf8'),
    port: Number(values.port),
    onListeners: (count) => services.windowVisible(count > 0),
  });
  page.bridge = bridge;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= services.quit().finally(() => bridge.close().finally(() => process.exit(0))));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stop());
  stopWhenParentExits();
  await services.start();
  console.log(JSON.stringify({ event: 'preview', url: bridge.url }));
  log(`the app runs in your browser: open ${bridge.url}`);
  log('(a preview: notifications appear here, sign-ins last until you stop it, and there is no tray)');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(
      `portcullis: the browser preview failed: ${error instanceof Error ? error.message : String(error)}`,
    );
    process.exit(1);
  });
}
