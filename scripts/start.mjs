#!/usr/bin/env node
// `npm start`: the desktop app on the embedded demo. Starts `portcullis demo` (arguments are passed on:
// `npm start -- --reset`), builds the app, and launches Electron on it with the demo's hub offered at sign-in.
//
// npm install does not download Electron's binary (package.json allowScripts keeps install scripts from
// running, so that it works offline). When the binary is missing this fetches it with Electron's own
// installer; where that is impossible (no internet) it says so in one line and runs the demo with the app's
// browser preview instead (main/browser: the same services and screens, shown in a browser on this machine).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { build as esbuild } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const electronDir = path.join(root, 'node_modules', 'electron');
const cli = path.join(root, 'bin', 'portcullis.mjs');
const INSTALL_TIMEOUT_MS = Number(process.env.PORTCULLIS_ELECTRON_INSTALL_TIMEOUT_MS ?? 180_000);

/** The Electron executable, when installed. */
export function installedElectron(dir = electronDir) {
  const pathFile = path.join(dir, 'path.txt');
  if (!existsSync(pathFile)) return null;
  const executable = path.join(dir, 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(executable) ? executable : null;
}

/** Runs Electron's own installer (node_modules/electron/install.js); the reason it failed, or null. */
export function fetchElectron(dir = electronDir, timeoutMs = INSTALL_TIMEOUT_MS) {
  const installer = path.join(dir, 'install.js');
  if (!existsSync(installer)) return 'the electron package is not installed (run `npm install`)';
  const run = spawnSync(process.execPath, [installer], { cwd: dir, encoding: 'utf8', timeout: timeoutMs });
  if (run.error?.code === 'ETIMEDOUT') return `the download did not finish within ${timeoutMs / 1000} s`;
  if (run.status !== 0) {
    const cause = `${run.stderr ?? ''}`
      .split('\n')
      .find((line) => /Error|ENOTFOUND|ECONNREFUSED|EAI_AGAIN|getaddrinfo/.test(line));
    return cause ? cause.trim().replace(/^\S*Error:\s*/, '') : `the installer exited with ${run.status}`;
  }
  return installedElectron(dir) ? null : 'the installer finished but left no binary';
}

/** Builds the app as `npm run build` does (main, preload, renderer into out/). */
function buildApp() {
  const built = spawnSync(
    process.execPath,
    [path.join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (built.status !== 0) process.exit(built.status ?? 1);
}

/** The browser preview's server (out/browser/index.mjs) and the page's bridge script (out/browser/bridge.js). */
export async function buildPreview() {
  const common = { absWorkingDir: root, bundle: true, logLevel: 'warning' };
  await esbuild({
    ...common,
    entryPoints: ['main/browser/index.ts'],
    outfile: path.join(root, 'out', 'browser', 'index.mjs'),
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    packages: 'external',
  });
  await esbuild({
    ...common,
    entryPoints: ['renderer/browser-preview/bridge.ts'],
    outfile: path.join(root, 'out', 'browser', 'bridge.js'),
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
  });
}

/**
 * The environment of a child that stops itself once this process is gone (tunnel/runtime/parent-process.ts):
 * `npm start` killed with SIGKILL, or its terminal's process group torn down, leaves no demo behind.
 */
function asParent(env) {
  return { ...env, PORTCULLIS_PARENT_PID: String(process.pid) };
}

/** Runs `child` until it exits, passing Ctrl-C and SIGTERM on; stops `demo` afterwards. */
function superviseApp(child, demo) {
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code) => {
    if (demo.exitCode !== null || demo.signalCode !== null) process.exit(code ?? 0);
    demo.once('exit', () => process.exit(code ?? 0));
    demo.kill('SIGTERM');
  });
  demo.on('exit', () => child.kill('SIGTERM'));
}

async function runPreview(args) {
  buildApp();
  await buildPreview();
  const { demo, hubUrl } = await startDemo(args);
  const preview = spawn(process.execPath, [path.join(root, 'out', 'browser', 'index.mjs'), '--hub', hubUrl], {
    stdio: 'inherit',
    env: asParent(process.env),
  });
  superviseApp(preview, demo);
}

/**
 * Compiles the CLI again when a source is newer than dist/cli (built by `npm install`): after a `git pull`
 * the demo would otherwise run the old code against the new resources.
 */
function buildCliIfStale() {
  const built = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-cli.mjs'), '--if-stale'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

/** Starts the demo and resolves with its ready line once it printed it. */
function startDemo(args) {
  buildCliIfStale();
  const demo = spawn(process.execPath, [cli, 'demo', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: asParent(process.env),
  });
  const lines = createInterface({ input: demo.stdout });
  return new Promise((resolve, reject) => {
    demo.on('exit', (code) => reject(new Error(`the demo exited (${code}) before it was ready`)));
    lines.on('line', (line) => {
      let ready;
      try {
        ready = JSON.parse(line);
      } catch {
        return;
      }
      if (ready.event !== 'ready') return;
      process.stdout.write(`${line}\n`);
      resolve({ demo, hubUrl: ready.hub });
    });
  });
}

async function main() {
  const args = process.argv.slice(2);
  let electron = installedElectron();
  if (!electron) {
    process.stderr.write(
      'portcullis: the Electron binary is not installed; fetching it with Electron’s installer…\n',
    );
    const failure = fetchElectron();
    electron = failure ? null : installedElectron();
    if (!electron) {
      process.stderr.write(
        `portcullis: cannot fetch Electron (${failure}); run \`node node_modules/electron/install.js\` where the internet (or ELECTRON_MIRROR) is reachable, then \`npm start\` again — starting the demo with the app in your browser instead.\n`,
      );
      await runPreview(args);
      return;
    }
  }
  buildApp();
  const { demo, hubUrl } = await startDemo(args);
  const app = spawn(electron, [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), root], {
    stdio: 'inherit',
    env: asParent({ ...process.env, PORTCULLIS_APP_HUB: hubUrl, ELECTRON_RENDERER_URL: '' }),
  });
  superviseApp(app, demo);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    process.stderr.write(`portcullis: ${error.message}\n`);
    process.exit(1);
  });
}
