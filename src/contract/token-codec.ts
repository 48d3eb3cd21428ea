// The format of every secret Steward issues (API tokens, API keys, session tokens, appliance
// tokens): letters and digits only, so it fits the Spectra `Authorization: Token <token>` rule
// (30 to 60 alphanumerics), pastes cleanly, and needs no URL escaping.
//
//   stwt 8Fq2...(32 random alphanumerics)... 0aZ3kQ
//   ^^^^ prefix per kind   ^^^^ 190 random bits  ^^^^^^ CRC32 of prefix+random, 6 base62 digits
//
// 42 characters in all. The checksum lets the server refuse a mistyped or truncated token
// without touching the database, and lets secret scanners confirm a match. Scanner regex:
//   \bstw[tksa][A-Za-z0-9]{38}\b
// Only the SHA-256 digest of a token is stored.
//
// In contract/ because both sides issue such secrets: the manager (tokens, keys, sessions) and the
// agent (its own API token and the one it hands to the manager it pairs with).

import { hash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const TOKEN_KINDS = {
  api_token: 'stwt',
  session: 'stws',
  api_key: 'stwk',
  appliance: 'stwa',
} as const;
export type SecretKind = keyof typeof TOKEN_KINDS;

const RANDOM_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
export const TOKEN_LENGTH = 4 + RANDOM_LENGTH + CHECKSUM_LENGTH;
export const TOKEN_SCANNER_REGEX = /\bstw[tksa][A-Za-z0-9]{38}\b/;

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Uniformly random letters and digits (rejection sampling, no modulo bias). */
export function randomAlphanumeric(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += ALNUM[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function checksum(body: string): string {
  let n = crc32(body);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

export interface IssuedSecret {
  /** The full secret: show once, never store. */
  token: string;
  digest: string;
  /** What lists show: the kind prefix and the last four characters. */
  prefix: string;
  last4: string;
}

export function issueSecret(kind: SecretKind): IssuedSecret {
  const prefix = TOKEN_KINDS[kind];
  const body = prefix + randomAlphanumeric(RANDOM_LENGTH);
  const token = body + checksum(body);
  return { token, digest: digestSecret(token), prefix, last4: token.slice(-4) };
}

/** SHA-256 (hex) of a secret: what is stored (crypto.hash: no Hash object per call; every request digests its token). */
export const digestSecret = (token: string) => hash('sha256', token, 'hex');

export type ParseResult = { ok: true; kind: SecretKind } | { ok: false; reason: string };

/** Checks shape and checksum only; whether the secret exists is the database's question. */
export function parseSecret(token: string): ParseResult {
  if (token.length !== TOKEN_LENGTH || !/^[A-Za-z0-9]+$/.test(token)) {
    return { ok: false, reason: 'token is malformed (expected 42 letters and digits)' };
  }
  const prefix = token.slice(0, 4);
  const kind = (Object.keys(TOKEN_KINDS) as SecretKind[]).find((k) => TOKEN_KINDS[k] === prefix);
  if (!kind) return { ok: false, reason: 'token is malformed (unknown prefix)' };
  const body = token.slice(0, 4 + RANDOM_LENGTH);
  if (checksum(body) !== token.slice(4 + RANDOM_LENGTH)) {
    return { ok: false, reason: 'token is malformed (checksum mismatch: mistyped or truncated?)' };
  }
  return { ok: true, kind };
}

/** A safe display form: `stwt…a1B2`. */
export const maskSecret = (prefix: string, last4: string) => `${prefix}…${last4}`;
