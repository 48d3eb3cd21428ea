// Chunked uploads with the flow.js protocol (seed 003): each chunk is a multipart POST with
// flowIdentifier (32 hex), flowFilename, flowTotalSize, flowCurrentChunkSize, flowChunkNumber
// and `file`. Chunks land in uploads/.chunks/<id>/<n>; when they cover flowTotalSize the file is
// assembled to uploads/<id>.<filename> through a temporary name, fsync and rename. A GET tells
// a client whether a chunk is already there, so an interrupted upload resumes.

import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AppError, badField } from '../../shared/app-error.js';
import { commitFile, tempSibling } from '../../shared/fs-util.js';

export const IDENTIFIER_RE = /^[0-9a-f]{32}$/i;
// A plain file name: no separators, no leading dot, no control characters.
const FILENAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.+ ()@-]{0,119}$/;

export interface UploadLimits {
  /** Largest assembled file (flowTotalSize). */
  maxFileBytes: number;
  /** Largest single chunk. */
  maxChunkBytes: number;
}

export interface ChunkFields {
  flowIdentifier: string;
  flowFilename: string;
  flowTotalSize: number;
  flowCurrentChunkSize: number;
  flowChunkNumber: number;
}

export function validateFilename(name: string, field: string): string {
  if (name.includes('/') || name.includes('\\') || name.includes('\0') || name === '.' || name === '..') {
    throw badField(field, 'must be a plain file name without path separators');
  }
  if (!FILENAME_RE.test(name) || name.includes('..')) {
    throw badField(
      field,
      'must be 1-120 characters of letters, digits, space and . _ + - ( ) @, not starting with a dot',
    );
  }
  return name;
}

function intField(raw: Record<string, string>, name: keyof ChunkFields, min: number): number {
  const v = raw[name];
  if (v === undefined || v === '') throw badField(`body.${name}`, 'is required');
  if (!/^\d{1,15}$/.test(v.trim())) throw badField(`body.${name}`, 'must be a non-negative integer');
  const n = Number(v.trim());
  if (n < min) throw badField(`body.${name}`, `must be at least ${min}`);
  return n;
}

/** Checks the flow fields; sizes over the limits are 413, everything else malformed is 400. */
export function parseChunkFields(raw: Record<string, string>, limits: UploadLimits): ChunkFields {
  const id = raw.flowIdentifier ?? '';
  if (!IDENTIFIER_RE.test(id)) throw badField('body.flowIdentifier', 'must be 32 hexadecimal characters');
  const fields: ChunkFields = {
    flowIdentifier: id.toLowerCase(),
    flowFilename: validateFilename(raw.flowFilename ?? '', 'body.flowFilename'),
    flowTotalSize: intField(raw, 'flowTotalSize', 1),
    flowCurrentChunkSize: intField(raw, 'flowCurrentChunkSize', 1),
    flowChunkNumber: intField(raw, 'flowChunkNumber', 1),
  };
  if (fields.flowTotalSize > limits.maxFileBytes) {
    throw new AppError({
      code: 'payload_too_large',
      message: `flowTotalSize ${fields.flowTotalSize} is over the limit of ${limits.maxFileBytes} bytes`,
    });
  }
  if (fields.flowCurrentChunkSize > limits.maxChunkBytes) {
    throw new AppError({
      code: 'payload_too_large',
      message: `chunks may be at most ${limits.maxChunkBytes} bytes`,
    });
  }
  if (fields.flowCurrentChunkSize > fields.flowTotalSize) {
    throw badField('body.flowCurrentChunkSize', 'is larger than flowTotalSize');
  }
  if (fields.flowChunkNumber > fields.flowTotalSize) {
    throw badField('body.flowChunkNumber', 'is beyond the last possible chunk');
  }
  return fields;
}

export const finalName = (f: Pick<ChunkFields, 'flowIdentifier' | 'flowFilename'>) =>
  `${f.flowIdentifier}.${f.flowFilename}`;

/**
 * The absolute path of an uploaded file named `<flowIdentifier>.<flowFilename>`, or an absolute
 * path that already points into the uploads directory. Anything else is a 400: a settings value
 * must never make the manager read an arbitrary file.
 */
export function resolveUploadedFile(uploadsDir: string, name: string, field: string): string {
  const root = resolve(uploadsDir);
  const candidate = name.startsWith('/') ? resolve(name) : resolve(root, name);
  if (dirname(candidate) !== root)
    throw badField(field, 'must name a file uploaded through /api/v1/system/upload/');
  const base = basename(candidate);
  const dot = base.indexOf('.');
  if (dot !== 32 || !IDENTIFIER_RE.test(base.slice(0, 32))) {
    throw badField(field, 'must be <flowIdentifier>.<flowFilename> of an uploaded file');
  }
  validateFilename(base.slice(33), field);
  return candidate;
}

interface ChunkMeta {
  filename: string;
  totalSize: number;
}

export function createUploadStore(uploadsDir: string, limits: UploadLimits) {
  const chunksRoot = join(uploadsDir, '.chunks');
  const incoming = join(uploadsDir, '.incoming');
  const locks = new Map<string, Promise<unknown>>();

  async function withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    locks.set(id, next);
    try {
      return await next;
    } finally {
      if (locks.get(id) === next) locks.delete(id);
    }
  }

  return {
    uploadsDir,
    limits,
    /** Streams one part to a private temporary file and returns its path and size. */
    async receive(stream: NodeJS.ReadableStream): Promise<{ path: string; size: number }> {
      await mkdir(incoming, { recursive: true });
      const path = join(incoming, `${Date.now()}-${Math.random().toString(16).slice(2)}.part`);
      let size = 0;
      stream.on('data', (c: Buffer) => {
        size += c.length;
      });
      try {
        await pipeline(stream, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
      } catch (err) {
        await rm(path, { force: true });
        throw err;
      }
      return { path, size };
    },

    async discard(path: string | undefined) {
      if (path) await rm(path, { force: true });
    },

    /** Stores a received chunk; assembles the file when every chunk is there. */
    async storeChunk(f: ChunkFields, tmpPath: string, size: number) {
      if (size !== f.flowCurrentChunkSize) {
        await rm(tmpPath, { force: true });
        throw badField(
          'body.file',
          `chunk has ${size} bytes but flowCurrentChunkSize says ${f.flowCurrentChunkSize}`,
        );
      }
      return withLock(f.flowIdentifier, async () => {
        const dir = join(chunksRoot, f.flowIdentifier);
        const target = join(uploadsDir, finalName(f));
        if (await exists(target)) {
          await rm(tmpPath, { force: true });
          return { complete: true, filename: finalName(f), received: f.flowTotalSize };
        }
        await mkdir(dir, { recursive: true });
        const metaPath = join(dir, 'meta.json');
        const meta = await readMeta(metaPath);
        if (meta && (meta.filename !== f.flowFilename || meta.totalSize !== f.flowTotalSize)) {
          await rm(tmpPath, { force: true });
          throw new AppError({
            code: 'conflict',
            message: 'this flowIdentifier is already used by an upload with another file name or size',
          });
        }
        if (!meta)
          await writeFile(metaPath, JSON.stringify({ filename: f.flowFilename, totalSize: f.flowTotalSize }));
        await commitFile(tmpPath, join(dir, String(f.flowChunkNumber)));
        const chunks = await listChunks(dir);
        const received = chunks.reduce((a, c) => a + c.size, 0);
        if (received > f.flowTotalSize) {
          await rm(join(dir, String(f.flowChunkNumber)), { force: true });
          throw badField('body.flowChunkNumber', 'chunks add up to more than flowTotalSize');
        }
        const contiguous = chunks.every((c, i) => c.n === i + 1);
        if (received !== f.flowTotalSize || !contiguous)
          return { complete: false, filename: finalName(f), received };
        const tmp = tempSibling(target);
        const out = createWriteStream(tmp, { flags: 'wx', mode: 0o640 });
        for (const c of chunks) {
          await pipeline(createReadStream(join(dir, String(c.n))), out, { end: false });
        }
        await new Promise<void>((res, rej) => out.end((err?: Error | null) => (err ? rej(err) : res())));
        await commitFile(tmp, target);
        await rm(dir, { recursive: true, force: true });
        return { complete: true, filename: finalName(f), received };
      });
    },

    /** Whether a chunk (or the whole file) is already stored: the flow.js `testChunks` GET. */
    async hasChunk(id: string, filename: string, n: number, size: number | undefined): Promise<boolean> {
      if (await exists(join(uploadsDir, `${id}.${filename}`))) return true;
      try {
        const s = await stat(join(chunksRoot, id, String(n)));
        return size === undefined || s.size === size;
      } catch {
        return false;
      }
    },
  };
}

export type UploadStore = ReturnType<typeof createUploadStore>;

async function exists(path: string) {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function readMeta(path: string): Promise<ChunkMeta | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ChunkMeta;
  } catch {
    return undefined;
  }
}

async function listChunks(dir: string) {
  const names = (await readdir(dir)).filter((n) => /^\d+$/.test(n));
  const out = await Promise.all(
    names.map(async (n) => ({ n: Number(n), size: (await stat(join(dir, n))).size })),
  );
  return out.sort((a, b) => a.n - b.n);
}
