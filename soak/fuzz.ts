/**
 * The protocol fuzzer: connections at once send generated and mutated frontend messages to a running tunnel,
 * before and after sign-in, split at random byte boundaries, until a budget of messages is spent.
 *
 * Each batch must end one of three ways: the tunnel answers it (after sign-in: a ReadyForQuery for the Sync
 * that ends the batch), the tunnel closes the connection, or, when the tunnel waits for bytes the mutated
 * message promised, it closes as soon as the client stops sending (its FIN). A connection that the tunnel
 * neither answers nor closes after that is `hung`: a defect.
 */
import { connect, type Socket } from 'node:net';
import { serialize } from 'pg-protocol';
import { RawClient } from '../test/support/raw-client.ts';
import {
  AFTER_SIGN_IN,
  BEFORE_SIGN_IN,
  mutatedBatch,
  randomSplits,
  seeded,
  TERMINATE,
  type Random,
} from './mutations.ts';

export interface FuzzCounts {
  /** Frontend messages sent, startup packets included; after a fatal one the rest of a batch is unread. */
  messages: number;
  connections: number;
  batches: number;
  /** Batches the tunnel answered: before sign-in any reply, after sign-in a ReadyForQuery. */
  answered: number;
  closedByTunnel: number;
  /** Left waiting for bytes a mutated length promised, and closed by the tunnel once the client sent FIN. */
  closedAfterFin: number;
  hung: number;
  /** Sign-ins or connects that failed (the tunnel's connection caps, say). */
  refusedConnects: number;
}

export interface FuzzOptions {
  port: number;
  credentials: { user: string; password: string };
  /** The budget: messages to send in all. */
  messages: number;
  seed: number;
  /** Connections fuzzing before sign-in, and after, at once. Default 16 and 8. */
  unauthenticated?: number;
  signedIn?: number;
  /** After sign-in, the share of messages mutated (the rest go whole). Default 0.01. */
  mutationRate?: number;
  /**
   * An unanswered batch waits this long before the client sends FIN. Default 300 ms before sign-in (a
   * startup packet is answered at once, or never), 1000 ms after.
   */
  quietMs?: number;
  /** After the client's FIN or Terminate, the tunnel must close within this. Default 10 s. */
  closeMs?: number;
}

const emptyCounts = (): FuzzCounts => ({
  messages: 0,
  connections: 0,
  batches: 0,
  answered: 0,
  closedByTunnel: 0,
  closedAfterFin: 0,
  hung: 0,
  refusedConnects: 0,
});

/** A connection the tunnel left open after the client's FIN, and the start of the last batch it sent. */
export interface Hang {
  where: string;
  lastBatch: string;
}

interface Fuzzing {
  options: FuzzOptions;
  counts: FuzzCounts;
  hangs: Hang[];
  left: number;
}

/** Takes up to `n` messages from the budget. */
function claim(fuzzing: Fuzzing, n: number): number {
  const taken = Math.min(n, fuzzing.left);
  fuzzing.left -= taken;
  fuzzing.counts.messages += taken;
  fuzzing.counts.batches++;
  return taken;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes the pieces one event-loop turn apart, so that most arrive as reads of their own. */
async function dribble(socket: Socket, pieces: Buffer[]): Promise<void> {
  for (const piece of pieces) {
    if (socket.destroyed || !socket.writable) return;
    socket.write(piece);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Resolves true once the tunnel has ended the connection (its FIN or a reset), false after `ms`. */
function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.destroyed || socket.readableEnded) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      socket.off('end', onClose).off('close', onClose);
      resolve(closed);
    };
    const onClose = (): void => done(true);
    const timer = setTimeout(() => done(false), ms);
    socket.once('end', onClose).once('close', onClose);
  });
}

/** A batch nobody answered: the client stops sending, and the tunnel must close. */
async function endQuietly(fuzzing: Fuzzing, socket: Socket, where: string, last?: Buffer): Promise<void> {
  socket.end();
  if (await closedWithin(socket, fuzzing.options.closeMs ?? 10_000)) fuzzing.counts.closedAfterFin++;
  else {
    fuzzing.counts.hung++;
    fuzzing.hangs.push({ where, lastBatch: last?.subarray(0, 4096).toString('base64') ?? '' });
  }
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Fresh connections, each sending a batch of mutated startup, SSL, cancel and SASL messages. */
async function beforeSignIn(fuzzing: Fuzzing, random: Random): Promise<void> {
  const { counts } = fuzzing;
  while (fuzzing.left > 0) {
    let socket: Socket;
    try {
      socket = await open(fuzzing.options.port);
    } catch {
      counts.refusedConnects++;
      await pause(50);
      continue;
    }
    counts.connections++;
    let replied = false;
    socket.on('error', () => {}).on('data', () => (replied = true));
    const count = claim(fuzzing, 1 + Math.floor(random() * 16));
    const batch = mutatedBatch(random, BEFORE_SIGN_IN, count);
    await dribble(socket, randomSplits(random, batch));
    if (await closedWithin(socket, fuzzing.options.quietMs ?? 300)) counts.closedByTunnel++;
    else await endQuietly(fuzzing, socket, 'before sign-in', batch);
    if (replied) counts.answered++;
    socket.destroy();
  }
}

/** Resolves 'ready' at the next ReadyForQuery, 'closed' when the connection ends, 'quiet' after `ms`. */
async function readyOrClosed(client: RawClient, ms: number): Promise<'ready' | 'closed' | 'quiet'> {
  let timer: NodeJS.Timeout | undefined;
  const quiet = new Promise<'quiet'>((resolve) => (timer = setTimeout(() => resolve('quiet'), ms)));
  const reading = (async (): Promise<'ready' | 'closed'> => {
    try {
      while ((await client.next()).type !== 'Z');
      return 'ready';
    } catch {
      return 'closed';
    }
  })();
  const outcome = await Promise.race([reading, quiet]);
  clearTimeout(timer);
  return outcome;
}

/** Batches on one signed-in connection, each ending in Sync, until the tunnel closes it or it has sent enough. */
async function converse(fuzzing: Fuzzing, client: RawClient, random: Random): Promise<void> {
  const { counts, options } = fuzzing;
  for (let batches = 1 + Math.floor(random() * 200); batches > 0 && fuzzing.left > 0; batches--) {
    const count = claim(fuzzing, 1 + Math.floor(random() * 64));
    const batch = mutatedBatch(random, AFTER_SIGN_IN, count, options.mutationRate ?? 0.01);
    await dribble(client.socket, randomSplits(random, Buffer.concat([batch, serialize.sync()])));
    const outcome = await readyOrClosed(client, options.quietMs ?? 1000);
    if (outcome === 'ready') counts.answered++;
    else if (outcome === 'closed') return void counts.closedByTunnel++;
    else return endQuietly(fuzzing, client.socket, 'after sign-in', batch);
  }
  // An earlier batch's extra ReadyForQuery may have stood for the last batch's answer, while the tunnel
  // still waits for the rest of a message that batch promised: then Terminate is part of it, and FIN ends it.
  client.write(TERMINATE());
  if (await closedWithin(client.socket, options.quietMs ?? 1000)) counts.closedByTunnel++;
  else await endQuietly(fuzzing, client.socket, 'after Terminate');
}

async function afterSignIn(fuzzing: Fuzzing, random: Random): Promise<void> {
  const { port, credentials } = fuzzing.options;
  while (fuzzing.left > 0) {
    let client: RawClient;
    try {
      client = await RawClient.login(port, credentials.user, credentials.password);
    } catch {
      fuzzing.counts.refusedConnects++;
      await pause(100);
      continue;
    }
    fuzzing.counts.connections++;
    await converse(fuzzing, client, random);
    client.socket.destroy();
  }
}

export interface RunningFuzz {
  counts: FuzzCounts;
  hangs: Hang[];
  /** Messages still to send. */
  left(): number;
  /** Spends the rest of the budget: every connection finishes its batch and ends. */
  stop(): void;
  done: Promise<FuzzCounts>;
}

/** Starts the fuzzers; each connection draws from a PRNG of its own worker, seeded from `seed`. */
export function startFuzz(options: FuzzOptions): RunningFuzz {
  const fuzzing: Fuzzing = { options, counts: emptyCounts(), hangs: [], left: options.messages };
  const workers = [
    ...Array.from({ length: options.unauthenticated ?? 16 }, (_, i) =>
      beforeSignIn(fuzzing, seeded(options.seed + i)),
    ),
    ...Array.from({ length: options.signedIn ?? 8 }, (_, i) =>
      afterSignIn(fuzzing, seeded(options.seed + 1000 + i)),
    ),
  ];
  return {
    counts: fuzzing.counts,
    hangs: fuzzing.hangs,
    left: () => fuzzing.left,
    stop: () => void (fuzzing.left = 0),
    done: Promise.all(workers).then(() => fuzzing.counts),
  };
}
