/**
 * The client's half of PostgreSQL password authentication, computed at the hub for one connection a
 * tunnel is opening: SCRAM-SHA-256 (RFC 5802, RFC 7677), with tls-server-end-point channel binding for
 * -PLUS (RFC 5929), and md5. The tunnel relays the server's challenge; what leaves the hub is the answer
 * to that challenge only — never the password, nor the salted password or client key that would answer
 * another one. A SCRAM server nonce is fresh for every connection, so an answer opens exactly one.
 */
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { saslprep } from '../api/saslprep.ts';

const pbkdf2Async = promisify(pbkdf2);

/** The challenge cannot be answered as given; `field` names the part of the request at fault. */
export class ChallengeError extends Error {
  override name = 'ChallengeError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * PostgreSQL's default is 4096. A challenge is chosen by whoever runs the tunnel, so the cost of one
 * answer is bounded: a higher count would let a caller make the hub burn CPU on PBKDF2.
 */
export const MAX_SCRAM_ITERATIONS = 100_000;
const KEY_LENGTH = 32;
const CACHED_KEYS = 256;

export interface ScramChallenge {
  clientFirst: string;
  serverFirst: string;
  /** tls-server-end-point data when the client-first message asks for channel binding. */
  channelBinding: Buffer | null;
}

export interface ScramAnswer {
  clientFinal: string;
  serverFinal: string;
}

interface ScramKeys {
  clientKey: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();
const sha256 = (data: Buffer | string): Buffer => createHash('sha256').update(data).digest();

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

function keysFrom(salted: Buffer): ScramKeys {
  const clientKey = hmac(salted, 'Client Key');
  return { clientKey, storedKey: sha256(clientKey), serverKey: hmac(salted, 'Server Key') };
}

const PRINTABLE = /^[\x21-\x2B\x2D-\x7E]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

interface ClientFirst {
  gs2Header: string;
  bare: string;
  nonce: string;
  binds: boolean;
}

function parseClientFirst(message: string): ClientFirst {
  const match = /^(n|y|p=([A-Za-z0-9.-]+)),,(n=[^,]*,r=([^,]+))$/.exec(message);
  if (!match) {
    throw new ChallengeError(
      'clientFirst',
      'must be a SCRAM client-first-message without authzid or extensions',
    );
  }
  if (match[2] !== undefined && match[2] !== 'tls-server-end-point') {
    throw new ChallengeError('clientFirst', `unsupported channel binding type ${match[2]}`);
  }
  const nonce = match[4]!;
  if (!PRINTABLE.test(nonce)) throw new ChallengeError('clientFirst', 'malformed client nonce');
  return { gs2Header: `${match[1]},,`, bare: match[3]!, nonce, binds: match[2] !== undefined };
}

function parseServerFirst(
  message: string,
  clientNonce: string,
): { nonce: string; salt: Buffer; iterations: number } {
  const match = /^r=([^,]+),s=([^,]+),i=([0-9]{1,10})$/.exec(message);
  if (!match) throw new ChallengeError('serverFirst', 'must be a SCRAM server-first-message (r=…,s=…,i=…)');
  const [, nonce, saltText, iterationText] = match as unknown as [string, string, string, string];
  if (!PRINTABLE.test(nonce) || !nonce.startsWith(clientNonce) || nonce.length <= clientNonce.length) {
    throw new ChallengeError('serverFirst', 'the server nonce does not extend the client nonce');
  }
  if (!BASE64.test(saltText) || saltText === '') throw new ChallengeError('serverFirst', 'malformed salt');
  const iterations = Number(iterationText);
  if (iterations < 1 || iterations > MAX_SCRAM_ITERATIONS) {
    throw new ChallengeError(
      'serverFirst',
      `iteration count ${iterationText} is outside 1-${MAX_SCRAM_ITERATIONS}`,
    );
  }
  return { nonce, salt: Buffer.from(saltText, 'base64'), iterations };
}

/** Answers PostgreSQL authentication challenges; keeps derived SCRAM keys so each costs PBKDF2 once. */
export class PostgresProver {
  /** (password digest, salt, iterations) → keys; insertion-ordered, so the oldest goes first. */
  private readonly keys = new Map<string, Promise<ScramKeys>>();

  async scram(password: string, challenge: ScramChallenge): Promise<ScramAnswer> {
    const first = parseClientFirst(challenge.clientFirst);
    const server = parseServerFirst(challenge.serverFirst, first.nonce);
    if (first.binds !== (challenge.channelBinding !== null)) {
      throw new ChallengeError(
        'channelBinding',
        first.binds
          ? 'is required when the client-first-message asks for channel binding'
          : 'is only sent with SCRAM-SHA-256-PLUS (a p= GS2 header)',
      );
    }
    const binding = Buffer.concat([
      Buffer.from(first.gs2Header),
      challenge.channelBinding ?? Buffer.alloc(0),
    ]);
    const withoutProof = `c=${binding.toString('base64')},r=${server.nonce}`;
    const authMessage = `${first.bare},${challenge.serverFirst},${withoutProof}`;
    const { clientKey, storedKey, serverKey } = await this.keysFor(password, server.salt, server.iterations);
    const proof = xor(clientKey, hmac(storedKey, authMessage));
    return {
      clientFinal: `${withoutProof},p=${proof.toString('base64')}`,
      serverFinal: `v=${hmac(serverKey, authMessage).toString('base64')}`,
    };
  }

  /** The PasswordMessage for AuthenticationMD5Password: "md5" + md5(md5(password + user) + salt). */
  md5(user: string, password: string, salt: Buffer): string {
    if (salt.length !== 4) throw new ChallengeError('salt', 'must be the 4-byte salt, base64');
    const inner = createHash('md5')
      .update(password + user, 'utf8')
      .digest('hex');
    return `md5${createHash('md5')
      .update(Buffer.concat([Buffer.from(inner), salt]))
      .digest('hex')}`;
  }

  private keysFor(password: string, salt: Buffer, iterations: number): Promise<ScramKeys> {
    const key = `${sha256(password).toString('base64')}:${salt.toString('base64')}:${iterations}`;
    let keys = this.keys.get(key);
    if (!keys) {
      keys = pbkdf2Async(
        Buffer.from(saslprep(password), 'utf8'),
        salt,
        iterations,
        KEY_LENGTH,
        'sha256',
      ).then(keysFrom);
      keys.catch(() => this.keys.delete(key));
      this.keys.set(key, keys);
      if (this.keys.size > CACHED_KEYS) this.keys.delete(this.keys.keys().next().value!);
    }
    return keys;
  }
}

/**
 * A SCRAM-SHA-256 verifier as PostgreSQL stores it (`SCRAM-SHA-256$iterations:salt$StoredKey:ServerKey`):
 * given to CREATE ROLE … PASSWORD so the password itself never reaches the server or its logs.
 */
export async function scramVerifier(password: string, iterations = 4096): Promise<string> {
  const salt = randomBytes(16);
  const salted = await pbkdf2Async(
    Buffer.from(saslprep(password), 'utf8'),
    salt,
    iterations,
    KEY_LENGTH,
    'sha256',
  );
  const { storedKey, serverKey } = keysFrom(salted);
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
