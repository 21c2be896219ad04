/**
 * The local leg's certificates of a person's tunnels, kept in the Portcullis home: one certificate
 * authority per target (`tls/<target>/ca.pem`, its key beside it, owner-only), made the first time the
 * target is opened and kept, so a tool saved with `sslmode=verify-full sslrootcert=…/ca.pem` keeps
 * working from one day to the next; a fresh server certificate is signed by it at every start.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writePrivateFile } from '../identity/private-file.ts';
import {
  createLocalAuthority,
  expiresAt,
  issueLoopbackCertificate,
  type Pem,
} from '../postgres/local-certificate.ts';
import type { LocalTlsMaterial } from '../postgres/local-tls.ts';

/** What a tunnel to one target serves, and where its CA is for clients to name as `sslrootcert`. */
export interface TunnelCertificate extends LocalTlsMaterial {
  caFile: string;
}

/** An authority this close to its end is replaced (clients then need the new ca.pem). */
const RENEW_BEFORE_MS = 30 * 24 * 3600_000;

export class TunnelCertificateStore {
  constructor(private readonly directory: string) {}

  async forTarget(targetId: string): Promise<TunnelCertificate> {
    const folder = path.join(this.directory, fileNameFor(targetId));
    const caFile = path.join(folder, 'ca.pem');
    const keyFile = path.join(folder, 'ca-key.pem');
    let authority = await readAuthority(caFile, keyFile);
    if (!authority || !usable(authority)) {
      authority = await createLocalAuthority(`Portcullis tunnel to ${targetId}`);
      await writePrivateFile(keyFile, authority.key);
      await writePrivateFile(caFile, authority.cert);
    }
    const server = await issueLoopbackCertificate(authority);
    return { ...server, ca: authority.cert, caFile };
  }
}

async function readAuthority(caFile: string, keyFile: string): Promise<Pem | undefined> {
  try {
    return { cert: await readFile(caFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Readable, and not about to expire; anything else is replaced by a new authority. */
function usable(authority: Pem): boolean {
  try {
    return (
      expiresAt(authority.cert).getTime() - Date.now() > RENEW_BEFORE_MS &&
      authority.key.includes('PRIVATE KEY')
    );
  } catch {
    return false;
  }
}

/** A target id as a directory name: nothing that could climb out of the store or be misread. */
function fileNameFor(targetId: string): string {
  const name = targetId.replace(/[^A-Za-z0-9._-]/g, '_');
  return name === '' || /^\.+$/.test(name) ? `_${name}` : name;
}
