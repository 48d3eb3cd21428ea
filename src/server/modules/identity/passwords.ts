// Password hashing and policy. Argon2id with OWASP's recommended parameters (19 MiB, 2
// iterations, 1 lane); at least 12 characters, up to 256, never truncated; common passwords
// (zxcvbn's list of ~49,000) refused.

import { hash, verify } from '@node-rs/argon2';
import { dictionary } from '@zxcvbn-ts/language-common';
import { randomAlphanumeric } from '../../shared/crypto.js';

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 256;

const ARGON2 = { algorithm: 2 /* Argon2id */, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

let common: Set<string> | undefined;
function commonPasswords(): Set<string> {
  common ??= new Set((dictionary.passwords as string[]).map((p) => p.toLowerCase()));
  return common;
}

/** Returns why a password is refused, or undefined when it is acceptable. */
export function checkPasswordPolicy(password: string, username?: string): string | undefined {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) return `must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (length > MAX_PASSWORD_LENGTH) return `must be at most ${MAX_PASSWORD_LENGTH} characters`;
  const lower = password.toLowerCase();
  if (commonPasswords().has(lower)) return 'is a commonly used password; choose another';
  if (username && lower === username.toLowerCase()) return 'must not be the username';
  if (/^(.)\1+$/.test(password)) return 'must not be one repeated character';
  return undefined;
}

export const hashPassword = (password: string) => hash(password, ARGON2);

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

/** A hash of a random password, verified against for unknown users so timing matches. */
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomAlphanumeric(24));
  return dummyHash;
}

/** A strong generated password (for the first admin when none is configured). */
export const generatePassword = () => randomAlphanumeric(24);
