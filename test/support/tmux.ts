/**
 * A real terminal for interactive tests: a detached tmux session (its own server socket, no user config)
 * running a command in a pty of a given size. Keys go in with send-keys; the screen comes back with
 * capture-pane, as the person would see it.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from './commands.ts';
import { until } from './waiting.ts';

export const TMUX = '/usr/bin/tmux';

export function tmuxMissing(): string | undefined {
  return existsSync(TMUX) ? undefined : 'tmux is not installed (apt-get install tmux)';
}

export interface Pane {
  /** The visible screen, one string per row, trailing spaces removed. */
  screen(): Promise<string[]>;
  /** Waits until the screen matches `pattern`; returns the screen. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string[]>;
  /** Types text (literally), then presses Enter when `enter` is set. */
  type(text: string, options?: { enter?: boolean }): Promise<void>;
  resize(cols: number, rows: number): Promise<void>;
  /** Whether the command in the pane has ended. */
  ended(): Promise<boolean>;
  kill(): Promise<void>;
}

export async function startPane(
  command: string[],
  size: { cols: number; rows: number },
  env: Record<string, string> = {},
): Promise<Pane> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-tmux-'));
  const socket = path.join(dir, 'socket');
  // The server reads this as it starts, before the command runs: a pane whose command ended stays, dead,
  // with its last screen (no user configuration besides).
  const config = path.join(dir, 'tmux.conf');
  await writeFile(config, 'set-option -g remain-on-exit on\n');
  const tmux = (...args: string[]) => run(TMUX, ['-S', socket, '-f', config, ...args], { timeoutMs: 10_000 });
  const shellCommand = command.map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
  const envArgs = Object.entries(env).flatMap(([key, value]) => ['-e', `${key}=${value}`]);
  const started = await tmux(
    'new-session',
    '-d',
    '-s',
    'test',
    '-x',
    String(size.cols),
    '-y',
    String(size.rows),
    ...envArgs,
    shellCommand,
  );
  if (started.code !== 0) throw new Error(`tmux did not start: ${started.stderr}`);
  const screen = async (): Promise<string[]> => {
    const captured = await tmux('capture-pane', '-p', '-t', 'test');
    return captured.stdout
      .replace(/\n$/, '')
      .split('\n')
      .map((line) => line.replace(/\s+$/, ''));
  };
  return {
    screen,
    async waitFor(pattern, timeoutMs = 15_000) {
      return until(
        `the screen to show ${pattern}`,
        async () => {
          const lines = await screen();
          return pattern.test(lines.join('\n')) ? lines : undefined;
        },
        timeoutMs,
      );
    },
    async type(text, options = {}) {
      await tmux('send-keys', '-t', 'test', '-l', text);
      if (options.enter) await tmux('send-keys', '-t', 'test', 'Enter');
    },
    async resize(cols, rows) {
      await tmux('resize-window', '-t', 'test', '-x', String(cols), '-y', String(rows));
    },
    async ended() {
      // Not #{pane_current_command}: that names the pane's shell (the process group's leader), never the
      // command the shell runs, so it said "ended" while the command still ran.
      const result = await tmux('display-message', '-p', '-t', 'test', '#{pane_dead}');
      return result.stdout.trim() === '1';
    },
    async kill() {
      await tmux('kill-server');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
