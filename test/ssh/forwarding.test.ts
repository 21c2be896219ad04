/**
 * Forwarding through the tunnel with OpenSSH's client: -L reaches a destination the policy lists and
 * nothing else; -R, agent forwarding (-A) and X11 are refused; every forward is recorded with its bytes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/commands.ts';
import { freePort } from '../support/postgres.ts';
import { opensshMissing, startSshd, type TestSshd } from '../support/sshd.ts';
import { startGuardedSsh, TARGET, type GuardedSsh } from '../support/ssh-tunnel.ts';
import { until } from '../support/waiting.ts';

const missing = opensshMissing();
if (missing) console.warn(`skipping the SSH forwarding tests: ${missing}`);

let sshd: TestSshd;
let echo: Server;
let echoPort: number;
let guarded: GuardedSsh;

beforeAll(async () => {
  if (missing) return;
  sshd = await startSshd();
  // An echo service beside the target, that only the target "can reach".
  echo = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as { port: number }).port;
  guarded = await startGuardedSsh(sshd, {
    policy: `extends: guarded\nssh:\n  forward: ['127.0.0.1:${echoPort}']\n`,
  });
});

afterAll(async () => {
  await guarded?.close();
  echo?.close();
  await sshd?.stop();
});

/** `ssh -N -L local:host:port` until killed; resolves once the local port listens. */
async function localForward(
  destination: string,
): Promise<{ port: number; child: ChildProcess; stderr(): string }> {
  const port = await freePort();
  const child = spawn(
    '/usr/bin/ssh',
    [
      '-F',
      guarded.configFile,
      '-N',
      '-o',
      'LogLevel=INFO',
      '-o',
      'ExitOnForwardFailure=yes',
      '-L',
      `${port}:${destination}`,
      TARGET,
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await until(
    `ssh -L on ${port}`,
    () =>
      new Promise<true | undefined>((resolve) => {
        const probe = connect(port, '127.0.0.1', () => {
          probe.destroy();
          resolve(true);
        });
        probe.once('error', () => resolve(undefined));
      }),
  );
  return { port, child, stderr: () => stderr };
}

/**
 * Sends `text` through a local port and returns what comes back before the far end closes, or what came
 * within 30 s (a deadline for a loaded machine: an echo that comes back whole ends it at once).
 */
function roundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    socket.on('data', (d: Buffer) => {
      received += d.toString();
      if (received.length >= text.length) socket.end();
    });
    socket.once('close', () => resolve(received));
    socket.once('error', () => resolve(received));
    const deadline = setTimeout(() => socket.destroy(), 30_000);
    socket.once('close', () => clearTimeout(deadline));
  });
}

describe.skipIf(missing)('forwarding through the SSH tunnel', () => {
  it('forwards -L to a listed destination, recording it with its bytes', async () => {
    const forward = await localForward(`127.0.0.1:${echoPort}`);
    try {
      const payload = 'ping through the bastion '.repeat(1000);
      expect(await roundTrip(forward.port, payload)).toBe(payload);
      const closed = await until('the forward to be recorded as closed', () =>
        guarded.recorder.ofType('forward').find((e) => e.closed && e.bytesFromClient === payload.length),
      );
      expect(closed).toMatchObject({
        decision: 'allow',
        destination: { host: '127.0.0.1', port: echoPort },
        bytesFromClient: payload.length,
        bytesToClient: payload.length,
      });
    } finally {
      forward.child.kill();
    }
  });

  it('refuses -L to a destination the policy does not list', async () => {
    const unlisted = await freePort();
    const forward = await localForward(`127.0.0.1:${unlisted}`);
    try {
      expect(await roundTrip(forward.port, 'hello')).toBe('');
      await until('the refusal to be recorded', () =>
        guarded.recorder
          .ofType('forward')
          .find((e) => e.decision === 'deny' && e.destination.port === unlisted),
      );
      await until('ssh to report the refusal', () =>
        /open failed/.test(forward.stderr()) ? true : undefined,
      );
    } finally {
      forward.child.kill();
    }
  });

  it('refuses remote forwarding (-R)', async () => {
    const result = await guarded.ssh([
      '-o',
      'ExitOnForwardFailure=yes',
      '-R',
      '0:127.0.0.1:22',
      TARGET,
      'echo should-not-run',
    ]);
    expect(result.code).toBe(255);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/remote port forwarding failed/i);
    expect(guarded.recorder.ofType('ssh.refused')).toContainEqual(
      expect.objectContaining({ what: 'remote forwarding' }),
    );
  });

  it('refuses agent forwarding (-A): no agent socket appears on the target', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-agent-'));
    const socket = path.join(dir, 'agent.sock');
    const agent = spawn('/usr/bin/ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    try {
      await until('the agent socket', async () =>
        (await run('test', ['-S', socket])).code === 0 ? true : undefined,
      );
      const result = await run(
        '/usr/bin/ssh',
        ['-F', guarded.configFile, '-A', TARGET, 'echo "agent=[$SSH_AUTH_SOCK]"'],
        {
          env: { ...process.env, SSH_AUTH_SOCK: socket },
        },
      );
      expect(result.stdout).toBe('agent=[]\n');
      expect(guarded.recorder.ofType('ssh.refused')).toContainEqual(
        expect.objectContaining({ what: 'agent forwarding' }),
      );
    } finally {
      agent.kill();
      await once(agent, 'exit');
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses X11 forwarding (-X and -Y): the command runs with no display on the target', async () => {
    for (const flag of ['-X', '-Y']) {
      // A display the client believes in: without one OpenSSH does not even ask for X11.
      const result = await run(
        '/usr/bin/ssh',
        ['-F', guarded.configFile, flag, TARGET, 'echo "display=[$DISPLAY]"'],
        { env: { ...process.env, DISPLAY: ':97' } },
      );
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe('display=[]\n');
      expect(result.stderr).toMatch(/X11 forwarding request failed/);
    }
    const refused = guarded.recorder.ofType('ssh.refused').filter((e) => e.what === 'X11 forwarding');
    expect(refused).toHaveLength(2);
  });
});
