/**
 * An upstream SSH server that fails mid-handshake: the connection attempt ends with one clear error,
 * and whatever ssh2 reports after that (it may report the same loss twice) never escapes the tunnel as
 * an uncaught exception — which would end the whole `portcullis connect` process.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../tunnel/ssh/keys.ts';
import { connectSshUpstream, SshUpstreamError } from '../../tunnel/ssh/upstream.ts';
import { localSigner } from '../support/ssh-tunnel.ts';

let server: Server | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A TCP server that accepts and then does `behave` with each connection. */
async function listen(behave: (socket: Socket) => void): Promise<number> {
  server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    behave(socket);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

async function attempt(port: number): Promise<unknown> {
  const key = generateKeyPair('upstream-failures');
  const signer = localSigner(key.privateKey);
  return connectSshUpstream({
    host: '127.0.0.1',
    port,
    user: 'nobody',
    hostKeys: [signer.publicKey],
    signer,
    readyTimeoutMs: 300,
  }).then(
    () => new Error('connected'),
    (error: unknown) => error,
  );
}

/** Lets socket closes and timers that follow a failure run, so a late error would surface here. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

describe('an upstream SSH server that fails mid-handshake', () => {
  it('times out a server that never says hello, once, with nothing uncaught after', async () => {
    const port = await listen(() => undefined);
    const error = await attempt(port);
    expect(error).toBeInstanceOf(SshUpstreamError);
    expect((error as SshUpstreamError).message).toMatch(/cannot reach 127\.0\.0\.1:\d+: .*handshake/i);
    await settle();
  });

  it('reports a server that resets the connection before its banner', async () => {
    const port = await listen((socket) => setTimeout(() => socket.resetAndDestroy(), 20));
    const error = await attempt(port);
    expect(error).toBeInstanceOf(SshUpstreamError);
    await settle();
  });
});
