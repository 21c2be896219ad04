/** A stand-in for Electron's safeStorage in tests and benchmarks: real AES-GCM under a key of the caller's. */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Encryption } from '../../main/services/encrypted-store.ts';

export function testEncryption(available = true, key = randomBytes(32)): Encryption {
  return {
    isAvailable: () => available,
    encrypt(text) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]);
    },
    decrypt(data) {
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
      decipher.setAuthTag(data.subarray(12, 28));
      return Buffer.concat([decipher.update(data.subarray(28)), decipher.final()]).toString('utf8');
    },
  };
}
