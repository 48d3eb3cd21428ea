// The package repository client. An admin sets an HTTPS URL (a vendor's repository or a local
// mirror, so air-gapped sites work); the repository serves `index.json` and the packages it
// names, next to it. The index format (docs/fleet.md, "Package repository"):
//
//   {"format": "steward-package-index/1",
//    "packages": [{"type": "tiscale-worker", "version": "5.4.0", "file": "tiscale-worker-5.4.0.stwpkg",
//                  "size": 2048, "sha256": "<hex of the file>", "signature": "<base64>"}]}
//
// `sha256` and `size` are of the package file; `signature` is the publisher's Ed25519 signature
// over the manifest, the same bytes as in the package envelope, which the store checks against
// the trusted keys in <data dir>/package-keys/ exactly as for an upload. Nothing the repository
// sends is trusted before that check, and nothing it sends is ever echoed in an error: errors
// name what went wrong in our own words (status code, TLS error code, which index field).

import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { normalizePackageType, type PackageType } from '../../../contract/fleet-fields.js';

export const REPOSITORY_SETTINGS_KEY = 'fleet.package_repository';

export interface RepositorySettings {
  /** https URL of the repository's directory (index.json lives under it); empty: none. */
  url: string;
  /** PEM of the CA (or the self-signed certificate) to trust instead of the system roots. */
  ca_pem: string;
  /** SHA-256 fingerprint of the server certificate (hex, colons optional); pins it. */
  fingerprint_sha256: string;
}

export const REPOSITORY_DEFAULTS: RepositorySettings = { url: '', ca_pem: '', fingerprint_sha256: '' };

export interface IndexEntry {
  type: PackageType;
  version: string;
  file: string;
  size: number;
  sha256: string;
  signature: string;
}

/** A failure whose message is ours and safe to show (never the remote body). */
export class RepositoryError extends Error {}

export const INDEX_MAX_BYTES = 1024 * 1024;
const VERSION_RE = /^\d{1,6}(\.\d{1,6}){0,3}([-+][A-Za-z0-9.]{1,40})?$/;
const FILE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export function normalizeFingerprint(value: string): string {
  return value.replace(/[:\s]/g, '').toLowerCase();
}

function describe(err: unknown): string {
  if (err instanceof RepositoryError) return err.message;
  const code = (err as { code?: string }).code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'the repository refused the connection';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the repository host name does not resolve';
    case 'ECONNRESET':
      return 'the repository closed the connection';
    case 'ETIMEDOUT':
      return 'the repository did not answer in time';
    case 'ABORT_ERR':
      return 'stopped: the manager is shutting down or the download took too long';
    case undefined:
      return 'the repository could not be reached';
    default:
      if (/CERT|SELF_SIGNED|VERIFY|ALTNAME|TLS|SSL/i.test(code))
        return `TLS: ${code} (for a mirror with a self-signed certificate set ca_pem or fingerprint_sha256)`;
      return `the repository could not be reached (${code})`;
  }
}

function get(
  settings: RepositorySettings,
  url: URL,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<IncomingMessage> {
  const pin = settings.fingerprint_sha256 ? normalizeFingerprint(settings.fingerprint_sha256) : '';
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method: 'GET',
      agent: false,
      timeout: timeoutMs,
      ...(signal ? { signal } : {}),
      ...(settings.ca_pem ? { ca: settings.ca_pem } : {}),
      // A pinned fingerprint replaces the chain check (a self-signed mirror); with a CA as well,
      // both must hold.
      rejectUnauthorized: !pin || Boolean(settings.ca_pem),
      headers: { accept: 'application/json, application/octet-stream' },
    });
    req.on('socket', (socket) => {
      if (!pin) return;
      (socket as TLSSocket).once('secureConnect', () => {
        const fp = normalizeFingerprint((socket as TLSSocket).getPeerCertificate()?.fingerprint256 ?? '');
        if (fp !== pin)
          req.destroy(new RepositoryError('the repository certificate does not match fingerprint_sha256'));
      });
    });
    req.on('timeout', () => req.destroy(new RepositoryError('the repository did not answer in time')));
    req.on('error', (err) => reject(new RepositoryError(describe(err))));
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new RepositoryError(`the repository answered HTTP ${res.statusCode} for ${url.pathname}`));
        return;
      }
      resolve(res);
    });
    req.end();
  });
}

function readCapped(res: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    res.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) {
        res.destroy();
        reject(new RepositoryError(`the index is larger than ${max} bytes`));
        return;
      }
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', (err) => reject(new RepositoryError(describe(err))));
  });
}

/** Checks the index document; the first bad field names where it is, never its value. */
export function parseIndex(data: Buffer): IndexEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(data.toString('utf8'));
  } catch {
    throw new RepositoryError('index.json is not JSON');
  }
  const packages = (doc as { packages?: unknown })?.packages;
  if (!Array.isArray(packages)) throw new RepositoryError('index.json has no "packages" list');
  const out: IndexEntry[] = [];
  for (const [i, p] of packages.entries()) {
    const e = (p ?? {}) as Record<string, unknown>;
    const bad = (field: string, why: string) =>
      new RepositoryError(`index.json packages[${i}].${field} ${why}`);
    const type = typeof e.type === 'string' ? normalizePackageType(e.type) : undefined;
    if (!type) throw bad('type', 'is not a known package type');
    if (typeof e.version !== 'string' || !VERSION_RE.test(e.version))
      throw bad('version', 'is not a version');
    if (typeof e.file !== 'string' || !FILE_RE.test(e.file)) throw bad('file', 'is not a plain file name');
    if (typeof e.size !== 'number' || !Number.isInteger(e.size) || e.size < 1)
      throw bad('size', 'is not a positive integer');
    if (typeof e.sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(e.sha256))
      throw bad('sha256', 'is not 64 hex digits');
    if (typeof e.signature !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(e.signature))
      throw bad('signature', 'is not base64');
    out.push({
      type,
      version: e.version,
      file: e.file,
      size: e.size,
      sha256: e.sha256.toLowerCase(),
      signature: e.signature,
    });
  }
  return out;
}

function under(settings: RepositorySettings, name: string): URL {
  const base = new URL(settings.url.endsWith('/') ? settings.url : `${settings.url}/`);
  return new URL(name, base);
}

export async function fetchIndex(
  settings: RepositorySettings,
  opts: { timeoutMs: number },
): Promise<IndexEntry[]> {
  const res = await get(settings, under(settings, 'index.json'), opts.timeoutMs);
  return parseIndex(await readCapped(res, INDEX_MAX_BYTES));
}

/**
 * Streams one package into `path` (created new, mode 0600), refusing more bytes than the index
 * announced, and checks its size and sha256 against the index. The caller removes `path` on failure.
 */
export async function downloadPackage(
  settings: RepositorySettings,
  entry: IndexEntry,
  path: string,
  opts: { timeoutMs: number; onProgress: (received: number) => void; signal?: AbortSignal },
): Promise<void> {
  const res = await get(settings, under(settings, entry.file), opts.timeoutMs, opts.signal);
  const hash = createHash('sha256');
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    let failed = false;
    // The file is opened asynchronously: settle only once the stream has closed its descriptor,
    // or the caller's clean-up could run before the open creates the file and leave it behind.
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      res.destroy();
      const reason = err instanceof RepositoryError ? err : new RepositoryError(describe(err));
      if (out.closed) reject(reason);
      else {
        out.once('close', () => reject(reason));
        out.destroy();
      }
    };
    out.on('error', () => fail(new RepositoryError('the package could not be written to the store')));
    res.on('error', fail);
    res.on('data', (c: Buffer) => {
      if (failed) return;
      received += c.length;
      if (received > entry.size) {
        fail(new RepositoryError(`the package is larger than the ${entry.size} bytes the index announced`));
        return;
      }
      hash.update(c);
      opts.onProgress(received);
      if (!out.write(c)) {
        res.pause();
        out.once('drain', () => res.resume());
      }
    });
    let ended = false;
    res.on('end', () => {
      ended = true;
      out.end(() => resolve());
    });
    // A connection cut mid-body (an abort, a reset) may close without 'end' or 'error'.
    res.on('close', () => {
      if (!ended)
        fail(new RepositoryError('the repository closed the connection before the end of the package'));
    });
  });
  if (received !== entry.size)
    throw new RepositoryError(`the package has ${received} bytes; the index announced ${entry.size}`);
  if (hash.digest('hex') !== entry.sha256)
    throw new RepositoryError('the package does not match the sha256 in the index');
}
