/**
 * `portcullis login`, `logout` and `whoami`: signing a person in through the system browser (or printing
 * the URL with --no-browser), an agent with client credentials, and showing who the hub thinks you are.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import type { Me } from '../../hub/api/types.ts';
import {
  HUB_ENV,
  readProfile,
  signInAgent,
  signInPerson,
  signOut,
  type Account,
} from '../account/account.ts';
import { openSystemBrowser } from '../identity/index.ts';
import { contextFor, withJson, type Output } from './output.ts';
import { asSignedIn, explainHubError, signedInCommand } from './signed-in.ts';
import { UsageError } from './usage-error.ts';

interface LoginOptions {
  hub?: string;
  browser: boolean;
  clientCredentials?: boolean;
  timeout: string;
  json?: boolean;
}

function describeMe(me: Me, hub: string): string {
  const groups = me.groups.length > 0 ? me.groups.join(', ') : 'none';
  const roles = [me.admin ? 'admin' : '', me.auditor ? 'auditor' : ''].filter(Boolean);
  return [
    `${me.name} (${me.subject}), ${me.kind === 'agent' ? 'an agent' : 'a person'}`,
    `hub:    ${hub}`,
    `groups: ${groups}${roles.length > 0 ? ` (${roles.join(', ')})` : ''}`,
  ].join('\n');
}

/** Opens the system browser; when there is none (a server, a container), prints the URL instead. */
function browserOpener(out: Output, print: boolean): (url: string) => Promise<void> {
  const printUrl = (url: string): void => {
    out.line({ event: 'authorize', url });
    out.progress(`Open the URL above in a browser to sign in… (waiting; Ctrl-C to stop)`);
  };
  return async (url) => {
    if (print) return printUrl(url);
    try {
      await openSystemBrowser(url);
      out.progress('Waiting for you to sign in in the browser… (Ctrl-C to stop)');
    } catch {
      printUrl(url);
    }
  };
}

async function login(options: LoginOptions): Promise<void> {
  const ctx = contextFor(options);
  const hubUrl =
    options.hub ?? ctx.env[HUB_ENV] ?? (await readProfile(ctx.paths).catch(() => undefined))?.hub;
  if (!hubUrl) throw new UsageError(`--hub URL is required the first time (or set ${HUB_ENV})`);
  const timeoutSeconds = Number(options.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    throw new UsageError(`--timeout must be a number of seconds, got "${options.timeout}"`);
  }
  let account: Account;
  try {
    if (options.clientCredentials) {
      account = await signInAgent({ hubUrl, paths: ctx.paths, env: ctx.env });
    } else {
      const abort = new AbortController();
      const onInterrupt = (): void => abort.abort();
      process.once('SIGINT', onInterrupt);
      try {
        account = await signInPerson({
          hubUrl,
          paths: ctx.paths,
          openBrowser: browserOpener(ctx.out, !options.browser),
          timeoutMs: timeoutSeconds * 1000,
          signal: abort.signal,
        });
      } finally {
        process.off('SIGINT', onInterrupt);
        ctx.out.progress(undefined);
      }
    }
  } catch (error) {
    if (error instanceof TypeError && /--hub/.test(error.message)) throw new UsageError(error.message);
    throw explainHubError(error);
  }
  const me = await account.hub.me().catch((error: unknown) => {
    throw explainHubError(error);
  });
  ctx.out.result({ event: 'signed-in', hub: account.profile.hub, ...me }, () =>
    [`Signed in.`, describeMe(me, account.profile.hub)].join('\n'),
  );
}

async function logout(options: { json?: boolean }): Promise<void> {
  const ctx = contextFor(options);
  const outcome = await signOut(ctx.paths);
  ctx.out.result(
    {
      event: 'signed-out',
      signedOut: outcome.signedOut,
      hub: outcome.hub ?? null,
      revoked: outcome.result?.revoked ?? false,
      endSessionUrl: outcome.result?.endSessionUrl ?? null,
    },
    () => {
      if (!outcome.signedOut) return 'Not signed in.';
      const lines = [`Signed out of ${outcome.hub}.`];
      if (outcome.result?.endSessionUrl) {
        lines.push(
          `To end the identity provider's browser session too, open ${outcome.result.endSessionUrl}`,
        );
      }
      return lines.join('\n');
    },
  );
}

async function whoami(options: { json?: boolean }): Promise<void> {
  await asSignedIn(options, async (account, ctx) => {
    const me = await account.hub.me();
    const tokens = account.tokens.tokens;
    ctx.out.result(
      {
        hub: account.profile.hub,
        ...me,
        tokenExpiresAt: tokens ? new Date(tokens.expiresAt).toISOString() : null,
      },
      () => describeMe(me, account.profile.hub),
    );
  });
}

export function loginCommand(): Command {
  return withJson(
    signedInCommand('login')
      .description('Sign in to a hub: a person through the browser, an agent with client credentials.')
      .option('--hub <url>', `the hub's URL (default: ${HUB_ENV}, then the hub you last signed in to)`)
      .option('--no-browser', 'print {"event":"authorize","url":…} instead of opening a browser, then wait')
      .option(
        '--client-credentials',
        'sign in as an agent with PORTCULLIS_CLIENT_ID and PORTCULLIS_CLIENT_SECRET (the secret is never saved)',
      )
      .addOption(new Option('--timeout <seconds>', 'how long to wait for the browser').default('300')),
  ).action((options: LoginOptions) => login(options));
}

export function logoutCommand(): Command {
  return withJson(
    signedInCommand('logout').description(
      'Sign out: forget the tokens here and revoke them at the identity provider.',
    ),
  ).action((options: { json?: boolean }) => logout(options));
}

export function whoamiCommand(): Command {
  return withJson(
    signedInCommand('whoami').description('Show who you are signed in as, and at which hub.'),
  ).action((options: { json?: boolean }) => whoami(options));
}
