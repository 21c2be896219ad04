import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { connectCommand } from './commands/connect.ts';
import { guardCommand } from './commands/guard.ts';
import { loginCommand, logoutCommand, whoamiCommand } from './commands/login.ts';
import { hubCommand } from './commands/hub.ts';
import { demoCommand } from './commands/demo.ts';
import { requestCommand, requestsCommand } from './commands/access.ts';
import { approvalsCommand, approveCommand, denyCommand } from './commands/approvals.ts';
import { exportCommand, replayCommand, sessionsCommand } from './commands/audit.ts';
import { targetsCommand } from './commands/targets.ts';
import { CommandFailure } from './commands/command-failure.ts';
import { UsageError } from './commands/usage-error.ts';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/**
 * Exit codes scripts can rely on: 0 done; 1 failed (unreachable, refused, not signed in, denied);
 * 2 used wrongly (bad options or input); 3 a tunnel ended because access ended (grant expired or revoked).
 */
export const ExitCode = { ok: 0, failure: 1, usage: 2, accessEnded: 3 } as const;

export function buildProgram(): Command {
  const program = new Command('portcullis')
    .description(
      'Identity-aware guarded tunnels: record, mask, block and approve what reaches your databases.',
    )
    .version(version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  program.addCommand(loginCommand());
  program.addCommand(logoutCommand());
  program.addCommand(whoamiCommand());
  program.addCommand(connectCommand());
  program.addCommand(guardCommand());
  program.addCommand(hubCommand());
  program.addCommand(demoCommand());
  program.addCommand(targetsCommand());
  program.addCommand(requestCommand());
  program.addCommand(requestsCommand());
  program.addCommand(approvalsCommand());
  program.addCommand(approveCommand());
  program.addCommand(denyCommand());
  program.addCommand(sessionsCommand());
  program.addCommand(replayCommand());
  program.addCommand(exportCommand());
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
  const program = buildProgram();
  try {
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
