/**
 * Port forwarding: `direct-tcpip` channels (ssh -L, VS Code's port forwards) reach only the destinations
 * the policy lists, opened from the target as OpenSSH would; each is recorded when it opens and, with
 * the bytes it moved, when it closes. Remote forwarding (-R), forwarding to Unix sockets, agent and X11
 * forwarding are refused and recorded.
 */
import type {
  AcceptConnection,
  Client,
  ClientChannel,
  RejectConnection,
  ServerChannel,
  TcpipRequestInfo,
} from 'ssh2';
import type { Policy } from '../policy/policy.ts';
import { forwardAllowed } from '../policy/ssh-policy.ts';
import type { SessionEvent } from '../recorder/recording-point.ts';

export interface ForwardContext {
  channel: number;
  policy: Policy;
  upstream(): Promise<Client>;
  record(event: SessionEvent): void;
  count(direction: 'fromClient' | 'toClient', bytes: number): void;
}

export async function forwardDirectTcpip(
  accept: AcceptConnection<ServerChannel>,
  reject: RejectConnection,
  info: TcpipRequestInfo,
  ctx: ForwardContext,
): Promise<void> {
  const destination = { host: info.destIP, port: info.destPort };
  const base: ForwardRecord = {
    type: 'forward' as const,
    channel: ctx.channel,
    direction: 'local' as const,
    destination,
    origin: { host: info.srcIP, port: info.srcPort },
  };
  const { allowed, rule } = forwardRule(ctx.policy, destination);
  if (!allowed) {
    reject();
    ctx.record({ ...base, decision: 'deny', rule });
    return;
  }
  let upstream: [ClientChannel, Promise<void>];
  try {
    upstream = await openUpstream(await ctx.upstream(), info);
  } catch (error) {
    reject();
    ctx.record({ ...base, decision: 'allow', rule, closed: true, error: (error as Error).message });
    return;
  }
  const client = accept();
  ctx.record({ ...base, decision: 'allow', rule });
  pipeUntilClosed(client, upstream, ctx, { ...base, decision: 'allow', rule });
}

/** What a forward's events have in common: which channel, which way, from where to where. */
type ForwardRecord = Pick<
  Extract<SessionEvent, { type: 'forward' }>,
  'type' | 'channel' | 'direction' | 'destination' | 'origin'
>;

/** Whether the policy lets DESTINATION be reached (observe lets all through, saying what it would deny). */
function forwardRule(
  policy: Policy,
  destination: { host: string; port: number },
): { allowed: boolean; rule: string } {
  const listed = forwardAllowed(policy.ssh, destination.host, destination.port);
  const observing = policy.preset === 'observe';
  const rule = listed
    ? `${policy.name}: ssh.forward`
    : observing
      ? 'observe (would deny: not in ssh.forward)'
      : `${policy.name}: ssh.forward does not list ${destination.host}:${destination.port}`;
  return { allowed: listed || observing, rule };
}

/** The upstream channel to the destination, and its close. */
function openUpstream(connection: Client, info: TcpipRequestInfo): Promise<[ClientChannel, Promise<void>]> {
  // The close is watched from the start: a refused connection can open and close in one read.
  return new Promise<[ClientChannel, Promise<void>]>((resolve, fail) =>
    connection.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (error, channel) =>
      error ? fail(error) : resolve([channel, new Promise((done) => channel.once('close', () => done()))]),
    ),
  );
}

/** Relays both ways until either side closes; then closes both and records the bytes that passed. */
function pipeUntilClosed(
  client: ServerChannel,
  [upstream, upstreamClosed]: [ClientChannel, Promise<void>],
  ctx: ForwardContext,
  opened: Extract<SessionEvent, { type: 'forward' }>,
): void {
  const bytes = { fromClient: 0, toClient: 0 };
  relay(client, upstream, (n) => {
    bytes.fromClient += n;
    ctx.count('fromClient', n);
  });
  relay(upstream, client, (n) => {
    bytes.toClient += n;
    ctx.count('toClient', n);
  });
  let done = false;
  const finished = (): void => {
    if (done) return;
    done = true;
    client.close();
    upstream.close();
    ctx.record({ ...opened, closed: true, bytesFromClient: bytes.fromClient, bytesToClient: bytes.toClient });
  };
  client.on('close', finished);
  void upstreamClosed.then(finished);
}

/** Pipes with backpressure, counting what passes; EOF is passed on as EOF (half-close). */
function relay(
  from: ServerChannel | ClientChannel,
  to: ServerChannel | ClientChannel,
  counted: (n: number) => void,
): void {
  from.on('data', (chunk: Buffer) => {
    counted(chunk.length);
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.on('end', () => to.end());
}
