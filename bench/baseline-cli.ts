/**
 * The `portcullis` command as an earlier commit built it, so that a benchmark can run the guard before
 * and after a change in the same run (on a shared machine, runs apart are not comparable): the
 * commit's sources (`git archive`) compiled by its own scripts/build-cli.mjs into a temporary
 * directory whose node_modules is this checkout's.
 */
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from './tools.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const SOURCES = ['bin', 'tunnel', 'hub', 'package.json', 'scripts'];

export interface BaselineCli {
  /** The commit's bin/portcullis.mjs. */
  cli: string;
  remove(): Promise<void>;
}

export async function buildBaselineCli(revision: string): Promise<BaselineCli> {
  if (!/^[\w./~^@-]+$/.test(revision)) throw new Error(`not a git revision: ${revision}`);
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-baseline-'));
  try {
    const unpack = await run('sh', [
      '-c',
      `git -C "$0" archive "$1" ${SOURCES.join(' ')} | tar -x -C "$2"`,
      ROOT,
      revision,
      dir,
    ]);
    if (unpack.code !== 0) throw new Error(`git archive ${revision}: ${unpack.stderr}`);
    await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    const build = await run(process.execPath, [path.join(dir, 'scripts', 'build-cli.mjs')]);
    if (build.code !== 0) throw new Error(`building ${revision}'s CLI: ${build.stderr}`);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    cli: path.join(dir, 'bin', 'portcullis.mjs'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
