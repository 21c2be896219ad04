/**
 * A bastion a Postgres target is reached through: one SSH connection per tunnel (host key pinned, sign-in
 * signed by the hub), opened when the first client connects and again after it drops, over which each
 * upstream connection is a `direct-tcpip` channel (ssh2 forwardOut) to the database. Everything after
 * the dial — TLS, authentication, the guard — is what it would be over TCP.
 */
import type { Socket } from 'node:net';
import type { Client, ClientChannel } from 'ssh2';
import type { SessionEvent } from '../recorder/recording-point.ts';
import { fingerprint, type PublicKey } from './keys.ts';
import { connectSshUpstream, type Signer } from './upstream.ts';

export interface BastionOptions {
  /** The bastion's target id, for messages and the recording. */
  targetId: string;
  host: string;
  port: number;
  user: string;
  hostKeys: readonly PublicKey[];
  signer: Signer;
  /** The tunnel's own recording (tunnel-level events). */
  record(event: SessionEvent): void;
  log(message: string): void;
}

/** An ssh2 channel as the Postgres upstream code uses a socket: the TCP-only knobs do nothing. */
function asSocket(channel: ClientChannel): Socket {
  return Object.assign(channel, {
    setNoDelay: () => channel,
    setKeepAlive: () => channel,
    remoteAddress: undefined,
  }) as unknown as Socket;
}

export class SshBastion {
  private connection: Promise<Client> | undefined;
  private closed = false;

  constructor(private readonly options: BastionOptions) {}

  /** A channel from the bastion to host:port, shaped like a connected socket. */
  async dial(host: string, port: number): Promise<Socket> {
    if (this.closed) throw new Error(`the connection through ${this.options.targetId} is closed`);
    const client = await this.connect();
    const channel = await new Promise<ClientChannel>((resolve, reject) =>
      client.forwardOut('127.0.0.1', 0, host, port, (error, opened) =>
        error ? reject(through(this.options.targetId, host, port, error)) : resolve(opened),
      ),
    );
    return asSocket(channel);
  }

  close(): void {
    this.closed = true;
    void this.connection?.then(
      (client) => client.end(),
      () => undefined,
    );
    this.connection = undefined;
  }

  private connect(): Promise<Client> {
    this.connection ??= this.open().catch((error: Error) => {
      this.connection = undefined;
      throw error;
    });
    return this.connection;
  }

  private async open(): Promise<Client> {
    const { options } = this;
    const { client, hostKey } = await connectSshUpstream({
      host: options.host,
      port: options.port,
      user: options.user,
      hostKeys: options.hostKeys,
      signer: options.signer,
    });
    const where = {
      via: options.targetId,
      host: options.host,
      port: options.port,
      user: options.user,
      hostKey: fingerprint(hostKey),
    };
    options.record({ type: 'ssh.bastion', state: 'connected', ...where });
    client.on('error', (error) => options.log(`bastion ${options.targetId}: ${error.message}`));
    client.once('close', () => {
      options.record({ type: 'ssh.bastion', state: 'closed', ...where });
      this.connection = undefined;
    });
    return client;
  }
}

function through(bastion: string, host: string, port: number, error: Error): Error {
  return new Error(`${bastion} could not open a connection to ${host}:${port}: ${error.message}`, {
    cause: error,
  });
}
