import { createHash } from 'node:crypto';

/** The key of the `hash` mask: set PORTCULLIS_MASK_KEY so masked values join across runs and commands. */
export function maskKeyFromEnvironment(env: NodeJS.ProcessEnv = process.env): Buffer | undefined {
  const key = env.PORTCULLIS_MASK_KEY;
  // Any passphrase becomes a full-length HMAC key.
  return key ? createHash('sha256').update(key).digest() : undefined;
}
