/**
 * `portcullis connect TARGET`: opens a local guarded tunnel to a target the hub says you may use, prints the
 * guard contract's ready line (plus `target` and `session`), shows live counts while it runs, and syncs the
 * recording to the hub. It runs until interrupted, or until the hub ends the access (exit 3).
 */
import type { Command } from 'commander';
import type { Account } from '../account/account.ts';
import type { OpenTunnel, TunnelStats } from '../manager/tunnel-manager.ts';
import { startEngine, type Engine, type EngineOptions } from '../runtime/engine.ts';
import { CommandFailure } from './command-failure.ts';
import { maskKeyFromEnvironment } from './mask-key.ts';
import { withJson, type CommandContext } from './output.ts';
import { asSignedIn, signedInCommand } from './signed-in.ts';
import { UsageError } from './usage-error.ts';

interface ConnectOptions {
  port?: string;
  stats?: string;
  json?: boolean;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function statsLine(stats: TunnelStats): string {
  return [
    `${stats.open} open / ${stats.connections} connection${stats.connections === 1 ? '' : 's'}`,
    `${stats.statements} statements`,
    `${stats.blocked} blocked`,
    `${stats.held} held`,
    `${stats.maskedCells} masked cells`,
    `${bytes(stats.bytesToClient)} sent, ${bytes(stats.bytesFromClient)} received`,
  ].join(' · ');
}

function parsePort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new UsageError(`--port must be a port number from 1 to 65535, got "${value}"`);
  }
  return port;
}

function untilSignal(): { stopped: Promise<string>; dispose(): void } {
  // SIGHUP too: closing the terminal should close the session, not abandon it.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  let dispose = (): void => {};
  const stopped = new Promise<string>((resolve) => {
    const handlers = signals.map((signal) => [signal, () => resolve(signal)] as const);
    for (const [signal, handler] of handlers) process.once(signal, handler);
    dispose = () => handlers.forEach(([signal, handler]) => process.off(signal, handler));
  });
  return { stopped, dispose };
}

async function connect(targetId: string, options: ConnectOptions): Promise<void> {
  const port = parsePort(options.port);
  const statsInterval = parseStatsInterval(options.stats);
  await asSignedIn(options, (account, ctx) => runTunnel(account, ctx, targetId, port, statsInterval));
}

function parseStatsInterval(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0.1 || seconds > 86_400) {
    throw new UsageError(`--stats must be a number of seconds from 0.1 to 86400, got "${value}"`);
  }
  return seconds;
}

async function runTunnel(
  account: Account,
  ctx: CommandContext,
  targetId: string,
  port: number | undefined,
  statsInterval: number | undefined,
): Promise<void> {
  const { out } = ctx;
  const me = await account.hub.me();
  // Handlers go in before the ready line: a supervisor may stop us the moment it reads it.
  const signal = untilSignal();
  let opened: { engine: Engine; tunnel: OpenTunnel };
  try {
    opened = await openTunnel(account, me, ctx, targetId, port);
  } catch (error) {
    signal.dispose();
    throw error;
  }
  const { engine, tunnel } = opened;
  announce(out, tunnel);
  const stopReporting = reportStats(out, tunnel, statsInterval);

  const outcome = await Promise.race([
    signal.stopped.then((name) => ({ by: 'signal' as const, name })),
    tunnel.closed.then((closed) => ({ by: 'hub' as const, closed })),
  ]);
  signal.dispose();
  stopReporting();
  const closed =
    outcome.by === 'signal' ? await tunnel.close(`the tunnel was stopped (${outcome.name})`) : outcome.closed;
  const stats = tunnel.stats();
  await engine.stop();
  const summary = {
    event: 'closed',
    target: tunnel.target.id,
    session: tunnel.sessionId,
    reason: closed.reason,
    stats,
  };
  if (out.json) out.line(summary);
  else out.note(`Closed: ${closed.reason}. ${statsLine(stats)}`);
  if (closed.cause === 'grant-expired' || closed.cause === 'grant-revoked') {
    throw new CommandFailure(closed.reason, 3);
  }
  if (closed.cause === 'recording-failed') throw new CommandFailure(closed.reason, 1);
}

/** The engine and the tunnel to TARGET_ID it opens; an engine whose tunnel cannot open is stopped. */
async function openTunnel(
  account: Account,
  me: EngineOptions['identity'],
  ctx: CommandContext,
  targetId: string,
  port: number | undefined,
): Promise<{ engine: Engine; tunnel: OpenTunnel }> {
  const engine = await startEngine({
    hub: account.hub,
    tokens: account.tokens,
    identity: me,
    paths: ctx.paths,
    maskKey: maskKeyFromEnvironment(ctx.env),
    log: (message) => ctx.out.note(`portcullis connect: ${message}`),
  });
  try {
    return { engine, tunnel: await engine.open(targetId, port === undefined ? {} : { port }) };
  } catch (error) {
    await engine.stop({ flushTimeoutMs: 0 });
    throw error;
  }
}

/**
 * A terminal gets a live line; a log or a supervisor gets the counts every --stats seconds when they
 * changed (JSON lines with --json). Returns what stops it.
 */
function reportStats(
  out: CommandContext['out'],
  tunnel: OpenTunnel,
  statsInterval: number | undefined,
): () => void {
  const live = process.stderr.isTTY === true && !out.json;
  const everyMs = statsInterval === undefined ? (live ? 1000 : undefined) : statsInterval * 1000;
  let lastLine = statsLine(tunnel.stats());
  const report = (): void => {
    const stats = tunnel.stats();
    const line = statsLine(stats);
    if (line === lastLine) return;
    lastLine = line;
    if (live) out.progress(line);
    else if (out.json)
      out.line({ event: 'stats', target: tunnel.target.id, session: tunnel.sessionId, ...stats });
    else out.note(`portcullis connect: ${line}`);
  };
  const ticker = everyMs === undefined ? undefined : setInterval(report, everyMs);
  ticker?.unref();
  return () => {
    clearInterval(ticker);
    out.progress(undefined);
  };
}

/** The ready line (the guard contract's, plus target and session) and, for people, how to connect. */
function announce(out: CommandContext['out'], tunnel: OpenTunnel): void {
  const { endpoint } = tunnel;
  const base = {
    event: 'ready',
    listen: endpoint.listen,
    user: endpoint.user,
    password: endpoint.password,
    url: endpoint.url,
  };
  const where = { target: tunnel.target.id, session: tunnel.sessionId };
  if (endpoint.kind === 'ssh') {
    out.line({
      ...base,
      identityFile: endpoint.identityFile,
      knownHostsFile: endpoint.knownHostsFile,
      ...(endpoint.includeFile ? { includeFile: endpoint.includeFile } : {}),
      sshConfig: endpoint.sshConfig,
      ...where,
    });
  } else out.line({ ...base, ...(tunnel.caFile ? { sslrootcert: tunnel.caFile } : {}), ...where });
  if (out.json) return;
  const grant = tunnel.grantExpiresAt ? `, access until ${tunnel.grantExpiresAt}` : '';
  const how =
    endpoint.kind === 'ssh'
      ? [
          `  ssh -F "${endpoint.includeFile}" ${tunnel.target.id}   (or add \`Include ${endpoint.includeFile}\` to ~/.ssh/config`,
          `  for ssh, scp, sftp, rsync -e ssh, Ansible and VS Code Remote-SSH; \`portcullis ssh-config\` prints it)`,
          '',
          endpoint.sshConfig.trimEnd(),
          '',
        ]
      : [
          `  psql "${endpoint.url}"`,
          ...(tunnel.caFile
            ? [`  TLS too: sslmode=verify-full sslrootcert=${tunnel.caFile} (or sslmode=require)`]
            : []),
        ];
  out.note(
    [
      `Guarded tunnel to ${tunnel.target.name} (${tunnel.target.id}) on ${endpoint.listen}`,
      `  policy ${tunnel.policy}${grant}; recorded as session ${tunnel.sessionId}`,
      ...how,
      `  Press Ctrl-C to close it.`,
    ].join('\n'),
  );
}

export function connectCommand(): Command {
  return withJson(
    signedInCommand('connect')
      .description(
        'Open a local guarded tunnel to a target; runs until Ctrl-C (exit 3 if the hub ends your access).',
      )
      .argument('<target>', 'the target id, as `portcullis targets` lists it')
      .option('--port <n>', 'local port to listen on (remembered for this target)')
      .option(
        '--stats <seconds>',
        'report the live counts this often when they change (JSON lines with --json; a terminal updates every second)',
      ),
  ).action((target: string, options: ConnectOptions) => connect(target, options));
}
