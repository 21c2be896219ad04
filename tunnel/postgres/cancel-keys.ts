import { randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The cancel keys a tunnel hands its clients. A client is given the server's real backend pid (so
 * pg_backend_pid(), NotificationResponse and pg_terminate_backend all agree with what the driver knows)
 * with a secret key of the tunnel's own, never the server's; a CancelRequest is matched on both.
 */
export class CancelKeys<Owner> {
  private readonly byProcess = new Map<number, { secret: Buffer; owner: Owner }[]>();

  /** A fresh secret for `owner`, which the server knows as `processId`. */
  issue(processId: number, owner: Owner): Buffer {
    const secret = randomBytes(4);
    const entries = this.byProcess.get(processId) ?? [];
    entries.push({ secret, owner });
    this.byProcess.set(processId, entries);
    return secret;
  }

  /** Whose key this is, compared in constant time; undefined for a key the tunnel never issued. */
  find(processId: number, secret: Buffer): Owner | undefined {
    for (const entry of this.byProcess.get(processId) ?? []) {
      if (entry.secret.length === secret.length && timingSafeEqual(entry.secret, secret)) return entry.owner;
    }
    return undefined;
  }

  /** Forgets `owner`'s key; the server may give the same pid to a later connection. */
  release(processId: number, owner: Owner): void {
    const entries = this.byProcess.get(processId)?.filter((entry) => entry.owner !== owner) ?? [];
    if (entries.length > 0) this.byProcess.set(processId, entries);
    else this.byProcess.delete(processId);
  }
}
