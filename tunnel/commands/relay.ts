/**
 * `portcullis relay --hub URL --tls-cert FILE --tls-key FILE [--listen HOST:PORT] [--spool FILE]`: runs a
 * relay in the foreground, next to the databases of targets enforced at one (`enforcement: relay`). It signs
 * in to the hub as an agent (PORTCULLIS_CLIENT_ID and PORTCULLIS_CLIENT_SECRET; the agent must be in one of
 * the hub's `relays` groups), prints one JSON line `{"event":"ready","listen":"HOST:PORT"}` on stdout once it
 * serves, logs to stderr, and on SIGINT or SIGTERM ends every connection and delivers its recording.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { openAccount } from '../account/account.ts';
import { maskKeyFromEnvironment } from './mask-key.ts';
import { contextFor } from './output.ts';
import { explainHubError } from './signed-in.ts';
import { UsageError } from './usage-error.ts';

interface RelayCommandOptions {
  hub?: string;
  listen: string;
  tlsCert: string;
  tlsKey: string;
  spool?: string;
}

export const DEFAULT_RELAY_LISTEN = '0.0.0.0:6433';

function log(message: string): void {
  process.stderr.write(`portcullis relay: ${message}\n`);
}

function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[3]);
  if (!match || port > 65_535) throw new UsageError(`--listen must be host:port; got "${value}"`);
  return { host: match[1] ?? match[2]!, port };
}

async function readPem(flag: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(
      `${flag}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
}

async function runRelay(options: RelayCommandOptions): Promise<void> {
  const ctx = contextFor({});
  const listen = parseListen(options.listen);
  const tls = {
    cert: await readPem('--tls-cert', options.tlsCert),
    key: await readPem('--tls-key', options.tlsKey),
  };
  const env = options.hub ? { ...ctx.env, PORTCULLIS_HUB: options.hub } : ctx.env;
  if (!env.PORTCULLIS_CLIENT_ID || !env.PORTCULLIS_CLIENT_SECRET) {
    throw new UsageError(
      'a relay signs in as an agent: set PORTCULLIS_CLIENT_ID and PORTCULLIS_CLIENT_SECRET',
    );
  }
  const { startRelay } = await import('../relay/index.ts');
  let relay;
  try {
    const account = await openAccount({ paths: ctx.paths, env });
    relay = await startRelay({
      hub: account.hub,
      tls,
      ...listen,
      spoolPath: options.spool ?? path.join(path.dirname(ctx.paths.spool), 'relay-recordings.db'),
      ...(maskKeyFromEnvironment(env) ? { maskKey: maskKeyFromEnvironment(env) } : {}),
      log,
    });
  } catch (error) {
    throw explainHubError(error);
  }
  const running = relay;
  const stopped = new Promise<void>((resolve, reject) => {
    const stop = (signal: string): void => {
      log(`${signal}: ending connections and delivering the recording`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      running.stop(`the relay was stopped (${signal})`).then(({ pending }) => {
        if (pending > 0)
          log(`${pending} recorded event(s) are kept in the spool and delivered at the next start`);
        resolve();
      }, reject);
    };
    const onInt = (): void => stop('SIGINT');
    const onTerm = (): void => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  const shown = running.host.includes(':') ? `[${running.host}]` : running.host;
  process.stdout.write(JSON.stringify({ event: 'ready', listen: `${shown}:${running.port}` }) + '\n');
  log(`serving on ${shown}:${running.port}`);
  await stopped;
  log('stopped');
}

export function relayCommand(): Command {
  return new Command('relay')
    .description(
      'Run a relay next to the databases: for targets with enforcement: relay it alone reaches the database, ' +
        'and judges, masks, holds and records every connection (the client machine is not trusted).',
    )
    .option('--hub <url>', 'the hub (default: PORTCULLIS_HUB)')
    .option('--listen <host:port>', 'address to accept tunnels on', DEFAULT_RELAY_LISTEN)
    .requiredOption('--tls-cert <file>', "the relay's certificate chain (PEM): tunnels verify it")
    .requiredOption('--tls-key <file>', "the certificate's private key (PEM)")
    .option('--spool <file>', 'the recording spool (default: relay-recordings.db in the Portcullis home)')
    .action((options: RelayCommandOptions) => runRelay(options));
}
