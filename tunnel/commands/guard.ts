import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { loadClassifier } from '../policy/classifier.ts';
import { PolicyEngine } from '../policy/engine.ts';
import { checkPolicyCatalog, PolicyCatalogError } from '../policy/policy-catalog-check.ts';
import { PolicyFileError, resolvePolicy } from '../policy/policy-file.ts';
import type { Policy } from '../policy/policy.ts';
import { JsonLinesRecorder } from '../recorder/jsonl-recorder.ts';
import { ConfigError, parseUpstreamUrl, type UpstreamConfig } from '../postgres/connection-string.ts';
import { DEFAULT_MAX_MESSAGE_SIZE } from '../postgres/wire/framer.ts';
import { createLocalAuthority, issueLoopbackCertificate } from '../postgres/local-certificate.ts';
import type { LocalTlsMaterial } from '../postgres/local-tls.ts';
import { sharedSideConnection } from '../postgres/side-connection.ts';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_UNAUTHENTICATED, PostgresTunnel } from '../postgres/tunnel.ts';
import { DEFAULT_MAX_STATEMENT_SIZE } from '../policy/statement-size.ts';
import { connectUpstream } from '../postgres/upstream.ts';
import { maskKeyFromEnvironment } from './mask-key.ts';
import { UsageError } from './usage-error.ts';

interface GuardPostgresOptions {
  upstream?: string;
  upstreamFile?: string;
  listen: string;
  policy: string;
  record?: string;
  maxMessageSize: string;
  maxStatementSize: string;
  maxConnections: string;
  maxUnauthenticated: string;
  authenticationTimeout: string;
}

/** A whole number ≥ `min` from an option, or a usage error naming it. */
function wholeNumber(flag: string, value: string, min: number, unit: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < min) {
    throw new UsageError(`${flag} must be a whole number of ${unit} ≥ ${min}, got "${value}"`);
  }
  return number;
}

/** What the tunnel will take on: message and statement sizes, connections, time to sign in. */
function limitsFrom(options: GuardPostgresOptions) {
  return {
    maxMessageSize: wholeNumber('--max-message-size', options.maxMessageSize, 1024, 'bytes'),
    maxStatementSize: wholeNumber('--max-statement-size', options.maxStatementSize, 1024, 'bytes'),
    maxConnections: wholeNumber('--max-connections', options.maxConnections, 1, 'connections'),
    maxUnauthenticated: wholeNumber('--max-unauthenticated', options.maxUnauthenticated, 1, 'connections'),
    authenticationTimeoutMs:
      wholeNumber('--authentication-timeout', options.authenticationTimeout, 1, 'seconds') * 1000,
  };
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

async function refuseNamesTheDatabaseLacks(
  policy: Policy,
  side: ReturnType<typeof sharedSideConnection>,
): Promise<void> {
  try {
    await checkPolicyCatalog(policy, await side.get());
  } catch (error) {
    side.close();
    if (error instanceof PolicyCatalogError) throw new UsageError(`--policy: ${error.message}`);
    throw error;
  }
}

const UPSTREAM_REQUIRED =
  'the upstream is required: PORTCULLIS_UPSTREAM=postgres://USER:PASS@HOST:PORT/DB in the environment, ' +
  '--upstream-file FILE (- for stdin), or --upstream URL';

/** The upstream URI from --upstream-file (a file, or - for stdin), the environment, or --upstream. */
function upstreamUrl(options: GuardPostgresOptions): { url: string; from: string } {
  if (options.upstream !== undefined && options.upstreamFile !== undefined) {
    throw new UsageError('give the upstream once: --upstream or --upstream-file, not both');
  }
  if (options.upstreamFile !== undefined) {
    const file = options.upstreamFile === '-' ? 0 : options.upstreamFile;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(
        `--upstream-file: cannot read ${options.upstreamFile}: ${(error as Error).message}`,
      );
    }
    const url = text
      .split(/\r?\n/)
      .find((line) => line.trim() !== '')
      ?.trim();
    if (!url) throw new UsageError(`--upstream-file: ${options.upstreamFile} holds no connection URI`);
    return { url, from: '--upstream-file' };
  }
  if (options.upstream !== undefined) return { url: options.upstream, from: '--upstream' };
  const fromEnvironment = process.env.PORTCULLIS_UPSTREAM;
  if (fromEnvironment) return { url: fromEnvironment, from: 'PORTCULLIS_UPSTREAM' };
  throw new UsageError(UPSTREAM_REQUIRED);
}

function upstreamFrom(options: GuardPostgresOptions): { upstream: UpstreamConfig; passwordInArgs: boolean } {
  const { url, from } = upstreamUrl(options);
  try {
    const upstream = parseUpstreamUrl(url);
    return { upstream, passwordInArgs: from === '--upstream' && upstream.password !== undefined };
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`${from}: ${error.message}`);
    throw error;
  }
}

/** Said once the guard is sure to run, so that a refused start stays one line. */
function warnOfPasswordInArgs(): void {
  log(
    'warning: the password in --upstream is visible to every local user (ps, /proc) while this runs; ' +
      'set PORTCULLIS_UPSTREAM or use --upstream-file instead',
  );
  // Shortens the window in which `ps` shows it: the command line is rewritten once parsed.
  process.title = 'portcullis guard postgres';
}

/**
 * TLS for the local leg, with an authority made for this run: its certificate goes out in the ready line
 * (`ca`), for clients' `sslrootcert` with sslmode=verify-full; sslmode=require needs nothing.
 */
async function localTls(host: string): Promise<LocalTlsMaterial> {
  const authority = await createLocalAuthority(`Portcullis guard on ${host} (pid ${process.pid})`);
  return { ...(await issueLoopbackCertificate(authority)), ca: authority.cert };
}

function log(message: string): void {
  process.stderr.write(`portcullis guard: ${message}\n`);
}

/** One JSON line on stdout: the ready line, and what a supervisor must know of later (recording). */
function announce(event: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(event) + '\n');
}

/**
 * The `--record FILE` recorder, loud when writing fails: stderr and a `recording-failed` line on stdout.
 * Under a policy with `recording: strict`, a failure ends the guard (`stop`): nothing runs unrecorded.
 */
function openRecording(file: string, strict: boolean, stop: (failure: Error) => void): JsonLinesRecorder {
  return JsonLinesRecorder.open(file, {
    writeThrough: strict,
    onFailure(error) {
      log(
        `recording to ${file} failed: ${error.message}; ` +
          (strict
            ? 'the policy requires recording (recording: strict), so every session ends now'
            : 'events are lost until writing works again'),
      );
      announce({ event: 'recording-failed', file, error: error.message, strict });
      if (strict) stop(new Error(`recording to ${file} failed: ${error.message}`));
    },
    onRecovery(lost) {
      log(`recording to ${file} works again; ${lost} event(s) were lost (a recording.gap line says so)`);
      announce({ event: 'recording-recovered', file, lost });
    },
  });
}

async function guardPostgres(options: GuardPostgresOptions): Promise<void> {
  const { upstream, passwordInArgs } = upstreamFrom(options);
  const listen = parseListen(options.listen);
  const policy = policyFrom(options.policy);
  const limits = limitsFrom(options);
  await loadClassifier();
  let connected = (): boolean => false;
  const side = sharedSideConnection(upstream, undefined, {
    applicationName: `portcullis catalog for guard pid ${process.pid}`,
    inUse: () => connected(),
  });
  const decisions = new PolicyEngine(policy, { sideConnection: side.get });

  // Fail before listening if the upstream cannot be reached or refuses the credentials.
  const probe = await connectUpstream(upstream, { application_name: 'portcullis-guard-check' });
  probe.socket.destroy();
  await refuseNamesTheDatabaseLacks(policy, side);
  if (passwordInArgs) warnOfPasswordInArgs();

  let stop: (why: string, failure?: Error) => void = () => {};
  const recorder = options.record
    ? openRecording(options.record, policy.recording === 'strict', (failure) =>
        stop('recording failed', failure),
      )
    : undefined;
  const tls = await localTls(listen.host);
  const tunnel = new PostgresTunnel({ upstream, ...listen, decisions, recorder, ...limits, tls, log });
  connected = () => tunnel.sessionCount > 0;
  const endpoint = await tunnel.listen();
  // Signal handlers go in before the ready line: a supervisor may stop us the moment it reads it.
  const stopped = new Promise<Error | undefined>((resolve) => {
    const onInt = (): void => stop('SIGINT');
    const onTerm = (): void => stop('SIGTERM');
    stop = (why, failure) => {
      stop = () => {};
      log(`${why}: closing ${tunnel.sessionCount} connection(s)`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      const reason = failure
        ? `${failure.message}; the policy does not allow unrecorded sessions`
        : undefined;
      void tunnel.close(reason).then(() => {
        side.close();
        resolve(failure);
      });
    };
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  announce({
    event: 'ready',
    listen: endpoint.listen,
    user: endpoint.user,
    password: endpoint.password,
    url: endpoint.url,
    ca: endpoint.ca,
  });
  log(
    `guarding ${upstream.host}:${upstream.port}/${upstream.database} on ${endpoint.listen} with policy ${policy.name}`,
  );
  const failure = await stopped;
  if (failure) throw failure;
}

export function guardCommand(): Command {
  const guard = new Command('guard').description('Run a guarded tunnel in the foreground, without the hub.');
  guard
    .command('postgres')
    .description('Guard a PostgreSQL server: clients connect to a local port with a per-tunnel secret.')
    .option(
      '--upstream <url>',
      'libpq URI of the server with its credentials (visible in ps: prefer PORTCULLIS_UPSTREAM or --upstream-file)',
    )
    .option('--upstream-file <file>', 'read the libpq URI from FILE (- for stdin)')
    .option('--listen <host:port>', 'loopback address to listen on (port 0 picks one)', '127.0.0.1:0')
    .option('--policy <preset|file>', 'read-only, guarded, observe, or a policy YAML file', 'guarded')
    .option('--record <file>', 'append every session event to FILE as JSON lines')
    .addOption(
      new Option('--max-message-size <bytes>', 'largest protocol message accepted').default(
        String(DEFAULT_MAX_MESSAGE_SIZE),
      ),
    )
    .addOption(
      new Option(
        '--max-statement-size <bytes>',
        'largest statement inspected; larger ones are denied',
      ).default(String(DEFAULT_MAX_STATEMENT_SIZE)),
    )
    .addOption(
      new Option('--max-connections <n>', 'client connections at once').default(
        String(DEFAULT_MAX_CONNECTIONS),
      ),
    )
    .addOption(
      new Option('--max-unauthenticated <n>', 'connections still signing in, at once').default(
        String(DEFAULT_MAX_UNAUTHENTICATED),
      ),
    )
    .option('--authentication-timeout <seconds>', 'time a client has to sign in', '60')
    .action((options: GuardPostgresOptions) => guardPostgres(options));
  return guard;
}
