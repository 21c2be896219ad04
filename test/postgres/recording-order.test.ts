/**
 * When the tunnel's writes reach the operating system, against the recording: a client's statement
 * goes to the server as soon as its chunk is read — before the recording of it is written, which
 * happens at the end of the turn while the server runs it — and a result goes to the client only
 * after the recording's flush, so nothing the client has seen the outcome of is still unwritten.
 * Under `recording: strict` (writeThrough) each event is in the file before anything is sent.
 *
 * Observed at the sockets' hand-offs to the kernel (net.Socket's _write/_writev, one per write or
 * writev), against a real PostgreSQL and the tunnel in this process.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serialize } from 'pg-protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseUpstreamUrl } from '../../tunnel/postgres/connection-string.ts';
import { PostgresTunnel, type TunnelEndpoint } from '../../tunnel/postgres/tunnel.ts';
import { JsonLinesRecorder } from '../../tunnel/recorder/jsonl-recorder.ts';
import type { RecordingPoint, SessionEvent } from '../../tunnel/recorder/recording-point.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { RawClient } from '../support/raw-client.ts';

let server: TestPostgres;
let dir: string;

beforeAll(async () => {
  server = await startPostgres();
  dir = await mkdtemp(path.join(tmpdir(), 'portcullis-recording-order-'));
});

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** What happened, in order: a hand-off to the server or to a client, or a recording flush. */
type Step = { to: 'server' | 'client'; bytes: number } | { flush: string[] };

/** Logs every hand-off of the tunnel's sockets to the kernel, told apart by their ports. */
function watchHandOffs(tunnelPort: number, log: Step[], onServerHandOff?: () => void): void {
  const handOff = (socket: Socket, bytes: number): void => {
    if (socket.remotePort === server.port) {
      onServerHandOff?.();
      log.push({ to: 'server', bytes });
    } else if (socket.localPort === tunnelPort) log.push({ to: 'client', bytes });
  };
  const write = Socket.prototype._write;
  const writev = Socket.prototype._writev!;
  vi.spyOn(Socket.prototype, '_write').mockImplementation(function (this: Socket, chunk, encoding, done) {
    handOff(this, (chunk as Buffer).length);
    write.call(this, chunk, encoding, done);
  });
  vi.spyOn(Socket.prototype, '_writev').mockImplementation(function (this: Socket, chunks, done) {
    handOff(
      this,
      chunks.reduce((sum, c) => sum + (c.chunk as Buffer).length, 0),
    );
    writev.call(this, chunks, done);
  });
}

/** A recording point that buffers like the file recorder and logs what each flush writes. */
function loggingRecorder(log: Step[]): RecordingPoint {
  let pending: SessionEvent[] = [];
  return {
    record: (_connectionId, event) => void pending.push(event),
    flush: () => {
      if (pending.length === 0) return;
      log.push({ flush: pending.map((e) => e.type) });
      pending = [];
    },
  };
}

async function openTunnel(
  recorder: RecordingPoint,
): Promise<{ tunnel: PostgresTunnel; endpoint: TunnelEndpoint }> {
  const tunnel = new PostgresTunnel({
    upstream: parseUpstreamUrl(server.url({ sslmode: 'disable' })),
    recorder,
  });
  return { tunnel, endpoint: await tunnel.listen() };
}

const indexOf = (log: Step[], match: (step: Step) => boolean): number => log.findIndex(match);
const flushOf = (type: string) => (step: Step) => 'flush' in step && step.flush.includes(type);

describe('the order of the tunnel writes and the recording', () => {
  const closing: (() => Promise<void>)[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const close of closing.splice(0)) await close();
  });

  it('sends a statement to the server before recording it, and its result to the client after', async () => {
    const log: Step[] = [];
    const { tunnel, endpoint } = await openTunnel(loggingRecorder(log));
    closing.push(() => tunnel.close());
    const raw = await RawClient.login(endpoint.port, endpoint.user, endpoint.password, endpoint.database);
    watchHandOffs(endpoint.port, log);

    raw.write(serialize.query('SELECT 1'));
    await raw.until('Z');
    raw.end();

    const sent = indexOf(log, (s) => 'to' in s && s.to === 'server');
    const statementRecorded = indexOf(log, flushOf('statement'));
    const resultRecorded = indexOf(log, flushOf('result'));
    const released = indexOf(log, (s) => 'to' in s && s.to === 'client');
    expect(sent, JSON.stringify(log)).toBeGreaterThanOrEqual(0);
    expect(sent, JSON.stringify(log)).toBeLessThan(statementRecorded);
    expect(resultRecorded, JSON.stringify(log)).toBeLessThan(released);
  });

  it('sends a pipelined extended-protocol batch to the server in one write', async () => {
    const log: Step[] = [];
    const { tunnel, endpoint } = await openTunnel(loggingRecorder(log));
    closing.push(() => tunnel.close());
    const raw = await RawClient.login(endpoint.port, endpoint.user, endpoint.password, endpoint.database);
    watchHandOffs(endpoint.port, log);

    const batch = Buffer.concat([
      serialize.parse({ text: 'SELECT $1::int + 1' }),
      serialize.bind({ values: ['41'] }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.parse({ text: 'SELECT $1::text' }),
      serialize.bind({ values: ['again'] }),
      serialize.execute({}),
      serialize.sync(),
    ]);
    raw.write(batch);
    const replies = await raw.until('Z');
    raw.end();

    expect(replies.map((m) => m.type).join('')).toBe('12TDC12DCZ');
    const toServer = log.filter((s) => 'to' in s && s.to === 'server');
    expect(toServer).toEqual([{ to: 'server', bytes: batch.length }]);
  });

  it("keeps each connection's events in order when many connections record in the same turns", async () => {
    const file = path.join(dir, 'many.jsonl');
    const recorder = JsonLinesRecorder.open(file);
    const { tunnel, endpoint } = await openTunnel(recorder);
    closing.push(async () => {
      await tunnel.close();
      await recorder.close();
    });
    const clients = await Promise.all(
      Array.from({ length: 12 }, () =>
        RawClient.login(endpoint.port, endpoint.user, endpoint.password, endpoint.database),
      ),
    );
    const perClient = 20;
    // Each client pipelines all its statements at once, so every turn carries several connections' events.
    await Promise.all(
      clients.map(async (raw, c) => {
        const queries = Array.from({ length: perClient }, (_, i) =>
          serialize.query(`SELECT ${c * 1000 + i}`),
        );
        raw.write(Buffer.concat(queries));
        for (let i = 0; i < perClient; i++) await raw.until('Z');
        raw.end();
      }),
    );
    recorder.flush();

    const events = readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { sessionId: string; type: string; sql?: string; rows?: number });
    const byConnection = new Map<string, typeof events>();
    for (const event of events) {
      if (event.type !== 'statement' && event.type !== 'result') continue;
      byConnection.set(event.sessionId, [...(byConnection.get(event.sessionId) ?? []), event]);
    }
    expect(byConnection.size).toBe(clients.length);
    for (const connectionEvents of byConnection.values()) {
      // Pipelined statements are all forwarded before their results return: the statements in the
      // order sent, the results in the same order, each after its own statement.
      const statements = connectionEvents.flatMap((e, at) => (e.type === 'statement' ? [{ ...e, at }] : []));
      const results = connectionEvents.flatMap((e, at) => (e.type === 'result' ? [{ ...e, at }] : []));
      const first = Number(/SELECT (\d+)/.exec(statements[0]!.sql ?? '')?.[1]);
      expect(first % 1000).toBe(0);
      expect(statements.map((e) => e.sql)).toEqual(
        Array.from({ length: perClient }, (_, i) => `SELECT ${first + i}`),
      );
      expect(results.map((e) => e.rows)).toEqual(Array.from({ length: perClient }, () => 1));
      results.forEach((result, i) => expect(result.at).toBeGreaterThan(statements[i]!.at));
    }
  });

  it('has the statement in the file before it is sent under recording: strict', async () => {
    const file = path.join(dir, 'strict.jsonl');
    const recorder = JsonLinesRecorder.open(file, { writeThrough: true });
    const { tunnel, endpoint } = await openTunnel(recorder);
    closing.push(async () => {
      await tunnel.close();
      await recorder.close();
    });
    const raw = await RawClient.login(endpoint.port, endpoint.user, endpoint.password, endpoint.database);
    const recordedAtHandOff: boolean[] = [];
    watchHandOffs(endpoint.port, [], () =>
      recordedAtHandOff.push(readFileSync(file, 'utf8').includes('SELECT 42 AS strict')),
    );

    raw.write(serialize.query('SELECT 42 AS strict'));
    await raw.until('Z');
    raw.end();

    expect(recordedAtHandOff).toEqual([true]);
  });
});
