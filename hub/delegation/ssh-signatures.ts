/**
 * Signing an SSH public-key sign-in for a tunnel's connection: the data must be exactly an RFC 4252
 * user-authentication request (session identifier, SSH_MSG_USERAUTH_REQUEST, the target's user, service
 * "ssh-connection", method "publickey", the target's own key) — so the hub signs sign-ins to its own
 * targets as their configured user, nothing else (not a git commit, not another user's login).
 */
import type { ParsedKey } from 'ssh2';

export class SignRequestError extends Error {
  override name = 'SignRequestError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const USERAUTH_REQUEST = 50;
/** Session identifiers are exchange hashes: 20 to 64 bytes. */
const MAX_SESSION_ID = 64;

/** Which signature algorithms a key type signs with, and the hash each one needs. */
function algorithmsFor(keyType: string): Record<string, string | undefined> {
  if (keyType === 'ssh-rsa') return { 'rsa-sha2-512': 'sha512', 'rsa-sha2-256': 'sha256', 'ssh-rsa': 'sha1' };
  return { [keyType]: undefined };
}

class Reader {
  private offset = 0;
  constructor(private readonly data: Buffer) {}

  get done(): boolean {
    return this.offset === this.data.length;
  }

  byte(field: string): number {
    if (this.offset >= this.data.length) throw new SignRequestError('data', `ends before ${field}`);
    return this.data[this.offset++]!;
  }

  string(field: string, max = 16 * 1024): Buffer {
    if (this.offset + 4 > this.data.length) throw new SignRequestError('data', `ends before ${field}`);
    const length = this.data.readUInt32BE(this.offset);
    this.offset += 4;
    if (length > max || this.offset + length > this.data.length) {
      throw new SignRequestError('data', `has a malformed ${field}`);
    }
    const value = this.data.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }
}

export interface SignedIdentity {
  user: string;
  key: ParsedKey;
}

/**
 * Signs `data` with the target's key after checking it is a sign-in to the target as its user with that
 * key; `hash` is what the tunnel's SSH library asks for (sha256/sha512 for rsa-sha2-*).
 */
export function signUserAuthRequest(
  identity: SignedIdentity,
  data: Buffer,
  hash: string | undefined,
): Buffer {
  const reader = new Reader(data);
  const sessionId = reader.string('session identifier', MAX_SESSION_ID);
  if (sessionId.length < 16) throw new SignRequestError('data', 'has no session identifier');
  if (reader.byte('message type') !== USERAUTH_REQUEST) {
    throw new SignRequestError('data', 'is not an SSH user-authentication request');
  }
  const user = reader.string('user').toString('utf8');
  if (user !== identity.user) {
    throw new SignRequestError('data', `signs in as ${JSON.stringify(user)}, not the target's user`);
  }
  if (reader.string('service').toString('utf8') !== 'ssh-connection') {
    throw new SignRequestError('data', 'asks for another service than ssh-connection');
  }
  if (reader.string('method').toString('utf8') !== 'publickey' || reader.byte('signature flag') !== 1) {
    throw new SignRequestError('data', 'is not a signed public-key sign-in');
  }
  const algorithm = reader.string('algorithm').toString('utf8');
  const blob = reader.string('public key');
  if (!reader.done) throw new SignRequestError('data', 'has bytes after the public key');
  if (!blob.equals(identity.key.getPublicSSH())) {
    throw new SignRequestError('data', "offers another key than the target's");
  }
  const algorithms = algorithmsFor(identity.key.type);
  if (!(algorithm in algorithms)) {
    throw new SignRequestError(
      'data',
      `uses the algorithm ${algorithm}, which the target's ${identity.key.type} key does not sign with`,
    );
  }
  const expected = algorithms[algorithm];
  if ((hash ?? (identity.key.type === 'ssh-rsa' ? 'sha1' : undefined)) !== expected) {
    throw new SignRequestError('hash', `must be ${expected ?? 'absent'} for ${algorithm}`);
  }
  const signature = identity.key.sign(data, expected === 'sha1' ? undefined : expected);
  if (signature instanceof Error)
    throw new SignRequestError('data', `could not be signed: ${signature.message}`);
  return signature;
}
