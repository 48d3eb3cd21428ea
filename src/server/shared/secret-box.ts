// Encrypts secrets that Steward must be able to read back (SMTP password, appliance tokens):
// AES-256-GCM with one key per manager.
import { decryptSecret, encryptSecret } from './crypto.js';

export interface SecretBox {
  seal(plaintext: string): string;
  open(sealed: string): string;
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new Error('secret key must be 32 bytes');
  return {
    seal: (plaintext) => encryptSecret(key, plaintext),
    open: (sealed) => decryptSecret(key, sealed),
  };
}
