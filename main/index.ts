/**
 * Electron main process: the composition root. It wires the Electron adapters (main/electron/) into the
 * main-process services (main/services/, plain Node) and the IPC handlers, and follows the app's
 * lifecycle: one instance, the window closing to the tray, Quit closing every tunnel cleanly first.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, session, shell } from 'electron';
import type { BrowserWindow } from 'electron';
import { homePathsIn, portcullisHome, HOME_ENV } from '../tunnel/account/home.ts';
import { maskKeyFromEnvironment } from '../tunnel/commands/mask-key.ts';
import { stopWhenParentExits } from '../tunnel/runtime/parent-process.ts';
import { handleLinks, registerAppScheme, serveRenderer } from './electron/app-protocol.ts';
import { denyAllPermissions, hardenContents } from './electron/hardening.ts';
import { registerIpc, windowSender } from './electron/ipc.ts';
import { ElectronNotifier } from './electron/notifications.ts';
import { electronStores } from './electron/preferences-store.ts';
import { safeStorageEncryption } from './electron/safe-storage.ts';
import { electronClipboard, onWake, saveDialogs, systemBrowser, systemSettings } from './electron/system.ts';
import { ElectronTray } from './electron/tray.ts';
import { bringForward, createMainWindow } from './electron/window.ts';
import { handlers } from './ipc/handlers.ts';
import {
  contentSecurityPolicy,
  isAppOrigin,
  packagedAppUrl,
  toPlatform,
  withContentSecurityPolicy,
} from './security.ts';
import { DesktopServices } from './services/desktop-services.ts';

// Bundled layout: out/main/index.js beside out/preload/index.cjs and out/renderer/.
const here = path.dirname(fileURLToPath(import.meta.url));
const rendererRoot = path.join(here, '..', 'renderer');
const preloadPath = path.join(here, '..', 'preload', 'index.cjs');
const iconPath = path.join(here, '..', '..', 'resources', 'icon.png');

// `electron-vite dev` serves the renderer with hot reload; a packaged app never honours this.
const devServerUrl = app.isPackaged ? undefined : process.env.ELECTRON_RENDERER_URL;
const dev = devServerUrl !== undefined;
const appUrl = dev ? new URL('/', devServerUrl).href : packagedAppUrl;
const csp = contentSecurityPolicy(dev);
/** The hub a first sign-in offers: `npm start` points it at the embedded demo. */
const defaultHubUrl = process.env.PORTCULLIS_APP_HUB ?? 'http://127.0.0.1:8470';

// Everything below until `whenReady` must run before the ready event: no top-level await above it.
app.enableSandbox();
registerAppScheme();

let mainWindow: BrowserWindow | null = null;
let services: DesktopServices | undefined;
let quitting = false;
let quitDone = false;

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => mainWindow && bringForward(mainWindow));
  app.on('web-contents-created', (_event, contents) =>
    hardenContents(contents, appUrl, (url) => void shell.openExternal(url)),
  );
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('activate', () => {
    if (!app.isReady()) return;
    if (mainWindow) bringForward(mainWindow);
    else openWindow();
  });
  app.on('before-quit', (event) => {
    // Quit waits for every tunnel to close cleanly (tunnel.close recorded, the spool flushed).
    quitting = true;
    if (quitDone || !services) return;
    event.preventDefault();
    void services.quit().finally(() => {
      quitDone = true;
      app.quit();
    });
  });
  handleLinks((link) => void services?.openLink(link));
  // A supervisor's SIGTERM, or its end (`npm start` killed), quits as closing the app does.
  process.on('SIGTERM', () => app.quit());
  stopWhenParentExits();
  app.whenReady().then(start, (error: unknown) => {
    console.error('Portcullis failed to start:', error);
    app.exit(1);
  });
}

function start(): void {
  const ses = session.defaultSession;
  denyAllPermissions(ses);
  ses.webRequest.onHeadersReceived((details, callback) => {
    if (!isAppOrigin(details.url, appUrl)) {
      callback({});
      return;
    }
    callback({ responseHeaders: withContentSecurityPolicy(details.responseHeaders, csp) });
  });
  if (!dev) serveRenderer(rendererRoot, csp);

  const stores = electronStores();
  const home = process.env[HOME_ENV] ? portcullisHome() : homePathsIn(app.getPath('userData'));
  const maskKey = maskKeyFromEnvironment();
  const tray = new ElectronTray(iconPath, (action) => services?.handleTrayAction(action));
  services = new DesktopServices(
    {
      sender: windowSender(() => mainWindow),
      notifier: new ElectronNotifier(process.platform === 'linux' ? iconPath : undefined),
      tray,
      clipboard: electronClipboard,
      browser: systemBrowser,
      dialogs: saveDialogs(() => mainWindow),
      app: { show: () => (mainWindow ? bringForward(mainWindow) : openWindow()), quit: () => app.quit() },
      preferences: stores.preferences,
      system: systemSettings,
      encryption: safeStorageEncryption,
    },
    {
      home,
      defaultHubUrl,
      ...(maskKey ? { maskKey } : {}),
      log: (line) => console.log(`portcullis: ${line}`),
    },
  );
  const running = services;
  registerIpc(
    handlers(running, { version: app.getVersion(), platform: toPlatform(process.platform) }),
    appUrl,
  );
  onWake(() => void running.wake());
  openWindow();
  running
    .start()
    .catch((error: unknown) => console.error('Portcullis could not restore the sign-in:', error));
}

function openWindow(): void {
  const window = createMainWindow({
    url: appUrl,
    preload: preloadPath,
    icon: iconPath,
    bounds: electronStores().bounds,
    closeToTray: () => services?.preferences.current().closeToTray ?? true,
    quitting: () => quitting,
    onVisibility: (visible) => services?.windowVisible(visible),
  });
  mainWindow = window;
  window.on('closed', () => {
    if (mainWindow === window) mainWindow = null;
    services?.windowVisible(false);
  });
}
