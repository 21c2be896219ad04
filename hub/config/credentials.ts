/**
 * Target credentials are read when a session opens, never at load time and never from hub.yaml itself.
 * Errors name the target and where the password should have come from, never the password.
 */
import { readFile } from 'node:fs/promises';
import type { PostgresTargetConfig } from './hub-config.ts';

export class CredentialsError extends Error {
  constructor(
    readonly targetId: string,
    message: string,
  ) {
    super(`target ${targetId}: ${message}`);
    this.name = 'CredentialsError';
  }
}

export interface ResolvedCredentials {
  user: string;
  password: string;
}

/** Reads the target's password from its environment variable or file. */
export async function resolveCredentials(
  target: Pick<PostgresTargetConfig, 'id' | 'credentials'>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<ResolvedCredentials> {
  const { user, passwordEnv, passwordFile } = target.credentials;
  if (passwordEnv !== null) {
    const password = env[passwordEnv];
    if (password === undefined || password === '') {
      throw new CredentialsError(
        target.id,
        `the environment variable ${passwordEnv} (credentials.password_env) is not set`,
      );
    }
    return { user, password };
  }
  if (passwordFile !== null) {
    let text: string;
    try {
      text = await readFile(passwordFile, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new CredentialsError(
        target.id,
        `cannot read the password file ${passwordFile} (credentials.password_file): ${code}`,
      );
    }
    // One trailing newline is the file's, not the password's (echo secret > file).
    const password = text.replace(/\r?\n$/, '');
    if (password === '') {
      throw new CredentialsError(
        target.id,
        `the password file ${passwordFile} (credentials.password_file) is empty`,
      );
    }
    return { user, password };
  }
  throw new CredentialsError(target.id, 'no password_env or password_file is configured');
}
