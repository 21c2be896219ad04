import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { guardCommand } from './commands/guard.ts';
import { hubCommand } from './commands/hub.ts';
import { UsageError } from './commands/usage-error.ts';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** Exit codes scripts can rely on. */
export const ExitCode = { ok: 0, failure: 1, usage: 2 } as const;

export function buildProgram(): Command {
  const program = new Command('portcullis')
    .description(
      'Identity-aware guarded tunnels: record, mask, block and approve what reaches your databases.',
    )
    .version(version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  program.addCommand(guardCommand());
  program.addCommand(hubCommand());
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
    return error instanceof UsageError ? ExitCode.usage : ExitCode.failure;
  }
}
