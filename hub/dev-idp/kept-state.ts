/**
 * What the development IdP keeps across restarts when given a file: its signing key (so access tokens it
 * issued still verify), its cookie keys, and its stored grants, sessions and refresh tokens (so a sign-in
 * is renewed as before). The file is owner-only (0600), written whole through a rename, coalescing bursts
 * of changes into one write.
 */
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import type { JWK } from 'jose';
import type { SavedEntry } from './memory-adapter.ts';

export interface KeptIdpState {
  version: 1;
  /** The private RS256 signing key, with its kid. */
  signingKey: JWK;
  cookieKeys: string[];
  store: SavedEntry[];
}

/** The state kept in FILE; undefined when there is none yet. Throws, naming the file, when it is damaged. */
export async function readKeptState(file: string): Promise<KeptIdpState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let state: Partial<KeptIdpState> | undefined;
  try {
    state = JSON.parse(text) as Partial<KeptIdpState>;
  } catch {
    state = undefined;
  }
  if (
    state?.version !== 1 ||
    typeof state.signingKey?.kid !== 'string' ||
    !Array.isArray(state.cookieKeys) ||
    !Array.isArray(state.store)
  ) {
    throw new Error(
      `the identity provider's kept state ${file} is damaged; delete it (every sign-in then ends) and start again`,
    );
  }
  return state as KeptIdpState;
}

/** Writes the state whenever asked, at most one write at a time, the last state always written. */
export function keptStateWriter(
  file: string,
  current: () => KeptIdpState,
  onError: (error: Error) => void,
): { changed(): void; flush(): Promise<void> } {
  let writing: Promise<void> | undefined;
  let dirty = false;
  const write = async (): Promise<void> => {
    while (dirty) {
      dirty = false;
      const temporary = `${file}.${process.pid}.tmp`;
      await writeFile(temporary, JSON.stringify(current()), { mode: 0o600 });
      await chmod(temporary, 0o600);
      await rename(temporary, file);
    }
  };
  const start = (): void => {
    writing ??= write()
      .catch((error: Error) => onError(error))
      .finally(() => {
        writing = undefined;
        if (dirty) start();
      });
  };
  return {
    changed() {
      dirty = true;
      start();
    },
    async flush() {
      if (dirty) start();
      while (writing) await writing;
    },
  };
}
