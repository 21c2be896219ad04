/**
 * A client that signs in to the SSH tunnel and leaves while the tunnel is still connecting to the
 * target: the target connection, once it is made, is closed at once rather than kept open for nobody.
 */
import { connect, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opensshMissing, startSshd, type TestSshd } from '../support/sshd.ts';
import { startGuardedSsh, type GuardedSsh } from '../support/ssh-tunnel.ts';
import { until } from '../support/waiting.ts';

const missing = opensshMissing();
if (missing) console.warn(`skipping the SSH client-leaves test: ${missing}`);

let sshd: TestSshd;
let guarded: GuardedSsh;
let clientLeft!: () => void;
const left = new Promise<void>((resolve) => (clientLeft = resolve));
const dialled: Socket[] = [];

beforeAll(async () => {
  if (missing) return;
  sshd = await startSshd();
  guarded = await startGuardedSsh(sshd, {
    // The target answers only once the client has gone.
    dial: async () => {
      await left;
      const socket = connect(sshd.port, sshd.host);
      dialled.push(socket);
      return socket;
    },
  });
});

afterAll(async () => {
  for (const socket of dialled) socket.destroy();
  await guarded?.close();
  await sshd?.stop();
});

describe.skipIf(missing)('a client that leaves while the tunnel connects to the target', () => {
  it('closes the target connection as soon as it is made', async () => {
    const client = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      client.once('ready', resolve).once('error', reject);
      client.connect({
        host: '127.0.0.1',
        port: guarded.endpoint.port,
        username: guarded.endpoint.user,
        password: guarded.endpoint.password,
        hostVerifier: () => true,
      });
    });
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.end();
    await closed;
    clientLeft();
    const socket = await until('the tunnel to dial the target', () => dialled[0]);
    await until('the target connection to be closed', () => (socket.destroyed ? true : undefined));
    expect(socket.destroyed).toBe(true);
    // The session ended when the client left; nothing is recorded after its end.
    expect(guarded.recorder.events.at(-1)).toMatchObject({ type: 'session.end' });
  });
});
