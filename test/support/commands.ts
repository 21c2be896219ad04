import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

/** Whether an external tool (psql, pgbench, pgbouncer…) is on the PATH. */
export function installed(tool: string): boolean {
  return spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * The exit code of `child` once it has exited and its stdout and stderr have been read to their end. At
 * 'exit' the last of its output can still sit unread in the pipes ('close' comes once both are drained),
 * and a test reading the output then sees it cut short. Call it when the child starts. A descendant that
 * keeps the pipes open (a daemon the command started) would hold 'close' back for good, so the wait for
 * the output after the exit is bounded.
 */
export function exitedWithOutput(child: ChildProcess, drainMs = 10_000): Promise<number | null> {
  return new Promise((resolve) => {
    let drain: NodeJS.Timeout | undefined;
    child.once('exit', (code) => {
      drain = setTimeout(() => resolve(code), drainMs);
    });
    child.once('close', (code) => {
      clearTimeout(drain);
      resolve(code);
    });
  });
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command without blocking the event loop: tests run the tunnel in this same process, and a
 * synchronous spawn would stall it while the command waits on it.
 */
export function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    // Decoded as a stream: a character split between two reads stays whole.
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    void exitedWithOutput(child).then((code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A command may exit without reading its input; that is its business, not an error here.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}
