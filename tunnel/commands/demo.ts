/**
 * `portcullis demo [--data-dir DIR] [--hub-port N] [--idp-port N] [--postgres-port N] [--reset]` (and
 * `npm start`): runs the embedded demo in the foreground — the development IdP, a hub and a PostgreSQL
 * with the demo shop, on loopback. Prints one JSON ready line on stdout (hub, issuer, people, agent,
 * targets), then a short guide on stderr, and stops cleanly (exit 0) on SIGINT or SIGTERM. A demo that
 * cannot start is one line on stderr with exit code 1.
 *
 * Like `portcullis hub`, the engine reaches the hub's code here only, lazily: it is the CLI's entry to the
 * demo, not a dependency of the tunnel.
 */
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { DemoService, DemoUser, RunningDemo } from '../../hub/demo/index.ts';
import { portcullisHome } from '../account/home.ts';
import { stopWhenParentExits } from '../runtime/parent-process.ts';
import { createOutput, table, type Output } from './output.ts';

export const DEFAULT_DEMO_PORTS: Record<DemoService, number> = {
  hub: 8470,
  idp: 8471,
  postgres: 8472,
  ssh: 8473,
  relay: 8474,
};

const PORT_FLAGS: Record<DemoService, string> = {
  hub: '--hub-port',
  idp: '--idp-port',
  postgres: '--postgres-port',
  ssh: '--ssh-port',
  relay: '--relay-port',
};

interface DemoCommandOptions {
  dataDir?: string;
  hubPort: number;
  idpPort: number;
  postgresPort: number;
  sshPort: number;
  relayPort: number;
  reset?: boolean;
}

function log(message: string): void {
  process.stderr.write(`portcullis demo: ${message}\n`);
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d{1,5}$/.test(value) || port > 65_535) {
    throw new InvalidArgumentError('must be a port number (0 picks any free port)');
  }
  return port;
}

function portOption(service: DemoService, what: string): Option {
  return new Option(`${PORT_FLAGS[service]} <port>`, `${what} (0 picks any free port)`)
    .argParser(parsePort)
    .default(DEFAULT_DEMO_PORTS[service]);
}

/** The JSON ready line: what a script or the desktop app needs to drive the demo. */
function readyLine(demo: RunningDemo): Record<string, unknown> {
  return {
    event: 'ready',
    hub: demo.hubUrl,
    issuer: demo.issuer,
    users: demo.users.map(({ username, password, name, groups }) => ({ username, password, name, groups })),
    agent: { clientId: demo.agent.clientId, clientSecret: demo.agent.clientSecret },
    targets: demo.targets.map(({ id, name, policy, access }) => ({ id, name, policy, access })),
    ssh: demo.ssh,
    relay: demo.relay,
    dataDir: demo.dataDir,
  };
}

function indent(text: string, spaces: number): string {
  return text
    .split('\n')
    .map((line) => ' '.repeat(spaces) + line)
    .join('\n');
}

/** Commands (or SQL) with their comments lined up after them. */
function commented(spaces: number, lines: [string, string][], marker = '#'): string {
  const width = Math.max(...lines.map(([text]) => text.length));
  return lines
    .map(([text, comment]) =>
      (' '.repeat(spaces) + (comment ? `${text.padEnd(width)}  ${marker} ${comment}` : text)).trimEnd(),
    )
    .join('\n');
}

function guide(demo: RunningDemo): string {
  const hub = demo.hubUrl;
  const engineer = demo.users.find((u) => u.username === 'priya') ?? demo.users[0]!;
  const manager =
    demo.users.find((u) => u.username === 'elena') ??
    demo.users.find((u) => u.groups.includes('managers')) ??
    demo.users[0]!;
  const people = table(
    ['USER', 'PASSWORD', 'NAME', 'GROUPS'],
    demo.users.map((u) => [u.username, u.password, u.name, u.groups.join(', ')]),
  );
  const targets = table(
    ['TARGET', 'NAME', 'POLICY', 'ACCESS'],
    demo.targets.map((t) => [t.id, t.name, t.policy, t.access]),
  );
  return [
    '',
    `The Portcullis demo runs on this machine, on loopback. Ctrl-C stops it; its data stays in ${demo.dataDir}.`,
    '',
    `  Hub       ${hub}`,
    `  Sign-in   ${demo.issuer} (the development identity provider)`,
    `  Agent     ${demo.agent.clientId} (${demo.agent.groups.join(', ')}), secret ${demo.agent.clientSecret}`,
    '',
    indent(people, 2),
    '',
    indent(targets, 2),
    '',
    '`portcullis` not found? Run `npm link` in the checkout once (or put `npx` in front of each command).',
    '',
    ...firstSteps(engineer, hub),
    '',
    `2. As ${manager.name} (${manager.groups.join(', ')}), in a third terminal, with a home of her own:`,
    commented(7, [
      [`export PORTCULLIS_HOME=~/.config/portcullis-${manager.username}`, ''],
      [`portcullis login --hub ${hub}`, `sign in as ${manager.username} / ${manager.password}`],
      ['portcullis approvals', 'the held update, with its id'],
      ['portcullis approve ID', 'and it runs in the first terminal'],
    ]),
    '',
    ...jitGuide(demo, engineer, manager),
    '4. As the nightly report agent (client credentials, read-only):',
    `       PORTCULLIS_HUB=${hub} PORTCULLIS_CLIENT_ID=${demo.agent.clientId} \\`,
    `       PORTCULLIS_CLIENT_SECRET=${demo.agent.clientSecret} portcullis connect shop-reporting`,
    '',
    ...sshGuide(demo, engineer.name),
  ].join('\n');
}

/** Step 1: an engineer connects, reads masked PII, has a write held and a drop blocked. */
function firstSteps(engineer: DemoUser, hub: string): string[] {
  return [
    `1. As ${engineer.name} (${engineer.groups.join(', ')}), in another terminal:`,
    commented(7, [
      [`portcullis login --hub ${hub}`, `sign in as ${engineer.username} / ${engineer.password}`],
      ['portcullis connect shop-db', 'prints a postgres:// URL'],
      ['psql "<url from connect>"', ''],
    ]),
    commented(
      9,
      [
        ['select full_name, email, phone, ssn, card_number from customers limit 5;', 'PII comes back masked'],
        ["update payments set status = 'refunded' where id = 1;", 'waits for a manager to approve'],
        ['drop table orders;', 'blocked'],
      ],
      '--',
    ),
  ];
}

/** Step 3: shop-admin, asked for and granted, then through the demo's relay. */
function jitGuide(demo: RunningDemo, engineer: DemoUser, manager: DemoUser): string[] {
  return [
    `3. Just in time: nobody holds shop-admin. ${engineer.name} asks, ${manager.name} decides:`,
    commented(7, [
      ['portcullis request shop-admin --reason "fix order 42" --duration 30m', `as ${engineer.username}`],
      ['portcullis requests --pending', `as ${manager.username}; then portcullis approve ID`],
      [
        'portcullis connect shop-admin',
        `then, through the relay at ${demo.relay.host}:${demo.relay.port}: it alone reaches the database`,
      ],
    ]),
    '',
  ];
}

/** Step 5, with shop-web; or why the demo runs without it. */
function sshGuide(demo: RunningDemo, engineer: string): string[] {
  if ('leftOut' in demo.ssh) return [`5. shop-web (SSH) is left out: ${demo.ssh.leftOut}.`, ''];
  const site = demo.ssh.siteDir;
  return [
    `5. shop-web, the web server over SSH (${demo.ssh.user}@${demo.ssh.host}:${demo.ssh.port}), as ${engineer}:`,
    commented(7, [
      ['portcullis connect shop-web', 'prints an ssh_config block, kept in ~/.config/portcullis/ssh/config'],
      [
        'ssh -F ~/.config/portcullis/ssh/config shop-web',
        'or add `Include ~/.config/portcullis/ssh/config` to ~/.ssh/config',
      ],
      [`ssh shop-web 'tail ${site}/logs/access.log'`, 'emails and cards come back masked'],
      [`ssh shop-web 'rm ${site}/index.html'`, 'blocked (exit 126)'],
      ["ssh shop-web 'sudo systemctl reload nginx'", 'waits for a manager: portcullis approve ID'],
      ['portcullis sessions --target shop-web; portcullis replay ID', 'the terminal, played back'],
    ]),
    '',
  ];
}

/**
 * <PORTCULLIS_HOME>/demo; but as root PostgreSQL runs as the postgres user, which cannot pass through a
 * home such as /root, so the demo then lives in the temporary directory instead of failing.
 */
async function defaultDataDir(): Promise<string> {
  const preferred = path.join(portcullisHome().directory, 'demo');
  if (process.getuid?.() !== 0) return preferred;
  const { assertReachableByPostgresUser } = await import('../../hub/demo/postgres.ts');
  try {
    await assertReachableByPostgresUser(preferred);
    return preferred;
  } catch {
    const fallback = path.join(tmpdir(), 'portcullis-demo');
    log(`running as root: the postgres user cannot reach ${preferred}, so the demo lives in ${fallback}`);
    return fallback;
  }
}

async function runDemo(options: DemoCommandOptions): Promise<void> {
  const out: Output = createOutput(false);
  const dataDir = options.dataDir ? path.resolve(options.dataDir) : await defaultDataDir();

  // Installed before anything starts: a signal while the demo is starting stops it once it has started,
  // and one right after the ready line (a supervisor reading it) stops it cleanly.
  let stopSignal: string | undefined;
  let wake: (() => void) | undefined;
  const stop = (signal: string): void => {
    if (stopSignal) return;
    stopSignal = signal;
    log(`${signal}: shutting down`);
    wake?.();
  };
  // SIGHUP too: closing the terminal the demo runs in should not leave its PostgreSQL behind.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  signals.forEach((signal) => process.on(signal, stop));
  stopWhenParentExits();
  try {
    const demo = await startExplained(options, dataDir);
    if (!stopSignal) {
      out.line(readyLine(demo));
      out.note(guide(demo));
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (stopSignal) resolve();
      });
    }
    await demo.close();
    log('stopped');
  } finally {
    signals.forEach((signal) => process.off(signal, stop));
  }
}

/** Starts the demo (after a reset when asked); an error says which flag or what to do about it. */
async function startExplained(options: DemoCommandOptions, dataDir: string): Promise<RunningDemo> {
  // Loaded here so the other commands do not pay for PostgreSQL, the hub and the IdP.
  const { DemoDataDirError, DemoError, DemoPortInUseError, resetDemoDataDir, startDemo } =
    await import('../../hub/demo/index.ts');
  const { demoRelayLauncher } = await import('../relay/demo-relay.ts');
  try {
    if (options.reset) {
      await resetDemoDataDir(dataDir);
      log(`reset ${dataDir}`);
    }
    return await startDemo({
      dataDir,
      hubPort: options.hubPort,
      idpPort: options.idpPort,
      postgresPort: options.postgresPort,
      sshPort: options.sshPort,
      relay: demoRelayLauncher(),
      relayPort: options.relayPort,
      log,
    });
  } catch (error) {
    if (error instanceof DemoPortInUseError) {
      throw new Error(
        `port ${error.port} is in use — is another demo running? pass ${PORT_FLAGS[error.service]} to use another port`,
        { cause: error },
      );
    }
    if (error instanceof DemoDataDirError) {
      throw new Error(`${error.message} (--data-dir)`, { cause: error });
    }
    if (error instanceof DemoError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`the demo did not start: ${message.replace(/\s*\n\s*/g, ' ')}`, { cause: error });
  }
}

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'Run the embedded demo on this machine: a development identity provider, a hub and a PostgreSQL with ' +
        'a shop full of fake PII, behind masking, blocking and approval policies.',
    )
    .option('--data-dir <dir>', 'where the demo keeps its database and hub (default: <PORTCULLIS_HOME>/demo)')
    .addOption(portOption('hub', "the hub's port"))
    .addOption(portOption('idp', "the identity provider's port"))
    .addOption(portOption('postgres', "the demo PostgreSQL's port"))
    .addOption(portOption('ssh', "shop-web's SSH server (this machine's OpenSSH, when installed)"))
    .addOption(portOption('relay', "shop-admin's relay"))
    .option('--reset', 'delete the demo data directory first and start afresh')
    .action((options: DemoCommandOptions) => runDemo(options));
}
