/**
 * The IPC layer in plain Node, driven through a fake ipcMain the way the renderer would call it: exactly
 * the contract's channels, only the app's frame answered, every argument checked before anything runs,
 * and every answer a value (Electron keeps only the message of a thrown Error).
 */
import { describe, expect, it } from 'vitest';
import { ipcChannels } from '../../preload/api.ts';
import { argumentSchemas, handlers } from '../../main/ipc/handlers.ts';
import { registerIpcHandlers, type InvokeEvent, type IpcRegistrar } from '../../main/ipc/register.ts';
import { packagedAppUrl } from '../../main/security.ts';
import { createTestDesktop } from '../support/desktop.ts';

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

async function setUp() {
  const desktop = await createTestDesktop({ hubUrl: 'http://127.0.0.1:9' });
  const ipc = new FakeIpcMain();
  const unregister = registerIpcHandlers(
    ipc,
    handlers(desktop.services, { version: '1.2.3', platform: 'linux' }),
    packagedAppUrl,
  );
  return { ipc, unregister, desktop };
}

describe('registerIpcHandlers', () => {
  it('registers exactly the channels of the preload contract, each with a schema, and removes them again', async () => {
    const { ipc, unregister } = await setUp();
    expect([...ipc.listeners.keys()].sort()).toEqual([...ipcChannels].sort());
    expect(Object.keys(argumentSchemas).sort()).toEqual([...ipcChannels].sort());
    unregister();
    expect(ipc.listeners.size).toBe(0);
  });

  it('answers the app frame with values', async () => {
    const { ipc } = await setUp();
    await expect(ipc.invoke('app:version', packagedAppUrl)).resolves.toEqual({ ok: true, value: '1.2.3' });
    await expect(ipc.invoke('app:platform', 'app://portcullis/index.html#/x')).resolves.toEqual({
      ok: true,
      value: 'linux',
    });
    const state = (await ipc.invoke('app:state', packagedAppUrl)) as {
      ok: true;
      value: { account: unknown };
    };
    expect(state.value.account).toEqual({ state: 'starting' });
  });

  it('refuses frames that are not the app', async () => {
    const { ipc } = await setUp();
    for (const frame of ['https://evil.example/', 'file:///tmp/index.html', 'about:blank', null]) {
      await expect(ipc.invoke('app:version', frame), String(frame)).resolves.toEqual({
        ok: false,
        code: 'refused',
        message: 'app:version: the sender is not the Portcullis app',
      });
    }
  });

  it('refuses arguments the contract does not allow, without echoing them or running anything', async () => {
    const { ipc, desktop } = await setUp();
    const cases: [string, unknown[]][] = [
      ['app:version', ['secret-token']],
      ['account:sign-in', []],
      ['account:sign-in', [42]],
      ['tunnels:connect', ['shop-db', 0]],
      ['tunnels:connect', ['shop-db', 15432, 'extra']],
      ['tunnels:copy', ['shop-db', 'refreshToken']],
      ['approvals:decide', [{ kind: 'statement', id: 'x', approve: 'yes' }]],
      ['approvals:decide', [{ kind: 'statement', id: 'x', approve: true, via: 'notification' }]],
      ['targets:request-access', [{ targetId: 't', reason: 'r', extra: 1 }]],
      ['sessions:search', [{ from: 'yesterday' }]],
      ['settings:update', [{ hubUrl: 'http://ok.example', theme: 'dark' }]],
    ];
    for (const [channel, args] of cases) {
      const answer = (await ipc.invoke(channel, packagedAppUrl, ...args)) as { ok: boolean; message: string };
      expect(answer, `${channel} ${JSON.stringify(args)}`).toMatchObject({ ok: false, code: 'invalid' });
      expect(answer.message).toMatch(new RegExp(`^${channel}: invalid arguments`));
      expect(answer.message).not.toContain('secret-token');
    }
    expect(desktop.pushes).toEqual([]);
  });

  it('turns what a service throws into a value with a code and a message', async () => {
    const { ipc } = await setUp();
    await expect(ipc.invoke('tunnels:connect', packagedAppUrl, 'shop-db')).resolves.toEqual({
      ok: false,
      code: 'not-signed-in',
      message: 'Sign in first.',
    });
    await expect(ipc.invoke('account:sign-in', packagedAppUrl, 'not a url')).resolves.toMatchObject({
      ok: false,
      code: 'invalid',
    });
    await expect(ipc.invoke('account:sign-in', packagedAppUrl, 'http://127.0.0.1:9')).resolves.toMatchObject({
      ok: false,
      code: 'unreachable',
      message: expect.stringMatching(/cannot reach the hub at http:\/\/127\.0\.0\.1:9/),
    });
  });
});
