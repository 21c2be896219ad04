/**
 * The local leg's identity, kept in the Portcullis home so OpenSSH (and everything built on it: scp,
 * sftp, rsync, Ansible, VS Code Remote-SSH) works with a plain `ssh TARGET`:
 *
 *   ssh/<target>/host_ed25519_key   the tunnel's host key for the target: made once, kept (0600)
 *   ssh/<target>/id_ed25519[.pub]   the per-tunnel client key pair: made anew at every start (0600)
 *   ssh/known_hosts                 the tunnel's host keys, under a HostKeyAlias per target
 *   ssh/config                      an ssh_config include file with a Host block per target
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writePrivateFile } from '../identity/private-file.ts';
import { formatPublicKey, generateKeyPair, parsePublicKey, type PublicKey } from './keys.ts';

export interface SshPaths {
  directory: string;
  knownHosts: string;
  config: string;
  hostKey(targetId: string): string;
  clientKey(targetId: string): string;
}

export function sshPaths(home: string): SshPaths {
  const directory = path.join(home, 'ssh');
  return {
    directory,
    knownHosts: path.join(directory, 'known_hosts'),
    config: path.join(directory, 'config'),
    hostKey: (targetId) => path.join(directory, targetId, 'host_ed25519_key'),
    clientKey: (targetId) => path.join(directory, targetId, 'id_ed25519'),
  };
}

export interface LocalIdentity {
  /** The tunnel's host key (OpenSSH private key format), stable per target. */
  hostKey: string;
  hostPublicKey: PublicKey;
  /** The key clients must present: fresh for this tunnel. */
  clientPublicKey: PublicKey;
  clientKeyFile: string;
  knownHostsFile: string;
  /** The name the host key is known under, whatever the port. */
  hostKeyAlias: string;
}

async function readOrNull(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

export const hostKeyAlias = (targetId: string): string => `portcullis.${targetId}`;

/** Loads (or makes) the target's host key, makes this tunnel's client key pair, pins the host key. */
export async function prepareLocalIdentity(paths: SshPaths, targetId: string): Promise<LocalIdentity> {
  await mkdir(paths.directory, { recursive: true, mode: 0o700 });
  const hostKeyFile = paths.hostKey(targetId);
  let hostKey = await readOrNull(hostKeyFile);
  let hostPublic = await readOrNull(`${hostKeyFile}.pub`);
  if (hostKey === null || hostPublic === null) {
    const pair = generateKeyPair(`portcullis tunnel host key for ${targetId}`);
    hostKey = pair.privateKey;
    hostPublic = pair.publicKey;
    await writePrivateFile(hostKeyFile, hostKey);
    await writePrivateFile(`${hostKeyFile}.pub`, `${hostPublic}\n`);
  }
  const client = generateKeyPair(`portcullis tunnel client key for ${targetId}`);
  const clientKeyFile = paths.clientKey(targetId);
  await writePrivateFile(clientKeyFile, client.privateKey);
  await writePrivateFile(`${clientKeyFile}.pub`, `${client.publicKey}\n`);
  const hostPublicKey = parsePublicKey(hostPublic);
  const alias = hostKeyAlias(targetId);
  await pinHostKey(paths.knownHosts, alias, hostPublicKey);
  return {
    hostKey,
    hostPublicKey,
    clientPublicKey: parsePublicKey(client.publicKey),
    clientKeyFile,
    knownHostsFile: paths.knownHosts,
    hostKeyAlias: alias,
  };
}

/** Writes `alias KEY` into the tunnel's known_hosts, replacing the alias's older line. */
async function pinHostKey(file: string, alias: string, key: PublicKey): Promise<void> {
  const lines = ((await readOrNull(file)) ?? '').split('\n').filter((line) => line.trim() !== '');
  const kept = lines.filter((line) => line.split(/\s+/)[0] !== alias);
  await writePrivateFile(file, `${[...kept, `${alias} ${formatPublicKey(key)}`].join('\n')}\n`);
}

export interface SshConfigBlock {
  targetId: string;
  description: string;
  host: string;
  port: number;
  user: string;
  identityFile: string;
  knownHostsFile: string;
  hostKeyAlias: string;
}

const quoted = (value: string): string => (/[\s"#]/.test(value) ? `"${value.replace(/"/g, '\\"')}"` : value);

/** A `Host TARGET` block that makes `ssh TARGET` go through the tunnel, trusting only its host key. */
export function sshConfigBlock(block: SshConfigBlock): string {
  return [
    `# portcullis: ${block.description}`,
    `Host ${block.targetId}`,
    `  HostName ${block.host}`,
    `  Port ${block.port}`,
    `  User ${quoted(block.user)}`,
    `  IdentityFile ${quoted(block.identityFile)}`,
    '  IdentitiesOnly yes',
    `  UserKnownHostsFile ${quoted(block.knownHostsFile)}`,
    `  HostKeyAlias ${block.hostKeyAlias}`,
    '  StrictHostKeyChecking yes',
    '',
  ].join('\n');
}

/** Puts `block` into the include file, replacing the target's earlier block. */
export async function writeConfigBlock(paths: SshPaths, targetId: string, block: string): Promise<void> {
  const blocks = parseConfigBlocks((await readOrNull(paths.config)) ?? '');
  blocks.set(targetId, block);
  const header = '# Written by `portcullis connect`; add `Include <this file>` to ~/.ssh/config.\n\n';
  await writePrivateFile(paths.config, header + [...blocks.values()].join('\n'));
}

/** The include file's blocks by target id. */
export function parseConfigBlocks(text: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const chunk of text.split(/\n(?=# portcullis: )/)) {
    const host = /^Host (\S+)$/m.exec(chunk)?.[1];
    if (host && chunk.startsWith('# portcullis: ')) blocks.set(host, `${chunk.trimEnd()}\n`);
  }
  return blocks;
}

export async function readConfigBlocks(paths: SshPaths): Promise<Map<string, string>> {
  return parseConfigBlocks((await readOrNull(paths.config)) ?? '');
}
