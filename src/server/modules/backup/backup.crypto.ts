// Encryption of backup archives. Every archive is sealed; there is no plaintext form.
//
// Key: scrypt(passphrase, salt, N, r, p) -> 32-byte backup key K. The manager stores K only
// sealed with its secret box (never the passphrase), so scheduled and API backups need no one
// present, while a restore on a fresh machine needs only the passphrase: the KDF parameters and
// the salt travel in the archive header.
//
// Layout (all integers big-endian):
//   "STWBAK2\0" | u32 header length | header JSON | HMAC-SHA256(header key, everything before)
//   then the payload in chunks of 64 KiB: AES-256-GCM(payload key, nonce = 11-byte counter ||
//   last-chunk flag), each followed by its 16-byte tag.
// Header key and payload key come from K through HKDF-SHA256 with a fresh 32-byte nonce per
// archive, so no (key, nonce) pair repeats across archives made with the same K. The header MAC
// tells a wrong passphrase apart before any byte is decrypted; the per-chunk tags and the
// last-chunk flag (the STREAM construction used by age and Tink) mean that no unauthenticated
// plaintext reaches the tar reader and that a truncated or reordered archive is refused.

import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  scrypt as scryptCb,
  timingSafeEqual,
} from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export const MAGIC = Buffer.from('STWBAK2\0', 'ascii');
/** The first sealed format (optional, one GCM tag for the whole file); no longer accepted. */
const LEGACY_MAGIC = Buffer.from('STWENC1\0', 'ascii');
const CHUNK = 64 * 1024;
const TAG = 16;
const MAX_HEADER = 4096;

export interface KdfParams {
  name: 'scrypt';
  N: number;
  r: number;
  p: number;
  /** base64 */
  salt: string;
}

/**
 * What opens an archive: its passphrase, or the backup key an admin set on this manager (the
 * key derived from the passphrase, usable only for archives sealed with that very derivation).
 */
export type ArchiveSecret = string | BackupKey;

/** The stored key, when the archive was sealed with it (same KDF, parameters and salt). */
function storedKeyFor(stored: BackupKey, kdf: KdfParams): Buffer {
  const a = stored.kdf;
  if (a.name === kdf.name && a.N === kdf.N && a.r === kdf.r && a.p === kdf.p && a.salt === kdf.salt)
    return stored.key;
  throw new BackupCryptoError(
    "the archive was sealed with another passphrase than this manager's backup passphrase: send its passphrase",
    'wrong_passphrase',
  );
}

/** scrypt at OWASP's recommended cost (128 MiB, about half a second here). */
export const DEFAULT_KDF = { N: 2 ** 17, r: 8, p: 1 } as const;

/** A backup key ready to seal archives: K and the parameters that derive it from the passphrase. */
export interface BackupKey {
  key: Buffer;
  kdf: KdfParams;
}

export class BackupCryptoError extends Error {
  constructor(
    message: string,
    readonly kind: 'format' | 'wrong_passphrase' | 'damaged',
  ) {
    super(message);
  }
}

function scrypt(passphrase: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(passphrase.normalize('NFC'), salt, 32, { N: n, r, p, maxmem: 256 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** Derives K from a passphrase with a fresh salt (setting the passphrase, or a one-off archive). */
export async function newBackupKey(passphrase: string): Promise<BackupKey> {
  const salt = randomBytes(16);
  const key = await scrypt(passphrase, salt, DEFAULT_KDF.N, DEFAULT_KDF.r, DEFAULT_KDF.p);
  return { key, kdf: { name: 'scrypt', ...DEFAULT_KDF, salt: salt.toString('base64') } };
}

/**
 * Derives K from a passphrase with the parameters an archive names. The parameters come from an
 * uploaded file, so they are bounded: a header cannot make the manager spend gigabytes or minutes.
 */
export async function deriveBackupKey(passphrase: string, kdf: KdfParams): Promise<Buffer> {
  const salt = Buffer.from(kdf.salt, 'base64');
  const powerOfTwo =
    Number.isInteger(kdf.N) && kdf.N >= 2 ** 14 && kdf.N <= 2 ** 20 && (kdf.N & (kdf.N - 1)) === 0;
  if (
    kdf.name !== 'scrypt' ||
    !powerOfTwo ||
    kdf.r !== 8 ||
    !Number.isInteger(kdf.p) ||
    kdf.p < 1 ||
    kdf.p > 4 ||
    salt.length < 16 ||
    salt.length > 64
  )
    throw new BackupCryptoError('the archive header names unsupported key derivation parameters', 'format');
  return scrypt(passphrase, salt, kdf.N, kdf.r, kdf.p);
}

const subKey = (k: Buffer, nonce: Buffer, info: string) =>
  Buffer.from(hkdfSync('sha256', k, nonce, `steward-backup ${info}`, 32));

function chunkNonce(counter: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeUIntBE(counter, 5, 6);
  n[11] = last ? 1 : 0;
  return n;
}

interface Header {
  format: 'steward-backup';
  version: 2;
  kdf: KdfParams;
  /** base64, HKDF salt of this archive */
  nonce: string;
  cipher: 'aes-256-gcm';
  chunk: number;
}

/** A Transform that seals its input; the first bytes it emits are the header. */
export function encryptStream(k: BackupKey): Transform {
  const nonce = randomBytes(32);
  const header: Header = {
    format: 'steward-backup',
    version: 2,
    kdf: k.kdf,
    nonce: nonce.toString('base64'),
    cipher: 'aes-256-gcm',
    chunk: CHUNK,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length);
  const pre = Buffer.concat([MAGIC, len, json]);
  const mac = createHmac('sha256', subKey(k.key, nonce, 'header'))
    .update(pre)
    .digest();
  const payloadKey = subKey(k.key, nonce, 'payload');
  let counter = 0;
  let pending: Buffer = Buffer.alloc(0);
  let started = false;
  const seal = (plain: Buffer, last: boolean) => {
    const c = createCipheriv('aes-256-gcm', payloadKey, chunkNonce(counter++, last));
    return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (!started) {
        this.push(Buffer.concat([pre, mac]));
        started = true;
      }
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      // Keep at least one byte back: the last chunk must be sealed with the last flag.
      while (pending.length > CHUNK) {
        this.push(seal(pending.subarray(0, CHUNK), false));
        pending = pending.subarray(CHUNK);
      }
      cb();
    },
    flush(cb: TransformCallback) {
      if (!started) this.push(Buffer.concat([pre, mac]));
      this.push(seal(pending, true));
      cb();
    },
  });
}

/** Reads and checks the header at the start of `head`; returns the header and its byte length. */
export function parseHeader(head: Buffer): { header: Header; length: number; pre: Buffer; mac: Buffer } {
  if (head.subarray(0, 8).equals(LEGACY_MAGIC))
    throw new BackupCryptoError(
      'this archive has the first backup format (version 1), which is no longer accepted: restore it with the ' +
        'Steward version that made it, then make a new backup',
      'format',
    );
  if (head.length < 12 || !head.subarray(0, 8).equals(MAGIC))
    throw new BackupCryptoError('not an encrypted Steward backup (unknown file header)', 'format');
  const n = head.readUInt32BE(8);
  if (n > MAX_HEADER || head.length < 12 + n + 32)
    throw new BackupCryptoError('the archive header is damaged or truncated', 'format');
  let header: Header;
  try {
    header = JSON.parse(head.subarray(12, 12 + n).toString('utf8')) as Header;
  } catch {
    throw new BackupCryptoError('the archive header is not valid JSON', 'format');
  }
  if (
    header?.format !== 'steward-backup' ||
    header.version !== 2 ||
    header.cipher !== 'aes-256-gcm' ||
    header.chunk !== CHUNK ||
    typeof header.nonce !== 'string' ||
    typeof header.kdf !== 'object' ||
    header.kdf === null
  )
    throw new BackupCryptoError('the archive header is not one this version understands', 'format');
  return {
    header,
    length: 12 + n + 32,
    pre: head.subarray(0, 12 + n),
    mac: head.subarray(12 + n, 12 + n + 32),
  };
}

/** Bytes to read from the start of a file to be sure to hold the whole header. */
export const HEADER_READ = 12 + MAX_HEADER + 32;

/**
 * Checks the passphrase against the header MAC (before anything is decrypted) and returns a
 * Transform that opens the payload that follows the header.
 */
export async function openDecryptor(
  head: Buffer,
  secret: ArchiveSecret,
): Promise<{ skip: number; stream: Transform }> {
  const { header, length, pre, mac } = parseHeader(head);
  const k =
    typeof secret === 'string' ? await deriveBackupKey(secret, header.kdf) : storedKeyFor(secret, header.kdf);
  const nonce = Buffer.from(header.nonce, 'base64');
  const want = createHmac('sha256', subKey(k, nonce, 'header'))
    .update(pre)
    .digest();
  if (!timingSafeEqual(want, mac))
    throw new BackupCryptoError('wrong passphrase (or the archive header was altered)', 'wrong_passphrase');
  const payloadKey = subKey(k, nonce, 'payload');
  let counter = 0;
  let pending: Buffer = Buffer.alloc(0);
  const open = (sealed: Buffer, last: boolean) => {
    const d = createDecipheriv('aes-256-gcm', payloadKey, chunkNonce(counter++, last));
    d.setAuthTag(sealed.subarray(sealed.length - TAG));
    try {
      return Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG)), d.final()]);
    } catch {
      throw new BackupCryptoError('the archive is damaged or was altered (authentication failed)', 'damaged');
    }
  };
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      try {
        // A full chunk with more bytes after it is not the last one.
        while (pending.length > CHUNK + TAG) {
          this.push(open(pending.subarray(0, CHUNK + TAG), false));
          pending = pending.subarray(CHUNK + TAG);
        }
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
    flush(cb: TransformCallback) {
      if (pending.length < TAG) {
        cb(new BackupCryptoError('the archive is truncated', 'damaged'));
        return;
      }
      try {
        this.push(open(pending, true));
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
  return { skip: length, stream };
}
