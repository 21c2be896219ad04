import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { TurnWrites } from '../../tunnel/postgres/turn-writes.ts';

/** A connected pair of real TCP sockets on the loopback interface. */
async function socketPair(): Promise<{ sender: Socket; receiver: Socket; server: Server }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const sender = connect(port, '127.0.0.1');
  await once(sender, 'connect');
  const [receiver] = await accepted;
  return { sender, receiver, server };
}

/** Counts what the socket hands to the operating system: one call per write or writev. */
function countHandOffs(socket: Socket, onHandOff: () => void): void {
  const writev = socket._writev!.bind(socket);
  const write = socket._write.bind(socket);
  socket._writev = (chunks, callback) => {
    onHandOff();
    writev(chunks, callback);
  };
  socket._write = (chunk, encoding, callback) => {
    onHandOff();
    write(chunk, encoding, callback);
  };
}

async function received(receiver: Socket, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < bytes) {
    const [chunk] = (await once(receiver, 'data')) as [Buffer];
    chunks.push(chunk);
    length += chunk.length;
  }
  return Buffer.concat(chunks);
}

describe('TurnWrites', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  async function pair(): Promise<{ sender: Socket; receiver: Socket }> {
    const { sender, receiver, server } = await socketPair();
    cleanups.push(() => {
      sender.destroy();
      receiver.destroy();
      server.close();
    });
    return { sender, receiver };
  }

  it('hands everything one turn writes to a socket over in one write, after the flush before it', async () => {
    const { sender, receiver } = await pair();
    const log: string[] = [];
    countHandOffs(sender, () => log.push('write'));
    const turn = new TurnWrites(() => log.push('flush'));

    turn.write(sender, Buffer.from('one,'));
    turn.write(sender, Buffer.from('two,'));
    turn.write(sender, Buffer.from('three'));
    expect(log).toEqual([]);

    expect((await received(receiver, 13)).toString()).toBe('one,two,three');
    expect(log).toEqual(['flush', 'write']);
  });

  it('flushes once for all the sockets of a turn and releases each of them', async () => {
    const a = await pair();
    const b = await pair();
    const log: string[] = [];
    countHandOffs(a.sender, () => log.push('write a'));
    countHandOffs(b.sender, () => log.push('write b'));
    const turn = new TurnWrites(() => log.push('flush'));

    turn.write(a.sender, Buffer.from('to a'));
    turn.write(b.sender, Buffer.from('to b'));
    turn.write(a.sender, Buffer.from(', again'));

    expect((await received(a.receiver, 11)).toString()).toBe('to a, again');
    expect((await received(b.receiver, 4)).toString()).toBe('to b');
    expect(log).toEqual(['flush', 'write a', 'write b']);
  });

  it('releases each turn on its own, and nothing when a turn wrote nothing', async () => {
    const { sender, receiver } = await pair();
    let flushes = 0;
    const turn = new TurnWrites(() => flushes++);

    turn.write(sender, Buffer.from('first'));
    expect((await received(receiver, 5)).toString()).toBe('first');
    await nextTurn();
    turn.write(sender, Buffer.from('second'));
    expect((await received(receiver, 6)).toString()).toBe('second');
    turn.release();
    expect(flushes).toBe(2);
  });

  it('releases at once when asked, before a socket is ended', async () => {
    const { sender, receiver } = await pair();
    const log: string[] = [];
    countHandOffs(sender, () => log.push('write'));
    const turn = new TurnWrites(() => log.push('flush'));

    turn.write(sender, Buffer.from('last words'));
    turn.release();
    expect(log).toEqual(['flush', 'write']);
    sender.end();
    expect((await received(receiver, 10)).toString()).toBe('last words');
  });

  it('skips a socket destroyed before the turn ends', async () => {
    const { sender } = await pair();
    const other = await pair();
    const turn = new TurnWrites(() => {});

    turn.write(sender, Buffer.from('never sent'));
    turn.write(other.sender, Buffer.from('sent'));
    sender.destroy();

    expect((await received(other.receiver, 4)).toString()).toBe('sent');
  });

  it('reports backpressure while it holds more than the socket buffers', async () => {
    const { sender, receiver } = await pair();
    const turn = new TurnWrites(() => {});
    const big = Buffer.alloc(sender.writableHighWaterMark, 1);

    expect(turn.write(sender, Buffer.from('small'))).toBe(true);
    expect(turn.write(sender, big)).toBe(false);
    await Promise.all([once(sender, 'drain'), received(receiver, big.length + 5)]);
  });
});
