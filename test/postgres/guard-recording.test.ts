/**
 * `portcullis guard --record FILE` never goes silent: a write that fails (here the file-size limit the
 * process runs under, as a full disk would) is said on stderr and as `{"event":"recording-failed"}`,
 * leaves no half line, and under `recording: strict` ends every session before anything runs
 * unrecorded; and nothing the client has seen the result of is lost when the process is SIGKILLed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, fstatSync, openSync, readFileSync, readSync, truncateSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { CLI, startGuard } from '../support/guard-process.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { RawClient } from '../support/raw-client.ts';
import { until } from '../support/waiting.ts';
import { exitedWithOutput } from '../support/commands.ts';

let server: TestPostgres;
let dir: string;

beforeAll(async () => {
  server = await startPostgres();
  dir = await mkdtemp(path.join(tmpdir(), 'portcullis-guard-recording-'));
  const setup = await server.connect();
  await setup.query('CREATE TABLE IF NOT EXISTS ledger (id int PRIMARY KEY)');
  await setup.end();
});

afterAll(async () => {
  await server?.stop();
});

interface Guard {
  child: ChildProcess;
  ready: { url: string; listen: string };
  lines: string[];
  stderr(): string;
  exited: Promise<number | null>;
}

/** The guard under a file-size limit (`ulimit -f`, in 512-byte blocks): the disk is "full" past it. */
async function guardWithFileLimit(blocks: number, args: string[]): Promise<Guard> {
  const child = spawn(
    'sh',
    ['-c', `ulimit -f ${blocks}; exec "$0" "$@"`, process.execPath, CLI, 'guard', 'postgres', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PORTCULLIS_UPSTREAM: server.url() } },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = exitedWithOutput(child);
  const lines: string[] = [];
  const reader = createInterface({ input: child.stdout! });
  const first = new Promise<string>((resolve) =>
    reader.on('line', (line) => {
      lines.push(line);
      resolve(line);
    }),
  );
  const line = await Promise.race([first, exited.then(() => undefined)]);
  if (line === undefined) throw new Error(`guard exited before it was ready: ${stderr}`);
  return { child, ready: JSON.parse(line) as Guard['ready'], lines, stderr: () => stderr, exited };
}

/** Reads a growing JSON-lines recording as it is written: which statement each result belongs to. */
class RecordingReader {
  private offset = 0;
  private rest = '';
  private readonly sessionOf = new Map<string, string>();
  private readonly results = new Map<string, number>();
  private readonly lastStatement = new Map<string, string>();

  constructor(private readonly file: string) {}

  /** How many results the recording holds, as of now, for the statement `sql` (run once). */
  resultsOf(sql: string): number {
    this.catchUp();
    const session = this.sessionOf.get(sql);
    return session === undefined ? 0 : (this.results.get(`${session}\n${sql}`) ?? 0);
  }

  private catchUp(): void {
    const fd = openSync(this.file, 'r');
    try {
      const size = fstatSync(fd).size;
      const chunk = Buffer.alloc(size - this.offset);
      readSync(fd, chunk, 0, chunk.length, this.offset);
      this.offset = size;
      const lines = (this.rest + chunk.toString('utf8')).split('\n');
      this.rest = lines.pop()!;
      for (const line of lines)
        this.take(JSON.parse(line) as { sessionId: string; type: string; sql?: string });
    } finally {
      closeSync(fd);
    }
  }

  private take(event: { sessionId: string; type: string; sql?: string }): void {
    if (event.type === 'statement') {
      this.sessionOf.set(event.sql!, event.sessionId);
      this.lastStatement.set(event.sessionId, event.sql!);
    } else if (event.type === 'result') {
      const key = `${event.sessionId}\n${this.lastStatement.get(event.sessionId)}`;
      this.results.set(key, (this.results.get(key) ?? 0) + 1);
    }
  }
}

function events(file: string): { type: string; sql?: string; lost?: number }[] {
  const text = readFileSync(file, 'utf8');
  expect(text === '' || text.endsWith('\n'), 'the file ends with a whole line').toBe(true);
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { type: string; sql?: string });
}

describe('portcullis guard --record', () => {
  it('says so when writing fails, keeps whole lines, and says how much was lost once it works again', async () => {
    const file = path.join(dir, 'best-effort.jsonl');
    const guard = await guardWithFileLimit(64, ['--record', file, '--policy', 'observe']);
    const client = new pg.Client({ connectionString: guard.ready.url });
    await client.connect();
    for (let i = 0; i < 400; i++) await client.query(`SELECT ${i} AS n`);
    // The tunnel keeps serving under a best-effort policy; the failure was said once, loudly (on stderr,
    // which this process reads apart from the client's results).
    await until('the failure on stderr', () => (/events are lost/.test(guard.stderr()) ? true : undefined));
    expect(guard.stderr().match(/recording to .* failed: .*EFBIG/g)).toHaveLength(1);
    expect(guard.stderr()).toMatch(/events are lost until writing works again/);
    await until('the recording-failed line', () =>
      guard.lines.find((line) => line.includes('"recording-failed"')),
    );
    expect(JSON.parse(guard.lines.find((line) => line.includes('recording-failed'))!)).toMatchObject({
      event: 'recording-failed',
      file,
      strict: false,
    });
    const recorded = events(file).filter((e) => e.type === 'statement').length;
    expect(recorded).toBeGreaterThan(10);
    expect(recorded).toBeLessThan(400);

    // Space comes back (the file is rotated away): the next event goes in after a line saying what was lost.
    truncateSync(file, 0);
    await client.query('SELECT 400 AS n');
    const after = events(file);
    expect(after[0]).toMatchObject({ type: 'recording.gap' });
    expect(after[0]!.lost).toBeGreaterThan(0);
    expect(after.find((e) => e.type === 'statement')?.sql).toBe('SELECT 400 AS n');
    await until('the recording-recovered line', () =>
      guard.lines.find((line) => line.includes('"recording-recovered"')),
    );
    await client.end();
    guard.child.kill('SIGTERM');
    expect(await guard.exited).toBe(0);
  });

  it('under recording: strict ends every session and exits 1 before a statement runs unrecorded', async () => {
    const file = path.join(dir, 'strict.jsonl');
    const policy = path.join(dir, 'strict.yaml');
    await writeFile(
      policy,
      'extends: guarded\nrecording: strict\nallow: [{ class: write, table: ledger }]\n',
    );
    const guard = await guardWithFileLimit(32, ['--record', file, '--policy', policy]);
    const client = new pg.Client({ connectionString: guard.ready.url });
    client.on('error', () => {});
    await client.connect();
    let failure: { code?: string; message: string } | undefined;
    for (let id = 1; id <= 400 && !failure; id++) {
      await client.query(`INSERT INTO ledger VALUES (${id})`).catch((error: Error) => (failure = error));
    }
    expect(failure?.message).toMatch(/recording to .* failed: .*EFBIG.*does not allow unrecorded sessions/);
    expect(await guard.exited).toBe(1);
    expect(guard.stderr()).toMatch(/portcullis: recording to .* failed/);
    expect(
      guard.lines.some((line) => line.includes('"recording-failed"') && line.includes('"strict":true')),
    ).toBe(true);
    // Every row that reached the database was recorded first.
    const recorded = new Set(
      events(file)
        .filter((e) => e.type === 'statement')
        .map((e) => Number(/VALUES \((\d+)\)/.exec(e.sql ?? '')?.[1])),
    );
    const direct = await server.connect();
    const { rows } = await direct.query<{ id: number }>('SELECT id FROM ledger ORDER BY id');
    await direct.end();
    expect(rows.length).toBeGreaterThan(0);
    for (const { id } of rows) expect(recorded.has(id), `row ${id} ran unrecorded`).toBe(true);
  });

  it('records statements with their password literals redacted', async () => {
    const file = path.join(dir, 'passwords.jsonl');
    const guard = await startGuard(['--upstream', server.url(), '--record', file]);
    const client = new pg.Client({ connectionString: guard.ready.url });
    await client.connect();
    const verifier = 'SCRAM-SHA-256$4096:c2FsdHNhbHQ=$c3RvcmVkS2V5:c2VydmVyS2V5';
    // A password set in SQL, and what psql's \password sends: both denied under guarded, and recorded.
    await expect(client.query("ALTER ROLE postgres PASSWORD 'correct horse battery'")).rejects.toMatchObject({
      code: '42501',
    });
    await expect(client.query(`ALTER USER "postgres" PASSWORD '${verifier}'`)).rejects.toMatchObject({
      code: '42501',
    });
    await client.end();
    expect(await guard.stop()).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('correct horse');
    expect(text).not.toContain('c3RvcmVkS2V5');
    expect(
      events(file)
        .filter((e) => e.type === 'statement')
        .map((e) => e.sql),
    ).toEqual(["ALTER ROLE postgres PASSWORD '***'", `ALTER USER "postgres" PASSWORD '***'`]);
  });

  it('records each statement and its result before the client has the result, so SIGKILL loses none', async () => {
    const file = path.join(dir, 'killed.jsonl');
    const guard = await startGuard(['--upstream', server.url(), '--record', file, '--policy', 'observe']);
    const port = Number(guard.ready.listen.split(':')[1]);
    const clients = await Promise.all(
      Array.from({ length: 8 }, () => RawClient.login(port, guard.ready.user, guard.ready.password)),
    );
    const recording = new RecordingReader(file);
    const perClient = 60;
    const padding = `-- ${'x'.repeat(64 * 1024)}`;
    await Promise.all(
      clients.map(async (raw, c) => {
        for (let i = 0; i < perClient; i++) {
          const sql = `SELECT ${c * perClient + i} ${padding}`;
          raw.write(serialize.query(sql));
          await raw.until('Z');
          // The result is in the client's hands: its events must be in the file already.
          expect(recording.resultsOf(sql), `result of statement ${c * perClient + i}`).toBe(1);
        }
      }),
    );
    guard.child.kill('SIGKILL');
    await once(guard.child, 'exit');
    const recorded = events(file);
    expect(recorded.filter((e) => e.type === 'statement')).toHaveLength(8 * perClient);
    expect(recorded.filter((e) => e.type === 'result')).toHaveLength(8 * perClient);
  });
});
