/**
 * `portcullis hub --config hub.yaml [--database URL|FILE] [--listen HOST:PORT]`: runs the hub in the
 * foreground. Prints one JSON line `{"event":"ready","url":"http://HOST:PORT"}` on stdout once it serves,
 * logs to stderr, and stops cleanly (exit 0) on SIGINT or SIGTERM. A configuration it cannot use is one
 * line naming file:line: field, with exit code 2.
 *
 * The engine imports the hub here only, lazily: this is the CLI's entry to it, not a dependency of the
 * tunnel.
 */
import { Command, Option } from 'commander';
import type { LogLevel, RunningHub } from '../../hub/server.ts';
import { UsageError } from './usage-error.ts';

interface HubOptions {
  config: string;
  database?: string;
  listen: string;
  logLevel: LogLevel;
}

export const DEFAULT_HUB_LISTEN = '127.0.0.1:8470';

function log(message: string): void {
  process.stderr.write(`portcullis hub: ${message}\n`);
}

async function runHub(options: HubOptions): Promise<void> {
  // Loaded here so the other commands do not pay for the hub's server, store and IdP libraries.
  const { HubConfigError, ListenAddressError, startHub } = await import('../../hub/server.ts');
  let hub: RunningHub;
  try {
    hub = await startHub({
      configFile: options.config,
      database: options.database,
      listen: options.listen,
      logLevel: options.logLevel,
    });
  } catch (error) {
    if (error instanceof HubConfigError) throw new UsageError(error.message.split('\n')[0]);
    if (error instanceof ListenAddressError) throw new UsageError(`--listen: ${error.message}`);
    throw error;
  }
  // Signal handlers go in before the ready line: a supervisor may stop us the moment it reads it.
  const stopped = new Promise<void>((resolve, reject) => {
    const stop = (signal: string): void => {
      log(`${signal}: shutting down`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      hub.close().then(resolve, reject);
    };
    const onInt = (): void => stop('SIGINT');
    const onTerm = (): void => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  process.stdout.write(JSON.stringify({ event: 'ready', url: hub.url }) + '\n');
  log(
    `serving ${hub.config.targets.length} target(s) on ${hub.url}, store ${hub.database}, identity ${hub.config.identity.issuer}`,
  );
  await stopped;
  log('stopped');
}

export function hubCommand(): Command {
  return new Command('hub')
    .description(
      'Run the hub: entitlements, just-in-time access, approvals, live events and the audit store.',
    )
    .requiredOption('--config <file>', 'hub.yaml')
    .option('--database <url|file>', 'postgres:// URL or SQLite file (overrides database in hub.yaml)')
    .option('--listen <host:port>', 'address to serve the HTTP API on', DEFAULT_HUB_LISTEN)
    .addOption(
      new Option('--log-level <level>', 'request and error log on stderr')
        .choices(['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'])
        .default('info'),
    )
    .action((options: HubOptions) => runHub(options));
}
