import { describe, expect, it } from 'vitest';
import { ipcChannels } from '../../preload/api.ts';
import type { InvokeEvent, IpcRegistrar } from '../../main/ipc.ts';
import { registerIpcHandlers } from '../../main/ipc.ts';
import { packagedAppUrl } from '../../main/security.ts';

type Listener = (event: InvokeEvent, ...args: unknown[]) => Promise<unknown>;

/** Stands in for electron's ipcMain: records handlers so the test can invoke them as the renderer would. */
class FakeIpcMain implements IpcRegistrar {
  readonly listeners = new Map<string, Listener>();
  handle(channel: string, listener: Listener): void {
    if (this.listeners.has(channel)) throw new Error(`second handler for ${channel}`);
    this.listeners.set(channel, listener);
  }
  removeHandler(channel: string): void {
    this.listeners.delete(channel);
  }
  invoke(channel: string, frameUrl: string | null, ...args: unknown[]): Promise<unknown> {
    const listener = this.listeners.get(channel);
    if (!listener) return Promise.reject(new Error(`No handler registered for '${channel}'`));
    return listener({ senderFrame: frameUrl === null ? null : { url: frameUrl } }, ...args);
  }
}

function setUp() {
  const ipc = new FakeIpcMain();
  const unregister = registerIpcHandlers(ipc, {
    appUrl: packagedAppUrl,
    version: () => '1.2.3',
    platform: () => 'linux',
  });
  return { ipc, unregister };
}

describe('registerIpcHandlers', () => {
  it('registers exactly the channels of the preload contract, and removes them again', () => {
    const { ipc, unregister } = setUp();
    expect([...ipc.listeners.keys()].sort()).toEqual([...ipcChannels].sort());
    unregister();
    expect(ipc.listeners.size).toBe(0);
  });

  it('answers the app frame', async () => {
    const { ipc } = setUp();
    await expect(ipc.invoke('app:version', packagedAppUrl)).resolves.toBe('1.2.3');
    await expect(ipc.invoke('app:platform', 'app://portcullis/index.html#/x')).resolves.toBe('linux');
  });

  it('refuses frames that are not the app', async () => {
    const { ipc } = setUp();
    for (const frame of ['https://evil.example/', 'file:///tmp/index.html', 'about:blank', null]) {
      await expect(ipc.invoke('app:version', frame), String(frame)).rejects.toThrow(
        'app:version: the sender is not the Portcullis app',
      );
    }
  });

  it('refuses arguments the contract does not allow, without echoing them', async () => {
    const { ipc } = setUp();
    const error = await ipc.invoke('app:version', packagedAppUrl, 'secret-token').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe('app:version: invalid arguments');
    await expect(ipc.invoke('app:platform', packagedAppUrl, undefined)).rejects.toThrow('invalid arguments');
  });
});
