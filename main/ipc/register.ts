/**
 * Registers one handler per channel of the preload contract: it answers only the app's own frame, only
 * with arguments the channel's schema accepts, and always with a value ({ok, value} | {ok, code,
 * message}), never a thrown Error. Imports nothing from electron at run time: plain Node tests drive it
 * with a fake ipcMain (test/main/ipc.test.ts), and the renderer tests bridge to it.
 */
import type { IpcChannel, Result } from '../../preload/api.ts';
import { ipcChannels } from '../../preload/api.ts';
import { asResult } from '../services/errors.ts';
import { isTrustedIpcSender } from '../security.ts';
import { argumentSchemas, type Handlers } from './handlers.ts';

/** The part of an IpcMainInvokeEvent this layer reads. */
export interface InvokeEvent {
  senderFrame: { url: string } | null;
}

/** The part of electron's ipcMain this layer uses. */
export interface IpcRegistrar {
  handle(channel: string, listener: (event: InvokeEvent, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}

/** Answers one invocation: sender checked, arguments validated, failures as values. */
export function invoker(
  handlers: Handlers,
  appUrl: string,
): (channel: IpcChannel, frameUrl: string | undefined, args: unknown[]) => Promise<Result<unknown>> {
  return async (channel, frameUrl, args) => {
    // Messages name the channel and the reason, never the input.
    if (!isTrustedIpcSender(frameUrl, appUrl)) {
      return { ok: false, code: 'refused', message: `${channel}: the sender is not the Portcullis app` };
    }
    const parsed = argumentSchemas[channel].safeParse(args);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? ` (${issue.path.join('.')})` : '';
      return { ok: false, code: 'invalid', message: `${channel}: invalid arguments${where}` };
    }
    const run = handlers[channel] as (...a: unknown[]) => unknown;
    return asResult(() => run(...(parsed.data as unknown[])));
  };
}

/** Registers every channel; returns a function that removes them again. */
export function registerIpcHandlers(ipc: IpcRegistrar, handlers: Handlers, appUrl: string): () => void {
  const invoke = invoker(handlers, appUrl);
  for (const channel of ipcChannels) {
    ipc.handle(channel, (event, ...args) => invoke(channel, event.senderFrame?.url, args));
  }
  return () => {
    for (const channel of ipcChannels) ipc.removeHandler(channel);
  };
}
