/**
 * The rest of the OS the services use: clipboard, the system browser (only for the identity provider's
 * sign-in page), the save dialog, start at login, and the moments to wake up (resume from sleep, the
 * network coming back).
 */
import { app, clipboard, dialog, net, powerMonitor, shell, type BrowserWindow } from 'electron';
import type { Browser, Clipboard, Dialogs, SystemSettings } from '../services/ports.ts';

export const electronClipboard: Clipboard = { writeText: (text) => clipboard.writeText(text) };

export const systemBrowser: Browser = {
  async open(url) {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error('not a web address');
    await shell.openExternal(parsed.href);
  },
};

export function saveDialogs(window: () => BrowserWindow | null): Dialogs {
  return {
    async chooseSaveFile(defaultName) {
      const options = { defaultPath: defaultName, filters: [{ name: 'JSON lines', extensions: ['jsonl'] }] };
      const parent = window();
      const result = parent
        ? await dialog.showSaveDialog(parent, options)
        : await dialog.showSaveDialog(options);
      return result.canceled || !result.filePath ? null : result.filePath;
    },
  };
}

export const systemSettings: SystemSettings = {
  setStartAtLogin: (enabled) => app.setLoginItemSettings({ openAtLogin: enabled }),
};

/** Calls `wake` after a resume from sleep, an unlock, or when the network comes back. */
export function onWake(wake: (reason: string) => void): () => void {
  const resume = (): void => wake('resume');
  const unlock = (): void => wake('unlock');
  powerMonitor.on('resume', resume);
  powerMonitor.on('unlock-screen', unlock);
  let online = net.isOnline();
  const timer = setInterval(() => {
    const now = net.isOnline();
    if (now && !online) wake('network');
    online = now;
  }, 5000);
  return () => {
    clearInterval(timer);
    powerMonitor.off('resume', resume);
    powerMonitor.off('unlock-screen', unlock);
  };
}
