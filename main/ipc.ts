/**
 * The main-process side of the renderer contract in preload/api.ts: one handler per channel, each
 * answering only the app's own frame and only with arguments its validator accepts.
 *
 * This module takes `ipcMain` as a parameter and imports nothing from electron at runtime, so plain
 * Node tests drive it with a fake (test/main/ipc.test.ts).
 */
import type { IpcArgs, IpcChannel, IpcResult, Platform } from '../preload/api.ts';
import { ipcChannels } from '../preload/api.ts';
import { isTrustedIpcSender } from './security.ts';

/** The part of an IpcMainInvokeEvent this layer reads. */
export interface InvokeEvent {
  senderFrame: { url: string } | null;
}

/** The part of electron's ipcMain this layer uses. */
export interface IpcRegistrar {
  handle(channel: string, listener: (event: InvokeEvent, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}

interface Handler<C extends IpcChannel> {
  /** Accepts exactly the arguments the channel's contract allows, nothing else. */
  validate(args: unknown[]): args is IpcArgs<C>;
  run(...args: IpcArgs<C>): IpcResult<C> | Promise<IpcResult<C>>;
}

/** One handler per channel: the mapped type makes a missing channel a compile error. */
type Handlers = { [C in IpcChannel]: Handler<C> };

export interface IpcDependencies {
  /** The URL the window loads; only frames of its origin are answered. */
  appUrl: string;
  version(): string;
  platform(): Platform;
}

function noArguments(args: unknown[]): args is [] {
  return args.length === 0;
}

function handlers(deps: IpcDependencies): Handlers {
  return {
    'app:version': { validate: noArguments, run: () => deps.version() },
    'app:platform': { validate: noArguments, run: () => deps.platform() },
  };
}

export class IpcRefused extends Error {
  override name = 'IpcRefused';
}

/** Registers every channel; returns a function that removes them again. */
export function registerIpcHandlers(ipc: IpcRegistrar, deps: IpcDependencies): () => void {
  const all = handlers(deps);
  const register = <C extends IpcChannel>(channel: C): void => {
    const handler: Handler<C> = all[channel];
    ipc.handle(channel, async (event, ...args) => {
      // Error messages cross into the renderer: they name the channel and the reason, never the input.
      if (!isTrustedIpcSender(event.senderFrame?.url, deps.appUrl)) {
        throw new IpcRefused(`${channel}: the sender is not the Portcullis app`);
      }
      if (!handler.validate(args)) throw new IpcRefused(`${channel}: invalid arguments`);
      return handler.run(...args);
    });
  };
  for (const channel of ipcChannels) register(channel);
  return () => {
    for (const channel of ipcChannels) ipc.removeHandler(channel);
  };
}
