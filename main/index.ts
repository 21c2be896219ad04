/**
 * Electron main process: glue only. One hardened window, the app:// protocol that serves the built
 * renderer, and the IPC handlers. The policy itself lives in security.ts (pure, tested in plain Node).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, ipcMain, protocol, session, shell } from 'electron';
import type { WebContents } from 'electron';
import { registerIpcHandlers } from './ipc.ts';
import {
  appScheme,
  contentSecurityPolicy,
  contentTypeFor,
  externalUrlToOpen,
  isAllowedNavigation,
  isAppOrigin,
  packagedAppUrl,
  resolveAppAsset,
  toPlatform,
  withContentSecurityPolicy,
} from './security.ts';

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

// Everything below until `whenReady` must run before the ready event: no top-level await above it.
app.enableSandbox();
// standard + secure gives app://portcullis a real origin (so 'self' and same-origin checks work) and a
// secure context. No corsEnabled, no bypassCSP, no fetch API: other origins cannot read it.
protocol.registerSchemesAsPrivileged([{ scheme: appScheme, privileges: { standard: true, secure: true } }]);

let mainWindow: BrowserWindow | null = null;

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  app.on('web-contents-created', (_event, contents) => harden(contents));
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('activate', () => {
    if (app.isReady() && BrowserWindow.getAllWindows().length === 0) createWindow();
  });
  app.whenReady().then(start, (error: unknown) => {
    console.error('Portcullis failed to start:', error);
    app.exit(1);
  });
}

function start(): void {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.webRequest.onHeadersReceived((details, callback) => {
    if (!isAppOrigin(details.url, appUrl)) {
      callback({});
      return;
    }
    callback({ responseHeaders: withContentSecurityPolicy(details.responseHeaders, csp) });
  });

  if (!dev) {
    protocol.handle(appScheme, async (request) => {
      const file = resolveAppAsset(rendererRoot, request.url);
      if (!file) return new Response('Not found', { status: 404 });
      try {
        const body = await readFile(file);
        return new Response(new Uint8Array(body), {
          headers: {
            'Content-Type': contentTypeFor(file),
            'Content-Security-Policy': csp,
            'X-Content-Type-Options': 'nosniff',
          },
        });
      } catch {
        return new Response('Not found', { status: 404 });
      }
    });
  }

  registerIpcHandlers(ipcMain, {
    appUrl,
    version: () => app.getVersion(),
    platform: () => toPlatform(process.platform),
  });

  createWindow();
}

/** Applied to every web contents the app ever creates. */
function harden(contents: WebContents): void {
  contents.on('will-navigate', (event, url) => {
    if (!isAllowedNavigation(url, appUrl)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    const external = externalUrlToOpen(url);
    if (external) void shell.openExternal(external);
    return { action: 'deny' };
  });
}

function createWindow(): void {
  const window = new BrowserWindow({
    title: 'Portcullis',
    width: 1100,
    height: 720,
    minWidth: 720,
    minHeight: 480,
    show: false,
    ...(process.platform === 'linux' ? { icon: iconPath } : {}),
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  });
  mainWindow = window;
  window.once('ready-to-show', () => window.show());
  window.on('closed', () => {
    if (mainWindow === window) mainWindow = null;
  });
  window
    .loadURL(appUrl)
    .catch((error: unknown) => console.error(`Portcullis could not load ${appUrl}:`, error));
}
