/**
 * Where the CLI (and, later, the desktop app's main process) keeps a user's Portcullis state: the signed-in
 * profile, the token file, the stable tunnel ports, the recording spool and the tunnels' local CAs. One directory, owner-only.
 * PORTCULLIS_HOME overrides it, so a person can keep two identities apart (and tests can run side by side).
 */
import path from 'node:path';
import { configDirectory } from '../identity/token-store.ts';

export const HOME_ENV = 'PORTCULLIS_HOME';

export interface HomePaths {
  directory: string;
  /** Which hub and identity provider the user signed in to (profile.json). */
  profile: string;
  /** The person's tokens (tokens.json, 0600). */
  tokens: string;
  /** Stable local port per target (ports.json). */
  ports: string;
  /** The local recording spool (recordings.db). */
  spool: string;
  /** Each target's local-leg certificate authority, tls/<target>/ca.pem (its key beside it, 0600). */
  tls: string;
}

export function portcullisHome(env: NodeJS.ProcessEnv = process.env): HomePaths {
  const override = env[HOME_ENV];
  return homePathsIn(override ? path.resolve(override) : configDirectory({ env }));
}

/** The state files inside `directory` (the desktop app keeps its own, in its user-data directory). */
export function homePathsIn(directory: string): HomePaths {
  return {
    directory,
    profile: path.join(directory, 'profile.json'),
    tokens: path.join(directory, 'tokens.json'),
    ports: path.join(directory, 'ports.json'),
    spool: path.join(directory, 'recordings.db'),
    tls: path.join(directory, 'tls'),
  };
}
