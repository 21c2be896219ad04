/**
 * The guard as an outsider attacks it: nothing a client that has not signed in sends may cost the tunnel
 * more than a few kilobytes, refused and timed-out sockets are released, connections are capped, and
 * SIGTERM stops the process however its clients behave. Every check is what the real `portcullis guard`
 * process does — what it answers, when it closes a socket, the descriptors and memory /proc shows for it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readdirSync, readlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { startGuard, type GuardProcess } from '../support/guard-process.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { errorField, errorMessage, RawClient, scramClientSide } from '../support/raw-client.ts';
import { until } from '../support/waiting.ts';

let server: TestPostgres;

beforeAll(async () => {
  server = await startPostgres();
});

afterAll(async () => {
  await server?.stop();
});

const portOf = (guard: GuardProcess): number => Number(guard.ready.listen.split(':')[1]);

const waitFor = (what: string, condition: () => boolean | Promise<boolean>, timeoutMs?: number) =>
  until(what, async () => ((await condition()) ? true : undefined), timeoutMs);

/** Socket descriptors the guard process holds now. */
function sockets(guard: GuardProcess): number {
  const dir = `/proc/${guard.child.pid}/fd`;
  return readdirSync(dir).filter((fd) => {
    try {
      return readlinkSync(`${dir}/${fd}`).startsWith('socket:');
    } catch {
      return false;
    }
  }).length;
}

/**
 * Writes `total` bytes as fast as the socket takes them; resolves with how many it wrote and whether the
 * tunnel closed the connection before all of them went.
 */
function flood(socket: Socket, total: number): Promise<{ written: number; closedByTunnel: boolean }> {
  // Well-formed messages, 64 KiB each: a tunnel that framed them would have to keep or forward them.
  const query = serialize.query(`SELECT '${'x'.repeat(65_000)}'`);
  const chunk = Buffer.concat(Array.from({ length: 16 }, () => query));
  return new Promise((resolve) => {
    let written = 0;
    let done = false;
    const finish = (closedByTunnel: boolean): void => {
      if (done) return;
      done = true;
      resolve({ written, closedByTunnel });
    };
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    const pump = (): void => {
      while (!done && written < total) {
        written += chunk.length;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
      if (written >= total) finish(false);
    };
    pump();
  });
}

/** A client that has sent its startup packet and keeps its socket open whatever the tunnel does. */
async function startupThen(port: number): Promise<RawClient> {
  const raw = await RawClient.open(port, '127.0.0.1', { allowHalfOpen: true });
  raw.write(serialize.startup({ user: 'mallory', database: 'app' }));
  expect((await raw.next()).type).toBe('R');
  return raw;
}

/**
 * Signs in with the wrong password over SCRAM and keeps sending after the proof, then is too busy to
 * read for 300 ms (as a loaded client is) and writes again: the error it read, if any, before its
 * socket closed.
 */
function wrongProofWhileSending(port: number, user: string): Promise<string> {
  const busy = (ms: number): void => {
    for (const start = Date.now(); Date.now() - start < ms;);
  };
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let outcome = 'closed without a FATAL';
    socket.on('error', () => {});
    scramClientSide(socket, 'not the password', {
      proofSent() {
        socket.write(Buffer.alloc(4 << 20, 0x51));
        busy(300);
        socket.write(Buffer.alloc(64 << 10, 0x51));
      },
      other(data) {
        if (data[0] !== 0x45) return;
        outcome = `${errorField(data, 'S')} ${errorField(data, 'C')}`;
        socket.destroy();
      },
    });
    socket.on('close', () => resolve(outcome));
    socket.write(serialize.startup({ user, database: 'postgres' }));
    setTimeout(() => socket.destroy(), 10_000);
  });
}

describe('before sign-in', () => {
  it('destroys a refused connection and drops what it keeps sending, instead of holding it', async () => {
    const guard = await startGuard(['--upstream', server.url()]);
    const raw = await startupThen(portOf(guard));
    raw.write(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-1', 'n,,n=x,r=abc'));
    const refusal = await raw.next();
    expect(refusal.type).toBe('E');
    expect(errorField(refusal.bytes, 'C')).toBe('28000');
    // Refused, the client keeps its socket open and keeps sending.
    const before = guard.memory();
    const { written, closedByTunnel } = await flood(raw.socket, 400 << 20);
    expect(closedByTunnel, `the tunnel took all of ${written} bytes`).toBe(true);
    expect(written).toBeLessThan(200 << 20);
    expect(guard.memory().peak - before.peak).toBeLessThan(64 << 20);
    expect(await guard.stop()).toBe(0);
  });

  it('lets a refused client that is still sending, and slow to read, read its FATAL before the socket goes', async () => {
    const guard = await startGuard(['--upstream', server.url()]);
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) outcomes.push(await wrongProofWhileSending(portOf(guard), guard.ready.user));
    // Closed as soon as the FATAL was flushed, the reset overtook it: the client's next write failed first.
    expect(outcomes).toEqual(['FATAL 28P01', 'FATAL 28P01', 'FATAL 28P01']);
    expect(await guard.stop()).toBe(0);
  });

  it('refuses a pre-authentication message longer than a few kilobytes at its header', async () => {
    const guard = await startGuard(['--upstream', server.url()]);
    const raw = await startupThen(portOf(guard));
    // A SASL response claiming 60 MiB: refused as soon as its length is read, not after buffering it.
    const header = Buffer.alloc(5);
    header.write('p', 0);
    header.writeUInt32BE(60 << 20, 1);
    raw.write(header);
    const refusal = await raw.next();
    expect(refusal.type).toBe('E');
    expect(errorMessage(refusal.bytes)).toMatch(/exceeds the maximum message size of 8192 bytes/);
    expect((await flood(raw.socket, 64 << 20)).closedByTunnel).toBe(true);
    expect(await guard.stop()).toBe(0);
  });

  it('closes the descriptor of a client that never signs in once the sign-in timeout passes', async () => {
    const guard = await startGuard(['--upstream', server.url(), '--authentication-timeout', '1']);
    const baseline = sockets(guard);
    const idle = await Promise.all(
      Array.from({ length: 20 }, () => RawClient.open(portOf(guard), '127.0.0.1', { allowHalfOpen: true })),
    );
    await waitFor('the idle connections', () => sockets(guard) >= baseline + 20);
    // The clients keep their end open and never read: the tunnel must still let go of its own.
    for (const client of idle) client.socket.pause();
    await waitFor('the tunnel to let go of them', () => sockets(guard) === baseline, 10_000);
    expect(idle.every((client) => !client.socket.destroyed)).toBe(true);
    for (const client of idle) client.socket.destroy();
    expect(await guard.stop()).toBe(0);
  });

  it('caps connections still signing in, and answers the one over the cap with FATAL 53300', async () => {
    const guard = await startGuard(['--upstream', server.url(), '--max-unauthenticated', '4']);
    const baseline = sockets(guard);
    const waiting = await Promise.all(Array.from({ length: 4 }, () => RawClient.open(portOf(guard))));
    const over = await RawClient.open(portOf(guard));
    const messages = await over.closedAfter();
    expect(messages.map((m) => m.type)).toEqual(['E']);
    expect(errorField(messages[0]!.bytes, 'C')).toBe('53300');
    expect(errorMessage(messages[0]!.bytes)).toMatch(/too many connections are signing in .* \(limit 4\)/);
    // One signing in finishes (refused here), and the next client is let in.
    waiting[0]!.socket.destroy();
    await waitFor('a slot', () => sockets(guard) <= baseline + 3);
    const client = new pg.Client({ connectionString: guard.ready.url });
    await client.connect();
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await client.end();
    for (const raw of waiting) raw.socket.destroy();
    expect(guard.stderr()).toMatch(/refusing new connections: 4 connections are signing in \(limit 4\)/);
    expect(await guard.stop()).toBe(0);
  });

  it('caps clients at --max-connections with FATAL 53300, and still serves a cancel when full', async () => {
    const guard = await startGuard(['--upstream', server.url(), '--max-connections', '2']);
    const first = new pg.Client({ connectionString: guard.ready.url });
    const second = new pg.Client({ connectionString: guard.ready.url });
    await first.connect();
    await second.connect();
    first.on('error', () => {});
    second.on('error', () => {});
    const third = new pg.Client({ connectionString: guard.ready.url });
    await expect(third.connect()).rejects.toMatchObject({
      code: '53300',
      message: 'too many clients already: this tunnel serves at most 2',
    });
    // A cancel request is a connection of its own; PostgreSQL serves it even when full, and so do we.
    const sleeping = first.query('SELECT pg_sleep(30)');
    await waitFor('the sleep to run', async () => {
      const { rows } = await second.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'",
      );
      return rows[0]!.n === 1;
    });
    const key = first as unknown as { processID: number; secretKey: number };
    const cancel = await RawClient.open(portOf(guard));
    cancel.write(serialize.cancel(key.processID, key.secretKey));
    await expect(sleeping).rejects.toMatchObject({ code: '57014' });
    cancel.socket.destroy();
    await first.end();
    await second.end();
    expect(await guard.stop()).toBe(0);
  });
});

describe('shutdown', () => {
  it('on SIGTERM stops accepting, tells clients 57P01 and exits even while clients hold their sockets', async () => {
    const guard = await startGuard(['--upstream', server.url()]);
    const client = new pg.Client({ connectionString: guard.ready.url });
    await client.connect();
    const errors: { code?: string; message: string }[] = [];
    client.on('error', (error: Error & { code?: string }) => errors.push(error));
    // A refused client that keeps its socket open and never reads, and one that never says anything.
    const refused = await startupThen(portOf(guard));
    refused.write(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-1', 'n,,n=x,r=abc'));
    refused.socket.pause();
    const silent = await RawClient.open(portOf(guard));
    silent.socket.pause();

    const code = guard.stop('SIGTERM');
    // A client that comes in while the guard winds down, and holds on.
    const late = connect(portOf(guard), '127.0.0.1');
    late.on('error', () => {});
    late.pause();
    expect(await code).toBe(0);
    expect(errors[0]).toMatchObject({ code: '57P01', message: 'the tunnel is shutting down' });
    const refusedAfter = await new Promise<string>((resolve) => {
      const socket = connect(portOf(guard), '127.0.0.1');
      socket.once('connect', () => resolve('connected'));
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(refusedAfter).toBe('ECONNREFUSED');
    for (const socket of [refused.socket, silent.socket, late]) socket.destroy();
  });
});

describe('statement size', () => {
  it('denies a statement above --max-statement-size unparsed, and the session and others carry on', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-statement-size-'));
    const record = path.join(dir, 'record.jsonl');
    const guard = await startGuard([
      '--upstream',
      server.url(),
      '--max-statement-size',
      '1048576',
      '--record',
      record,
    ]);
    const big = new pg.Client({ connectionString: guard.ready.url });
    const other = new pg.Client({ connectionString: guard.ready.url });
    await big.connect();
    await other.connect();
    const before = guard.memory();
    const values = Array.from({ length: 1_000_000 }, (_, i) => `(${i}, 'row ${i}')`).join(',');
    // It even mentions a password: the recording's redactor must not scan it either.
    const huge = `INSERT INTO nowhere (id, name) VALUES ${values} -- password 'x'`;
    expect(huge.length).toBeGreaterThan(20 << 20);
    const [denied, answered] = await Promise.allSettled([big.query(huge), other.query('SELECT 2 AS two')]);
    expect(denied).toMatchObject({
      status: 'rejected',
      reason: {
        code: '54000',
        message: expect.stringMatching(
          /^Portcullis denied this statement \(rule: statement-size\): the statement is \d+ bytes, more than the 1048576 bytes the tunnel inspects/,
        ),
      },
    });
    expect(answered).toMatchObject({ status: 'fulfilled', value: { rows: [{ two: 2 }] } });
    expect((await big.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }]);
    // Framing and reading the text cost a few copies of it; nothing parsed it (that took 650 MB).
    const growth = guard.memory().peak - before.peak;
    expect(growth, `peak RSS grew by ${(growth / 1048576).toFixed(0)} MiB`).toBeLessThan(200 << 20);
    await big.end();
    await other.end();
    expect(await guard.stop()).toBe(0);
    // Recorded by its size and hash: a loop of such statements cannot grow the recording by megabytes.
    const recorded = (await readFile(record, 'utf8')).trim().split('\n');
    const denial = recorded.map((line) => JSON.parse(line)).find((e) => e.rule === 'statement-size');
    const digest = createHash('sha256').update(huge).digest('hex');
    expect(denial).toMatchObject({
      type: 'statement',
      decision: 'deny',
      sql: `<statement of ${Buffer.byteLength(huge)} bytes, above the 1048576 the tunnel inspects; sha256 ${digest}>`,
    });
    expect((await stat(record)).size).toBeLessThan(64 * 1024);
    await rm(dir, { recursive: true, force: true });
  });
});
