import { Command, CommanderError } from 'commander';
import { CommandFailure } from './commands/command-failure.ts';
import { UsageError } from './commands/usage-error.ts';
import { packageVersion } from './package-version.ts';

/**
 * Exit codes scripts can rely on: 0 done; 1 failed (unreachable, refused, not signed in, denied);
 * 2 used wrongly (bad options or input); 3 a tunnel ended because access ended (grant expired or revoked).
 */
export const ExitCode = { ok: 0, failure: 1, usage: 2, accessEnded: 3 } as const;

/** A command as the top-level help lists it; its module (and what that imports) loads only when it runs. */
export interface CommandEntry {
  name: string;
  /** The line `portcullis --help` shows; the command's own `--help` has its full description. */
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'login',
    summary: 'Sign in to a hub (a person in the browser, an agent with client credentials).',
    load: async () => (await import('./commands/login.ts')).loginCommand(),
  },
  {
    name: 'logout',
    summary: 'Sign out and revoke the tokens kept here.',
    load: async () => (await import('./commands/login.ts')).logoutCommand(),
  },
  {
    name: 'whoami',
    summary: 'Show who you are signed in as, and at which hub.',
    load: async () => (await import('./commands/login.ts')).whoamiCommand(),
  },
  {
    name: 'connect',
    summary: 'Open a local guarded tunnel to a target; runs until Ctrl-C.',
    load: async () => (await import('./commands/connect.ts')).connectCommand(),
  },
  {
    name: 'ssh-config',
    summary: 'Print the ssh_config blocks that point ssh, scp, sftp and VS Code at your SSH tunnels.',
    load: async () => (await import('./commands/ssh-config.ts')).sshConfigCommand(),
  },
  {
    name: 'guard',
    summary: 'Run a guarded tunnel in the foreground, without the hub.',
    load: async () => (await import('./commands/guard.ts')).guardCommand(),
  },
  {
    name: 'hub',
    summary: 'Run the hub: entitlements, access requests, approvals, live events, audit store.',
    load: async () => (await import('./commands/hub.ts')).hubCommand(),
  },
  {
    name: 'relay',
    summary: 'Run a relay next to the databases, for targets the client machine must not be trusted with.',
    load: async () => (await import('./commands/relay.ts')).relayCommand(),
  },
  {
    name: 'demo',
    summary: 'Run the embedded demo: identity provider, hub and a PostgreSQL full of fake PII.',
    load: async () => (await import('./commands/demo.ts')).demoCommand(),
  },
  {
    name: 'targets',
    summary: 'List the targets you may use or request, and what to run next for each.',
    load: async () => (await import('./commands/targets.ts')).targetsCommand(),
  },
  {
    name: 'request',
    summary: 'Ask for just-in-time access to a target.',
    load: async () => (await import('./commands/access.ts')).requestCommand(),
  },
  {
    name: 'requests',
    summary: 'List your access requests, or those waiting for your decision.',
    load: async () => (await import('./commands/access.ts')).requestsCommand(),
  },
  {
    name: 'approvals',
    summary: 'List the held statements waiting for your decision (or your own).',
    load: async () => (await import('./commands/approvals.ts')).approvalsCommand(),
  },
  {
    name: 'approve',
    summary: 'Approve a held statement or an access request.',
    load: async () => (await import('./commands/approvals.ts')).approveCommand(),
  },
  {
    name: 'deny',
    summary: 'Deny a held statement or an access request, with a reason.',
    load: async () => (await import('./commands/approvals.ts')).denyCommand(),
  },
  {
    name: 'sessions',
    summary: 'List recorded sessions, newest first.',
    load: async () => (await import('./commands/audit.ts')).sessionsCommand(),
  },
  {
    name: 'replay',
    summary: 'Print a recorded session as a transcript, with its chain verification.',
    load: async () => (await import('./commands/audit.ts')).replayCommand(),
  },
  {
    name: 'export',
    summary: 'Stream the audit trail as JSON lines.',
    load: async () => (await import('./commands/audit.ts')).exportCommand(),
  },
];

/** The command `argv` runs (or asks help for), if it names one. */
function requestedCommand(argv: readonly string[]): CommandEntry | undefined {
  const words = argv.filter((arg) => !arg.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  return COMMANDS.find((entry) => entry.name === name);
}

/**
 * The program for one run: every command listed by its summary, and only the one `argv` names loaded in
 * full, so that `portcullis --help` or `portcullis targets` do not load the tunnel engine or the hub.
 */
export async function buildProgram(argv: readonly string[]): Promise<Command> {
  const program = new Command('portcullis')
    .description(
      'Identity-aware guarded tunnels: record, mask, block and approve what reaches your databases.',
    )
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  const requested = requestedCommand(argv);
  for (const entry of COMMANDS) {
    const command = entry === requested ? await entry.load() : new Command(entry.name);
    program.addCommand(command.summary(entry.summary));
  }
  // Commands built on their own don't inherit exitOverride: without it a usage mistake would exit 1.
  const inherit = (parent: Command): void => {
    for (const command of parent.commands) {
      command.copyInheritedSettings(parent);
      inherit(command);
    }
  };
  inherit(program);
  return program;
}

/** Runs the CLI; resolves with the process exit code once the command has finished. */
export async function main(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv, { from: 'user' });
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`portcullis: ${message}\n`);
    if (error instanceof CommandFailure) return error.exitCode;
    return error instanceof UsageError ? ExitCode.usage : ExitCode.failure;
  }
}
