/**
 * How every command talks to its caller: results on stdout (human text by default, one JSON document with
 * `--json`), progress and diagnostics on stderr, so `portcullis … --json | jq` and `> audit.jsonl` stay
 * clean. While waiting (a sign-in, an approval) a progress line shows what is being waited for.
 */
import type { Command } from 'commander';
import { portcullisHome, type HomePaths } from '../account/home.ts';

export { relativeTime } from '../runtime/relative-time.ts';

export interface Output {
  readonly json: boolean;
  /** Writes the command's result: `value` as one JSON line with --json, else the human rendering. */
  result(value: unknown, human: () => string): void;
  /** Writes one JSON line (streams such as `export`, `replay --json` or the ready line). */
  line(value: unknown): void;
  /** A line for people on stderr (not shown with --json unless it is a warning). */
  note(message: string): void;
  /** Shows (or updates) the waiting line on stderr; `progress(undefined)` clears it. */
  progress(message: string | undefined): void;
}

export interface OutputStreams {
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
}

export function createOutput(json: boolean, streams: OutputStreams = {}): Output {
  const stdout = streams.stdout ?? process.stdout;
  const stderr = streams.stderr ?? process.stderr;
  const tty = stderr.isTTY === true;
  let shown: string | undefined;
  const clear = (): void => {
    if (shown !== undefined && tty) stderr.write('\r\x1b[2K');
    shown = undefined;
  };
  return {
    json,
    result(value, human) {
      clear();
      if (json) stdout.write(`${JSON.stringify(value)}\n`);
      else {
        const text = human();
        if (text) stdout.write(text.endsWith('\n') ? text : `${text}\n`);
      }
    },
    line(value) {
      clear();
      stdout.write(`${JSON.stringify(value)}\n`);
    },
    note(message) {
      clear();
      stderr.write(`${message}\n`);
    },
    progress(message) {
      if (message === shown) return;
      if (message === undefined) {
        if (shown !== undefined && !tty) stderr.write('\n');
        clear();
        return;
      }
      // On a terminal the line is rewritten in place; in a log each change is one line.
      stderr.write(tty ? `\r\x1b[2K${message}` : `${message}\n`);
      shown = message;
    },
  };
}

/** Adds `--json` to a command. */
export function withJson(command: Command): Command {
  return command.option('--json', 'print machine-readable JSON instead of text');
}

/** What every hub-facing command needs: where the user's state is, and how to print. */
export interface CommandContext {
  paths: HomePaths;
  env: NodeJS.ProcessEnv;
  out: Output;
}

export function contextFor(options: { json?: boolean }): CommandContext {
  return { paths: portcullisHome(), env: process.env, out: createOutput(options.json === true) };
}

/** Fixed-width columns for people: one header, one row per item. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const format = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [format(headers), ...rows.map(format)].join('\n');
}
