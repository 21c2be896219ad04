/**
 * The code main/index.ts and main/electron/window.ts run to harden the app, driven with fakes of Electron's
 * objects: what the launch test (test/electron/launch.test.ts) checks in real Electron, checked here too
 * where its binary cannot be installed.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  denyAllPermissions,
  hardenContents,
  secureWebPreferences,
  type HardenableContents,
} from '../../main/electron/hardening.ts';
import { packagedAppUrl } from '../../main/security.ts';

type WindowOpenHandler = (details: { url: string }) => { action: string };

/** A web contents that records its listeners and lets the test fire them. */
class FakeContents extends EventEmitter {
  openHandler: WindowOpenHandler | undefined;

  setWindowOpenHandler(handler: WindowOpenHandler): void {
    this.openHandler = handler;
  }

  /** Fires `event` as Electron would; whether a listener prevented it. */
  attempt(event: string, url?: string): boolean {
    let prevented = false;
    this.emit(event, { preventDefault: () => (prevented = true) }, url);
    return prevented;
  }
}

function hardened(): { contents: FakeContents; opened: string[] } {
  const contents = new FakeContents();
  const opened: string[] = [];
  hardenContents(contents as unknown as HardenableContents, packagedAppUrl, (url) => opened.push(url));
  return { contents, opened };
}

describe('the window’s web preferences', () => {
  it('isolate and sandbox the preload and give the page no Node anywhere', () => {
    expect(secureWebPreferences('/app/out/preload/index.cjs')).toEqual({
      preload: '/app/out/preload/index.cjs',
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
    });
  });
});

describe('hardenContents', () => {
  it('lets the page reload itself and change its fragment, and nothing else', () => {
    const { contents } = hardened();
    expect(contents.attempt('will-navigate', packagedAppUrl)).toBe(false);
    expect(contents.attempt('will-navigate', `${packagedAppUrl}#/approvals`)).toBe(false);
    for (const url of [
      'https://evil.example/',
      'file:///etc/passwd',
      'app://portcullis/other.html',
      'javascript:alert(1)',
      'not a url',
    ]) {
      expect(contents.attempt('will-navigate', url), url).toBe(true);
      expect(contents.attempt('will-redirect', url), url).toBe(true);
    }
  });

  it('refuses every <webview>', () => {
    expect(hardened().contents.attempt('will-attach-webview')).toBe(true);
  });

  it('opens no window: https links go to the system browser, everything else is dropped', () => {
    const { contents, opened } = hardened();
    for (const url of [
      'https://docs.example/guide',
      'http://docs.example/',
      'file:///etc/passwd',
      'https://user:secret@docs.example/',
      packagedAppUrl,
    ]) {
      expect(contents.openHandler?.({ url }), url).toEqual({ action: 'deny' });
    }
    expect(opened).toEqual(['https://docs.example/guide']);
  });
});

describe('denyAllPermissions', () => {
  it('refuses every request and every check', () => {
    let request:
      ((contents: unknown, permission: string, callback: (granted: boolean) => void) => void) | null = null;
    let check: ((...args: unknown[]) => boolean) | null = null;
    denyAllPermissions({
      setPermissionRequestHandler: (handler) => (request = handler as typeof request),
      setPermissionCheckHandler: (handler) => (check = handler as typeof check),
    });
    const answers: boolean[] = [];
    for (const permission of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal']) {
      request!(null, permission, (granted) => answers.push(granted));
      answers.push(check!(null, permission, 'app://portcullis', {}));
    }
    expect(answers).toEqual(Array(10).fill(false));
  });
});
