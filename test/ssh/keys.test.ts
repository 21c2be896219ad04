import { describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import {
  fingerprint,
  formatPublicKey,
  generateKeyPair,
  hostKeyAlgorithms,
  parsePublicKey,
} from '../../tunnel/ssh/keys.ts';

// ssh2 is CommonJS: Node's ESM loader does not find utils as a named export.
const { utils } = ssh2;

describe('SSH keys', () => {
  it('makes key pairs whose public key always parses (ssh2 drops leading zero bytes of one in 256)', () => {
    // With 1500 pairs, a generator that kept the broken ones would fail this about 997 times in 1000.
    for (let i = 0; i < 1500; i++) {
      const pair = generateKeyPair('test');
      const key = parsePublicKey(pair.publicKey);
      expect(key.blob.length).toBe(51);
      const parsed = utils.parseKey(pair.privateKey);
      expect(parsed instanceof Error).toBe(false);
    }
  });

  it('reads and writes OpenSSH public key lines, and fingerprints them as ssh-keygen does', () => {
    const line =
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@example';
    const key = parsePublicKey(line);
    expect(key.type).toBe('ssh-ed25519');
    expect(formatPublicKey(key)).toBe(line.replace(/ user@example$/, ''));
    expect(fingerprint(key.blob)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(() => parsePublicKey('ssh-ed25519 not-base64')).toThrow(/not an SSH public key/);
  });

  it('offers the host key algorithms of the pinned keys, RSA with its SHA-2 signatures', () => {
    expect(
      hostKeyAlgorithms([
        { type: 'ssh-rsa', blob: Buffer.alloc(0) },
        { type: 'ssh-ed25519', blob: Buffer.alloc(0) },
      ]),
    ).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519']);
  });
});
