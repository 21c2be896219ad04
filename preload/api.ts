/**
 * The one contract between the renderer and the main process.
 *
 * The renderer imports the *types* from here (never electron, never node); the preload implements
 * `PortcullisApi` with `ipcRenderer.invoke`; main registers one validated handler per channel in
 * `IpcContract`. Adding a capability means adding a channel here first; the compiler then points at
 * the preload and main code that is missing.
 *
 * This file must stay free of imports: it is compiled for the renderer (tsconfig.web.json) and bundled
 * into the sandboxed preload.
 */

export type Platform = 'darwin' | 'linux' | 'win32' | 'other';

/** Every IPC channel, with the arguments the renderer sends and what main answers. */
export interface IpcContract {
  'app:version': { args: []; result: string };
  'app:platform': { args: []; result: Platform };
}

export type IpcChannel = keyof IpcContract;
export type IpcArgs<C extends IpcChannel> = IpcContract[C]['args'];
export type IpcResult<C extends IpcChannel> = IpcContract[C]['result'];

/** The channel names, as values, so main can check it registered exactly these. */
export const ipcChannels = ['app:version', 'app:platform'] as const satisfies readonly IpcChannel[];

/** The object the preload exposes as `window.portcullis`. */
export interface PortcullisApi {
  app: {
    /** The application's version, e.g. "0.1.0". */
    version(): Promise<IpcResult<'app:version'>>;
    /** The operating system family the app runs on. */
    platform(): Promise<IpcResult<'app:platform'>>;
  };
}

/** The name of the global the preload defines in the renderer's main world. */
export const apiKey = 'portcullis';
