/**
 * A local guarded tunnel to one SSH target: an ssh2 server on a loopback port, with a host key stable per
 * target, whose clients sign in with the tunnel's own key pair or password and are proxied, channel by
 * channel, to the target under the policy's `ssh:` section.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import ssh2, { type ClientInfo, type Connection, type Server } from 'ssh2';
import type { Approver } from '../policy/approver.ts';
import { createDetector } from '../policy/masking/detectors.ts';
import type { Policy } from '../policy/policy.ts';
import { recordNothing, type RecordingPoint } from '../recorder/recording-point.ts';
import type { PublicKey } from './keys.ts';
import { sshConfigBlock, type LocalIdentity } from './local-identity.ts';
import { SshConnection } from './ssh-connection.ts';
import type { Signer, SshUpstreamConfig } from './upstream.ts';

// ssh2 is CommonJS: Node's ESM loader finds none of these as named exports.
const { Server: SshServer } = ssh2;

export interface SshTunnelOptions {
  targetId: string;
  /** For the ssh_config block's comment: "Shop web server". */
  targetName?: string;
  upstream: Omit<SshUpstreamConfig, 'signer' | 'sock'> & { via?: string; dial?: () => Promise<Duplex> };
  /** The signer for one client connection (the hub records each signature with the connection). */
  signerFor(connectionId: string): Signer;
  identity: LocalIdentity;
  policy: Policy;
  /** The hub session the recording and held commands belong to. */
  sessionId: string;
  approver?: Approver;
  recorder?: RecordingPoint;
  /** Loopback address; 127.0.0.1 unless asked otherwise. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** The per-tunnel password; generated when not given. */
  password?: string;
  admit?: () => Promise<void>;
  authenticationTimeoutMs?: number;
  log?: (message: string) => void;
}

/** What a local client needs: shown to the user, never the upstream's credentials. */
export interface SshEndpoint {
  kind: 'ssh';
  host: string;
  port: number;
  listen: string;
  user: string;
  password: string;
  identityFile: string;
  knownHostsFile: string;
  hostKeyAlias: string;
  /** ssh://user@host:port */
  url: string;
  /** A ready-to-use ssh_config `Host TARGET` block. */
  sshConfig: string;
  /** The ssh_config include file the block is also written to, when the tunnel keeps one. */
  includeFile?: string;
}

/**
 * The loopback leg offers AES only: OpenSSH would otherwise choose ChaCha20-Poly1305, which ssh2 runs
 * several times slower than AES-GCM (hardware-accelerated in Node's crypto).
 */
const LOCAL_CIPHERS = [
  'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com',
  'aes128-ctr',
  'aes256-ctr',
] as never;

export class SshTunnel {
  private server: Server | undefined;
  private readonly connections = new Set<SshConnection>();
  private readonly password: string;
  private endpointValue: SshEndpoint | undefined;
  private readonly ended = { fromClient: 0, toClient: 0 };
  private readonly detector;

  constructor(private readonly options: SshTunnelOptions) {
    this.password = options.password ?? randomBytes(24).toString('base64url');
    const mask = options.policy.ssh.maskOutput;
    this.detector = mask.length > 0 ? createDetector(mask) : undefined;
  }

  get endpoint(): SshEndpoint {
    if (!this.endpointValue) throw new Error('the tunnel is not listening');
    return this.endpointValue;
  }

  get clientKey(): PublicKey {
    return this.options.identity.clientPublicKey;
  }

  traffic(): { connections: number; bytesFromClient: number; bytesToClient: number } {
    const traffic = {
      connections: this.connections.size,
      bytesFromClient: this.ended.fromClient,
      bytesToClient: this.ended.toClient,
    };
    for (const connection of this.connections) {
      traffic.bytesFromClient += connection.traffic.fromClient;
      traffic.bytesToClient += connection.traffic.toClient;
    }
    return traffic;
  }

  async listen(): Promise<SshEndpoint> {
    const host = this.options.host ?? '127.0.0.1';
    const server = new SshServer(
      {
        hostKeys: [this.options.identity.hostKey],
        ident: 'Portcullis',
        algorithms: { cipher: LOCAL_CIPHERS },
      },
      (connection, info) => this.accept(connection, info),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error: Error) => this.log(`listener error: ${error.message}`));
    this.server = server;
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const hostInUrl = host.includes(':') ? `[${host}]` : host;
    const { identity, targetId } = this.options;
    const user = this.options.upstream.user;
    this.endpointValue = {
      kind: 'ssh',
      host,
      port,
      listen: `${hostInUrl}:${port}`,
      user,
      password: this.password,
      identityFile: identity.clientKeyFile,
      knownHostsFile: identity.knownHostsFile,
      hostKeyAlias: identity.hostKeyAlias,
      url: `ssh://${encodeURIComponent(user)}@${hostInUrl}:${port}`,
      sshConfig: sshConfigBlock({
        targetId,
        description: `${this.options.targetName ?? targetId} through the guarded tunnel`,
        host,
        port,
        user,
        identityFile: identity.clientKeyFile,
        knownHostsFile: identity.knownHostsFile,
        hostKeyAlias: identity.hostKeyAlias,
      }),
    };
    return this.endpointValue;
  }

  /** Stops listening and ends every connection, waiting (up to `graceMs`) for their last events. */
  async close(reason = 'the tunnel is shutting down', graceMs = 5000): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const connections = [...this.connections];
    for (const connection of connections) connection.terminate(reason);
    const grace = setTimeout(() => connections.forEach((c) => c.destroy()), graceMs);
    await Promise.all(connections.map((c) => c.closed));
    clearTimeout(grace);
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    await this.options.recorder?.close?.();
  }

  private accept(connection: Connection, info: ClientInfo): void {
    const connectionId = randomUUID();
    const options = this.options;
    const proxy = new SshConnection(connection, info, {
      connectionId,
      targetId: options.targetId,
      clientKey: options.identity.clientPublicKey,
      password: this.password,
      upstream: options.upstream,
      signer: options.signerFor(connectionId),
      policy: options.policy,
      approver: options.approver,
      detector: this.detector,
      recorder: options.recorder ?? recordNothing,
      ...(options.admit ? { admit: options.admit } : {}),
      authenticationTimeoutMs: options.authenticationTimeoutMs ?? 60_000,
      log: (message) => this.log(message),
    });
    this.connections.add(proxy);
    void proxy.closed.then(() => {
      if (this.connections.delete(proxy)) {
        this.ended.fromClient += proxy.traffic.fromClient;
        this.ended.toClient += proxy.traffic.toClient;
      }
    });
  }

  private log(message: string): void {
    this.options.log?.(message);
  }
}
