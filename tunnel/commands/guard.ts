import { Command, Option } from 'commander';
import { loadClassifier } from '../policy/classifier.ts';
import { PolicyEngine } from '../policy/engine.ts';
import { PolicyFileError, resolvePolicy } from '../policy/policy-file.ts';
import type { Policy } from '../policy/policy.ts';
import { JsonLinesRecorder } from '../recorder/jsonl-recorder.ts';
import { ConfigError, parseUpstreamUrl, type UpstreamConfig } from '../postgres/connection-string.ts';
import { DEFAULT_MAX_MESSAGE_SIZE } from '../postgres/framer.ts';
import { sharedSideConnection } from '../postgres/side-connection.ts';
import { PostgresTunnel } from '../postgres/tunnel.ts';
import { connectUpstream } from '../postgres/upstream.ts';
import { maskKeyFromEnvironment } from './mask-key.ts';
import { UsageError } from './usage-error.ts';

interface GuardPostgresOptions {
  upstream?: string;
  listen: string;
  policy: string;
  record?: string;
  maxMessageSize: string;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  if (!match) throw new UsageError(`--listen must be HOST:PORT or PORT, got "${value}"`);
  const host = match[1] || match[2] || '127.0.0.1';
  const port = Number(match[3]);
  if (!LOOPBACK.has(host)) {
    throw new UsageError(
      `--listen must be a loopback address (127.0.0.1 or ::1); "${host}" would expose the tunnel`,
    );
  }
  if (port > 65535) throw new UsageError(`--listen port ${port} is out of range`);
  return { host: host === 'localhost' ? '127.0.0.1' : host, port };
}

function policyFrom(spec: string): Policy {
  try {
    return resolvePolicy(spec, { maskKey: maskKeyFromEnvironment() });
  } catch (error) {
    if (error instanceof PolicyFileError) throw new UsageError(`--policy: ${error.message}`);
    throw error;
  }
}

function upstreamFrom(options: GuardPostgresOptions): UpstreamConfig {
  const url = options.upstream ?? process.env.PORTCULLIS_UPSTREAM;
  if (!url)
    throw new UsageError('--upstream postgres://USER:PASS@HOST:PORT/DB is required (or PORTCULLIS_UPSTREAM)');
  try {
    return parseUpstreamUrl(url);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`--upstream: ${error.message}`);
    throw error;
  }
}

function log(message: string): void {
  process.stderr.write(`portcullis guard: ${message}\n`);
}

async function guardPostgres(options: GuardPostgresOptions): Promise<void> {
  const upstream = upstreamFrom(options);
  const listen = parseListen(options.listen);
  const policy = policyFrom(options.policy);
  await loadClassifier();
  const side = sharedSideConnection(upstream);
  const decisions = new PolicyEngine(policy, { sideConnection: side.get });
  const maxMessageSize = Number(options.maxMessageSize);
  if (!Number.isInteger(maxMessageSize) || maxMessageSize < 1024) {
    throw new UsageError(
      `--max-message-size must be a whole number of bytes ≥ 1024, got "${options.maxMessageSize}"`,
    );
  }

  // Fail before listening if the upstream cannot be reached or refuses the credentials.
  const probe = await connectUpstream(upstream, { application_name: 'portcullis-guard-check' });
  probe.socket.destroy();

  const recorder = options.record ? await JsonLinesRecorder.open(options.record) : undefined;
  const tunnel = new PostgresTunnel({ upstream, ...listen, decisions, recorder, maxMessageSize, log });
  const endpoint = await tunnel.listen();
  // Signal handlers go in before the ready line: a supervisor may stop us the moment it reads it.
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log(`${signal}: closing ${tunnel.sessionCount} connection(s)`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      void tunnel.close().then(() => {
        side.close();
        resolve();
      });
    };
    const onInt = (): void => stop('SIGINT');
    const onTerm = (): void => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  process.stdout.write(
    JSON.stringify({
      event: 'ready',
      listen: endpoint.listen,
      user: endpoint.user,
      password: endpoint.password,
      url: endpoint.url,
    }) + '\n',
  );
  log(
    `guarding ${upstream.host}:${upstream.port}/${upstream.database} on ${endpoint.listen} with policy ${policy.name}`,
  );
  await stopped;
}

export function guardCommand(): Command {
  const guard = new Command('guard').description('Run a guarded tunnel in the foreground, without the hub.');
  guard
    .command('postgres')
    .description('Guard a PostgreSQL server: clients connect to a local port with a per-tunnel secret.')
    .option('--upstream <url>', 'libpq URI of the server, with its real credentials and sslmode')
    .option('--listen <host:port>', 'loopback address to listen on (port 0 picks one)', '127.0.0.1:0')
    .option('--policy <preset|file>', 'read-only, guarded, observe, or a policy YAML file', 'guarded')
    .option('--record <file>', 'append every session event to FILE as JSON lines')
    .addOption(
      new Option('--max-message-size <bytes>', 'largest protocol message accepted').default(
        String(DEFAULT_MAX_MESSAGE_SIZE),
      ),
    )
    .action((options: GuardPostgresOptions) => guardPostgres(options));
  return guard;
}
