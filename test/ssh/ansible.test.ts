/**
 * Ansible through the SSH tunnel, unmodified: it reaches the target through the ssh_config block the
 * tunnel writes, copies its module over sftp and runs it with exec. Each of those steps is judged like
 * any command: under `guarded` the writes and the module run wait for an approver, Ansible's removal of
 * its temporary directory is a destructive command and is refused (Ansible warns and goes on).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/commands.ts';
import { opensshMissing, startSshd, type TestSshd } from '../support/sshd.ts';
import { startGuardedSsh, TARGET, type GuardedSsh } from '../support/ssh-tunnel.ts';

const ANSIBLE = '/usr/bin/ansible';
const missing = opensshMissing() ?? (existsSync(ANSIBLE) ? undefined : `${ANSIBLE} is not installed`);
if (missing) console.warn(`skipping the Ansible test: ${missing}`);

let sshd: TestSshd;
let guarded: GuardedSsh;
let ansibleHome: string;

beforeAll(async () => {
  if (missing) return;
  sshd = await startSshd();
  guarded = await startGuardedSsh(sshd);
  ansibleHome = await mkdtemp(path.join(tmpdir(), 'portcullis-ansible-'));
});

afterAll(async () => {
  await guarded?.close();
  await sshd?.stop();
  if (ansibleHome) await rm(ansibleHome, { recursive: true, force: true });
});

/** `ansible TARGET -m module -a args`, through the tunnel's ssh_config block. */
function ansible(module: string, args: string) {
  return run(
    ANSIBLE,
    ['all', '-i', `${TARGET},`, '-m', module, '-a', args, '--ssh-common-args', `-F ${guarded.configFile}`],
    {
      timeoutMs: 120_000,
      env: {
        ...process.env,
        ANSIBLE_HOME: ansibleHome,
        ANSIBLE_LOCAL_TEMP: path.join(ansibleHome, 'tmp'),
        ANSIBLE_NOCOLOR: '1',
      },
    },
  );
}

describe.skipIf(missing)('Ansible through the SSH tunnel', () => {
  it('runs an ad-hoc command once its steps are approved, and keeps every step in the recording', async () => {
    const held: string[] = [];
    const result = ansible('command', 'echo portcullis-ansible');
    // mkdir of its temp dir, the interpreter probe, chmod of the module and the module run itself.
    for (let i = 0; i < 4; i++) {
      const request = await guarded.approver.nextRequest();
      held.push(request.request.sql);
      request.decide({ approved: true, by: 'Elena' });
    }
    const { code, stdout, stderr } = await result;
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/CHANGED \| rc=0 >>\s+portcullis-ansible/);
    expect(held.at(-1)).toMatch(/python3 \S+AnsiballZ_command\.py/);
    // Ansible's clean-up is `rm -f -r` of its temp dir: refused, reported by Ansible as a warning.
    expect(stderr).toMatch(/Error deleting remote temporary files[\s\S]*destructive command rm/);
    const steps = guarded.recorder.ofType('ssh.exec');
    expect(steps.map((s) => s.decision)).toContain('deny');
    expect(steps.find((s) => /python3 \S+AnsiballZ_command\.py/.test(s.command))).toMatchObject({
      decision: 'allow',
      classes: expect.arrayContaining(['unknown']),
    });
    // The module travels by sftp; its upload is recorded with its path and size.
    const upload = guarded.recorder
      .ofType('sftp')
      .find((e) => e.op === 'close' && /AnsiballZ_command\.py$/.test(e.path ?? ''));
    expect(upload).toMatchObject({ bytesWritten: expect.any(Number) });
    expect(upload!.bytesWritten).toBeGreaterThan(1000);
  }, 180_000);
});
