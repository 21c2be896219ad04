/**
 * The connection VS Code Remote-SSH makes (its "Remote - SSH" log shows it): `ssh -T -D <port> <host> bash`,
 * a setup script written to that shell's input which starts the remote server on a loopback port and
 * prints `listeningOn==<port>==`, then every editor connection through the -D SOCKS proxy to that port.
 * VS Code itself is not installed here, so the test makes the same moves with OpenSSH and curl.
 * Under `guarded` the `bash` reading its commands from input is `dynamic` and waits for one approval;
 * the forwards reach only what `ssh.forward` lists, and each is recorded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/commands.ts';
import { freePort } from '../support/ports.ts';
import { opensshMissing, startSshd, type TestSshd } from '../support/sshd.ts';
import { startGuardedSsh, TARGET, type GuardedSsh } from '../support/ssh-tunnel.ts';
import { until } from '../support/waiting.ts';

const missing = opensshMissing();
if (missing) console.warn(`skipping the Remote-SSH test: ${missing}`);

let sshd: TestSshd;
let guarded: GuardedSsh;

beforeAll(async () => {
  if (missing) return;
  sshd = await startSshd();
  guarded = await startGuardedSsh(sshd, {
    policy: `extends: guarded\nssh:\n  forward: ['127.0.0.1:*']\n`,
  });
});

afterAll(async () => {
  await guarded?.close();
  await sshd?.stop();
});

/** What the extension writes to the remote `bash`: start the server in the background, say where. */
function setupScript(serverDir: string, port: number): string {
  return [
    `cd ${serverDir}`,
    `/usr/bin/timeout 60 /usr/bin/python3 -m http.server ${port} --bind 127.0.0.1 >/dev/null 2>&1 &`,
    `echo "listeningOn==${port}=="`,
    '',
  ].join('\n');
}

async function remoteShell(socksPort: number): Promise<{ child: ChildProcess; stdout(): string }> {
  const child = spawn(
    '/usr/bin/ssh',
    [
      '-F',
      guarded.configFile,
      '-T',
      '-D',
      String(socksPort),
      '-o',
      'ExitOnForwardFailure=yes',
      TARGET,
      'bash',
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.resume();
  return { child, stdout: () => stdout };
}

describe.skipIf(missing)('the VS Code Remote-SSH connection through the SSH tunnel', () => {
  it('starts the remote server once `bash` is approved, and reaches it through -D', async () => {
    const serverDir = path.join(sshd.workDir, 'vscode-server');
    await mkdir(serverDir, { recursive: true });
    await writeFile(path.join(serverDir, 'version'), 'remote server ready\n');
    await chmod(serverDir, 0o755);
    await chmod(path.join(serverDir, 'version'), 0o644);
    const [socksPort, serverPort] = [await freePort(), await freePort()];
    const shell = await remoteShell(socksPort);
    try {
      const request = await guarded.approver.nextRequest();
      expect(request.request.sql).toBe('bash');
      request.decide({ approved: true, by: 'Elena' });
      shell.child.stdin!.write(setupScript(serverDir, serverPort));
      await until('the setup script to report its port', () =>
        shell.stdout().includes(`listeningOn==${serverPort}==`) ? true : undefined,
      );
      const fetched = await until('the remote server through the SOCKS proxy', async () => {
        const result = await run('/usr/bin/curl', [
          '-sf',
          '--socks5',
          `127.0.0.1:${socksPort}`,
          `http://127.0.0.1:${serverPort}/version`,
        ]);
        return result.code === 0 ? result.stdout : undefined;
      });
      expect(fetched).toBe('remote server ready\n');
      expect(guarded.recorder.ofType('ssh.exec')).toContainEqual(
        expect.objectContaining({ command: 'bash', decision: 'allow', classes: ['dynamic'] }),
      );
      expect(guarded.recorder.ofType('forward')).toContainEqual(
        expect.objectContaining({ decision: 'allow', destination: { host: '127.0.0.1', port: serverPort } }),
      );
      // A destination the policy does not list stays shut, through the same proxy.
      const elsewhere = await run('/usr/bin/curl', [
        '-sf',
        '--socks5',
        `127.0.0.1:${socksPort}`,
        'http://10.0.0.1/',
      ]);
      expect(elsewhere.code).not.toBe(0);
      expect(guarded.recorder.ofType('forward')).toContainEqual(
        expect.objectContaining({ decision: 'deny', destination: { host: '10.0.0.1', port: 80 } }),
      );
    } finally {
      shell.child.stdin!.end();
      shell.child.kill();
      await once(shell.child, 'exit');
    }
  }, 120_000);
});
