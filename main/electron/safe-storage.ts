/**
 * The OS keychain (Electron safeStorage) as the services' Encryption port. On Linux without a secret
 * service Electron falls back to a fixed, public key ("basic_text"): that is not encryption, so it
 * counts as unavailable and the services keep secrets in memory only.
 */
import { safeStorage } from 'electron';
import type { Encryption } from '../services/encrypted-store.ts';

export const safeStorageEncryption: Encryption = {
  isAvailable: () =>
    safeStorage.isEncryptionAvailable() &&
    (process.platform !== 'linux' || safeStorage.getSelectedStorageBackend() !== 'basic_text'),
  encrypt: (text) => safeStorage.encryptString(text),
  decrypt: (data) => safeStorage.decryptString(data),
};
