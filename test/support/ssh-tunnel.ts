/**
 * A guarded SSH tunnel in front of the test sshd, without a hub: the policy from YAML, a MemoryApprover
 * for holds, a MemoryRecorder for events, and a signer that signs with the target key locally (what the
 * hub does for a connected tunnel). Clients are the real OpenSSH ones, pointed at the tunnel by the
 * ssh_config block the tunnel prints.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import { parsePolicy } from '../../tunnel/policy/policy-file.ts';
import type { PublicKey } from '../../tunnel/ssh/keys.ts';
import { prepareLocalIdentity, sshPaths } from '../../tunnel/ssh/local-identity.ts';
import { SshTunnel, type SshEndpoint } from '../../tunnel/ssh/ssh-tunnel.ts';
import type { Signer } from '../../tunnel/ssh/upstream.ts';
import { run, type CommandResult } from './commands.ts';
import { MemoryApprover } from './memory-approver.ts';
import { MemoryRecorder } from './memory-recorder.ts';
import type { TestSshd } from './sshd.ts';

// ssh2 is CommonJS: Node's ESM loader does not find utils as a named export.
const { utils } = ssh2;

export const TARGET = 'web';

/** Signs with an OpenSSH private key in this process: the hub's job, done locally for engine tests. */
export function localSigner(privateKey: string): Signer & { signatures: number } {
  const key = utils.parseKey(privateKey);
  if (key instanceof Error || Array.isArray(key)) throw new Error('not a private key');
  const signer = {
    signatures: 0,
    publicKey: { type: key.type, blob: key.getPublicSSH() } as PublicKey,
    async sign(data: Buffer, hash: string | undefined): Promise<Buffer> {
      signer.signatures++;
      return key.sign(data, hash);
    },
  };
  return signer;
}

export interface GuardedSsh {
  tunnel: SshTunnel;
  endpoint: SshEndpoint;
  approver: MemoryApprover;
  recorder: MemoryRecorder;
  signer: ReturnType<typeof localSigner>;
  /** An ssh_config file with the tunnel's block (and nothing of the user's). */
  configFile: string;
  /** `ssh -F config TARGET …`. */
  ssh(args: string[], options?: Parameters<typeof run>[2]): Promise<CommandResult>;
  scp(args: string[], options?: Parameters<typeof run>[2]): Promise<CommandResult>;
  sftp(args: string[], options?: Parameters<typeof run>[2]): Promise<CommandResult>;
  close(): Promise<void>;
}

export async function startGuardedSsh(
  sshd: TestSshd,
  options: {
    policy?: string;
    hostKeys?: PublicKey[];
    withoutApprover?: boolean;
    /** How the tunnel reaches sshd instead of TCP (as a bastion's channel would). */
    dial?: () => Promise<Duplex>;
  } = {},
): Promise<GuardedSsh> {
  const home = await mkdtemp(path.join(tmpdir(), 'portcullis-ssh-home-'));
  const identity = await prepareLocalIdentity(sshPaths(home), TARGET);
  const policy = parsePolicy(options.policy ?? 'extends: guarded\n', 'policy.yaml');
  const approver = new MemoryApprover();
  const recorder = new MemoryRecorder();
  const signer = localSigner(sshd.clientPrivateKey);
  const tunnel = new SshTunnel({
    targetId: TARGET,
    targetName: 'Test web server',
    upstream: {
      host: sshd.host,
      port: sshd.port,
      user: sshd.user,
      hostKeys: options.hostKeys ?? [sshd.hostKey],
      ...(options.dial ? { dial: options.dial } : {}),
    },
    signerFor: () => signer,
    identity,
    policy,
    sessionId: 'test-session',
    ...(options.withoutApprover ? {} : { approver }),
    recorder,
  });
  const endpoint = await tunnel.listen();
  const configFile = path.join(home, 'ssh_config');
  await writeFile(configFile, `${endpoint.sshConfig}  BatchMode yes\n  LogLevel ERROR\n`);
  const client =
    (program: string, extra: string[] = []) =>
    (args: string[], runOptions?: Parameters<typeof run>[2]) =>
      run(program, ['-F', configFile, ...extra, ...args], runOptions);
  return {
    tunnel,
    endpoint,
    approver,
    recorder,
    signer,
    configFile,
    ssh: client('/usr/bin/ssh'),
    scp: client('/usr/bin/scp'),
    sftp: client('/usr/bin/sftp'),
    async close() {
      await tunnel.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}
