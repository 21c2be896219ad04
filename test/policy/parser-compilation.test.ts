/**
 * libpg-query's WebAssembly stays on V8's baseline compiler (tunnel/policy/parser-compilation.ts):
 * optimising PostgreSQL's parser and normaliser in the background left a guard ~100 MB larger for
 * good a few statements after it started. Measured in a process of its own, loaded the way the
 * product loads it (a native ES module graph), not in the test runner's module loader.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const FIXTURE = path.resolve(import.meta.dirname, 'fixtures/classify-many.ts');

it('classifying many statements does not grow resident memory by an optimising compile of the parser', async () => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', FIXTURE, '2000'], {
    cwd: path.resolve(import.meta.dirname, '../..'),
  });
  const growth = Number(stdout.trim());
  // With the optimising compiler the same run grows by 80–100 MB; with Liftoff only, by a few MB.
  expect(growth, `RSS grew by ${(growth / 1048576).toFixed(1)} MiB`).toBeLessThan(40 * 1024 * 1024);
}, 120_000);
