/**
 * File transfers through the tunnel with OpenSSH's scp (SFTP mode and the legacy scp protocol) and sftp:
 * 100 MB both ways arrive intact; under a read-only policy listing works and every change is refused;
 * every open, close, change and listing is recorded with its path and byte counts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/commands.ts';
import { opensshMissing, startSshd, type TestSshd } from '../support/sshd.ts';
import { startGuardedSsh, TARGET, type GuardedSsh } from '../support/ssh-tunnel.ts';

const missing = opensshMissing();
if (missing) console.warn(`skipping the SSH transfer tests: ${missing}`);

const MB = 1024 * 1024;
const RSYNC = '/usr/bin/rsync';
if (!missing && !existsSync(RSYNC)) console.warn(`skipping the rsync test: ${RSYNC} is not installed`);

let sshd: TestSshd;
let local: string;

beforeAll(async () => {
  if (missing) return;
  sshd = await startSshd();
  local = await mkdtemp(path.join(tmpdir(), 'portcullis-transfer-'));
  await chmod(local, 0o755);
});

afterAll(async () => {
  await sshd?.stop();
  if (local) await rm(local, { recursive: true, force: true });
});

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A file of random bytes, written in 1 MiB pieces. */
async function randomFile(file: string, megabytes: number): Promise<void> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < megabytes; i++) pieces.push(randomBytes(MB));
  await writeFile(file, Buffer.concat(pieces));
}

describe.skipIf(missing)('scp and sftp through the SSH tunnel', () => {
  let guarded: GuardedSsh;

  beforeAll(async () => {
    guarded = await startGuardedSsh(sshd);
  });

  afterAll(async () => {
    await guarded?.close();
  });

  it('copies 100 MB up and back down with scp (SFTP protocol), byte for byte', async () => {
    const original = path.join(local, 'big.bin');
    await randomFile(original, 100);
    const remote = path.join(sshd.workDir, 'big.bin');
    const up = await guarded.scp(['-q', original, `${TARGET}:${remote}`], { timeoutMs: 300_000 });
    expect(up).toMatchObject({ code: 0, stderr: '' });
    const back = path.join(local, 'big.back.bin');
    const down = await guarded.scp(['-q', `${TARGET}:${remote}`, back], { timeoutMs: 300_000 });
    expect(down).toMatchObject({ code: 0, stderr: '' });
    const expected = await sha256(original);
    expect(await sha256(remote)).toBe(expected);
    expect(await sha256(back)).toBe(expected);
    const closes = guarded.recorder.ofType('sftp').filter((e) => e.op === 'close' && e.path === remote);
    expect(closes).toContainEqual(
      expect.objectContaining({
        bytesWritten: 100 * MB,
        bytesRead: 0,
        mode: expect.stringContaining('write'),
      }),
    );
    expect(closes).toContainEqual(expect.objectContaining({ bytesRead: 100 * MB, bytesWritten: 0 }));
  }, 600_000);

  it('copies with the legacy scp protocol (scp -O), judged as the exec it is', async () => {
    const original = path.join(local, 'legacy.bin');
    await randomFile(original, 8);
    const remote = path.join(sshd.workDir, 'legacy.bin');
    const up = guarded.scp(['-O', '-q', original, `${TARGET}:${remote}`], { timeoutMs: 120_000 });
    // scp -t is a write: the guarded preset holds it for approval.
    const request = await guarded.approver.nextRequest();
    expect(request.request.sql).toMatch(/^scp .*-t/);
    request.decide({ approved: true, by: 'Elena' });
    expect(await up).toMatchObject({ code: 0 });
    const back = path.join(local, 'legacy.back.bin');
    expect(
      await guarded.scp(['-O', '-q', `${TARGET}:${remote}`, back], { timeoutMs: 120_000 }),
    ).toMatchObject({ code: 0 });
    expect(await sha256(back)).toBe(await sha256(original));
    const download = guarded.recorder.ofType('ssh.exec').at(-1)!;
    expect(download).toMatchObject({ decision: 'allow', classes: ['read'] });
    // A legacy download's data is its command's output: counted, past the limit not recorded.
    const exit = guarded.recorder
      .ofType('ssh.exit')
      .find((e) => e.channel === download.channel && e.bytesToClient > 8 * MB);
    expect(exit).toBeDefined();
  }, 300_000);

  it.skipIf(!existsSync(RSYNC))(
    'syncs a tree with rsync over ssh: the upload held as a write, the download read, --delete refused',
    async () => {
      const tree = path.join(local, 'tree');
      await mkdir(path.join(tree, 'nested'), { recursive: true });
      await randomFile(path.join(tree, 'data.bin'), 4);
      await writeFile(path.join(tree, 'nested', 'notes.txt'), 'kept by rsync\n');
      const remote = path.join(sshd.workDir, 'synced');
      const rsync = (args: string[]) =>
        run(RSYNC, ['-a', '-e', `/usr/bin/ssh -F ${guarded.configFile}`, ...args], { timeoutMs: 120_000 });
      const up = rsync([`${tree}/`, `${TARGET}:${remote}/`]);
      const request = await guarded.approver.nextRequest();
      expect(request.request.sql).toMatch(/^rsync --server /);
      request.decide({ approved: true, by: 'Elena' });
      expect(await up).toMatchObject({ code: 0 });
      const back = path.join(local, 'tree.back');
      expect(await rsync([`${TARGET}:${remote}/`, `${back}/`])).toMatchObject({ code: 0 });
      for (const file of ['data.bin', 'nested/notes.txt']) {
        expect(await sha256(path.join(back, file))).toBe(await sha256(path.join(tree, file)));
      }
      expect(guarded.recorder.ofType('ssh.exec').at(-1)).toMatchObject({
        decision: 'allow',
        classes: ['read'],
      });
      // Mirroring with --delete removes files on the target: a destructive command, which guarded blocks.
      const mirror = await rsync(['--delete', `${path.join(tree, 'nested')}/`, `${TARGET}:${remote}/`]);
      expect(mirror.code).not.toBe(0);
      expect(guarded.recorder.ofType('ssh.exec').at(-1)).toMatchObject({
        decision: 'deny',
        classes: expect.arrayContaining(['destructive']),
      });
      expect((await stat(path.join(remote, 'data.bin'))).size).toBe(4 * MB);
    },
    300_000,
  );

  it('lists, makes, renames and removes with sftp, recording each change', async () => {
    const batch = [
      `cd ${sshd.workDir}`,
      'mkdir made',
      'put /etc/hostname made/host.txt',
      'rename made/host.txt made/renamed.txt',
      'ls -1 made',
      'rm made/renamed.txt',
      'rmdir made',
    ].join('\n');
    const result = await guarded.sftp(['-q', '-b', '-', TARGET], { input: `${batch}\n` });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/renamed\.txt/);
    const ops = guarded.recorder.ofType('sftp').map((e) => [e.op, e.decision, e.status]);
    expect(ops).toEqual(
      expect.arrayContaining([
        ['mkdir', 'allow', 'ok'],
        ['rename', 'allow', 'ok'],
        ['opendir', 'allow', 'ok'],
        ['remove', 'allow', 'ok'],
        ['rmdir', 'allow', 'ok'],
      ]),
    );
  });
});

describe.skipIf(missing)('sftp under a read-only policy', () => {
  let guarded: GuardedSsh;

  beforeAll(async () => {
    guarded = await startGuardedSsh(sshd, { policy: 'extends: guarded\nssh:\n  sftp: read-only\n' });
    await writeFile(path.join(sshd.workDir, 'readable.txt'), 'read me\n');
    await chmod(path.join(sshd.workDir, 'readable.txt'), 0o644);
  });

  afterAll(async () => {
    await guarded?.close();
  });

  it('lists and downloads, and refuses every write with "Permission denied"', async () => {
    const listing = await guarded.sftp(['-q', '-b', '-', TARGET], { input: `ls -1 ${sshd.workDir}\n` });
    expect(listing.code).toBe(0);
    expect(listing.stdout).toMatch(/readable\.txt/);

    const copy = path.join(local, 'readable.copy');
    expect(
      await guarded.scp(['-q', `${TARGET}:${path.join(sshd.workDir, 'readable.txt')}`, copy]),
    ).toMatchObject({ code: 0 });

    for (const command of [
      `put /etc/hostname ${sshd.workDir}/uploaded.txt`,
      `mkdir ${sshd.workDir}/newdir`,
      `rm ${sshd.workDir}/readable.txt`,
      `rename ${sshd.workDir}/readable.txt ${sshd.workDir}/moved.txt`,
      `chmod 600 ${sshd.workDir}/readable.txt`,
    ]) {
      const refused = await guarded.sftp(['-q', '-b', '-', TARGET], { input: `${command}\n` });
      expect(refused.code, command).toBe(1);
      expect(refused.stderr, command).toMatch(/Permission denied/);
    }
    const upload = await guarded.scp(['-q', '/etc/hostname', `${TARGET}:${sshd.workDir}/scp-upload.txt`]);
    expect(upload.code).not.toBe(0);

    await expect(stat(path.join(sshd.workDir, 'readable.txt'))).resolves.toMatchObject({ size: 8 });
    await expect(stat(path.join(sshd.workDir, 'uploaded.txt'))).rejects.toThrow();
    await expect(stat(path.join(sshd.workDir, 'newdir'))).rejects.toThrow();
    const denied = guarded.recorder.ofType('sftp').filter((e) => e.decision === 'deny');
    expect(denied.map((e) => e.op)).toEqual(
      expect.arrayContaining(['open', 'mkdir', 'remove', 'rename', 'setstat']),
    );
    expect(denied.every((e) => e.status === 'refused by policy.yaml: ssh.sftp read-only')).toBe(true);
  });

  it('refuses the sftp subsystem outright where the policy denies it', async () => {
    const closed = await startGuardedSsh(sshd, { policy: 'extends: guarded\nssh:\n  sftp: deny\n' });
    try {
      const result = await closed.sftp(['-q', '-b', '-', TARGET], { input: 'ls\n' });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/Connection closed/);
      expect(closed.recorder.ofType('ssh.refused')).toContainEqual(expect.objectContaining({ what: 'sftp' }));
    } finally {
      await closed.close();
    }
  });
});
