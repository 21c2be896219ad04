/**
 * Debian's OpenSSH server for a test run: its own config, host key and authorized key on a free loopback
 * port, started as an unprivileged user (sshd refuses nothing as root, but a test should not need it; as
 * root the tests use a `portcullis-ssh` account, created once, in the tty group so ptys work). A non-root
 * sshd can sign in only the user it runs as, which is all a test needs.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { generateKeyPair, parsePublicKey, type PublicKey } from '../../tunnel/ssh/keys.ts';
import { freePort } from './postgres.ts';

export const SSHD = '/usr/sbin/sshd';
export const SSH_CLIENTS = { ssh: '/usr/bin/ssh', scp: '/usr/bin/scp', sftp: '/usr/bin/sftp' } as const;
const TEST_USER = 'portcullis-ssh';

/** Why OpenSSH tests cannot run here, or undefined when they can. */
export function opensshMissing(): string | undefined {
  const missing = [SSHD, ...Object.values(SSH_CLIENTS)].filter((file) => !existsSync(file));
  if (missing.length > 0)
    return `OpenSSH is not installed (${missing.join(', ')} missing; CI installs openssh-server and openssh-client)`;
  if (process.getuid?.() === 0 && !hasCommand('useradd'))
    return 'running as root without useradd to create the sshd test user';
  return undefined;
}

function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** The account sshd runs as and signs in: the current user, or (as root) the test account. */
function account(): Account {
  if (process.getuid?.() !== 0) {
    const me = userInfo();
    return { name: me.username, uid: me.uid, gid: me.gid, home: me.homedir };
  }
  try {
    execFileSync('id', ['-u', TEST_USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--create-home', '--shell', '/bin/bash', TEST_USER], { stdio: 'ignore' });
  }
  // The pty sshd allocates must be handed to the tty group, which only a member may do.
  execFileSync('usermod', ['-aG', 'tty', TEST_USER], { stdio: 'ignore' });
  const id = (flag: string) => Number(execFileSync('id', [flag, TEST_USER]).toString().trim());
  const home = execFileSync('getent', ['passwd', TEST_USER]).toString().split(':')[5]!;
  return { name: TEST_USER, uid: id('-u'), gid: id('-g'), home };
}

export interface TestSshd {
  host: string;
  port: number;
  /** The user sshd signs in. */
  user: string;
  home: string;
  hostKey: PublicKey;
  /** The key sshd accepts for `user` (what the hub signs with): OpenSSH private key text and file. */
  clientPrivateKey: string;
  clientKeyFile: string;
  /** A directory the sshd user owns, for files the tests move. */
  workDir: string;
  /** known_hosts for a direct connection. */
  knownHostsFile: string;
  /** `ssh` options for a direct connection (the baseline). */
  directOptions(): string[];
  log(): string;
  stop(): Promise<void>;
}

export async function startSshd(options: { acceptEnv?: string[] } = {}): Promise<TestSshd> {
  const who = account();
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-sshd-'));
  await chmod(dir, 0o755);
  const own = async (file: string, mode: number): Promise<void> => {
    await chmod(file, mode);
    if (process.getuid?.() === 0) await chown(file, who.uid, who.gid);
  };
  const host = generateKeyPair('test sshd host key');
  const client = generateKeyPair('test target key');
  const files = {
    hostKey: path.join(dir, 'ssh_host_ed25519_key'),
    authorized: path.join(dir, 'authorized_keys'),
    clientKey: path.join(dir, 'target_key'),
    config: path.join(dir, 'sshd_config'),
    knownHosts: path.join(dir, 'known_hosts'),
    work: path.join(dir, 'work'),
  };
  await writeFile(files.hostKey, host.privateKey);
  await own(files.hostKey, 0o600);
  await writeFile(files.authorized, `${client.publicKey}\n`);
  await own(files.authorized, 0o644);
  await writeFile(files.clientKey, client.privateKey, { mode: 0o600 });
  await (await import('node:fs/promises')).mkdir(files.work);
  await own(files.work, 0o755);
  const port = await freePort();
  await writeFile(
    files.config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${files.hostKey}`,
      `AuthorizedKeysFile ${files.authorized}`,
      'PidFile none',
      'UsePAM no',
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitTTY yes',
      'AllowTcpForwarding yes',
      'X11Forwarding no',
      'MaxStartups 200',
      'MaxSessions 50',
      'Subsystem sftp internal-sftp',
      `AcceptEnv ${(options.acceptEnv ?? ['LANG', 'LC_*', 'TZ', 'APP_ENV']).join(' ')}`,
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  await own(files.config, 0o644);
  const hostKey = parsePublicKey(host.publicKey);
  await writeFile(files.knownHosts, `[127.0.0.1]:${port} ${host.publicKey}\n`);
  // setpriv (not spawn's uid/gid) so that sshd also gets the account's groups: tty, for the ptys.
  const [program, args] =
    process.getuid?.() === 0
      ? [
          'setpriv',
          [
            `--reuid=${who.uid}`,
            `--regid=${who.gid}`,
            '--init-groups',
            '--',
            SSHD,
            '-D',
            '-e',
            '-f',
            files.config,
          ],
        ]
      : [SSHD, ['-D', '-e', '-f', files.config]];
  const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  await waitForListening(child, () => log);
  return {
    host: '127.0.0.1',
    port,
    user: who.name,
    home: who.home,
    hostKey,
    clientPrivateKey: client.privateKey,
    clientKeyFile: files.clientKey,
    workDir: files.work,
    knownHostsFile: files.knownHosts,
    directOptions: () => [
      '-F',
      '/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${files.knownHosts}`,
      '-o',
      'IdentitiesOnly=yes',
      '-i',
      files.clientKey,
      '-o',
      `User=${who.name}`,
    ],
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function waitForListening(child: ChildProcess, log: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshd did not start: ${log()}`)), 10_000);
    const check = (): void => {
      if (/Server listening on/.test(log())) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited (${code}): ${log()}`));
    });
  });
}
