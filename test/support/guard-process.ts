import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { exitedWithOutput } from './commands.ts';

export const CLI = path.resolve(import.meta.dirname, '../../bin/portcullis.mjs');

export interface ReadyLine {
  event: 'ready';
  listen: string;
  user: string;
  password: string;
  url: string;
  /** The local leg's certificate authority (PEM), for clients' sslrootcert. */
  ca: string;
}

export interface GuardProcess {
  child: ChildProcess;
  ready: ReadyLine;
  stderr(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resident set size now and at its peak, in bytes, read from /proc. */
  memory(): { rss: number; peak: number };
}

/**
 * Runs `portcullis ARGS` as a real child process, the way a user or a script would; `env` replaces this
 * process's environment (e.g. to give each person their own PORTCULLIS_HOME).
 */
export function runCli(
  args: string[],
  env?: NodeJS.ProcessEnv,
  nodeArgs: string[] = [],
  cli = CLI,
): ChildProcess {
  return spawn(process.execPath, [...nodeArgs, cli, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(env ? { env } : {}),
  });
}

/**
 * Starts `portcullis guard postgres ARGS`; `env` replaces this process's environment (the upstream in
 * PORTCULLIS_UPSTREAM, say), `nodeArgs` go to Node itself (a benchmark's --cpu-prof) and `cli` is the
 * command's script when not this checkout's (a benchmark's build of an earlier commit).
 */
export async function startGuard(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; nodeArgs?: string[]; cli?: string } = {},
): Promise<GuardProcess> {
  const child = runCli(['guard', 'postgres', ...args], options.env, options.nodeArgs, options.cli);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const lines = createInterface({ input: child.stdout! });
  const exited = exitedWithOutput(child);
  const firstLine = new Promise<string>((resolve) => lines.once('line', resolve));
  const result = await Promise.race([firstLine, exited.then(() => undefined)]);
  if (result === undefined) throw new Error(`guard exited before it was ready: ${stderr}`);
  const ready = JSON.parse(result) as ReadyLine;
  return {
    child,
    ready,
    stderr: () => stderr,
    async stop(signal = 'SIGTERM') {
      child.kill(signal);
      return exited;
    },
    memory() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = (field: string): number =>
        Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
      return { rss: kb('VmRSS'), peak: kb('VmHWM') };
    },
  };
}

/** Runs the CLI to completion, collecting its output. */
export async function runCliToEnd(
  args: string[],
  env?: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = runCli(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await exitedWithOutput(child);
  return { code, stdout, stderr };
}
