// The IdP's secrets and sign-ins: the signing key, the cookie keys and the store of grants, sessions and
// tokens, generated at start or read from (and kept in) the state file.

import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { keptStateWriter, readKeptState } from './kept-state.ts';
import { createMemoryStore, type MemoryStore } from './memory-adapter.ts';
import { SIGNING_ALG } from './settings.ts';

export interface SigningState {
  signingKey: JWK;
  cookieKeys: string[];
  store: MemoryStore;
  /** Resolves once every change is written to the state file (at once without one). */
  flush(): Promise<void>;
}

export async function openSigningState(stateFile: string | undefined): Promise<SigningState> {
  const kept = stateFile ? await readKeptState(stateFile) : undefined;
  const signingKey = kept?.signingKey ?? (await newSigningKey());
  const cookieKeys = kept?.cookieKeys ?? [randomBytes(32).toString('base64url')];
  const saver = stateFile
    ? keptStateWriter(
        stateFile,
        () => ({ version: 1, signingKey, cookieKeys, store: store.snapshot() }),
        (error) => process.stderr.write(`[dev-idp] cannot keep sign-ins across restarts: ${error.message}\n`),
      )
    : undefined;
  const store = createMemoryStore({
    ...(kept ? { saved: kept.store } : {}),
    ...(saver ? { changed: () => saver.changed() } : {}),
  });
  if (saver && !kept) {
    saver.changed();
    await saver.flush();
  }
  return { signingKey, cookieKeys, store, flush: async () => saver?.flush() };
}

async function newSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true, modulusLength: 2048 });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: SIGNING_ALG, use: 'sig' };
}
