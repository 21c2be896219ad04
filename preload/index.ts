/**
 * The sandboxed preload: exposes `window.portcullis` (PortcullisApi) and nothing else. No logic: every
 * method is one `ipcRenderer.invoke` on a channel of the contract in api.ts; main validates and answers.
 */
import { contextBridge, ipcRenderer } from 'electron';
import type { IpcArgs, IpcChannel, IpcResult, PortcullisApi } from './api.ts';
import { apiKey } from './api.ts';

function invoke<C extends IpcChannel>(channel: C, ...args: IpcArgs<C>): Promise<IpcResult<C>> {
  return ipcRenderer.invoke(channel, ...args) as Promise<IpcResult<C>>;
}

const api: PortcullisApi = {
  app: {
    version: () => invoke('app:version'),
    platform: () => invoke('app:platform'),
  },
};

contextBridge.exposeInMainWorld(apiKey, api);
