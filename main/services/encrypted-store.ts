/**
 * Secrets the app keeps between runs — the person's tokens, each target's local tunnel secret — encrypted
 * by the operating system's keychain (Electron safeStorage, behind the Encryption port) in owner-only
 * files. Where the OS offers no encryption, nothing is written: they live in memory for this run only,
 * and the person signs in again next time, rather than finding their refresh token in plain text.
 */
import { randomBytes } from 'node:crypto';
import { readFile, unlink } from 'node:fs/promises';
import { parseStoredTokens, type StoredTokens, type TokenStore } from '../../tunnel/identity/index.ts';
import { writePrivateFile } from '../../tunnel/identity/private-file.ts';

export interface Encryption {
  /** Whether encryptString would use a real key (not a fixed, public fallback). */
  isAvailable(): boolean;
  encrypt(text: string): Buffer;
  decrypt(data: Buffer): string;
}

/** One JSON value, encrypted, in one file (base64 of the ciphertext). */
export class EncryptedJsonFile {
  private memory: unknown;

  constructor(
    readonly file: string,
    private readonly encryption: Encryption,
  ) {}

  async read(): Promise<unknown> {
    if (!this.encryption.isAvailable()) return this.memory;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    return JSON.parse(this.encryption.decrypt(Buffer.from(text.trim(), 'base64'))) as unknown;
  }

  async write(value: unknown): Promise<void> {
    if (!this.encryption.isAvailable()) {
      this.memory = structuredClone(value);
      return;
    }
    const sealed = this.encryption.encrypt(JSON.stringify(value)).toString('base64');
    await writePrivateFile(this.file, `${sealed}\n`);
  }

  async clear(): Promise<void> {
    this.memory = undefined;
    await unlink(this.file).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}

/** The person's tokens (TokenStore for tunnel/account), encrypted by the OS. */
export class EncryptedTokenStore implements TokenStore {
  private readonly file: EncryptedJsonFile;

  constructor(file: string, encryption: Encryption) {
    this.file = new EncryptedJsonFile(file, encryption);
  }

  async load(): Promise<StoredTokens | undefined> {
    let value: unknown;
    try {
      value = await this.file.read();
    } catch {
      // Unreadable (another OS user's keychain, a damaged file): as if never signed in.
      return undefined;
    }
    return value === undefined ? undefined : parseStoredTokens(value, 'the saved sign-in');
  }

  save(tokens: StoredTokens): Promise<void> {
    return this.file.write(tokens);
  }

  clear(): Promise<void> {
    return this.file.clear();
  }
}

/**
 * One local secret per target, kept across runs, so that a saved DBeaver or DataGrip connection (the
 * port is stable too) keeps working from one day to the next.
 */
export class LocalSecrets {
  private readonly file: EncryptedJsonFile;
  private cache: Record<string, string> | undefined;

  constructor(file: string, encryption: Encryption) {
    this.file = new EncryptedJsonFile(file, encryption);
  }

  async secretFor(targetId: string): Promise<string> {
    const secrets = await this.all();
    const known = secrets[targetId];
    if (known) return known;
    const secret = randomBytes(24).toString('base64url');
    secrets[targetId] = secret;
    await this.file.write(secrets);
    return secret;
  }

  private async all(): Promise<Record<string, string>> {
    if (this.cache) return this.cache;
    let value: unknown;
    try {
      value = await this.file.read();
    } catch {
      value = undefined;
    }
    const secrets: Record<string, string> = {};
    if (typeof value === 'object' && value !== null) {
      for (const [target, secret] of Object.entries(value)) {
        if (typeof secret === 'string' && secret.length >= 16) secrets[target] = secret;
      }
    }
    this.cache = secrets;
    return secrets;
  }
}
