/**
 * Where a person's tokens live between runs, behind one small interface. The CLI uses FileTokenStore (a
 * 0600 JSON file in the user's config directory); the desktop app plugs in a store backed by Electron
 * safeStorage (it can reuse parseStoredTokens on what it decrypts).
 */
import { constants as fsConstants } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, win32 } from 'node:path';
import type { TokenSet } from './oidc.ts';
import { writePrivateFile } from './private-file.ts';

/** The tokens of one sign-in, with the issuer and client they belong to. JSON-serialisable. */
export interface StoredTokens {
  issuer: string;
  clientId: string;
  tokens: TokenSet;
}

export interface TokenStore {
  /** The stored tokens, or undefined when there are none. */
  load(): Promise<StoredTokens | undefined>;
  /** Replaces the stored tokens. */
  save(tokens: StoredTokens): Promise<void>;
  /** Forgets the stored tokens; no error when there are none. */
  clear(): Promise<void>;
}

export class TokenStoreError extends Error {
  override name = 'TokenStoreError';
  constructor(
    message: string,
    readonly path?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** Validates a parsed tokens document; throws a TokenStoreError naming the first problem. */
export function parseStoredTokens(value: unknown, source = 'stored tokens'): StoredTokens {
  const fail = (what: string): never => {
    throw new TokenStoreError(`${source} are not valid (${what}); sign in again`);
  };
  if (typeof value !== 'object' || value === null) return fail('not an object');
  const v = value as Record<string, unknown>;
  if (typeof v.issuer !== 'string' || !v.issuer) return fail('issuer');
  if (typeof v.clientId !== 'string' || !v.clientId) return fail('clientId');
  if (typeof v.tokens !== 'object' || v.tokens === null) return fail('tokens');
  const t = v.tokens as Record<string, unknown>;
  if (typeof t.accessToken !== 'string' || !t.accessToken) return fail('accessToken');
  if (t.refreshToken !== undefined && typeof t.refreshToken !== 'string') return fail('refreshToken');
  if (t.idToken !== undefined && typeof t.idToken !== 'string') return fail('idToken');
  if (typeof t.expiresAt !== 'number' || !Number.isFinite(t.expiresAt)) return fail('expiresAt');
  if (typeof t.subject !== 'string' || !t.subject) return fail('subject');
  if (typeof t.name !== 'string') return fail('name');
  if (t.groups !== undefined && !isStringArray(t.groups)) return fail('groups');
  return {
    issuer: v.issuer,
    clientId: v.clientId,
    tokens: {
      accessToken: t.accessToken,
      ...(t.refreshToken ? { refreshToken: t.refreshToken as string } : {}),
      ...(t.idToken ? { idToken: t.idToken as string } : {}),
      expiresAt: t.expiresAt,
      subject: t.subject,
      name: t.name,
      ...(t.groups ? { groups: [...(t.groups as string[])] } : {}),
    },
  };
}

export interface PlatformEnvironment {
  platform?: NodeJS.Platform;
  env?: NodeJS.ProcessEnv;
  home?: string;
}

/**
 * The per-user Portcullis configuration directory: `%APPDATA%\portcullis` on Windows,
 * `~/Library/Application Support/portcullis` on macOS, `$XDG_CONFIG_HOME/portcullis` (an absolute
 * XDG_CONFIG_HOME only, as the XDG spec says) or `~/.config/portcullis` elsewhere.
 */
export function configDirectory(options: PlatformEnvironment = {}): string {
  const platform = options.platform ?? process.platform;
  const env = options.env ?? process.env;
  const home = options.home ?? homedir();
  if (platform === 'win32') {
    return win32.join(env.APPDATA || win32.join(home, 'AppData', 'Roaming'), 'portcullis');
  }
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'portcullis');
  const xdg = env.XDG_CONFIG_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(home, '.config'), 'portcullis');
}

/** `<configDirectory>/tokens.json`. */
export function defaultTokenPath(options: PlatformEnvironment = {}): string {
  const dir = configDirectory(options);
  return (options.platform ?? process.platform) === 'win32'
    ? win32.join(dir, 'tokens.json')
    : join(dir, 'tokens.json');
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

/**
 * Tokens in a JSON file readable by the user only: the file is written 0600 (its directory created 0700)
 * through a temporary file and a rename, so a reader never sees half a file. A file that group or others
 * may read or write, or that another user owns, is refused rather than used. On Windows the file is
 * protected by the profile directory's ACLs and modes are not checked.
 */
export class FileTokenStore implements TokenStore {
  readonly path: string;
  readonly #posix: boolean;

  constructor(path: string = defaultTokenPath(), options: { platform?: NodeJS.Platform } = {}) {
    this.path = path;
    this.#posix = (options.platform ?? process.platform) !== 'win32';
  }

  async load(): Promise<StoredTokens | undefined> {
    let handle;
    try {
      // O_NOFOLLOW: a symlink planted in place of the file is not followed to someone else's data.
      handle = await open(this.path, fsConstants.O_RDONLY | (this.#posix ? fsConstants.O_NOFOLLOW : 0));
    } catch (error) {
      if (errno(error) === 'ENOENT') return undefined;
      if (errno(error) === 'ELOOP') {
        throw new TokenStoreError(`${this.path} is a symbolic link; remove it and sign in again`, this.path);
      }
      throw new TokenStoreError(`cannot read ${this.path}: ${(error as Error).message}`, this.path, {
        cause: error,
      });
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new TokenStoreError(`${this.path} is not a regular file`, this.path);
      if (this.#posix) {
        const uid = process.getuid?.();
        if (uid !== undefined && info.uid !== uid) {
          throw new TokenStoreError(
            `${this.path} belongs to another user (uid ${info.uid}); remove it and sign in again`,
            this.path,
          );
        }
        if ((info.mode & 0o077) !== 0) {
          throw new TokenStoreError(
            `${this.path} is accessible to other users (mode ${octal(info.mode)}); ` +
              `the tokens in it may have leaked. Run \`chmod 600 ${this.path}\` (or sign out and in again)`,
            this.path,
          );
        }
      }
      const text = await handle.readFile('utf8');
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        throw new TokenStoreError(`${this.path} is not valid JSON; sign in again`, this.path, {
          cause: error,
        });
      }
      return parseStoredTokens(parsed, `the tokens in ${this.path}`);
    } finally {
      await handle.close();
    }
  }

  async save(tokens: StoredTokens): Promise<void> {
    try {
      await writePrivateFile(this.path, `${JSON.stringify(tokens, null, 2)}\n`, { posix: this.#posix });
    } catch (error) {
      throw new TokenStoreError(`cannot write ${this.path}: ${(error as Error).message}`, this.path, {
        cause: error,
      });
    }
  }

  async clear(): Promise<void> {
    try {
      await unlink(this.path);
    } catch (error) {
      if (errno(error) !== 'ENOENT') {
        throw new TokenStoreError(`cannot remove ${this.path}: ${(error as Error).message}`, this.path, {
          cause: error,
        });
      }
    }
  }
}

/** Tokens in memory only: agents, tests, and `--no-store` style use. */
export class MemoryTokenStore implements TokenStore {
  #tokens: StoredTokens | undefined;

  constructor(initial?: StoredTokens) {
    this.#tokens = initial ? structuredClone(initial) : undefined;
  }

  async load(): Promise<StoredTokens | undefined> {
    return this.#tokens ? structuredClone(this.#tokens) : undefined;
  }

  async save(tokens: StoredTokens): Promise<void> {
    this.#tokens = structuredClone(tokens);
  }

  async clear(): Promise<void> {
    this.#tokens = undefined;
  }
}
