#!/usr/bin/env node
// Compiles the `portcullis` CLI (tunnel/cli.ts and everything it reaches: the engine, and the hub for `hub`
// and `demo`) to JavaScript in dist/cli, so the installed command runs on plain Node — no TypeScript loader
// at run time. Each command's module is a chunk of its own, loaded only when that command runs. Packages
// stay in node_modules (native ones cannot be bundled, and the others need not be).
//
// npm runs this on `prepare` (npm install, npm ci). `--if-stale` builds only when a source is newer than
// the last build (the test run uses it). The Electron app has its own build (electron-vite), apart from this.
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'cli');
const entry = path.join(outdir, 'cli.js');
const sources = ['tunnel', 'hub', 'package.json', 'scripts/build-cli.mjs'];

function newestSource(file) {
  const stat = statSync(file);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const name of readdirSync(file)) newest = Math.max(newest, newestSource(path.join(file, name)));
  return newest;
}

function isStale() {
  if (!existsSync(entry)) return true;
  const built = statSync(entry).mtimeMs;
  return sources.some((source) => newestSource(path.join(root, source)) > built);
}

if (!process.argv.includes('--if-stale') || isStale()) {
  // Built beside and swapped in, so a CLI already running from dist/cli keeps its files until the swap.
  const staging = `${outdir}.${process.pid}`;
  await build({
    absWorkingDir: root,
    // The parse worker is an entry of its own: worker threads start from a file (parse-worker-pool.ts).
    entryPoints: { cli: 'tunnel/cli.ts', 'parse-worker': 'tunnel/policy/parse-worker.ts' },
    outdir: staging,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    packages: 'external',
    sourcemap: 'linked',
    chunkNames: 'chunks/[name]-[hash]',
    logLevel: 'warning',
  });
  rmSync(outdir, { recursive: true, force: true });
  renameSync(staging, outdir);
}
