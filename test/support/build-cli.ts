/**
 * vitest globalSetup: the tests run the CLI as users do, compiled (bin/portcullis.mjs → dist/cli), so
 * compile it first from the sources under test, unless the last build is newer than every source.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

export default function setup(): void {
  const script = path.resolve(import.meta.dirname, '../../scripts/build-cli.mjs');
  const build = spawnSync(process.execPath, [script, '--if-stale'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error(`building the CLI failed (exit ${build.status})`);
}
