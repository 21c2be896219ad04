/**
 * The sandboxed preload: exposes `window.portcullis` (PortcullisApi) and nothing else. Every method is one
 * `ipcRenderer.invoke` on a channel of the contract in api.ts, every listener one push channel; main
 * validates and answers.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { apiKey } from './api.ts';
import { createPortcullisApi } from './client.ts';

const api = createPortcullisApi({
  invoke: (channel, ...args) => ipcRenderer.invoke(channel, ...args),
  listen(channel, listener) {
    // The renderer never sees the event object (it carries the sender).
    const handler = (_event: IpcRendererEvent, message: unknown): void => listener(message);
    ipcRenderer.on(channel, handler);
    return () => ipcRenderer.off(channel, handler);
  },
});

contextBridge.exposeInMainWorld(apiKey, api);
