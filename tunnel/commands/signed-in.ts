/**
 * What the hub-facing commands (targets, request, approvals, sessions, …) share: acting as the signed-in
 * account, hub failures turned into what to do next, and the small parsers of their options.
 *
 * Exit codes: a refusal, an unreachable hub or a missing sign-in fail with 1; input the hub (or the
 * command) rejects as malformed is a usage error, 2.
 */
import { Command } from 'commander';
// The hub's duration format ("30m", "4h", "7d") is part of its API: the same parser on both sides.
import { parseDuration } from '../../hub/api/duration.ts';
import { explainAccountError, openAccount, type Account } from '../account/account.ts';
import { HubError } from '../hub-client/index.ts';
import { contextFor, type CommandContext } from './output.ts';
import { UsageError } from './usage-error.ts';

export const DEMO_HINT = 'is it running? (`portcullis demo` starts one locally)';

/**
 * A subcommand that reports its own usage mistakes to main() (exit 2) instead of exiting the process:
 * commander gives `exitOverride` only to subcommands made with `.command()`, not to added ones.
 */
export function signedInCommand(name: string): Command {
  return new Command(name)
    .exitOverride()
    .showHelpAfterError(`(run \`portcullis ${name} --help\` for usage)`)
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
}

/** Runs `body` as the signed-in account; whatever fails comes out saying what to do next. */
export async function asSignedIn<T>(
  options: { json?: boolean },
  body: (account: Account, ctx: CommandContext) => Promise<T>,
): Promise<T> {
  const ctx = contextFor(options);
  try {
    const account = await openAccount({ paths: ctx.paths, env: ctx.env });
    return await body(account, ctx);
  } catch (error) {
    throw explainHubError(error);
  }
}

export function explainHubError(error: unknown): Error {
  if (error instanceof HubError) {
    if (error.code === 'unreachable' || error.code === 'timeout') {
      return new Error(`${error.message} — ${DEMO_HINT}`);
    }
    if (error.status === 400) return new UsageError(`the hub refused this: ${error.message}`);
  }
  return explainAccountError(error);
}

/** Whether the hub said there is no such thing. */
export function isNotFound(error: unknown): error is HubError {
  return error instanceof HubError && error.status === 404;
}

/** An absolute time (ISO-8601, or a date) or a duration ago ("30m", "2h", "7d"), as an ISO-8601 string. */
export function parseTimeOption(flag: string, value: string, now = Date.now()): string {
  const seconds = parseDuration(value);
  if (seconds !== undefined) return new Date(now - seconds * 1000).toISOString();
  if (/^\d{4}-\d{2}-\d{2}/.test(value.trim())) {
    const ms = Date.parse(value.trim());
    if (!Number.isNaN(ms)) return new Date(ms).toISOString();
  }
  throw new UsageError(
    `${flag} must be a time (2025-03-01, 2025-03-01T09:00:00Z) or how long ago (30m, 2h, 7d); got "${value}"`,
  );
}

/** A duration such as 30m or 4h, checked here so a typo is a usage error before anything is sent. */
export function checkDuration(flag: string, value: string): string {
  if (parseDuration(value) === undefined) {
    throw new UsageError(`${flag} must be a duration such as 30m, 2h or 1h30m; got "${value}"`);
  }
  return value.trim();
}

export function parseLimit(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1 || n > 1000) {
    throw new UsageError(`${flag} must be a whole number from 1 to 1000; got "${value}"`);
  }
  return n;
}

/** Text for one table cell: whitespace collapsed, cut to `max` characters. */
export function oneLine(text: string, max = 60): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** A required free-text option that must say something. */
export function requireText(value: string | undefined, message: string): string {
  const text = value?.trim() ?? '';
  if (text === '') throw new UsageError(message);
  return text;
}
