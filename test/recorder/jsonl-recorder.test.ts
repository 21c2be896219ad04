/**
 * The JSON-lines recorder gathers a turn's events into one write (tunnel/recorder/jsonl-recorder.ts):
 * nothing is in the file until the turn ends or the session flushes before releasing a result, and
 * then every event is, whole and in order. Under `writeThrough` (recording: strict) each event is in
 * the file when `record` returns. The end-to-end guarantees (SIGKILL loses nothing a client has seen,
 * failures and gaps) are in test/postgres/guard-recording.test.ts.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { JsonLinesRecorder } from '../../tunnel/recorder/jsonl-recorder.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'jsonl-recorder-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const lines = async (file: string): Promise<{ sessionId: string; sql?: string; type: string }[]> =>
  (await readFile(file, 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { sessionId: string; sql?: string; type: string });

const statement = (sql: string) =>
  ({ type: 'statement', protocol: 'simple', sql, decision: 'allow' }) as const;

it("writes a turn's events together at the end of the turn, in order", async () => {
  const file = path.join(dir, 'turn.jsonl');
  const recorder = JsonLinesRecorder.open(file);
  for (let i = 0; i < 5; i++) recorder.record(`s${i % 2}`, statement(`SELECT ${i}`));
  expect(readFileSync(file, 'utf8')).toBe(''); // read within the turn
  await nextTurn();
  expect((await lines(file)).map((l) => [l.sessionId, l.sql])).toEqual([
    ['s0', 'SELECT 0'],
    ['s1', 'SELECT 1'],
    ['s0', 'SELECT 2'],
    ['s1', 'SELECT 3'],
    ['s0', 'SELECT 4'],
  ]);
  await recorder.close();
});

it('writes at once what it holds when flushed (before a result goes to the client) and when closed', async () => {
  const file = path.join(dir, 'flush.jsonl');
  const recorder = JsonLinesRecorder.open(file);
  recorder.record('s', statement('SELECT 1'));
  recorder.flush();
  expect((await lines(file)).map((l) => l.sql)).toEqual(['SELECT 1']);
  recorder.record('s', statement('SELECT 2'));
  await recorder.close();
  expect((await lines(file)).map((l) => l.sql)).toEqual(['SELECT 1', 'SELECT 2']);
  await nextTurn(); // the turn's scheduled write finds nothing left and a closed file
  expect((await lines(file)).map((l) => l.sql)).toEqual(['SELECT 1', 'SELECT 2']);
});

it('writes each event before record returns under writeThrough (recording: strict)', async () => {
  const file = path.join(dir, 'strict.jsonl');
  const recorder = JsonLinesRecorder.open(file, { writeThrough: true });
  recorder.record('s', statement('SELECT 1'));
  expect((await lines(file)).map((l) => l.sql)).toEqual(['SELECT 1']);
  recorder.record('s', statement('SELECT 2'));
  expect((await lines(file)).map((l) => l.sql)).toEqual(['SELECT 1', 'SELECT 2']);
  await recorder.close();
});
