// The backup archive: a gzip-compressed tar holding db/<table>.jsonl, files/<area>/<name> and,
// last, manifest.json with the version, time and the size and SHA-256 of every other entry.
// With a passphrase the whole .tar.gz is sealed with AES-256-GCM (key from scrypt).
// Extraction is strict and goes to a staging directory; nothing is used before every check passes.

import { createCipheriv, createDecipheriv, createHash, randomBytes, scrypt as scryptCb } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip, createGzip } from 'node:zlib';
import type { TableDump } from './backup.db.js';
import {
  END_OF_ARCHIVE,
  padding,
  readTar,
  TarFormatError,
  type TarSink,
  tarHeader,
  writeChunk,
} from './tar.js';

const scrypt = promisify(scryptCb) as (
  pw: string,
  salt: Buffer,
  len: number,
  opts: object,
) => Promise<Buffer>;

export const FORMAT = 'steward-backup';
export const FORMAT_VERSION = 1;
export const FILE_AREAS = ['uploads', 'files', 'tls'] as const;
const MAGIC = Buffer.from('STWENC1\0', 'ascii');
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export interface Manifest {
  format: string;
  format_version: number;
  steward_version: string;
  created_at: string;
  database: { kind: string; migrations: string[] };
  tables: TableDump[];
  files: { path: string; bytes: number; sha256: string }[];
}

export class ArchiveError extends Error {}

const TABLE_RE = /^db\/([a-z_][a-z0-9_]{0,62})\.jsonl$/;
const FILE_RE = /^files\/(uploads|files|tls|key)\/([A-Za-z0-9_][A-Za-z0-9_.+ ()@-]{0,200})$/;

/** Whether an archive path is one Steward writes; everything else is refused. */
export function isAllowedPath(path: string): boolean {
  if (path === 'manifest.json') return true;
  if (TABLE_RE.test(path)) return true;
  const m = FILE_RE.exec(path);
  return m !== null && !(m[2] as string).includes('..');
}

async function keyFor(passphrase: string, salt: Buffer) {
  return scrypt(passphrase, salt, 32, SCRYPT);
}

export interface WriteArchiveInput {
  dumpDir: string;
  tables: TableDump[];
  migrations: string[];
  databaseKind: string;
  dataDir: string;
  version: string;
  createdAt: Date;
  passphrase?: string;
}

/** Writes the archive to `path` (the caller renames it into place). Returns the manifest. */
export async function writeArchive(path: string, input: WriteArchiveInput): Promise<Manifest> {
  const gzip = createGzip({ level: 6 });
  const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
  let sealed: Promise<void>;
  if (input.passphrase) {
    const salt = randomBytes(16);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', await keyFor(input.passphrase, salt), iv);
    out.write(Buffer.concat([MAGIC, salt, iv]));
    const appendTag = new Transform({
      transform(chunk, _enc, cb) {
        cb(null, chunk);
      },
      flush(cb) {
        cb(null, cipher.getAuthTag());
      },
    });
    sealed = pipeline(gzip, cipher, appendTag, out);
  } else {
    sealed = pipeline(gzip, out);
  }
  // If the destination fails, writes into gzip must stop waiting for drain.
  sealed.catch(() => gzip.destroy());
  const mtime = input.createdAt;
  const files: Manifest['files'] = [];
  for (const t of input.tables) {
    await writeChunk(gzip, tarHeader(t.file, t.bytes, mtime));
    for await (const chunk of createReadStream(join(input.dumpDir, `${t.name}.jsonl`)))
      await writeChunk(gzip, chunk as Buffer);
    await writeChunk(gzip, padding(t.bytes));
  }
  for (const area of FILE_AREAS) {
    const dir = join(input.dataDir, area);
    let names: string[] = [];
    try {
      names = (await readdir(dir, { withFileTypes: true }))
        .filter((d) => d.isFile() && !d.name.startsWith('.'))
        .map((d) => d.name);
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      const archivePath = `files/${area}/${name}`;
      if (!isAllowedPath(archivePath)) continue;
      // One open descriptor: a file replaced by rename meanwhile is still read whole, as it was.
      const h = await open(join(dir, name), 'r').catch(() => undefined);
      if (!h) continue;
      try {
        const size = (await h.stat()).size;
        const hash = createHash('sha256');
        await writeChunk(gzip, tarHeader(archivePath, size, mtime));
        let left = size;
        const buf = Buffer.alloc(1024 * 1024);
        while (left > 0) {
          const { bytesRead } = await h.read(buf, 0, Math.min(buf.length, left), size - left);
          if (bytesRead === 0) throw new Error(`${archivePath} shrank while it was being backed up`);
          const chunk = Buffer.from(buf.subarray(0, bytesRead));
          hash.update(chunk);
          await writeChunk(gzip, chunk);
          left -= bytesRead;
        }
        await writeChunk(gzip, padding(size));
        files.push({ path: archivePath, bytes: size, sha256: hash.digest('hex') });
      } finally {
        await h.close();
      }
    }
  }
  // The key that seals stored secrets (SMTP password, appliance tokens): without it a restore on
  // a new machine could not read them. It makes the archive as sensitive as the data directory.
  const keyFile = await readFile(join(input.dataDir, 'secret.key')).catch(() => undefined);
  if (keyFile) {
    await writeChunk(gzip, tarHeader('files/key/secret.key', keyFile.length, mtime));
    await writeChunk(gzip, keyFile);
    await writeChunk(gzip, padding(keyFile.length));
    files.push({
      path: 'files/key/secret.key',
      bytes: keyFile.length,
      sha256: createHash('sha256').update(keyFile).digest('hex'),
    });
  }
  const manifest: Manifest = {
    format: FORMAT,
    format_version: FORMAT_VERSION,
    steward_version: input.version,
    created_at: input.createdAt.toISOString(),
    database: { kind: input.databaseKind, migrations: input.migrations },
    tables: input.tables,
    files,
  };
  const body = Buffer.from(JSON.stringify(manifest, null, 2), 'utf8');
  await writeChunk(gzip, tarHeader('manifest.json', body.length, mtime));
  await writeChunk(gzip, body);
  await writeChunk(gzip, padding(body.length));
  await writeChunk(gzip, END_OF_ARCHIVE);
  gzip.end();
  await sealed;
  return manifest;
}

/** Strips the encryption envelope, if any, checking the GCM tag at the end. */
async function openInput(path: string, passphrase: string | undefined): Promise<NodeJS.ReadableStream> {
  const h = await open(path, 'r');
  const head = Buffer.alloc(36);
  const { bytesRead } = await h.read(head, 0, 36, 0);
  const size = (await h.stat()).size;
  await h.close();
  const encrypted = bytesRead >= 8 && head.subarray(0, 8).equals(MAGIC);
  if (!encrypted) {
    if (passphrase) throw new ArchiveError('the archive is not encrypted, but a passphrase was given');
    return createReadStream(path);
  }
  if (!passphrase) throw new ArchiveError('the archive is encrypted: give its passphrase');
  if (size < 36 + 16) throw new ArchiveError('the archive is truncated');
  const decipher = createDecipheriv(
    'aes-256-gcm',
    await keyFor(passphrase, head.subarray(8, 24)),
    head.subarray(24, 36),
  );
  const tagHandle = await open(path, 'r');
  const tag = Buffer.alloc(16);
  await tagHandle.read(tag, 0, 16, size - 16);
  await tagHandle.close();
  decipher.setAuthTag(tag);
  const body = createReadStream(path, { start: 36, end: size - 17 });
  const out = new PassThrough();
  pipeline(body, decipher, out).catch((err) =>
    out.destroy(new ArchiveError(`wrong passphrase or damaged archive (${(err as Error).message})`)),
  );
  return out;
}

const MAX_MANIFEST = 16 * 1024 * 1024;

/**
 * Extracts into `stagingDir` and verifies every entry against the manifest: allowed names,
 * regular files only, no duplicates, sizes, SHA-256, row counts. Throws ArchiveError.
 */
export async function extractArchive(
  path: string,
  stagingDir: string,
  passphrase?: string,
): Promise<Manifest> {
  await mkdir(join(stagingDir, 'db'), { recursive: true });
  for (const a of [...FILE_AREAS, 'key']) await mkdir(join(stagingDir, 'files', a), { recursive: true });
  const seen = new Map<string, { bytes: number; sha256: string; lines: number }>();
  let manifestBuf: Buffer | undefined;
  try {
    const input = (await openInput(path, passphrase)).pipe(createGunzip());
    await readTar(input as AsyncIterable<Buffer>, async (hdr): Promise<TarSink> => {
      if (hdr.type !== '0' && hdr.type !== '\0')
        throw new ArchiveError(`${hdr.path}: only regular files are allowed`);
      if (!isAllowedPath(hdr.path))
        throw new ArchiveError(`${hdr.path}: unexpected path in a backup archive`);
      if (seen.has(hdr.path)) throw new ArchiveError(`${hdr.path}: appears twice`);
      const hash = createHash('sha256');
      let bytes = 0;
      let lines = 0;
      if (hdr.path === 'manifest.json') {
        if (hdr.size > MAX_MANIFEST) throw new ArchiveError('manifest.json is too large');
        const parts: Buffer[] = [];
        return {
          async write(c) {
            parts.push(Buffer.from(c));
          },
          async end() {
            manifestBuf = Buffer.concat(parts);
            seen.set(hdr.path, { bytes: manifestBuf.length, sha256: '', lines: 0 });
          },
        };
      }
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
    if (err instanceof TarFormatError) throw new ArchiveError(`not a valid backup archive: ${err.message}`);
    throw new ArchiveError(`the archive is corrupted or truncated (${(err as Error).message})`);
  }
  if (!manifestBuf) throw new ArchiveError('the archive has no manifest.json');
  let manifest: Manifest;
  try {
    manifest = JSON.parse(manifestBuf.toString('utf8')) as Manifest;
  } catch {
    throw new ArchiveError('manifest.json is not valid JSON');
  }
  if (manifest.format !== FORMAT) throw new ArchiveError('not a Steward backup (manifest format)');
  if (manifest.format_version !== FORMAT_VERSION) {
    throw new ArchiveError(
      `backup format version ${manifest.format_version} is not supported (expected ${FORMAT_VERSION})`,
    );
  }
  if (
    !Array.isArray(manifest.tables) ||
    !Array.isArray(manifest.files) ||
    !Array.isArray(manifest.database?.migrations)
  ) {
    throw new ArchiveError('manifest.json is incomplete');
  }
  const expected = new Set<string>(['manifest.json']);
  for (const t of manifest.tables) {
    const got = seen.get(t.file);
    if (t.file !== `db/${t.name}.jsonl` || !got)
      throw new ArchiveError(`table ${t.name}: its dump is missing`);
    if (got.bytes !== t.bytes || got.sha256 !== t.sha256)
      throw new ArchiveError(`table ${t.name}: checksum mismatch`);
    if (got.lines !== t.rows)
      throw new ArchiveError(`table ${t.name}: expected ${t.rows} rows, found ${got.lines}`);
    expected.add(t.file);
  }
  for (const f of manifest.files) {
    const got = seen.get(f.path);
    if (!got) throw new ArchiveError(`${f.path}: missing`);
    if (got.bytes !== f.bytes || got.sha256 !== f.sha256)
      throw new ArchiveError(`${f.path}: checksum mismatch`);
    expected.add(f.path);
  }
  for (const p of seen.keys())
    if (!expected.has(p)) throw new ArchiveError(`${p}: not listed in the manifest`);
  return manifest;
}
