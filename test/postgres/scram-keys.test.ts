/**
 * The tunnel's upstream leg derives its SCRAM keys once per password, server salt and iteration count,
 * not once per connection: PBKDF2 at 4096 iterations blocks the event loop for milliseconds, and a
 * client that connects for every transaction (pgbench -C, serverless apps) paid it on each.
 */
import * as crypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { createScramVerifier, ScramClient, ScramServer } from '../../tunnel/postgres/wire/scram.ts';

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof crypto>();
  return { ...actual, pbkdf2Sync: vi.fn(actual.pbkdf2Sync) };
});

const derivations = (): number => vi.mocked(crypto.pbkdf2Sync).mock.calls.length;

/** One whole exchange; throws when either side refuses the other. */
function signIn(password: string, server: ScramServer): void {
  const client = new ScramClient(password);
  const serverFirst = server.handleClientFirst(client.mechanism, client.clientFirst());
  client.verifyServerFinal(server.handleClientFinal(client.handleServerFirst(serverFirst)));
  expect(client.serverVerified).toBe(true);
}

describe('SCRAM client keys', () => {
  it('are derived once for many connections to the same server', () => {
    const verifier = createScramVerifier('reconnecting password');
    const before = derivations();
    for (let i = 0; i < 5; i++) signIn('reconnecting password', new ScramServer(verifier));
    expect(derivations() - before).toBe(1);
  });

  it('are not served for another password, salt or iteration count', () => {
    const verifier = createScramVerifier('first password');
    signIn('first password', new ScramServer(verifier));
    expect(() => signIn('second password', new ScramServer(verifier))).toThrow(/wrong password/);
    // The same password against a server that salted it otherwise, or with another cost.
    const before = derivations();
    signIn('first password', new ScramServer(createScramVerifier('first password')));
    signIn('first password', new ScramServer(createScramVerifier('first password', 4097)));
    // Two servers' verifiers, and the client's keys for each.
    expect(derivations() - before).toBe(4);
  });
});
