/** IPC registration on Electron's ipcMain, and the push channel to the window's renderer. */
import { ipcMain, type BrowserWindow } from 'electron';
import type { Handlers } from '../ipc/handlers.ts';
import { registerIpcHandlers } from '../ipc/register.ts';
import type { EventSender } from '../services/ports.ts';

export function registerIpc(handlers: Handlers, appUrl: string): () => void {
  return registerIpcHandlers(ipcMain, handlers, appUrl);
}

export function windowSender(window: () => BrowserWindow | null): EventSender {
  return {
    send(channel, message) {
      const target = window();
      if (target && !target.isDestroyed()) target.webContents.send(channel, message);
    },
  };
}
