/** SSH public keys as OpenSSH writes them ("ssh-ed25519 AAAA… comment"), their blobs and fingerprints. */
import { createHash, timingSafeEqual } from 'node:crypto';
import ssh2 from 'ssh2';

// ssh2 is CommonJS: Node's ESM loader does not find utils as a named export.
const { utils } = ssh2;

export interface PublicKey {
  /** The key's type: ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256… */
  type: string;
  /** The SSH wire encoding of the key, as servers present it and agents sign with it. */
  blob: Buffer;
}

export class KeyFormatError extends Error {
  override name = 'KeyFormatError';
}

/** Parses one OpenSSH public key line ("TYPE BASE64 [comment]"). */
export function parsePublicKey(line: string): PublicKey {
  const parsed = utils.parseKey(line.trim());
  if (parsed instanceof Error || Array.isArray(parsed)) {
    throw new KeyFormatError(`not an SSH public key: ${line.trim().slice(0, 40)}…`);
  }
  return { type: parsed.type, blob: parsed.getPublicSSH() };
}

export function formatPublicKey(key: PublicKey, comment?: string): string {
  return `${key.type} ${key.blob.toString('base64')}${comment ? ` ${comment}` : ''}`;
}

/** SHA256:… as `ssh-keygen -l` prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function sameKey(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The host key algorithms to offer so that a server with several host keys presents a pinned one. */
export function hostKeyAlgorithms(pinned: readonly PublicKey[]): string[] {
  const algorithms = new Set<string>();
  for (const key of pinned) {
    if (key.type === 'ssh-rsa') ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'].forEach((a) => algorithms.add(a));
    else algorithms.add(key.type);
  }
  return [...algorithms];
}

/** The SSH encoding of an ed25519 public key: "ssh-ed25519" and 32 bytes, each with its length. */
const ED25519_BLOB_LENGTH = 4 + 11 + 4 + 32;

/** A new ed25519 key pair: the private key in OpenSSH format, the public key as a line. */
export function generateKeyPair(comment: string): { privateKey: string; publicKey: string } {
  // ssh2 drops the leading zero bytes of the public key (one key in 256 then has 31 bytes, which nothing
  // can parse): such a pair is made again.
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519', { comment });
    const parsed = utils.parseKey(pair.private);
    if (parsed instanceof Error || Array.isArray(parsed)) continue;
    if (parsed.getPublicSSH().length === ED25519_BLOB_LENGTH)
      return { privateKey: pair.private, publicKey: pair.public };
  }
}
