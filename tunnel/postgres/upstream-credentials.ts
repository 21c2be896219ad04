/**
 * How the tunnel answers the upstream server's password requests: with a password it holds (a
 * connection string given to `portcullis guard`), or — for targets the hub keeps the credentials of —
 * by asking the hub to answer that one connection's challenge, so the password never reaches this
 * process. Either way the tunnel runs the exchange and checks the server's side of it.
 */
import { createHash } from 'node:crypto';
import { ScramClient, type RemoteScramProof, type ScramClientOptions } from './wire/scram.ts';

/** The credentials cannot answer what the server asked; `code` is the SQLSTATE to tell the client. */
export class CredentialsError extends Error {
  override name = 'CredentialsError';
  constructor(
    message: string,
    readonly code = '28000',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface UpstreamCredentials {
  /** The password itself, for AuthenticationCleartextPassword. */
  cleartext(): Promise<string>;
  /** The PasswordMessage content ("md5…") for AuthenticationMD5Password's salt. */
  md5(user: string, salt: Buffer): Promise<string>;
  /** A SCRAM client for one exchange. */
  scram(options: ScramClientOptions): ScramClient;
}

/** Answers with a password held in memory; `undefined` when the connection string gave none. */
export function passwordCredentials(password: string | undefined): UpstreamCredentials {
  const required = (method: string): string => {
    if (password === undefined) {
      throw new CredentialsError(
        `upstream requires ${method} authentication, but the connection string has no password`,
      );
    }
    return password;
  };
  return {
    cleartext: async () => required('password'),
    md5: async (user, salt) => md5Response(user, required('md5'), salt),
    scram: (options) => new ScramClient(required('SCRAM'), options),
  };
}

/** Whoever holds the password and answers one connection's challenge (the hub). */
export interface UpstreamProver {
  scram: RemoteScramProof;
  md5(salt: Buffer): Promise<string>;
}

/** Answers through the prover; a cleartext request is refused, since that would hand the password out. */
export function delegatedCredentials(prover: UpstreamProver): UpstreamCredentials {
  return {
    cleartext: async () => {
      throw new CredentialsError(
        'upstream asked for its password in cleartext, which the hub never hands out; ' +
          'use SCRAM or md5 on the server, or put the target behind a relay',
      );
    },
    md5: (_user, salt) => prover.md5(salt),
    scram: (options) => new ScramClient(prover.scram, options),
  };
}

/**
 * Answers with a bearer token where a password is asked in cleartext — a relay asks for the user's access
 * token that way, inside TLS whose certificate the tunnel verified; any other method is refused.
 */
export function tokenCredentials(token: () => Promise<string>): UpstreamCredentials {
  const refuse = async (): Promise<never> => {
    throw new CredentialsError('the relay must ask for the access token as a cleartext password inside TLS');
  };
  return {
    cleartext: token,
    md5: refuse,
    scram: () => {
      throw new CredentialsError(
        'the relay must ask for the access token as a cleartext password inside TLS',
      );
    },
  };
}

function md5Response(user: string, password: string, salt: Buffer): string {
  const inner = md5Hex(Buffer.from(password + user, 'utf8'));
  return `md5${md5Hex(Buffer.concat([Buffer.from(inner), salt]))}`;
}

function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}
