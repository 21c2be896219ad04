/**
 * Clients that misbehave on purpose, each running until `stop` is set, each counting what it did and what
 * the tunnel did to it. They speak raw bytes: no driver would send these.
 */
import { connect, type Socket } from 'node:net';
import { serialize } from 'pg-protocol';
import { RawClient, scramClientSide } from '../test/support/raw-client.ts';
import {
  AFTER_SIGN_IN,
  BEFORE_SIGN_IN,
  mutatedBatch,
  randomSplits,
  TERMINATE,
  type Random,
} from './mutations.ts';

export interface Stop {
  stopped: boolean;
}

export interface Tally {
  connections: number;
  messages: number;
  /** The tunnel closed the connection itself. */
  closedByTunnel: number;
  /** Still open when the client gave up waiting: for a fuzzer, a connection the tunnel left hanging. */
  leftOpen: number;
  errors: number;
  bytesSent: number;
  notes: Record<string, number>;
}

export const emptyTally = (): Tally => ({
  connections: 0,
  messages: 0,
  closedByTunnel: 0,
  leftOpen: 0,
  errors: 0,
  bytesSent: 0,
  notes: {},
});

const note = (tally: Tally, what: string): void => void (tally.notes[what] = (tally.notes[what] ?? 0) + 1);
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Half-open (keeps writing after the tunnel's FIN, as a hostile client does); `ended` once that FIN came. */
function openSocket(port: number): Promise<Socket & { ended?: boolean }> {
  return new Promise((resolve, reject) => {
    const socket: Socket & { ended?: boolean } = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    socket.once('end', () => (socket.ended = true));
    socket.once('close', () => (socket.ended = true));
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

const gone = (socket: Socket & { ended?: boolean }): boolean => socket.destroyed || socket.ended === true;

/** Resolves true once the tunnel ends the connection, false if it is still open after `ms`. */
function closedWithin(socket: Socket & { ended?: boolean }, ms: number): Promise<boolean> {
  if (gone(socket)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    socket.once('end', done);
    socket.once('close', done);
  });
}

/** Writes the pieces one event-loop turn apart (so they arrive as separate reads), unless it closes. */
async function dribble(socket: Socket, pieces: Buffer[], tally: Tally): Promise<void> {
  for (const piece of pieces) {
    if (socket.destroyed || !socket.writable) return;
    socket.write(piece);
    tally.bytesSent += piece.length;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Mutated startup, SSL, cancel and SASL messages on fresh connections, split at random boundaries. */
export async function fuzzBeforeSignIn(
  port: number,
  random: Random,
  stop: Stop,
  tally: Tally,
): Promise<void> {
  while (!stop.stopped) {
    let socket: Socket & { ended?: boolean };
    try {
      socket = await openSocket(port);
    } catch {
      tally.errors++;
      await pause(50);
      continue;
    }
    socket.on('error', () => {});
    socket.on('data', () => {});
    tally.connections++;
    const count = 1 + Math.floor(random() * 16);
    tally.messages += count;
    await dribble(socket, randomSplits(random, mutatedBatch(random, BEFORE_SIGN_IN, count)), tally);
    if (await closedWithin(socket, 2000)) tally.closedByTunnel++;
    else tally.leftOpen++; // waiting for the rest of a message it was promised: the auth timeout ends it
    socket.destroy();
  }
}

/** Signs in properly, then sends mutated extended/simple/COPY/FunctionCall messages. */
export async function fuzzAfterSignIn(
  port: number,
  credentials: { user: string; password: string },
  random: Random,
  stop: Stop,
  tally: Tally,
): Promise<void> {
  while (!stop.stopped) {
    let client: RawClient;
    try {
      client = await RawClient.login(port, credentials.user, credentials.password);
    } catch {
      tally.errors++;
      await pause(100);
      continue;
    }
    tally.connections++;
    const count = 1 + Math.floor(random() * 32);
    tally.messages += count;
    const batch = Buffer.concat([mutatedBatch(random, AFTER_SIGN_IN, count), serialize.sync()]);
    await dribble(client.socket, randomSplits(random, batch), tally);
    if (await closedWithin(client.socket, 1000)) tally.closedByTunnel++;
    else {
      client.socket.write(TERMINATE());
      if (!(await closedWithin(client.socket, 1000))) tally.leftOpen++;
    }
    client.socket.destroy();
  }
}

/** Fails SCRAM with a wrong password, then keeps sending 64 KiB chunks: the tunnel must cut it off. */
export async function talkAfterRefusal(port: number, user: string, stop: Stop, tally: Tally): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 0x51);
  while (!stop.stopped) {
    let socket: Socket & { ended?: boolean };
    try {
      socket = await openSocket(port);
    } catch {
      tally.errors++;
      await pause(50);
      continue;
    }
    socket.on('error', () => {});
    tally.connections++;
    let proofSentAt = 0;
    let fatal = false;
    const scram = scramClientSide(socket, 'not the password', {
      proofSent: () => (proofSentAt = Date.now()),
      other(data) {
        if (!data.includes(Buffer.from('FATAL'))) return;
        fatal = true;
        note(tally, 'FATAL received');
        note(tally, `FATAL ${Date.now() - proofSentAt <= 1000 ? '≤' : '>'} 1 s after the wrong proof`);
      },
    });
    socket.write(serialize.startup({ user, database: user }));
    const started = Date.now();
    while (!socket.destroyed && Date.now() - started < 10_000 && !stop.stopped) {
      if (scram.stage === 2 && socket.writable) {
        socket.write(chunk);
        tally.bytesSent += chunk.length;
      }
      await pause(5);
    }
    if (socket.destroyed || socket.ended) tally.closedByTunnel++;
    else tally.leftOpen++;
    // Why a FATAL did not come: the client gave up (or the run ended) before the tunnel answered, or the
    // tunnel closed without it; and how far the SCRAM exchange had got.
    if (!fatal) note(tally, `no FATAL, ${gone(socket) ? 'closed' : 'gave up'} ${SCRAM_STAGES[scram.stage]}`);
    socket.destroy();
  }
}

const SCRAM_STAGES = ['before SASL began', 'mid-SASL', 'after the wrong proof'];

/** Holds `count` connections that send three bytes of a startup packet and nothing else. */
export async function slowloris(port: number, count: number, stop: Stop, tally: Tally): Promise<void> {
  const one = async (): Promise<void> => {
    while (!stop.stopped) {
      let socket: Socket & { ended?: boolean };
      try {
        socket = await openSocket(port);
      } catch {
        tally.errors++;
        await pause(200);
        continue;
      }
      socket.on('error', () => {});
      socket.on('data', () => {});
      tally.connections++;
      socket.write(Buffer.from([0, 0, 0]));
      while (!gone(socket) && !stop.stopped) await pause(100);
      if (gone(socket)) tally.closedByTunnel++;
      socket.destroy();
    }
  };
  await Promise.all(Array.from({ length: count }, one));
}

/** Announces a 60 MiB message before signing in and streams it: it must be refused at once. */
export async function giantBeforeSignIn(port: number, stop: Stop, tally: Tally): Promise<void> {
  const chunk = Buffer.alloc(256 * 1024, 0x41);
  while (!stop.stopped) {
    let socket: Socket & { ended?: boolean };
    try {
      socket = await openSocket(port);
    } catch {
      tally.errors++;
      await pause(50);
      continue;
    }
    socket.on('error', () => {});
    socket.on('data', () => {});
    tally.connections++;
    const header = Buffer.alloc(8);
    header.writeInt32BE(60 * 1024 * 1024, 0);
    header.writeInt32BE(196608, 4);
    const started = Date.now();
    socket.write(header);
    let sent = 0;
    // Only what the kernel takes: Node would buffer the rest in this process, not send it.
    while (!gone(socket) && sent < 60 * 1024 * 1024 && !stop.stopped) {
      if (socket.writableLength > 0) {
        await pause(10);
        continue;
      }
      socket.write(chunk);
      sent += chunk.length;
      tally.bytesSent += chunk.length;
    }
    if (await closedWithin(socket, 2000)) {
      tally.closedByTunnel++;
      note(
        tally,
        `closed within ${Date.now() - started < 1000 ? '1 s' : `${Math.ceil((Date.now() - started) / 1000)} s`}, ≤${Math.ceil(sent / (1024 * 1024))} MiB sent`,
      );
    } else tally.leftOpen++;
    socket.destroy();
  }
}

/** A signed-in client sending 2 MiB statements: each must be denied (54000), the connection kept. */
export async function oversizedStatements(
  port: number,
  credentials: { user: string; password: string },
  stop: Stop,
  tally: Tally,
): Promise<void> {
  const statement = `select '${'x'.repeat(2 * 1024 * 1024)}'`;
  while (!stop.stopped) {
    let client: RawClient;
    try {
      client = await RawClient.login(port, credentials.user, credentials.password);
    } catch {
      tally.errors++;
      await pause(100);
      continue;
    }
    tally.connections++;
    for (let i = 0; i < 5 && !stop.stopped; i++) {
      client.write(serialize.query(statement));
      tally.messages++;
      tally.bytesSent += statement.length;
      const answer = await client.until('Z').catch(() => undefined);
      if (!answer) break;
      const error = answer.find((m) => m.type === 'E');
      note(tally, error?.bytes.includes(Buffer.from('C54000')) ? 'denied 54000' : 'not denied');
    }
    client.write(TERMINATE());
    client.socket.destroy();
  }
}
