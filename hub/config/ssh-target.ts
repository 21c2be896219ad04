/**
 * `kind: ssh` targets in hub.yaml:
 *
 *   - id: shop-web
 *     kind: ssh
 *     address: web.internal:22
 *     host_key: 'ssh-ed25519 AAAA…'          # or host_keys: [...], or known_hosts: known_hosts
 *     credentials: { user: deploy, private_key_file: keys/deploy }   # or private_key_env
 *     policy: policies/web.yaml
 *     access: [engineering]
 *
 * The server's host key is pinned here: a tunnel never trusts one on first use. The private key stays at
 * the hub, which signs each connection's sign-in; a password cannot be delegated that way (the tunnel would
 * have to send the password itself), so SSH targets take keys only.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import ssh2 from 'ssh2';
import { z } from 'zod';

// ssh2 is CommonJS: Node's ESM loader does not find utils as a named export.
const { utils } = ssh2;

export const DEFAULT_SSH_PORT = 22;

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable');
const NO_PASSWORD =
  'SSH targets sign in with a key the hub signs with; a password cannot stay at the hub (the tunnel would ' +
  'have to send it), so use private_key_env or private_key_file';

export const sshCredentialsSchema = z.strictObject({
  user: z.string().min(1, 'must name the user to sign in as'),
  private_key_env: envName.optional(),
  private_key_file: z.string().min(1).optional(),
  passphrase_env: envName.optional(),
  passphrase_file: z.string().min(1).optional(),
  private_key: z
    .never({ error: 'a literal key is not accepted here; use private_key_env or private_key_file' })
    .optional(),
  password: z.never({ error: NO_PASSWORD }).optional(),
  password_env: z.never({ error: NO_PASSWORD }).optional(),
  password_file: z.never({ error: NO_PASSWORD }).optional(),
});

export const sshHostKeyFields = {
  host_key: z.string().min(1).optional(),
  host_keys: z.array(z.string().min(1)).min(1, 'must list at least one key').optional(),
  known_hosts: z.string().min(1).optional(),
};

export interface SshHostKeys {
  /** Keys written in hub.yaml ("TYPE BASE64"). */
  pinned: string[];
  /** An OpenSSH known_hosts file (absolute), read when a session opens. */
  knownHostsFile: string | null;
}

export interface SshCredentials {
  user: string;
  /** Exactly one of privateKeyEnv and privateKeyFile is set. */
  privateKeyEnv: string | null;
  privateKeyFile: string | null;
  passphraseEnv: string | null;
  passphraseFile: string | null;
}

type SshInput = {
  host_key?: string | undefined;
  host_keys?: string[] | undefined;
  known_hosts?: string | undefined;
  credentials: z.output<typeof sshCredentialsSchema>;
};

export interface SshProblem {
  field: PropertyKey[];
  problem: string;
}

/** "TYPE BASE64" of an OpenSSH public key line, or undefined when it is not one. */
export function publicKeyLine(text: string): string | undefined {
  const parsed = utils.parseKey(text.trim());
  if (parsed instanceof Error || Array.isArray(parsed) || parsed.isPrivateKey()) return undefined;
  return `${parsed.type} ${parsed.getPublicSSH().toString('base64')}`;
}

export function normalizeSsh(
  input: SshInput,
  base: string,
): { hostKeys: SshHostKeys; credentials: SshCredentials; problems: SshProblem[] } {
  const problems: SshProblem[] = [];
  const sources = [input.host_key, input.host_keys, input.known_hosts].filter((s) => s !== undefined);
  if (sources.length !== 1) {
    problems.push({
      field: ['host_key'],
      problem:
        sources.length === 0
          ? 'needs host_key, host_keys or known_hosts: the server’s host key is pinned, never trusted on first use'
          : 'needs exactly one of host_key, host_keys or known_hosts',
    });
  }
  const pinned: string[] = [];
  const written = input.host_key !== undefined ? [input.host_key] : (input.host_keys ?? []);
  written.forEach((text, index) => {
    const line = publicKeyLine(text);
    if (line) pinned.push(line);
    else {
      const field = input.host_key !== undefined ? ['host_key'] : ['host_keys', index];
      problems.push({ field, problem: 'must be an SSH public key such as "ssh-ed25519 AAAA…"' });
    }
  });
  const knownHostsFile = input.known_hosts === undefined ? null : path.resolve(base, input.known_hosts);
  if (knownHostsFile !== null && !existsSync(knownHostsFile)) {
    problems.push({ field: ['known_hosts'], problem: `no such file: ${knownHostsFile}` });
  }
  const c = input.credentials;
  if ((c.private_key_env === undefined) === (c.private_key_file === undefined)) {
    problems.push({
      field: ['credentials'],
      problem: 'needs exactly one of private_key_env or private_key_file',
    });
  }
  if (c.passphrase_env !== undefined && c.passphrase_file !== undefined) {
    problems.push({
      field: ['credentials'],
      problem: 'needs at most one of passphrase_env or passphrase_file',
    });
  }
  const file = (value: string | undefined) => (value === undefined ? null : path.resolve(base, value));
  return {
    hostKeys: { pinned, knownHostsFile },
    credentials: {
      user: c.user,
      privateKeyEnv: c.private_key_env ?? null,
      privateKeyFile: file(c.private_key_file),
      passphraseEnv: c.passphrase_env ?? null,
      passphraseFile: file(c.passphrase_file),
    },
    problems,
  };
}
