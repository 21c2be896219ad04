/**
 * The upstream leg: an ssh2 client to the target whose host key must be one the hub pinned (never trust
 * on first use), authenticated with a public key whose signatures come from a Signer — the hub, for a
 * connected tunnel — so the private key never reaches this process.
 */
import type { Duplex } from 'node:stream';
import ssh2, { type Client as SshClient, type ParsedKey } from 'ssh2';
import { fingerprint, hostKeyAlgorithms, sameKey, type PublicKey } from './keys.ts';

// ssh2 is CommonJS: Node's ESM loader does not find utils as a named export.
const { BaseAgent, Client, utils } = ssh2;

/** Signs one SSH user-authentication request for the upstream's public key. */
export interface Signer {
  /** The public key the signatures verify against. */
  publicKey: PublicKey;
  /** `hash` is sha256/sha512 for rsa-sha2-*; undefined otherwise. */
  sign(data: Buffer, hash: string | undefined): Promise<Buffer>;
}

export interface SshUpstreamConfig {
  host: string;
  port: number;
  user: string;
  /** The server's host keys as the hub pinned them; the connection fails on any other. */
  hostKeys: readonly PublicKey[];
  signer: Signer;
  /** How long connecting and authenticating may take. Default 10 s. */
  readyTimeoutMs?: number;
  /** Dial through this instead of TCP (a bastion's forwarded channel). */
  sock?: Duplex;
}

export class SshUpstreamError extends Error {
  override name = 'SshUpstreamError';
  constructor(
    message: string,
    readonly code: 'host-key' | 'auth' | 'unreachable',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An ssh2 agent whose keys are the signer's one key and whose signatures come from the signer. */
class SignerAgent extends BaseAgent {
  constructor(private readonly signer: Signer) {
    super();
  }

  override getIdentities(callback: (error: Error | undefined, keys?: ParsedKey[]) => void): void {
    const key = utils.parseKey(
      `${this.signer.publicKey.type} ${this.signer.publicKey.blob.toString('base64')}`,
    );
    if (key instanceof Error) callback(key);
    else callback(undefined, [key as ParsedKey]);
  }

  override sign(
    _key: ParsedKey,
    data: Buffer,
    options: { hash?: string } | ((error?: Error, signature?: Buffer) => void),
    callback?: (error?: Error, signature?: Buffer) => void,
  ): void {
    const done = typeof options === 'function' ? options : callback!;
    const hash = typeof options === 'function' ? undefined : options?.hash;
    this.signer.sign(data, hash).then(
      (signature) => done(undefined, signature),
      (error: Error) => done(error),
    );
  }
}

export interface SshUpstream {
  client: SshClient;
  /** The host key the server presented (one of the pinned). */
  hostKey: Buffer;
}

/** Connects and authenticates; rejects with an SshUpstreamError that says which step failed. */
export function connectSshUpstream(config: SshUpstreamConfig): Promise<SshUpstream> {
  const client = new Client();
  let presented: Buffer | undefined;
  let signingError: Error | undefined;
  const agent = new SignerAgent({
    publicKey: config.signer.publicKey,
    sign: (data, hash) =>
      config.signer.sign(data, hash).catch((error: Error) => {
        signingError = error;
        throw error;
      }),
  });
  return new Promise<SshUpstream>((resolve, reject) => {
    let failed = false;
    // Stays attached after the first failure: ending a half-open connection makes ssh2 report the loss
    // again ("Connection lost before handshake"), and an error nobody listens to ends the process.
    const fail = (error: unknown): void => {
      if (failed) return;
      failed = true;
      client.removeAllListeners('ready');
      client.end();
      reject(describeFailure(error, config, presented, signingError));
    };
    client.once('ready', () => {
      client.off('error', fail);
      resolve({ client, hostKey: presented! });
    });
    client.on('error', fail);
    client.connect({
      host: config.host,
      port: config.port,
      username: config.user,
      agent,
      ...(config.sock ? { sock: config.sock } : {}),
      readyTimeout: config.readyTimeoutMs ?? 10_000,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
      tryKeyboard: false,
      algorithms: { serverHostKey: hostKeyAlgorithms(config.hostKeys) as never },
      hostVerifier: (key: Buffer) => {
        presented = key;
        return config.hostKeys.some((pinned) => sameKey(pinned.blob, key));
      },
    });
  });
}

function describeFailure(
  error: unknown,
  config: SshUpstreamConfig,
  presented: Buffer | undefined,
  signingError: Error | undefined,
): SshUpstreamError {
  const where = `${config.host}:${config.port}`;
  const message = (error as Error)?.message ?? String(error);
  if (presented && !config.hostKeys.some((pinned) => sameKey(pinned.blob, presented))) {
    return new SshUpstreamError(
      `the host key of ${where} (${fingerprint(presented)}) is not the one pinned for this target; ` +
        'refusing to connect (the server may have been replaced, or someone is in between)',
      'host-key',
      { cause: error },
    );
  }
  if (signingError) {
    return new SshUpstreamError(`could not sign in to ${where}: ${signingError.message}`, 'auth', {
      cause: error,
    });
  }
  if ((error as { level?: string })?.level === 'client-authentication') {
    return new SshUpstreamError(`${where} refused the target's key for user ${config.user}`, 'auth', {
      cause: error,
    });
  }
  return new SshUpstreamError(`cannot reach ${where}: ${message}`, 'unreachable', { cause: error });
}
