/**
 * The sftp subsystem, proxied packet by packet between the client's channel and the upstream's: each
 * request is judged (SftpSession) before it is forwarded or refused with a STATUS reply, each reply is
 * read for handles and byte counts. Packets pass unchanged, with backpressure both ways, so OpenSSH's
 * pipelined transfers (scp over sftp, sftp put/get) keep their speed.
 */
import type { ClientChannel, ServerChannel } from 'ssh2';
import type { SessionEvent } from '../../recorder/recording-point.ts';
import { SftpFramer } from './sftp-packets.ts';
import { SftpSession } from './sftp-session.ts';

export interface SftpProxyOptions {
  channel: number;
  readOnly: boolean;
  rule: string;
  record(event: SessionEvent): void;
  moved(direction: 'fromClient' | 'toClient', bytes: number): void;
}

/** Starts proxying; `end()` is called once the upstream channel has closed. */
export function proxySftp(
  client: ServerChannel,
  upstream: ClientChannel,
  options: SftpProxyOptions,
): { end(): void } {
  const session = new SftpSession(options);
  const requests = new SftpFramer();
  const replies = new SftpFramer();
  const broken = (error: Error): void => {
    options.record({
      type: 'ssh.refused',
      channel: options.channel,
      what: 'a malformed sftp stream',
      detail: error.message,
      rule: 'protocol',
    });
    upstream.close();
    client.close();
  };
  const toClient = (packet: Buffer): void => {
    options.moved('toClient', packet.length);
    if (!client.write(packet)) {
      upstream.pause();
      client.once('drain', () => upstream.resume());
    }
  };

  client.on('data', (chunk: Buffer) => {
    options.moved('fromClient', chunk.length);
    try {
      requests.push(chunk, (packet) => {
        const decision = session.request(packet);
        if (!decision.forward) return toClient(decision.reply);
        if (!upstream.write(packet)) {
          client.pause();
          upstream.once('drain', () => client.resume());
        }
      });
    } catch (error) {
      broken(error as Error);
    }
  });
  upstream.on('data', (chunk: Buffer) => {
    try {
      replies.push(chunk, (packet) => {
        session.reply(packet);
        toClient(packet);
      });
    } catch (error) {
      broken(error as Error);
    }
  });
  upstream.stderr.pipe(client.stderr, { end: false });
  client.on('end', () => upstream.end());
  return { end: () => session.end() };
}
