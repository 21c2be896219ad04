/**
 * The demo's data directory: everything that survives a restart.
 *
 *   portcullis-demo.json   marks the directory as the demo's (and whether its cluster was created)
 *   secrets.json           the generated database passwords (0600)
 *   idp-state.json         the identity provider's signing key and sign-ins (0600): they outlive restarts
 *   postgres/              the PostgreSQL cluster
 *   hub.yaml, policies/    the hub's configuration, rewritten at every start
 *   hub.db                 the hub's SQLite store
 *   sshd/                  shop-web's SSH server: host key, the target key the hub holds, its config
 *   relay/                 shop-admin's relay: its certificate authority and certificate, its recording spool
 *
 * A directory that holds anything else and no marker is never written to nor removed.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DemoDataDirError, DemoError } from './errors.ts';

const MARKER_FILE = 'portcullis-demo.json';
const SECRETS_FILE = 'secrets.json';
const MARKER_KIND = 'portcullis-demo';

export interface DemoState {
  kind: typeof MARKER_KIND;
  version: 1;
  /** Set once initdb has finished: a cluster directory without it is a leftover of a failed first start. */
  postgresCreated: boolean;
}

export interface DemoSecrets {
  /** The cluster's superuser (postgres). */
  superuser: string;
  shopApp: string;
  shopReporting: string;
  /** The administrator the hub creates and drops shop-reporting's per-session roles with. */
  shopProvisioner: string;
  /** shop-admin's own role: the relay signs in as it, with proofs from the hub. */
  shopAdmin: string;
  /** The relay's client secret at the development IdP. */
  relayAgent: string;
}

/** Passwords added after the first demo data directories were made: generated when missing, the rest kept. */
const ADDED_LATER = ['shopProvisioner', 'shopAdmin', 'relayAgent'] as const;

export function demoPaths(dataDir: string) {
  return {
    marker: path.join(dataDir, MARKER_FILE),
    secrets: path.join(dataDir, SECRETS_FILE),
    idpState: path.join(dataDir, 'idp-state.json'),
    cluster: path.join(dataDir, 'postgres'),
    hubConfig: path.join(dataDir, 'hub.yaml'),
    policies: path.join(dataDir, 'policies'),
    hubDatabase: path.join(dataDir, 'hub.db'),
    sshd: path.join(dataDir, 'sshd'),
    relay: path.join(dataDir, 'relay'),
  };
}

async function entriesOf(dir: string): Promise<string[] | undefined> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function readState(dataDir: string): Promise<DemoState | undefined> {
  let text: string;
  try {
    text = await readFile(demoPaths(dataDir).marker, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let state: Partial<DemoState>;
  try {
    state = JSON.parse(text) as Partial<DemoState>;
  } catch {
    return undefined;
  }
  if (state.kind !== MARKER_KIND) return undefined;
  return { kind: MARKER_KIND, version: 1, postgresCreated: state.postgresCreated === true };
}

/** Writes FILE owner-only (0600, whatever the umask), through a temporary file and a rename. */
export async function writePrivateFile(file: string, text: string | Buffer): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, text, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, file);
}

/** The postgres user's group, when the user exists. */
function postgresGroup(): number | undefined {
  try {
    return Number(execFileSync('id', ['-g', 'postgres'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString());
  } catch {
    return undefined;
  }
}

/**
 * Owner-only, 0700. As root, PostgreSQL runs as the postgres user inside the directory, so that user
 * must pass through it: the directory then belongs to the postgres group with mode 0710 — nobody else
 * may enter it — or, before that user exists (the very first start), 0711 with every file in it 0600.
 */
export async function protectDataDir(dataDir: string): Promise<void> {
  if (process.getuid?.() !== 0) {
    await chmod(dataDir, 0o700);
    return;
  }
  const group = postgresGroup();
  if (group === undefined) {
    await chmod(dataDir, 0o711);
    return;
  }
  await chown(dataDir, 0, group);
  await chmod(dataDir, 0o710);
}

export async function saveState(dataDir: string, state: DemoState): Promise<void> {
  await writePrivateFile(demoPaths(dataDir).marker, `${JSON.stringify(state, null, 2)}\n`);
}

/**
 * Creates the data directory, or checks that an existing one is the demo's (or empty), and returns its
 * state. As root the directory must be searchable by the postgres user, which runs the cluster inside it.
 */
export async function openDataDir(dataDir: string): Promise<DemoState> {
  const entries = await entriesOf(dataDir);
  let state = entries === undefined ? undefined : await readState(dataDir);
  if (!state) {
    if (entries !== undefined && entries.length > 0) {
      throw new DemoDataDirError(
        `${dataDir} is not empty and is not a Portcullis demo directory (no ${MARKER_FILE}); ` +
          'choose a new or empty directory',
      );
    }
    // Parents with the usual mode (as root the postgres user must pass through them), the directory private.
    await mkdir(path.dirname(dataDir), { recursive: true });
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    state = { kind: MARKER_KIND, version: 1, postgresCreated: false };
    await saveState(dataDir, state);
  }
  await protectDataDir(dataDir);
  return state;
}

/** The passwords generated on the first start; the cluster and its roles were created with them. */
export async function loadOrCreateSecrets(dataDir: string, state: DemoState): Promise<DemoSecrets> {
  const file = demoPaths(dataDir).secrets;
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text !== undefined) {
    let secrets: Partial<DemoSecrets> = {};
    try {
      secrets = JSON.parse(text) as Partial<DemoSecrets>;
    } catch {
      // reported below
    }
    if (secrets.superuser && secrets.shopApp && secrets.shopReporting) {
      const missing = ADDED_LATER.filter((name) => !secrets[name]);
      if (missing.length === 0) return secrets as DemoSecrets;
      const upgraded = { ...secrets } as DemoSecrets;
      for (const name of missing) upgraded[name] = randomBytes(24).toString('base64url');
      await writePrivateFile(file, `${JSON.stringify(upgraded, null, 2)}\n`);
      return upgraded;
    }
    throw new DemoError(`${file} is damaged; start over with --reset`);
  }
  if (state.postgresCreated) {
    throw new DemoError(`${file} is missing, so the demo database cannot be opened; start over with --reset`);
  }
  const generate = (): string => randomBytes(24).toString('base64url');
  const secrets: DemoSecrets = {
    superuser: generate(),
    shopApp: generate(),
    shopReporting: generate(),
    shopProvisioner: generate(),
    shopAdmin: generate(),
    relayAgent: generate(),
  };
  await writePrivateFile(file, `${JSON.stringify(secrets, null, 2)}\n`);
  return secrets;
}

/** The pid in the cluster's postmaster.pid when that process is alive. */
export async function runningPostgresPid(dataDir: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(demoPaths(dataDir).cluster, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.split('\n')[0]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

/**
 * Deletes a demo data directory so the next start creates everything afresh. Refuses a directory that is
 * not the demo's, and one whose PostgreSQL is still running.
 */
export async function resetDemoDataDir(dataDir: string): Promise<void> {
  const entries = await entriesOf(dataDir);
  if (entries === undefined || entries.length === 0) return;
  if (!(await readState(dataDir))) {
    throw new DemoError(
      `refusing to reset ${dataDir}: it does not look like a Portcullis demo directory (no ${MARKER_FILE})`,
    );
  }
  const pid = await runningPostgresPid(dataDir);
  if (pid !== undefined) {
    throw new DemoError(
      `refusing to reset ${dataDir}: its PostgreSQL (pid ${pid}) is running; stop that demo first`,
    );
  }
  await rm(dataDir, { recursive: true, force: true });
}
