/**
 * An SSH target's private key, read when the hub needs it (a session opens, a sign-in is signed), never
 * at load time and never from hub.yaml itself. Errors name the target and where the key should have come
 * from, never the key.
 */
import { readFile } from 'node:fs/promises';
import ssh2, { type ParsedKey } from 'ssh2';
import { CredentialsError } from './credentials.ts';
import type { SshTargetConfig } from './hub-config.ts';

// ssh2 is CommonJS: Node's ESM loader does not find utils as a named export.
const { utils } = ssh2;

export interface ResolvedSshKey {
  user: string;
  key: ParsedKey;
  /** "TYPE BASE64": what the tunnel offers the server, and what signatures are checked against. */
  publicKey: string;
}

type Env = Readonly<Record<string, string | undefined>>;

async function secretFrom(
  targetId: string,
  what: string,
  source: { env: string | null; file: string | null },
  env: Env,
): Promise<string | undefined> {
  if (source.env !== null) {
    const value = env[source.env];
    if (value === undefined || value === '') {
      throw new CredentialsError(targetId, `the environment variable ${source.env} (${what}_env) is not set`);
    }
    return value;
  }
  if (source.file !== null) {
    try {
      return await readFile(source.file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new CredentialsError(targetId, `cannot read ${source.file} (${what}_file): ${code}`);
    }
  }
  return undefined;
}

export async function resolveSshKey(
  target: Pick<SshTargetConfig, 'id' | 'credentials'>,
  env: Env = process.env,
): Promise<ResolvedSshKey> {
  const { credentials } = target;
  const text = await secretFrom(
    target.id,
    'private_key',
    { env: credentials.privateKeyEnv, file: credentials.privateKeyFile },
    env,
  );
  if (text === undefined)
    throw new CredentialsError(target.id, 'no private_key_env or private_key_file is configured');
  const passphrase = await secretFrom(
    target.id,
    'passphrase',
    { env: credentials.passphraseEnv, file: credentials.passphraseFile },
    env,
  );
  const parsed = utils.parseKey(text, passphrase?.replace(/\r?\n$/, ''));
  if (parsed instanceof Error || Array.isArray(parsed) || !parsed.isPrivateKey()) {
    const reason =
      parsed instanceof Error && /passphrase|encrypted/i.test(parsed.message)
        ? 'it is encrypted and the passphrase does not open it'
        : 'it is not an OpenSSH, PEM or PuTTY private key';
    throw new CredentialsError(target.id, `the private key cannot be used: ${reason}`);
  }
  return {
    user: credentials.user,
    key: parsed,
    publicKey: `${parsed.type} ${parsed.getPublicSSH().toString('base64')}`,
  };
}
