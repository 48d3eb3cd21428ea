// The backup archive: a tar, gzip-compressed, then always sealed (backup.crypto.ts). The tar
// holds manifest.json FIRST (version, time, database migrations, and the size and SHA-256 of
// every other entry, with their totals), then db/<table>.jsonl, files/<area>/<name> and
// files/key/secret.key. The master key is only ever inside the sealed payload.
// Extraction reads the manifest before it writes anything, refuses an archive whose declared
// size or entry count passes the limits (or the free disk space), and then accepts only the
// entries the manifest names, each with exactly its declared size: a hostile archive is refused
// at the first header that disagrees, not after it has filled the staging directory.
//
// Past ~400 lines on purpose: the writer and the reader of one format side by side, so a change
// to the format is made (and reviewed) in one place; verification and restore live elsewhere.

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { Logger } from '../../shared/logger.js';
import {
  type ArchiveSecret,
  BackupCryptoError,
  type BackupKey,
  encryptStream,
  HEADER_READ,
  openDecryptor,
} from './backup.crypto.js';
import type { TableDump } from './backup.repo.js';
import {
  END_OF_ARCHIVE,
  padding,
  readTar,
  TarFormatError,
  type TarSink,
  tarHeader,
  writeChunk,
} from './tar.js';

export const FORMAT = 'steward-backup';
export const FORMAT_VERSION = 2;
export const FILE_AREAS = ['uploads', 'files', 'tls'] as const;

export interface Manifest {
  format: string;
  format_version: number;
  steward_version: string;
  created_at: string;
  database: { kind: string; migrations: string[] };
  tables: TableDump[];
  files: { path: string; bytes: number; sha256: string }[];
  /** Sum of the bytes of every entry but the manifest, and their number. */
  total_bytes: number;
  entries: number;
}

/** `too_large`: the archive would expand past a limit (413); otherwise a bad archive (400). */
export class ArchiveError extends Error {
  constructor(
    message: string,
    readonly kind: 'invalid' | 'too_large' | 'wrong_passphrase' = 'invalid',
  ) {
    super(message);
  }
}

const TABLE_RE = /^db\/([a-z_][a-z0-9_]{0,62})\.jsonl$/;
const FILE_RE = /^files\/(uploads|files|tls|key)\/([A-Za-z0-9_][A-Za-z0-9_.+ ()@-]{0,200})$/;
const SHA_RE = /^[0-9a-f]{64}$/;

/** Whether an archive path is one Steward writes; everything else is refused. */
export function isAllowedPath(path: string): boolean {
  if (path === 'manifest.json') return true;
  if (TABLE_RE.test(path)) return true;
  const m = FILE_RE.exec(path);
  return m !== null && !(m[2] as string).includes('..');
}

export interface WriteArchiveInput {
  dumpDir: string;
  tables: TableDump[];
  migrations: string[];
  databaseKind: string;
  dataDir: string;
  version: string;
  createdAt: Date;
  key: BackupKey;
  /** Hears of files the backup had to leave out (unreadable, not copyable). */
  log: Logger;
}

/** A file or directory that is not there: for a backup, nothing to take, not a failure. */
const isMissing = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';

async function hashFile(path: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const c of createReadStream(path)) {
    hash.update(c as Buffer);
    bytes += (c as Buffer).length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * Freezes the file areas under `snapDir` (hard links: no copy, and a file replaced or deleted
 * meanwhile keeps its content here) and hashes them, so the manifest can go first.
 */
async function snapshotFiles(dataDir: string, snapDir: string, log: Logger) {
  const files: (Manifest['files'][number] & { source: string })[] = [];
  for (const area of FILE_AREAS) {
    const dir = join(dataDir, area);
    let names: string[] = [];
    try {
      names = (await readdir(dir, { withFileTypes: true }))
        .filter((d) => d.isFile() && !d.name.startsWith('.'))
        .map((d) => d.name);
    } catch (err) {
      if (!isMissing(err)) log.warn({ err, area }, 'the backup leaves out a file area it could not list');
      continue;
    }
    await mkdir(join(snapDir, area), { recursive: true, mode: 0o700 });
    for (const name of names.sort()) {
      const archivePath = `files/${area}/${name}`;
      if (!isAllowedPath(archivePath)) continue;
      const source = join(snapDir, area, name);
      try {
        await link(join(dir, name), source);
      } catch (err) {
        if (isMissing(err)) continue; // deleted since the listing
        try {
          await copyFile(join(dir, name), source);
        } catch (copyErr) {
          if (!isMissing(copyErr))
            log.warn({ err: copyErr, file: archivePath }, 'the backup leaves out a file it could not copy');
          continue;
        }
      }
      let h: { bytes: number; sha256: string };
      try {
        h = await hashFile(source);
      } catch (err) {
        log.warn({ err, file: archivePath }, 'the backup leaves out a file it could not read');
        continue;
      }
      files.push({ path: archivePath, ...h, source });
    }
  }
  return files;
}

/** Writes the archive to `path` (the caller renames it into place). Returns the manifest. */
export async function writeArchive(path: string, input: WriteArchiveInput): Promise<Manifest> {
  const snapshot = await snapshotFiles(input.dataDir, join(input.dumpDir, '.files'), input.log);
  // The key that seals stored secrets (SMTP password, appliance tokens): without it a restore on
  // a new machine could not read them. It is written only inside the sealed payload.
  const keyFile = await readFile(join(input.dataDir, 'secret.key')).catch((err: unknown) => {
    if (!isMissing(err))
      input.log.warn(
        { err },
        'the backup leaves out secret.key; a restore on another machine cannot open the stored secrets',
      );
    return undefined;
  });
  const files: Manifest['files'] = snapshot.map(({ path: p, bytes, sha256 }) => ({ path: p, bytes, sha256 }));
  if (keyFile)
    files.push({
      path: 'files/key/secret.key',
      bytes: keyFile.length,
      sha256: createHash('sha256').update(keyFile).digest('hex'),
    });
  const manifest: Manifest = {
    format: FORMAT,
    format_version: FORMAT_VERSION,
    steward_version: input.version,
    created_at: input.createdAt.toISOString(),
    database: { kind: input.databaseKind, migrations: input.migrations },
    tables: input.tables,
    files,
    total_bytes: input.tables.reduce((a, t) => a + t.bytes, 0) + files.reduce((a, f) => a + f.bytes, 0),
    entries: input.tables.length + files.length,
  };

  const gzip = createGzip({ level: 6 });
  const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
  const sealed = pipeline(gzip, encryptStream(input.key), out);
  // If the destination fails, writes into gzip must stop waiting for drain.
  sealed.catch(() => gzip.destroy());
  const mtime = input.createdAt;
  const entry = async (name: string, body: Buffer) => {
    await writeChunk(gzip, tarHeader(name, body.length, mtime));
    await writeChunk(gzip, body);
    await writeChunk(gzip, padding(body.length));
  };
  await entry('manifest.json', Buffer.from(JSON.stringify(manifest, null, 2), 'utf8'));
  for (const t of input.tables) {
    await writeChunk(gzip, tarHeader(t.file, t.bytes, mtime));
    for await (const chunk of createReadStream(join(input.dumpDir, `${t.name}.jsonl`)))
      await writeChunk(gzip, chunk as Buffer);
    await writeChunk(gzip, padding(t.bytes));
  }
  for (const f of snapshot) {
    // Exactly the hashed bytes, checked again: the manifest already promised them.
    const h = await open(f.source, 'r');
    try {
      const hash = createHash('sha256');
      await writeChunk(gzip, tarHeader(f.path, f.bytes, mtime));
      let left = f.bytes;
      const buf = Buffer.alloc(1024 * 1024);
      while (left > 0) {
        const { bytesRead } = await h.read(buf, 0, Math.min(buf.length, left), f.bytes - left);
        if (bytesRead === 0) throw new Error(`${f.path} shrank while it was being backed up`);
        const chunk = Buffer.from(buf.subarray(0, bytesRead));
        hash.update(chunk);
        await writeChunk(gzip, chunk);
        left -= bytesRead;
      }
      if (hash.digest('hex') !== f.sha256) throw new Error(`${f.path} changed while it was being backed up`);
      await writeChunk(gzip, padding(f.bytes));
    } finally {
      await h.close();
    }
  }
  if (keyFile) await entry('files/key/secret.key', keyFile);
  await writeChunk(gzip, END_OF_ARCHIVE);
  gzip.end();
  await sealed;
  return manifest;
}

const MAX_MANIFEST = 16 * 1024 * 1024;

export interface ExtractLimits {
  /** Most bytes the entries may add up to (besides the free disk space, always checked). */
  maxBytes: number;
  /** Most entries (tables and files). */
  maxEntries: number;
}

export const DEFAULT_EXTRACT_LIMITS: ExtractLimits = { maxBytes: 64 * 1024 ** 3, maxEntries: 1_000_000 };

export interface ExtractOptions {
  /** The archive's passphrase, or this manager's backup key (backup.crypto.ts, ArchiveSecret). */
  passphrase: ArchiveSecret;
  limits?: ExtractLimits;
  /** Runs once the manifest is read and checked, before any entry is written (schema checks). */
  checkManifest?: (manifest: Manifest) => Promise<void> | void;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** Checks the manifest's shape, names and totals, and the limits. Throws ArchiveError. */
export function checkManifest(raw: unknown, limits: ExtractLimits, freeBytes: number): Manifest {
  const m = raw as Manifest;
  if (m?.format !== FORMAT) throw new ArchiveError('not a Steward backup (manifest format)');
  if (m.format_version !== FORMAT_VERSION)
    throw new ArchiveError(
      `backup format version ${m.format_version} is not supported (expected ${FORMAT_VERSION})`,
    );
  if (
    typeof m.created_at !== 'string' ||
    typeof m.steward_version !== 'string' ||
    typeof m.database?.kind !== 'string' ||
    !Array.isArray(m.database?.migrations) ||
    !m.database.migrations.every((x) => typeof x === 'string') ||
    !Array.isArray(m.tables) ||
    !Array.isArray(m.files) ||
    !isCount(m.total_bytes) ||
    !isCount(m.entries)
  )
    throw new ArchiveError('manifest.json is incomplete');
  const paths = new Set<string>();
  let total = 0;
  for (const t of m.tables) {
    if (
      typeof t?.name !== 'string' ||
      t.file !== `db/${t.name}.jsonl` ||
      !TABLE_RE.test(t.file) ||
      !isCount(t.rows) ||
      !isCount(t.bytes) ||
      !SHA_RE.test(String(t.sha256))
    )
      throw new ArchiveError(
        `manifest.json: table entry ${JSON.stringify(t?.name ?? null).slice(0, 80)} is invalid`,
      );
    if (paths.has(t.file)) throw new ArchiveError(`manifest.json: ${t.file} is listed twice`);
    paths.add(t.file);
    total += t.bytes;
  }
  for (const f of m.files) {
    if (
      typeof f?.path !== 'string' ||
      !f.path.startsWith('files/') ||
      !isAllowedPath(f.path) ||
      !isCount(f.bytes) ||
      !SHA_RE.test(String(f.sha256))
    )
      throw new ArchiveError(
        `manifest.json: file entry ${JSON.stringify(f?.path ?? null).slice(0, 120)} is invalid`,
      );
    if (paths.has(f.path)) throw new ArchiveError(`manifest.json: ${f.path} is listed twice`);
    paths.add(f.path);
    total += f.bytes;
  }
  if (total !== m.total_bytes || paths.size !== m.entries)
    throw new ArchiveError('manifest.json: the totals do not match its entries');
  if (m.entries > limits.maxEntries)
    throw new ArchiveError(
      `the archive has ${m.entries} entries, more than the limit of ${limits.maxEntries}`,
      'too_large',
    );
  if (m.total_bytes > limits.maxBytes)
    throw new ArchiveError(
      `the archive would expand to ${m.total_bytes} bytes, more than the limit of ${limits.maxBytes}`,
      'too_large',
    );
  if (m.total_bytes > freeBytes)
    throw new ArchiveError(
      `the archive would expand to ${m.total_bytes} bytes, more than the ${freeBytes} bytes free in the data directory`,
      'too_large',
    );
  return m;
}

/**
 * Opens the sealed archive: checks the header and the passphrase before anything is decrypted,
 * and returns the decompressed tar stream (an error anywhere upstream surfaces when it is read).
 */
async function openSealed(path: string, passphrase: ArchiveSecret): Promise<AsyncIterable<Buffer>> {
  if (!passphrase) throw new ArchiveError('the passphrase of the archive is required', 'wrong_passphrase');
  const h = await open(path, 'r');
  let head: Buffer;
  try {
    const buf = Buffer.alloc(HEADER_READ);
    const { bytesRead } = await h.read(buf, 0, HEADER_READ, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await h.close();
  }
  try {
    const { skip, stream } = await openDecryptor(head, passphrase);
    const gunzip = createGunzip();
    // pipeline destroys every stream with the first error, so the reader of gunzip sees it.
    pipeline(createReadStream(path, { start: skip }), stream, gunzip).catch(() => {}); // not dropped: gunzip's reader gets it
    return gunzip;
  } catch (err) {
    if (err instanceof BackupCryptoError)
      throw new ArchiveError(err.message, err.kind === 'wrong_passphrase' ? 'wrong_passphrase' : 'invalid');
    throw err;
  }
}

/**
 * Extracts into `stagingDir` and verifies every entry against the manifest, which must come
 * first: allowed names, regular files only, no duplicates, exact sizes (checked from each tar
 * header, before its bytes are written), SHA-256, row counts. Throws ArchiveError.
 */
export async function extractArchive(
  path: string,
  stagingDir: string,
  opts: ExtractOptions,
): Promise<Manifest> {
  const limits = opts.limits ?? DEFAULT_EXTRACT_LIMITS;
  await mkdir(join(stagingDir, 'db'), { recursive: true });
  for (const a of [...FILE_AREAS, 'key']) await mkdir(join(stagingDir, 'files', a), { recursive: true });
  const fs = await statfs(stagingDir);
  const freeBytes = Number(fs.bavail) * Number(fs.bsize);
  const seen = new Map<string, { bytes: number; sha256: string; lines: number }>();
  let manifest: Manifest | undefined;
  const listed = new Map<string, number>();
  try {
    const input = await openSealed(path, opts.passphrase);
    // Decompressed bytes are capped too: before the manifest, at the manifest's own limit; after
    // it, at what the manifest declared plus the tar headers and padding.
    let inflated = 0;
    const allowed = () =>
      MAX_MANIFEST + 64 * 1024 + (manifest ? manifest.total_bytes + (manifest.entries + 4) * 1024 : 0);
    const counted = (async function* () {
      for await (const c of input) {
        inflated += c.length;
        if (inflated > allowed())
          throw new ArchiveError('the archive expands past what its manifest declares', 'too_large');
        yield c;
      }
    })();
    await readTar(counted, async (hdr): Promise<TarSink> => {
      if (hdr.type !== '0' && hdr.type !== '\0')
        throw new ArchiveError(`${hdr.path}: only regular files are allowed`);
      if (!isAllowedPath(hdr.path))
        throw new ArchiveError(`${hdr.path}: unexpected path in a backup archive`);
      if (seen.has(hdr.path) || (hdr.path === 'manifest.json' && manifest))
        throw new ArchiveError(`${hdr.path}: appears twice`);
      if (hdr.path === 'manifest.json') {
        if (seen.size > 0) throw new ArchiveError('manifest.json must be the first entry');
        if (hdr.size > MAX_MANIFEST) throw new ArchiveError('manifest.json is too large');
        const parts: Buffer[] = [];
        return {
          async write(c) {
            parts.push(Buffer.from(c));
          },
          async end() {
            let raw: unknown;
            try {
              raw = JSON.parse(Buffer.concat(parts).toString('utf8'));
            } catch {
              throw new ArchiveError('manifest.json is not valid JSON');
            }
            const m = checkManifest(raw, limits, freeBytes);
            for (const t of m.tables) listed.set(t.file, t.bytes);
            for (const f of m.files) listed.set(f.path, f.bytes);
            await opts.checkManifest?.(m);
            manifest = m;
          },
        };
      }
      if (!manifest) throw new ArchiveError(`${hdr.path}: comes before manifest.json, which must be first`);
      const declared = listed.get(hdr.path);
      if (declared === undefined) throw new ArchiveError(`${hdr.path}: not listed in the manifest`);
      if (hdr.size !== declared)
        throw new ArchiveError(`${hdr.path}: ${hdr.size} bytes, but the manifest declares ${declared}`);
      const hash = createHash('sha256');
      let bytes = 0;
      let lines = 0;
      const out = createWriteStream(join(stagingDir, hdr.path), { flags: 'wx', mode: 0o600 });
      return {
        async write(c) {
          hash.update(c);
          bytes += c.length;
          for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) lines++;
          await writeChunk(out, Buffer.from(c));
        },
        async end() {
          await new Promise<void>((res, rej) => out.end((err?: Error | null) => (err ? rej(err) : res())));
          seen.set(hdr.path, { bytes, sha256: hash.digest('hex'), lines });
        },
      };
    });
  } catch (err) {
    if (err instanceof ArchiveError) throw err;
    if (err instanceof BackupCryptoError) throw new ArchiveError(err.message);
    if (err instanceof TarFormatError) throw new ArchiveError(`not a valid backup archive: ${err.message}`);
    throw new ArchiveError(`the archive is corrupted or truncated (${(err as Error).message})`);
  }
  const m = manifest as Manifest | undefined;
  if (!m) throw new ArchiveError('the archive has no manifest.json');
  for (const t of m.tables) {
    const got = seen.get(t.file);
    if (!got) throw new ArchiveError(`table ${t.name}: its dump is missing`);
    if (got.bytes !== t.bytes || got.sha256 !== t.sha256)
      throw new ArchiveError(`table ${t.name}: checksum mismatch`);
    if (got.lines !== t.rows)
      throw new ArchiveError(`table ${t.name}: expected ${t.rows} rows, found ${got.lines}`);
  }
  for (const f of m.files) {
    const got = seen.get(f.path);
    if (!got) throw new ArchiveError(`${f.path}: missing`);
    if (got.bytes !== f.bytes || got.sha256 !== f.sha256)
      throw new ArchiveError(`${f.path}: checksum mismatch`);
  }
  return m;
}
