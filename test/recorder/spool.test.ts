import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GENESIS_HASH, verifyChain } from '../../hub/api/recording-chain.ts';
import type { SessionEvent } from '../../tunnel/recorder/recording-point.ts';
import { RecordingError, RecordingSpool } from '../../tunnel/recorder/spool.ts';

let dir: string;
let file: string;
const opened: RecordingSpool[] = [];

function openSpool(options: ConstructorParameters<typeof RecordingSpool>[1] = {}): RecordingSpool {
  const spool = new RecordingSpool(file, { log: () => {}, ...options });
  opened.push(spool);
  return spool;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function statement(n: number): SessionEvent {
  return {
    type: 'statement',
    protocol: 'extended',
    sql: `select ${n}`,
    decision: 'allow',
    classes: ['read'],
  };
}

const sessionEvents: SessionEvent[] = [
  {
    type: 'session.start',
    client: { address: '127.0.0.1', port: 50123, user: 'alice', database: 'app', applicationName: 'psql' },
    upstream: {
      host: 'db',
      port: 5432,
      database: 'app',
      user: 'app',
      tls: true,
      authMechanism: 'SCRAM-SHA-256',
    },
  },
  {
    type: 'statement',
    protocol: 'simple',
    sql: 'drop table x',
    decision: 'deny',
    rule: 'no-ddl',
    reason: 'ddl',
  },
  { type: 'statement', protocol: 'simple', sql: 'select "é" || $1', decision: 'allow', wouldHave: 'hold' },
  { type: 'hold', request: 'r1', sql: 'update t set a = 1', rule: 'writes' },
  { type: 'hold.resolved', request: 'r1', outcome: 'approved', by: 'bob', comment: undefined },
  { type: 'result', command: 'SELECT 3', rows: 3, maskedCells: 2, durationMs: 0.25 },
  { type: 'error', code: '42501', message: 'denied', severity: 'ERROR' },
  { type: 'cancel', forwarded: true },
  { type: 'session.end', reason: 'client', bytesFromClient: 10, bytesToClient: 2000, statements: 2 },
];

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'portcullis-spool-'));
  file = path.join(dir, 'spool.db');
});

afterEach(async () => {
  for (const spool of opened.splice(0)) await spool.close().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

describe('RecordingSpool', () => {
  it('chains every session as the hub verifies it, with the event minus its type as payload', async () => {
    const spool = openSpool();
    for (const event of sessionEvents) {
      spool.record('a', event);
      spool.record('b', statement(1));
    }
    expect(spool.stats()).toMatchObject({ recorded: 18, buffered: 18, spooled: 0 });
    await tick();
    expect(spool.stats()).toMatchObject({ recorded: 18, buffered: 0, spooled: 18, pendingUpload: 18 });

    const a = spool.readSession('a');
    expect(a.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(a[0]!.prevHash).toBe(GENESIS_HASH);
    expect(verifyChain(a)).toEqual([]);
    expect(verifyChain(spool.readSession('b'))).toEqual([]);
    expect(a.map((e) => e.type)).toEqual(sessionEvents.map((e) => e.type));
    const { type: _type, ...start } = sessionEvents[0]!;
    expect(a[0]!.payload).toEqual(start);
    expect(a[4]!.payload).toEqual({ request: 'r1', outcome: 'approved', by: 'bob' });
    expect(Date.parse(a[0]!.at)).not.toBeNaN();
  });

  it('continues seq and hash after the spool is reopened', async () => {
    let spool = openSpool();
    for (let i = 0; i < 3; i++) spool.record('a', statement(i));
    spool.record('b', statement(0));
    await spool.close();

    spool = openSpool();
    for (let i = 3; i < 5; i++) spool.record('a', statement(i));
    spool.record('c', statement(0));
    await spool.close();

    spool = openSpool();
    const a = spool.readSession('a');
    expect(a.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(verifyChain(a)).toEqual([]);
    expect(a[3]!.payload).toMatchObject({ sql: 'select 3' });
    expect(spool.readSession('c').map((e) => e.seq)).toEqual([1]);
    expect(spool.session('a')).toMatchObject({ lastSeq: 5, ackedSeq: 0, pending: 5 });
    expect(spool.stats().pendingUpload).toBe(7);
  });

  it("tells each session's first and last event, buffered ones included, for finding unfinished sessions", () => {
    const spool = openSpool();
    for (let i = 0; i < 3; i++) spool.record('a', statement(i));
    spool.record('b', statement(7));
    const bounds = Object.fromEntries(spool.sessionBounds().map((b) => [b.sessionId, b]));
    expect(bounds.a).toMatchObject({
      first: { type: 'statement', payload: { sql: 'select 0' } },
      last: { type: 'statement', payload: { sql: 'select 2' } },
    });
    expect(bounds.b?.first).toEqual(bounds.b?.last);
  });

  it('writes a full batch at once and the rest at the end of the event-loop turn', async () => {
    const spool = openSpool({ maxBatch: 10 });
    for (let i = 0; i < 25; i++) spool.record('a', statement(i));
    expect(spool.stats()).toMatchObject({ spooled: 20, buffered: 5 });
    await tick();
    expect(spool.stats()).toMatchObject({ spooled: 25, buffered: 0 });
  });

  it('writes after flushIntervalMs when one is set, and everything on close', async () => {
    const spool = openSpool({ flushIntervalMs: 30 });
    spool.record('a', statement(1));
    await tick();
    expect(spool.stats().buffered).toBe(1);
    await sleep(60);
    expect(spool.stats()).toMatchObject({ buffered: 0, spooled: 1 });
    spool.record('a', statement(2));
    await spool.close();
    const reopened = openSpool();
    expect(reopened.readSession('a').map((e) => e.seq)).toEqual([1, 2]);
  });

  it('marks uploads idempotently and keeps the bookkeeping exact', async () => {
    const spool = openSpool();
    for (let i = 0; i < 10; i++) spool.record('a', statement(i));
    spool.flush();
    expect(spool.readPending('a', 4).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(spool.markUploaded('a', 4)).toBe(4);
    expect(spool.markUploaded('a', 4)).toBe(0);
    expect(spool.markUploaded('a', 2)).toBe(0);
    expect(spool.readPending('a', 100).map((e) => e.seq)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(spool.markUploaded('a', 99)).toBe(6);
    expect(spool.pendingSessions()).toEqual([]);
    expect(spool.stats()).toMatchObject({ pendingUpload: 0, uploaded: 10 });
    expect(spool.pruneUploaded()).toBe(10);
    spool.record('a', statement(10));
    spool.flush();
    expect(spool.readSession('a').map((e) => e.seq)).toEqual([11]);
    expect(
      verifyChain(spool.readSession('a'), { seq: 10, hash: spool.readSession('a')[0]!.prevHash }),
    ).toEqual([]);
  });

  it('keeps the spool owner-only, bringing back to 0600 one an older version left readable', async () => {
    const spool = openSpool();
    spool.record('s1', statement(1));
    spool.flush();
    const files = [file, `${file}-wal`, `${file}-shm`];
    for (const owned of files) expect(statSync(owned).mode & 0o777, owned).toBe(0o600);
    await spool.close();
    for (const owned of files) if (existsSync(owned)) chmodSync(owned, 0o644);
    const again = openSpool();
    for (const owned of files) if (existsSync(owned)) expect(statSync(owned).mode & 0o777, owned).toBe(0o600);
    await again.close();
  });

  it('fails to open with a RecordingError where no database can be created', () => {
    writeFileSync(path.join(dir, 'not-a-dir'), '');
    expect(() => new RecordingSpool(path.join(dir, 'not-a-dir', 'spool.db'))).toThrow(RecordingError);
  });

  describe('failures', () => {
    it('strict: a closed spool throws; non-strict: it counts the drop', async () => {
      const strict = openSpool({ strict: true });
      strict.record('a', statement(1));
      await strict.close();
      expect(() => strict.record('a', statement(2))).toThrow(RecordingError);
      try {
        strict.record('a', statement(2));
      } catch (error) {
        expect(error).toMatchObject({ code: 'closed', sessionId: 'a' });
      }

      const logged: string[] = [];
      const lax = new RecordingSpool(path.join(dir, 'lax.db'), { log: (m) => logged.push(m) });
      await lax.close();
      lax.record('a', statement(1));
      lax.record('a', statement(2));
      expect(lax.stats()).toMatchObject({ dropped: 2, recorded: 0 });
      expect(logged.join('\n')).toMatch(/dropped 1 event/);
    });

    it('strict: a database locked past the busy timeout surfaces, then recovers with the chain intact', async () => {
      const failures: { error: RecordingError; sessions: readonly string[] }[] = [];
      const spool = openSpool({
        strict: true,
        busyTimeoutMs: 20,
        retryIntervalMs: 20,
        onFailure: (error, sessions) => failures.push({ error, sessions }),
      });
      spool.record('a', statement(1));
      spool.flush();

      const other = new Database(file);
      other.exec('BEGIN IMMEDIATE');
      spool.record('a', statement(2));
      spool.record('b', statement(1));
      await tick();
      expect(failures).toHaveLength(1);
      expect(failures[0]!.error).toBeInstanceOf(RecordingError);
      expect(failures[0]!.error.message).toMatch(/locked|busy/i);
      expect(failures[0]!.sessions).toEqual(['a', 'b']);
      expect(spool.stats()).toMatchObject({ failing: true, buffered: 2 });
      expect(() => spool.record('a', statement(3))).toThrow(/recording is failing/);

      other.exec('COMMIT');
      other.close();
      for (let waited = 0; spool.stats().failing && waited < 5000; waited += 10) await sleep(10);
      expect(spool.stats()).toMatchObject({ failing: false, buffered: 0, spooled: 3, dropped: 0 });
      spool.record('a', statement(3));
      spool.flush();
      const a = spool.readSession('a');
      expect(a.map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(verifyChain(a)).toEqual([]);
      expect(failures).toHaveLength(1);
    });

    it('strict: a full disk (the maxBytes cap) makes record throw', () => {
      const failures: RecordingError[] = [];
      const spool = openSpool({
        strict: true,
        maxBatch: 8,
        maxBytes: 64 * 1024,
        onFailure: (e) => failures.push(e),
      });
      const big = 'x'.repeat(2000);
      let accepted = 0;
      let thrown: unknown;
      for (let i = 0; i < 1000 && !thrown; i++) {
        try {
          spool.record('a', { type: 'error', code: 'XX000', message: big, severity: 'ERROR' });
          accepted++;
        } catch (error) {
          thrown = error;
        }
      }
      expect(thrown).toBeInstanceOf(RecordingError);
      expect((thrown as Error).message).toMatch(/full/i);
      expect(failures).toHaveLength(1);
      expect(accepted).toBeLessThan(64);
      // What was written before the disk filled is an intact prefix of the chain.
      const written = spool.readSession('a');
      expect(written.length).toBeGreaterThan(0);
      expect(verifyChain(written)).toEqual([]);
    });

    it('non-strict: a full disk is logged, the buffer is bounded and drops are counted', async () => {
      const logged: string[] = [];
      const spool = openSpool({
        maxBatch: 8,
        maxBuffered: 16,
        maxBytes: 64 * 1024,
        retryIntervalMs: 10_000,
        log: (m) => logged.push(m),
      });
      const big = 'x'.repeat(2000);
      for (let i = 0; i < 200; i++)
        spool.record('a', { type: 'error', code: 'XX000', message: big, severity: 'ERROR' });
      const stats = spool.stats();
      expect(stats.failing).toBe(true);
      expect(stats.recorded).toBe(200);
      expect(stats.buffered).toBeLessThan(16 + 8);
      expect(stats.dropped).toBe(200 - stats.spooled - stats.buffered);
      expect(stats.dropped).toBeGreaterThan(0);
      expect(logged.join('\n')).toMatch(/cannot write the recording spool.*full/i);
      await spool.close();
      expect(spool.stats().dropped).toBe(200 - stats.spooled);
      expect(logged.at(-1)).toMatch(/unwritten/);
    });
  });

  it('loses at most the unflushed window when the process is killed with SIGKILL', async () => {
    const maxBatch = 256;
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(import.meta.dirname, 'fixtures/spool-writer.ts'),
        file,
        String(maxBatch),
        '700',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit');
    let reported = 0;
    for await (const line of createInterface({ input: child.stdout })) {
      reported = Number(line);
      if (reported >= 30_000) {
        child.kill('SIGKILL');
        break;
      }
    }
    const [, signal] = await exited;
    expect(signal, stderr).toBe('SIGKILL');

    const spool = openSpool();
    let spooled = 0;
    for (const session of ['s0', 's1', 's2']) {
      const events = spool.readSession(session);
      // Contiguous from seq 1 and an intact chain: the lost events are a suffix.
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(verifyChain(events)).toEqual([]);
      spooled += events.length;
    }
    // Every event `record` accepted before the last report, minus fewer than maxBatch, is on disk.
    expect(reported - spooled).toBeLessThan(maxBatch);
    // And the chains continue where the dead process stopped.
    spool.record('s0', statement(0));
    spool.flush();
    expect(verifyChain(spool.readSession('s0'))).toEqual([]);
  });
});
