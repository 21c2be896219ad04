/**
 * The demo's `shop-web`: this machine's OpenSSH server, started on loopback with a configuration of the
 * demo's own (its host key is what hub.yaml pins; the key it accepts is the target key only the hub holds,
 * kept in the data directory). sshd runs as, and signs in, the user running the demo; as root, an
 * unprivileged `portcullis-web` account made for it, never root. A "web server" directory with logs full
 * of fake PII gives the demo something to look at, mask and (not) delete.
 *
 * Without an OpenSSH server (or, as root, without useradd or setpriv) the demo runs without shop-web and
 * says why.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SSHD = '/usr/sbin/sshd';
const SSH_KEYGEN = '/usr/bin/ssh-keygen';
const SETPRIV = '/usr/bin/setpriv';
const DEMO_ACCOUNT = 'portcullis-web';
const LOOPBACK = '127.0.0.1';

export interface DemoSshd {
  host: string;
  port: number;
  /** The account the hub signs in as. */
  user: string;
  /** The server's host key ("ssh-ed25519 AAAA…"): pinned in hub.yaml. */
  hostKey: string;
  /** The target key the hub signs with (0600, in the data directory). */
  privateKeyFile: string;
  /** The fake web server's files. */
  siteDir: string;
  stop(): Promise<void>;
}

export type DemoSshdStart = { started: true; sshd: DemoSshd } | { started: false; reason: string };

interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

const isRoot = (): boolean => process.getuid?.() === 0;

/** Why shop-web cannot run here, or undefined. */
export function sshdMissing(): string | undefined {
  if (!existsSync(SSHD))
    return `this machine has no OpenSSH server (${SSHD}; apt-get install openssh-server)`;
  if (!existsSync(SSH_KEYGEN))
    return `this machine has no ssh-keygen (${SSH_KEYGEN}; apt-get install openssh-client)`;
  if (isRoot() && !existsSync('/usr/sbin/useradd')) {
    return `running as root, and without useradd there is no unprivileged account to sign in as`;
  }
  if (isRoot() && !existsSync(SETPRIV)) {
    return `running as root, and without setpriv (util-linux) sshd cannot be started unprivileged`;
  }
  return undefined;
}

async function account(log: (line: string) => void): Promise<Account> {
  if (!isRoot()) {
    const me = userInfo();
    return { name: me.username, uid: me.uid, gid: me.gid, home: me.homedir };
  }
  try {
    await run('id', ['-u', DEMO_ACCOUNT]);
  } catch {
    await run('useradd', ['--create-home', '--shell', '/bin/bash', DEMO_ACCOUNT]);
    log(`created the unprivileged account ${DEMO_ACCOUNT} for shop-web (the demo never signs in as root)`);
  }
  // sshd runs as this account and must hand the ptys it allocates to the tty group.
  await run('usermod', ['-aG', 'tty', DEMO_ACCOUNT]);
  const id = async (flag: string) => Number((await run('id', [flag, DEMO_ACCOUNT])).stdout.trim());
  const home = (await run('getent', ['passwd', DEMO_ACCOUNT])).stdout.split(':')[5]!;
  return { name: DEMO_ACCOUNT, uid: await id('-u'), gid: await id('-g'), home };
}

async function keyPair(file: string, comment: string): Promise<string> {
  if (!existsSync(file) || !existsSync(`${file}.pub`)) {
    await run(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  }
  await chmod(`${file}.pub`, 0o600); // ssh-keygen makes it world-readable; nothing else reads it
  return (await readFile(`${file}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
}

/** Writes the site, owned by the account, with fake customers in its logs. */
async function seedSite(dir: string, who: Account): Promise<void> {
  await mkdir(path.join(dir, 'logs'), { recursive: true });
  await writeFile(path.join(dir, 'index.html'), '<h1>The demo shop</h1>\n');
  const lines = [
    '10.0.0.7 - ada@example.com [01/Mar/2025:09:30:01] "POST /checkout" 200 card=4111 1111 1111 1111',
    '10.0.0.9 - alan@example.org [01/Mar/2025:09:31:12] "GET /orders/42" 200',
    '10.0.0.7 - grace@example.net [01/Mar/2025:09:32:40] "POST /checkout" 402 card=5500 0000 0000 0004',
  ];
  await writeFile(path.join(dir, 'logs', 'access.log'), `${lines.join('\n')}\n`);
  if (isRoot()) {
    for (const file of [
      dir,
      path.join(dir, 'logs'),
      path.join(dir, 'index.html'),
      path.join(dir, 'logs', 'access.log'),
    ]) {
      await chown(file, who.uid, who.gid);
    }
  }
}

function config(dir: string, port: number, who: Account): string {
  return [
    `Port ${port}`,
    `ListenAddress ${LOOPBACK}`,
    `HostKey ${path.join(dir, 'ssh_host_ed25519_key')}`,
    `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
    `AllowUsers ${who.name}`,
    'PidFile none',
    'UsePAM no',
    'StrictModes no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin no',
    'AllowTcpForwarding yes',
    'X11Forwarding no',
    'Subsystem sftp internal-sftp',
    'AcceptEnv LANG LC_*',
    'LogLevel ERROR',
    '',
  ].join('\n');
}

/**
 * Where sshd's own files live: in `dir` (inside the demo's data directory) for a normal user; as root in
 * the account's home, since sshd runs as that account and must read them, and nobody else may enter the
 * data directory.
 */
function serverDir(dir: string, who: Account): string {
  if (!isRoot()) return dir;
  // One per data directory: two demos on one machine must not share a host key or a port.
  const id = createHash('sha256').update(path.resolve(dir)).digest('hex').slice(0, 16);
  return path.join(who.home, '.portcullis-demo-sshd', id);
}

/** Writes a file sshd reads: 0600, owned by the account it runs as. */
async function writeServerFile(file: string, text: string, who: Account): Promise<void> {
  await writeFile(file, text, { mode: 0o600 });
  await chmod(file, 0o600);
  if (isRoot()) await chown(file, who.uid, who.gid);
}

/** The program and arguments that run sshd in the foreground as `who` (never as root). */
function sshdCommand(configFile: string, who: Account): [string, string[]] {
  const sshd = [SSHD, '-D', '-e', '-f', configFile];
  if (!isRoot()) return [sshd[0]!, sshd.slice(1)];
  // setpriv (not spawn's uid/gid) so that sshd also gets the account's groups: tty, for the ptys.
  return [SETPRIV, [`--reuid=${who.uid}`, `--regid=${who.gid}`, '--init-groups', '--', ...sshd]];
}

/** Starts sshd for shop-web, as the account it signs in, with the target key kept in `dir`. */
export async function startDemoSshd(
  dir: string,
  port: number,
  log: (line: string) => void,
): Promise<DemoSshdStart> {
  const missing = sshdMissing();
  if (missing) return { started: false, reason: missing };
  const who = await account(log);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const privateKeyFile = path.join(dir, 'shop_web_key');
  const targetKey = await keyPair(privateKeyFile, 'portcullis demo shop-web target key (held by the hub)');
  const serverFiles = serverDir(dir, who);
  await mkdir(serverFiles, { recursive: true, mode: 0o700 });
  if (isRoot()) {
    await chown(path.dirname(serverFiles), who.uid, who.gid);
    await chown(serverFiles, who.uid, who.gid);
  }
  const hostKeyFile = path.join(serverFiles, 'ssh_host_ed25519_key');
  const hostKey = await keyPair(hostKeyFile, 'portcullis demo shop-web host key');
  if (isRoot()) await chown(hostKeyFile, who.uid, who.gid);
  await writeServerFile(path.join(serverFiles, 'authorized_keys'), `${targetKey}\n`, who);
  const configFile = path.join(serverFiles, 'sshd_config');
  await writeServerFile(configFile, config(serverFiles, port, who), who);
  const siteDir = path.join(isRoot() ? who.home : dir, 'shop-web');
  await seedSite(siteDir, who);
  const [program, args] = sshdCommand(configFile, who);
  const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    await listening(child, port);
  } catch (error) {
    return { started: false, reason: (error as Error).message };
  }
  return {
    started: true,
    sshd: { host: LOOPBACK, port, user: who.name, hostKey, privateKeyFile, siteDir, stop: () => stop(child) },
  };
}

/** sshd logs nothing at ERROR when it starts well: it is up once its port answers. */
async function listening(child: ChildProcess, port: number): Promise<void> {
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`the OpenSSH server did not start: ${output.trim() || `exit ${child.exitCode}`}`);
    if (await answers(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill();
  throw new Error(`the OpenSSH server did not listen on ${LOOPBACK}:${port}: ${output.trim()}`);
}

async function answers(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect(port, LOOPBACK, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
}
