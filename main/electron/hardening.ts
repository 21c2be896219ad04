/**
 * Applies the window's security policy (main/security.ts decides) to Electron's objects. Only types come
 * from electron, so test/main/hardening.test.ts runs this very code against fakes where Electron's binary
 * is missing.
 */
import type { Session, WebContents, WebPreferences } from 'electron';
import { externalUrlToOpen, isAllowedNavigation } from '../security.ts';

/** The renderer gets no Node, an isolated and sandboxed preload, and nothing Chromium would let it loosen. */
export function secureWebPreferences(preload: string): WebPreferences {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInSubFrames: false,
    nodeIntegrationInWorker: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    spellcheck: false,
  };
}

export type HardenableContents = Pick<WebContents, 'on' | 'setWindowOpenHandler'>;

/**
 * Applied to every web contents the app ever creates: no navigation away from the app's page, no
 * <webview>, no new windows — an https link goes to the system browser instead.
 */
export function hardenContents(
  contents: HardenableContents,
  appUrl: string,
  openExternal: (url: string) => void,
): void {
  contents.on('will-navigate', (event, url) => {
    if (!isAllowedNavigation(url, appUrl)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAllowedNavigation(url, appUrl)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    const external = externalUrlToOpen(url);
    if (external) openExternal(external);
    return { action: 'deny' };
  });
}

/** The app asks for no permission (camera, notifications from the page, geolocation…): every one is refused. */
export function denyAllPermissions(
  session: Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler'>,
): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
}
