/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it, both sides, with the
 * `tls-server-end-point` channel binding (RFC 5929) for SCRAM-SHA-256-PLUS.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { saslprep } from '../../../hub/api/saslprep.ts';

export { saslprep };

export class ScramError extends Error {
  override name = 'ScramError';
}

export interface ScramVerifier {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

export type ChannelBinding = { type: 'tls-server-end-point'; data: Buffer };

export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-256-PLUS';

const DEFAULT_ITERATIONS = 4096;
/** A hostile server could otherwise pin the CPU with an absurd PBKDF2 cost. */
const MAX_ITERATIONS = 10_000_000;
const KEY_LENGTH = 32;
const NONCE_BYTES = 18;

// ---------------------------------------------------------------------------------------------
// Primitives

function hmac(key: Buffer, text: string | Buffer): Buffer {
  return createHmac('sha256', key).update(text).digest();
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

function saltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(Buffer.from(saslprep(password), 'utf8'), salt, iterations, KEY_LENGTH, 'sha256');
}

type ScramKeys = { clientKey: Buffer; storedKey: Buffer; serverKey: Buffer };

function keysFrom(salted: Buffer): ScramKeys {
  const clientKey = hmac(salted, 'Client Key');
  return { clientKey, storedKey: sha256(clientKey), serverKey: hmac(salted, 'Server Key') };
}

/** Client keys kept: a few servers and passwords at a time (a server hands out one salt per role). */
const KEYS_KEPT = 32;
const clientKeys = new Map<string, ScramKeys>();

/**
 * The keys a client derives from a password and the server's salt and iteration count — the same for
 * every connection to that server, so kept: PBKDF2 at PostgreSQL's 4096 iterations blocks the event
 * loop (every other session) for milliseconds, once per connection otherwise. Keyed by a digest of the
 * password; the keys are worth no more than the password the process already holds.
 */
function keysFor(password: string, salt: Buffer, iterations: number): ScramKeys {
  const key = `${iterations}:${salt.toString('base64')}:${createHash('sha256').update(password).digest('base64')}`;
  let keys = clientKeys.get(key);
  if (keys) {
    clientKeys.delete(key);
  } else {
    keys = keysFrom(saltedPassword(password, salt, iterations));
    if (clientKeys.size >= KEYS_KEPT) clientKeys.delete(clientKeys.keys().next().value!);
  }
  clientKeys.set(key, keys);
  return keys;
}

function newNonce(): string {
  return randomBytes(NONCE_BYTES).toString('base64');
}

export function createScramVerifier(password: string, iterations = DEFAULT_ITERATIONS): ScramVerifier {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new ScramError(`iteration count must be an integer between 1 and ${MAX_ITERATIONS}`);
  }
  const salt = randomBytes(16);
  const { storedKey, serverKey } = keysFrom(saltedPassword(password, salt, iterations));
  return { salt, iterations, storedKey, serverKey };
}

// ---------------------------------------------------------------------------------------------
// Message syntax

/** Splits "a=1,b=2" into ordered attributes; values may themselves contain '='. */
function parseAttributes(message: string): Array<[string, string]> {
  return message.split(',').map((part) => {
    if (!/^[A-Za-z]=/.test(part)) throw new ScramError('malformed SCRAM message');
    return [part[0]!, part.slice(2)];
  });
}

function expectAttribute(attributes: Array<[string, string]>, index: number, name: string): string {
  const attribute = attributes[index];
  if (!attribute || attribute[0] !== name) throw new ScramError(`malformed SCRAM message: expected ${name}=`);
  return attribute[1];
}

function rejectMandatoryExtension(attributes: Array<[string, string]>): void {
  if (attributes[0]?.[0] === 'm') throw new ScramError('unsupported mandatory SCRAM extension');
}

const PRINTABLE_NONCE = /^[\x21-\x2B\x2D-\x7E]+$/;

function validNonce(nonce: string): string {
  if (!PRINTABLE_NONCE.test(nonce)) throw new ScramError('malformed SCRAM nonce');
  return nonce;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeBase64(text: string, what: string): Buffer {
  if (!BASE64.test(text)) throw new ScramError(`malformed SCRAM ${what}: not base64`);
  return Buffer.from(text, 'base64');
}

function escapeSaslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

interface Gs2Header {
  /** The header text exactly as sent, e.g. "p=tls-server-end-point,," */
  text: string;
  flag: 'n' | 'y' | 'p';
  bindingName?: string;
}

function parseGs2Header(clientFirst: string): { header: Gs2Header; bare: string } {
  const first = clientFirst.indexOf(',');
  const second = clientFirst.indexOf(',', first + 1);
  if (first < 0 || second < 0) throw new ScramError('malformed SCRAM client-first-message');
  const flagPart = clientFirst.slice(0, first);
  const authzid = clientFirst.slice(first + 1, second);
  if (authzid !== '') throw new ScramError('SCRAM authorization identity is not supported');
  const text = clientFirst.slice(0, second + 1);
  const bare = clientFirst.slice(second + 1);
  if (flagPart === 'n' || flagPart === 'y') return { header: { text, flag: flagPart }, bare };
  if (flagPart.startsWith('p=')) return { header: { text, flag: 'p', bindingName: flagPart.slice(2) }, bare };
  throw new ScramError('malformed SCRAM channel-binding flag');
}

function channelBindingInput(gs2Header: string, binding: ChannelBinding | undefined): string {
  const header = Buffer.from(gs2Header, 'utf8');
  return Buffer.concat(binding ? [header, binding.data] : [header]).toString('base64');
}

// ---------------------------------------------------------------------------------------------
// Server

export class ScramServer {
  private readonly verifier: ScramVerifier;
  private readonly channelBinding: ChannelBinding | undefined;
  private readonly serverNonce: string;
  private state:
    | { step: 'start' }
    | { step: 'first-done'; gs2: Gs2Header; clientFirstBare: string; serverFirst: string; nonce: string }
    | { step: 'finished' } = { step: 'start' };

  constructor(verifier: ScramVerifier, options: { channelBinding?: ChannelBinding; nonce?: string } = {}) {
    this.verifier = verifier;
    this.channelBinding = options.channelBinding;
    this.serverNonce = options.nonce === undefined ? newNonce() : validNonce(options.nonce);
  }

  /** The mechanisms to advertise in AuthenticationSASL, strongest first. */
  get mechanisms(): ScramMechanism[] {
    return this.channelBinding ? ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] : ['SCRAM-SHA-256'];
  }

  handleClientFirst(mechanism: string, clientFirst: string): string {
    if (this.state.step !== 'start') throw new ScramError('unexpected SCRAM client-first-message');
    this.state = { step: 'finished' };
    const { header, bare } = parseGs2Header(clientFirst);
    this.checkChannelBindingChoice(mechanism, header);

    const attributes = parseAttributes(bare);
    rejectMandatoryExtension(attributes);
    // PostgreSQL clients send an empty user name (the startup packet carries it); any is accepted.
    expectAttribute(attributes, 0, 'n');
    const clientNonce = validNonce(expectAttribute(attributes, 1, 'r'));

    const nonce = clientNonce + this.serverNonce;
    const serverFirst = `r=${nonce},s=${this.verifier.salt.toString('base64')},i=${this.verifier.iterations}`;
    this.state = { step: 'first-done', gs2: header, clientFirstBare: bare, serverFirst, nonce };
    return serverFirst;
  }

  handleClientFinal(clientFinal: string): string {
    const state = this.state;
    if (state.step !== 'first-done') throw new ScramError('unexpected SCRAM client-final-message');
    this.state = { step: 'finished' };

    const proofAt = clientFinal.lastIndexOf(',p=');
    if (proofAt < 0) throw new ScramError('malformed SCRAM client-final-message: missing proof');
    const withoutProof = clientFinal.slice(0, proofAt);
    const attributes = parseAttributes(withoutProof);
    const binding = expectAttribute(attributes, 0, 'c');
    const nonce = expectAttribute(attributes, 1, 'r');
    const proof = decodeBase64(clientFinal.slice(proofAt + 3), 'proof');

    const expectedBinding = channelBindingInput(
      state.gs2.text,
      state.gs2.flag === 'p' ? this.channelBinding : undefined,
    );
    if (!constantTimeEqual(Buffer.from(binding), Buffer.from(expectedBinding))) {
      throw new ScramError('SCRAM channel binding check failed');
    }
    if (nonce !== state.nonce) throw new ScramError('SCRAM nonce mismatch');
    if (proof.length !== KEY_LENGTH) throw new ScramError('malformed SCRAM client proof');

    const authMessage = `${state.clientFirstBare},${state.serverFirst},${withoutProof}`;
    const clientSignature = hmac(this.verifier.storedKey, authMessage);
    const clientKey = xor(proof, clientSignature);
    if (!constantTimeEqual(sha256(clientKey), this.verifier.storedKey)) {
      throw new ScramError('SCRAM authentication failed: wrong password');
    }
    return `v=${hmac(this.verifier.serverKey, authMessage).toString('base64')}`;
  }

  private checkChannelBindingChoice(mechanism: string, header: Gs2Header): void {
    if (mechanism === 'SCRAM-SHA-256-PLUS') {
      if (!this.channelBinding) throw new ScramError('SCRAM-SHA-256-PLUS was not offered');
      if (header.flag !== 'p') throw new ScramError('SCRAM-SHA-256-PLUS requires channel binding');
      if (header.bindingName !== this.channelBinding.type) {
        throw new ScramError(`unsupported SCRAM channel binding type "${header.bindingName ?? ''}"`);
      }
      return;
    }
    if (mechanism !== 'SCRAM-SHA-256') throw new ScramError(`unsupported SASL mechanism "${mechanism}"`);
    if (header.flag === 'p') throw new ScramError('channel binding sent with SCRAM-SHA-256');
    // 'y' means "I could bind but you did not offer PLUS": if we did offer it, a man in the
    // middle stripped it from the mechanism list.
    if (header.flag === 'y' && this.channelBinding) {
      throw new ScramError('SCRAM channel binding downgrade detected');
    }
  }
}

function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

// ---------------------------------------------------------------------------------------------
// Client

export interface ScramClientOptions {
  /** Use SCRAM-SHA-256-PLUS with this binding (the upstream server's certificate). */
  channelBinding?: ChannelBinding;
  /**
   * Without a binding: we are on TLS and could bind, but the server did not offer PLUS. Sends the
   * 'y' flag so a server that does support binding detects the downgrade.
   */
  clientSupportsBinding?: boolean;
  /** PostgreSQL ignores the SCRAM user name and libpq sends it empty. */
  username?: string;
  /** For tests only: a fixed client nonce. */
  nonce?: string;
}

/**
 * Answers a server's challenge for a password held elsewhere (the hub): given the exchange so far, returns
 * the client-final-message and the server-final-message the server must send if it knows the password.
 */
export type RemoteScramProof = (challenge: {
  clientFirst: string;
  serverFirst: string;
  channelBinding: Buffer | null;
}) => Promise<{ clientFinal: string; serverFinal: string }>;

interface ServerChallenge {
  withoutProof: string;
  authMessage: string;
  salt: Buffer;
  iterations: number;
}

/**
 * The client side. The proof is computed here from the password, or — given a RemoteScramProof instead —
 * by whoever holds it, while this side still checks every message and the server's signature.
 */
export class ScramClient {
  readonly mechanism: ScramMechanism;
  private readonly secret: string | RemoteScramProof;
  private readonly channelBinding: ChannelBinding | undefined;
  private readonly gs2Header: string;
  private readonly clientFirstBare: string;
  private readonly clientNonce: string;
  private state:
    | { step: 'start' }
    | { step: 'first-sent' }
    | { step: 'final-sent'; expectedServerSignature: Buffer }
    | { step: 'verified' }
    | { step: 'failed' } = { step: 'start' };

  constructor(secret: string | RemoteScramProof, options: ScramClientOptions = {}) {
    this.secret = secret;
    this.channelBinding = options.channelBinding;
    this.mechanism = options.channelBinding ? 'SCRAM-SHA-256-PLUS' : 'SCRAM-SHA-256';
    if (options.channelBinding) this.gs2Header = `p=${options.channelBinding.type},,`;
    else this.gs2Header = options.clientSupportsBinding ? 'y,,' : 'n,,';
    this.clientNonce = options.nonce === undefined ? newNonce() : validNonce(options.nonce);
    this.clientFirstBare = `n=${escapeSaslName(options.username ?? '')},r=${this.clientNonce}`;
  }

  /** True once the server's signature has been verified. */
  get serverVerified(): boolean {
    return this.state.step === 'verified';
  }

  clientFirst(): string {
    if (this.state.step !== 'start') throw new ScramError('SCRAM client-first-message already sent');
    this.state = { step: 'first-sent' };
    return this.gs2Header + this.clientFirstBare;
  }

  /** The client-final-message, computed from the password this client holds. */
  handleServerFirst(serverFirst: string): string {
    if (typeof this.secret !== 'string') throw new ScramError('this SCRAM client answers remotely');
    const challenge = this.readChallenge(serverFirst);
    const { clientKey, storedKey, serverKey } = keysFor(this.secret, challenge.salt, challenge.iterations);
    const proof = xor(clientKey, hmac(storedKey, challenge.authMessage));
    this.state = { step: 'final-sent', expectedServerSignature: hmac(serverKey, challenge.authMessage) };
    return `${challenge.withoutProof},p=${proof.toString('base64')}`;
  }

  /** The client-final-message, computed here or by the remote prover. */
  async answerServerFirst(serverFirst: string): Promise<string> {
    const prove = this.secret;
    if (typeof prove === 'string') return this.handleServerFirst(serverFirst);
    const challenge = this.readChallenge(serverFirst);
    const answer = await prove({
      clientFirst: this.gs2Header + this.clientFirstBare,
      serverFirst,
      channelBinding: this.channelBinding?.data ?? null,
    });
    // The answer must be for this exchange: our binding and the server's nonce, nothing else.
    const proof = answer.clientFinal.startsWith(`${challenge.withoutProof},p=`)
      ? answer.clientFinal.slice(challenge.withoutProof.length + 3)
      : '';
    if (decodeBase64(proof, 'proof').length !== KEY_LENGTH) {
      throw new ScramError('the SCRAM proof received is not for this exchange');
    }
    this.state = { step: 'final-sent', expectedServerSignature: readServerSignature(answer.serverFinal) };
    return answer.clientFinal;
  }

  verifyServerFinal(serverFinal: string): void {
    const state = this.state;
    if (state.step !== 'final-sent') throw new ScramError('unexpected SCRAM server-final-message');
    this.state = { step: 'failed' };
    const signature = readServerSignature(serverFinal);
    if (!constantTimeEqual(signature, state.expectedServerSignature)) {
      throw new ScramError('SCRAM server signature is invalid: the server does not know the password');
    }
    this.state = { step: 'verified' };
  }

  private readChallenge(serverFirst: string): ServerChallenge {
    if (this.state.step !== 'first-sent') throw new ScramError('unexpected SCRAM server-first-message');
    this.state = { step: 'failed' };
    const attributes = parseAttributes(serverFirst);
    rejectMandatoryExtension(attributes);
    const nonce = validNonce(expectAttribute(attributes, 0, 'r'));
    const salt = decodeBase64(expectAttribute(attributes, 1, 's'), 'salt');
    const iterationText = expectAttribute(attributes, 2, 'i');

    if (!nonce.startsWith(this.clientNonce) || nonce.length <= this.clientNonce.length) {
      throw new ScramError('SCRAM server nonce does not extend the client nonce');
    }
    if (salt.length === 0) throw new ScramError('SCRAM salt is empty');
    const iterations = /^[1-9][0-9]{0,9}$/.test(iterationText) ? Number(iterationText) : NaN;
    if (!(iterations >= 1 && iterations <= MAX_ITERATIONS)) {
      throw new ScramError(`SCRAM iteration count out of range: ${iterationText}`);
    }
    const withoutProof = `c=${channelBindingInput(this.gs2Header, this.channelBinding)},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    return { withoutProof, authMessage, salt, iterations };
  }
}

/** The signature of a server-final-message ("v=…"); an "e=…" is the server's refusal. */
function readServerSignature(serverFinal: string): Buffer {
  const attributes = parseAttributes(serverFinal);
  if (attributes[0]?.[0] === 'e') throw new ScramError(`SCRAM authentication failed: ${attributes[0][1]}`);
  return decodeBase64(expectAttribute(attributes, 0, 'v'), 'server signature');
}

// ---------------------------------------------------------------------------------------------
// tls-server-end-point (RFC 5929 section 4.1)

/** The channel-binding data: the server certificate hashed with its signature's hash algorithm. */
export function tlsServerEndPoint(certDer: Buffer): Buffer {
  return createHash(endPointHash(certDer)).update(certDer).digest();
}

const SIGNATURE_HASHES: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'sha256', // md5WithRSAEncryption: RFC 5929 says use SHA-256
  '1.2.840.113549.1.1.5': 'sha256', // sha1WithRSAEncryption: likewise
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha256', // ecdsa-with-SHA1
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.10040.4.3': 'sha256', // dsa-with-sha1
  '2.16.840.1.101.3.4.3.1': 'sha224',
  '2.16.840.1.101.3.4.3.2': 'sha256',
};

const DIGESTS: Record<string, string> = {
  '1.3.14.3.2.26': 'sha256', // SHA-1 is upgraded to SHA-256
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

const RSASSA_PSS = '1.2.840.113549.1.1.10';

function endPointHash(certDer: Buffer): string {
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signature }
  const certificate = readDer(certDer, 0, 0x30);
  const tbs = readDer(certDer, certificate.start, 0x30);
  const algorithm = readDer(certDer, tbs.end, 0x30);
  const oid = readDer(certDer, algorithm.start, 0x06);
  const name = decodeOid(certDer.subarray(oid.start, oid.end));
  if (name === RSASSA_PSS) return pssHash(certDer, oid.end, algorithm.end);
  const hash = SIGNATURE_HASHES[name];
  if (!hash) throw new ScramError(`no channel-binding hash for certificate signature algorithm ${name}`);
  return hash;
}

/** RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier DEFAULT sha1, ... } */
function pssHash(der: Buffer, paramsAt: number, end: number): string {
  if (paramsAt >= end) return 'sha256';
  const params = readDer(der, paramsAt, 0x30);
  if (params.start >= params.end || der[params.start] !== 0xa0) return 'sha256';
  const explicit = readDer(der, params.start, 0xa0);
  const identifier = readDer(der, explicit.start, 0x30);
  const oid = readDer(der, identifier.start, 0x06);
  const name = decodeOid(der.subarray(oid.start, oid.end));
  const hash = DIGESTS[name];
  if (!hash) throw new ScramError(`no channel-binding hash for RSASSA-PSS digest ${name}`);
  return hash;
}

/** One DER element: checks its tag and returns where its contents start and end. */
function readDer(der: Buffer, at: number, tag: number): { start: number; end: number } {
  if (der[at] !== tag) throw new ScramError('malformed certificate');
  let lengthByte = der[at + 1];
  if (lengthByte === undefined) throw new ScramError('malformed certificate');
  let start = at + 2;
  let length = lengthByte;
  if (lengthByte & 0x80) {
    const count = lengthByte & 0x7f;
    if (count === 0 || count > 4) throw new ScramError('malformed certificate');
    length = 0;
    for (let i = 0; i < count; i++) {
      lengthByte = der[start + i];
      if (lengthByte === undefined) throw new ScramError('malformed certificate');
      length = length * 256 + lengthByte;
    }
    start += count;
  }
  const end = start + length;
  if (end > der.length) throw new ScramError('malformed certificate');
  return { start, end };
}

function decodeOid(bytes: Buffer): string {
  const parts: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if (byte & 0x80) continue;
    if (parts.length === 0) {
      const first = Math.min(Math.floor(value / 40), 2);
      parts.push(first, value - first * 40);
    } else {
      parts.push(value);
    }
    value = 0;
  }
  return parts.join('.');
}
