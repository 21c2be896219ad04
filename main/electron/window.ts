/**
 * The one hardened window. Closing it hides it to the tray (tunnels keep running) unless the app is
 * quitting or the person turned that off; its size and place are remembered.
 */
import { BrowserWindow } from 'electron';
import { secureWebPreferences } from './hardening.ts';
import type { WindowBounds } from './preferences-store.ts';

export interface WindowOptions {
  url: string;
  preload: string;
  icon: string;
  bounds: { read(): WindowBounds | undefined; write(bounds: WindowBounds): void };
  /** Whether closing hides to the tray instead (asked at each close). */
  closeToTray: () => boolean;
  quitting: () => boolean;
  onVisibility: (visible: boolean) => void;
}

export function createMainWindow(options: WindowOptions): BrowserWindow {
  const saved = options.bounds.read();
  const window = new BrowserWindow({
    title: 'Portcullis',
    width: saved?.width ?? 1100,
    height: saved?.height ?? 720,
    ...(saved?.x !== undefined && saved.y !== undefined ? { x: saved.x, y: saved.y } : {}),
    minWidth: 720,
    minHeight: 480,
    show: false,
    ...(process.platform === 'linux' ? { icon: options.icon } : {}),
    webPreferences: secureWebPreferences(options.preload),
  });
  window.once('ready-to-show', () => window.show());
  window.on('show', () => options.onVisibility(true));
  window.on('hide', () => options.onVisibility(false));
  window.on('minimize', () => options.onVisibility(false));
  window.on('restore', () => options.onVisibility(true));
  window.on('close', (event) => {
    options.bounds.write(window.getBounds());
    if (!options.quitting() && options.closeToTray()) {
      event.preventDefault();
      window.hide();
    }
  });
  window
    .loadURL(options.url)
    .catch((error: unknown) => console.error(`Portcullis could not load ${options.url}:`, error));
  return window;
}

/** Brings `window` to the front, restoring it from the tray or the dock. */
export function bringForward(window: BrowserWindow): void {
  if (window.isMinimized()) window.restore();
  if (!window.isVisible()) window.show();
  window.focus();
}
