/**
 * What a tunnel needs to reach an SSH target (or a bastion): where it is, the host keys it must present
 * (pinned in hub.yaml or read from its known_hosts file now), and the public key the hub signs with.
 */
import { readFile } from 'node:fs/promises';
import type { SshConnectionMaterial } from '../api/types.ts';
import { CredentialsError } from '../config/credentials.ts';
import type { SshTargetConfig } from '../config/hub-config.ts';
import { knownHostKeys } from '../config/known-hosts.ts';
import { resolveSshKey } from '../config/ssh-credentials.ts';
import { UnavailableError } from './errors.ts';

type Env = Readonly<Record<string, string | undefined>>;

async function hostKeys(target: SshTargetConfig): Promise<string[]> {
  const { pinned, knownHostsFile } = target.hostKeys;
  if (knownHostsFile === null) return pinned;
  let text: string;
  try {
    text = await readFile(knownHostsFile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new UnavailableError(`target ${target.id}: cannot read known_hosts ${knownHostsFile}: ${code}`);
  }
  const keys = knownHostKeys(text, target.host, target.port);
  if (keys.length === 0) {
    throw new UnavailableError(
      `target ${target.id}: ${knownHostsFile} has no host key for ${target.port === 22 ? target.host : `[${target.host}]:${target.port}`}`,
    );
  }
  return keys;
}

export async function sshMaterial(target: SshTargetConfig, env: Env): Promise<SshConnectionMaterial> {
  let publicKey: string;
  try {
    publicKey = (await resolveSshKey(target, env)).publicKey;
  } catch (error) {
    if (error instanceof CredentialsError) throw new UnavailableError(error.message, { cause: error });
    throw error;
  }
  return {
    kind: 'ssh',
    host: target.host,
    port: target.port,
    user: target.credentials.user,
    hostKeys: await hostKeys(target),
    publicKey,
    authentication: { kind: 'delegated', methods: ['ssh-signature'] },
  };
}
