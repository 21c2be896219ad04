/**
 * Builds `window.portcullis` from two functions: one that invokes a channel, one that listens to a push
 * channel. The preload passes Electron's ipcRenderer; the renderer tests pass a bridge to the real
 * main-process services. No logic beyond naming: main validates and answers.
 *
 * Import-free (types aside), so it bundles into the sandboxed preload and into a test page alike.
 */
import type { IpcArgs, IpcChannel, IpcResult, PortcullisApi, PushChannel, PushContract } from './api.ts';

export interface Transport {
  invoke(channel: IpcChannel, ...args: unknown[]): Promise<unknown>;
  /** Calls `listener` with each message pushed on `channel`; returns a function that stops it. */
  listen(channel: PushChannel, listener: (message: unknown) => void): () => void;
}

export function createPortcullisApi(transport: Transport): PortcullisApi {
  const call =
    <C extends IpcChannel>(channel: C) =>
    (...args: IpcArgs<C>): Promise<IpcResult<C>> =>
      transport.invoke(channel, ...args) as Promise<IpcResult<C>>;
  const on =
    <P extends PushChannel>(channel: P) =>
    (listener: (message: PushContract[P]) => void): (() => void) =>
      transport.listen(channel, (message) => listener(message as PushContract[P]));
  return {
    app: {
      version: call('app:version'),
      platform: call('app:platform'),
      state: call('app:state'),
      onState: on('push:state'),
      onNavigate: on('push:navigate'),
    },
    account: {
      signIn: call('account:sign-in'),
      cancelSignIn: call('account:cancel-sign-in'),
      signOut: call('account:sign-out'),
    },
    targets: {
      refresh: call('targets:refresh'),
      requestAccess: call('targets:request-access'),
      cancelRequest: call('targets:cancel-request'),
    },
    tunnels: {
      connect: call('tunnels:connect'),
      disconnect: call('tunnels:disconnect'),
      setPort: call('tunnels:set-port'),
      copy: call('tunnels:copy'),
      revealSecret: call('tunnels:reveal-secret'),
    },
    approvals: {
      refresh: call('approvals:refresh'),
      get: call('approvals:get'),
      decide: call('approvals:decide'),
    },
    sessions: {
      search: call('sessions:search'),
      replay: call('sessions:replay'),
      export: call('sessions:export'),
    },
    settings: {
      update: call('settings:update'),
    },
  };
}
