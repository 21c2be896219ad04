/**
 * Commands through the guarded SSH tunnel, with Debian's sshd behind it and OpenSSH's own client in front:
 * exit statuses, stderr and stdin pass as they would directly; blocked classes never reach the server;
 * held commands run when approved and exit 126 with the reason otherwise.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/commands.ts';
import { opensshMissing, startSshd, type TestSshd } from '../support/sshd.ts';
import { startGuardedSsh, TARGET, type GuardedSsh } from '../support/ssh-tunnel.ts';
import { until } from '../support/waiting.ts';

const missing = opensshMissing();
if (missing) console.warn(`skipping the SSH exec tests: ${missing}`);

const POLICY = `extends: guarded
ssh:
  exec:
    approve: [{ command: systemctl }]
    allow: [{ command: [touch, chmod, kill] }]
  env: [LANG, 'LC_*', APP_ENV]
  mask_output: [card]
hold_timeout: 3s
`;

let sshd: TestSshd;
let guarded: GuardedSsh;

beforeAll(async () => {
  if (missing) return;
  sshd = await startSshd();
  guarded = await startGuardedSsh(sshd, { policy: POLICY });
});

afterAll(async () => {
  await guarded?.close();
  await sshd?.stop();
});

const direct = (command: string, input?: string) =>
  run('/usr/bin/ssh', [...sshd.directOptions(), '-p', String(sshd.port), sshd.host, command], { input });
const through = (command: string, input?: string) => guarded.ssh([TARGET, command], { input });

describe.skipIf(missing)('commands through the SSH tunnel', () => {
  it('passes exit statuses, stdout, stderr and stdin exactly as a direct connection does', async () => {
    for (const [command, input] of [
      ['echo out; echo err >&2; exit 3', undefined],
      ['cat; echo done', 'line one\nline two\n'],
      ['wc -c', 'x'.repeat(300_000)],
      ['printf "no newline"', undefined],
      ['exit 0', undefined],
    ] as const) {
      const [viaTunnel, straight] = await Promise.all([through(command, input), direct(command, input)]);
      expect(viaTunnel, command).toEqual(straight);
    }
  });

  it('passes a command killed by a signal as the exit-signal it was', async () => {
    const [viaTunnel, straight] = await Promise.all([through('kill -TERM $$'), direct('kill -TERM $$')]);
    expect(viaTunnel.code).toBe(straight.code);
    const exits = guarded.recorder.ofType('ssh.exit');
    expect(exits.some((e) => e.signal === 'SIGTERM')).toBe(true);
  });

  it('lets allow-listed environment variables through and refuses the rest', async () => {
    const result = await run(
      '/usr/bin/ssh',
      [
        '-F',
        guarded.configFile,
        '-o',
        'SendEnv=APP_ENV SECRET_TOKEN',
        TARGET,
        'echo "[$APP_ENV] [$SECRET_TOKEN]"',
      ],
      { env: { ...process.env, APP_ENV: 'staging', SECRET_TOKEN: 'hunter2' } },
    );
    expect(result.stdout).toBe('[staging] []\n');
    expect(guarded.recorder.ofType('ssh.refused')).toContainEqual(
      expect.objectContaining({ what: 'an environment variable', detail: 'SECRET_TOKEN' }),
    );
  });

  it('refuses blocked classes with exit 126 and the reason, and runs nothing of them', async () => {
    const victim = path.join(sshd.workDir, 'victim.txt');
    await run('/usr/bin/ssh', [
      ...sshd.directOptions(),
      '-p',
      String(sshd.port),
      sshd.host,
      `touch ${victim}`,
    ]);
    for (const command of [
      `rm -f ${victim}`,
      `bash -c 'rm -rf ${victim}'`,
      `sh -c "sh -c 'rm ${victim}'"`,
      `echo $(rm ${victim})`,
      `ls $(rm ${victim})`,
      `r''m ${victim}`,
      `$'\\x72\\x6d' ${victim}`,
      `true && { echo ok; rm ${victim}; }`,
      'shutdown -h now',
      'dd if=/dev/zero of=/dev/sda count=1',
    ]) {
      const result = await through(command);
      expect(result.code, command).toBe(126);
      expect(result.stderr, command).toMatch(/^portcullis: destructive command \S+ is not allowed here/);
      expect(result.stdout, command).toBe('');
    }
    expect(existsSync(victim)).toBe(true);
    const denied = guarded.recorder.ofType('ssh.exec').filter((e) => e.decision === 'deny');
    expect(denied.length).toBeGreaterThanOrEqual(10);
    expect(denied.every((e) => e.classes.includes('destructive'))).toBe(true);
  });

  it('masks card numbers in command output, even when they arrive in pieces', async () => {
    const result = await through(
      "printf '4111 1111 '; sleep 0.2; printf '1111 1111 and 5500 0000 0000 0004\\n'",
    );
    expect(result.stdout).toBe('[card] and [card]\n');
    const recorded = guarded.recorder
      .ofType('term')
      .map((e) => e.data)
      .join('');
    expect(recorded).not.toMatch(/4111|5500/);
  });

  it('holds a command until an approver agrees, telling the client, then runs it', async () => {
    const marker = path.join(sshd.workDir, 'approved.txt');
    const pending = through(`systemctl --version >/dev/null 2>&1; echo ran > ${marker}; echo finished`);
    const request = await guarded.approver.nextRequest();
    expect(request.request.classes).toEqual(expect.arrayContaining(['write']));
    expect(existsSync(marker)).toBe(false);
    request.decide({ approved: true, by: 'Elena' });
    const result = await pending;
    expect(result).toMatchObject({ code: 0, stdout: 'finished\n' });
    expect(result.stderr).toBe(`waiting for approval: request ${request.id}\n`);
    expect(guarded.recorder.ofType('hold.resolved')).toContainEqual(
      expect.objectContaining({ request: request.id, outcome: 'approved', by: 'Elena' }),
    );
    // Held under the client connection that ran it, as held SQL is (the hub takes holds per connection).
    expect(guarded.recorder.events).toContainEqual(
      expect.objectContaining({ type: 'hold', request: request.id, sessionId: request.request.connectionId }),
    );
  });

  it('exits 126 with the approver’s reason when a held command is denied, and runs nothing', async () => {
    const marker = path.join(sshd.workDir, 'denied.txt');
    const pending = through(`systemctl restart nothing; touch ${marker}`);
    const request = await guarded.approver.nextRequest();
    request.decide({ approved: false, by: 'Elena', comment: 'not during the sale' });
    const result = await pending;
    expect(result.code).toBe(126);
    expect(result.stderr).toBe(
      `waiting for approval: request ${request.id}\nportcullis: approval request ${request.id} was denied by Elena: not during the sale\n`,
    );
    expect(existsSync(marker)).toBe(false);
  });

  it('exits 126 when nobody decides in time, and withdraws the request', async () => {
    const pending = through('systemctl restart nothing');
    const request = await guarded.approver.nextRequest();
    const result = await pending;
    expect(result.code).toBe(126);
    expect(result.stderr).toMatch(/was not decided in time/);
    expect(request.withdrawn).toBe('timed out');
  });

  it('withdraws a held command whose client went away', async () => {
    const pending = run('/usr/bin/timeout', [
      '1',
      '/usr/bin/ssh',
      '-F',
      guarded.configFile,
      TARGET,
      'systemctl restart nothing',
    ]);
    const request = await guarded.approver.nextRequest();
    await pending;
    await until('the request to be withdrawn', () => request.withdrawn);
    expect(request.withdrawn).toBe('the client gave up');
  });

  it('holds what it cannot parse under guarded, and refuses it under a policy that says deny', async () => {
    const pending = through("echo 'unbalanced");
    const request = await guarded.approver.nextRequest();
    expect(request.request.rule).toBe('unparseable (approve)');
    request.decide({ approved: false });
    expect((await pending).code).toBe(126);

    const strict = await startGuardedSsh(sshd, {
      policy: 'extends: guarded\nssh:\n  exec:\n    unparseable: deny\n',
    });
    try {
      const result = await strict.ssh([TARGET, "echo 'unbalanced"]);
      expect(result.code).toBe(126);
      expect(result.stderr).toMatch(
        /could not be parsed .*without closing quote.*refuses what it cannot read/,
      );
    } finally {
      await strict.close();
    }
  });

  it('refuses what needs approval at once when there is no approver', async () => {
    const lonely = await startGuardedSsh(sshd, { withoutApprover: true });
    try {
      const result = await lonely.ssh([TARGET, 'touch /tmp/x']);
      expect(result.code).toBe(126);
      expect(result.stderr).toMatch(/needs approval.*no approver is configured/);
    } finally {
      await lonely.close();
    }
  });

  it('records each command with its decision, classes and exit', async () => {
    await through('uptime >/dev/null; exit 7');
    const exec = guarded.recorder.ofType('ssh.exec').at(-1)!;
    expect(exec).toMatchObject({
      command: 'uptime >/dev/null; exit 7',
      decision: 'allow',
      classes: ['read'],
    });
    const exit = guarded.recorder.ofType('ssh.exit').at(-1)!;
    expect(exit).toMatchObject({ channel: exec.channel, status: 7 });
    expect(guarded.recorder.ofType('ssh.start')[0]).toMatchObject({
      client: { address: '127.0.0.1', auth: 'publickey' },
      upstream: {
        host: '127.0.0.1',
        port: sshd.port,
        user: sshd.user,
        hostKey: expect.stringMatching(/^SHA256:/),
      },
    });
  });
});

describe.skipIf(missing)('who may use the tunnel, and which server it trusts', () => {
  it('refuses a client that signs in with another key', async () => {
    const other = path.join(sshd.workDir, '..', 'other_key');
    await run('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const config = path.join(sshd.workDir, '..', 'wrong_key_config');
    await writeFile(
      config,
      guarded.endpoint.sshConfig.replace(/IdentityFile .*/, `IdentityFile ${other}`) + '  BatchMode yes\n',
    );
    const result = await run('/usr/bin/ssh', ['-F', config, TARGET, 'echo in']);
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/Permission denied/);
    expect(guarded.recorder.ofType('auth.failed').at(-1)).toMatchObject({
      reason: expect.stringMatching(/a key that is not this tunnel's/),
    });
  });

  it('lets a client in with the per-tunnel password', async () => {
    const askpass = path.join(sshd.workDir, '..', 'askpass.sh');
    await writeFile(askpass, `#!/bin/sh\necho '${guarded.endpoint.password}'\n`, { mode: 0o700 });
    const result = await run(
      '/usr/bin/ssh',
      [
        '-F',
        guarded.configFile,
        '-o',
        'BatchMode=no',
        '-o',
        'PubkeyAuthentication=no',
        '-o',
        'PreferredAuthentications=password',
        TARGET,
        'echo in',
      ],
      { env: { ...process.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' } },
    );
    expect(result).toMatchObject({ code: 0, stdout: 'in\n' });
  });

  it('refuses an upstream whose host key is not the pinned one, and says so', async () => {
    const { generateKeyPair, parsePublicKey } = await import('../../tunnel/ssh/keys.ts');
    const impostor = parsePublicKey(generateKeyPair('not the server').publicKey);
    const wrong = await startGuardedSsh(sshd, { hostKeys: [impostor] });
    try {
      const signaturesBefore = wrong.signer.signatures;
      const result = await wrong.ssh([TARGET, 'echo in']);
      expect(result.code).toBe(255);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(
        /host key of 127\.0\.0\.1:\d+ \(SHA256:.+\) is not the one pinned for this target/,
      );
      // Nothing was signed for a server that is not the target.
      expect(wrong.signer.signatures).toBe(signaturesBefore);
    } finally {
      await wrong.close();
    }
  });
});
