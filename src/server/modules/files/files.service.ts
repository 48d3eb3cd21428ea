// Files kept on the manager (CloudShark-style captures and samples): streamed to disk with a
// SHA-256 and a type detected from magic bytes, indexed in the `files` table with tags, profile,
// owner, group and visibility. Tokens' default tags, profile and group apply when the request
// names none. Size limit, minimum free space and a per-user quota are enforced while streaming.

import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Transactor } from '../../db/transactor.js';
import type { Actor } from '../../shared/actor.js';
import { AppError, badField, notFound } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import { commitFile } from '../../shared/fs-util.js';
import type { Principal } from '../../shared/principal.js';
import type { AuditService } from '../audit/audit.service.js';
import type { FileFilter, FilesRepo } from './files.repo.js';

export type { FileFilter } from './files.repo.js';

export type Visibility = 'private' | 'group' | 'public';

export interface FileOut {
  id: number;
  name: string;
  size: number;
  sha256: string;
  file_type: string;
  mime_type: string;
  tags: string[];
  profile: string | null;
  owner_id: number | null;
  group_id: number | null;
  visibility: string;
  created_at: string;
}

export interface NewFileMeta {
  filename: string;
  tags?: string[];
  profile?: string | null;
  visibility?: Visibility;
  ownerId?: number;
  groupId?: number | null;
}

const TAG_RE = /^[A-Za-z0-9_.:@-]{1,64}$/;

/** Detects a file's type from its first bytes; the client's Content-Type is never trusted. */
export function detectType(head: Buffer): { type: string; mime: string } {
  const hex = head.subarray(0, 4).toString('hex');
  const ascii = head.subarray(0, 8).toString('latin1');
  if (['d4c3b2a1', 'a1b2c3d4', '4d3cb2a1', 'a1b23c4d'].includes(hex))
    return { type: 'pcap', mime: 'application/vnd.tcpdump.pcap' };
  if (hex === '0a0d0d0a') return { type: 'pcapng', mime: 'application/x-pcapng' };
  if (hex.startsWith('1f8b')) return { type: 'gzip', mime: 'application/gzip' };
  if (hex === '504b0304') return { type: 'zip', mime: 'application/zip' };
  if (ascii.startsWith('%PDF-')) return { type: 'pdf', mime: 'application/pdf' };
  if (hex === '7f454c46') return { type: 'elf', mime: 'application/x-executable' };
  if (ascii.startsWith('MZ')) return { type: 'pe', mime: 'application/vnd.microsoft.portable-executable' };
  if (hex === '89504e47') return { type: 'png', mime: 'image/png' };
  if (hex.startsWith('ffd8ff')) return { type: 'jpeg', mime: 'image/jpeg' };
  if (ascii.startsWith('-----BEG')) return { type: 'pem', mime: 'application/x-pem-file' };
  if (head.length > 0 && head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b !== 127)))
    return { type: 'text', mime: 'text/plain' };
  return { type: 'binary', mime: 'application/octet-stream' };
}

export function parseTags(raw: string | string[] | undefined, field: string): string[] | undefined {
  if (raw === undefined) return undefined;
  const list = (Array.isArray(raw) ? raw : raw.split(',')).map((t) => t.trim()).filter(Boolean);
  for (const t of list)
    if (!TAG_RE.test(t))
      throw badField(field, `tag "${t.slice(0, 70)}" must be 1-64 letters, digits or _ . : @ -`);
  if (list.length > 50) throw badField(field, 'at most 50 tags');
  return [...new Set(list)];
}

const toOut = (r: Record<string, unknown>): FileOut => ({
  id: r.id as number,
  name: r.name as string,
  size: Number(r.size),
  sha256: r.sha256 as string,
  file_type: r.file_type as string,
  mime_type: r.mime_type as string,
  tags: r.tags as string[],
  profile: (r.profile as string | null) ?? null,
  owner_id: (r.owner_id as number | null) ?? null,
  group_id: (r.group_id as number | null) ?? null,
  visibility: r.visibility as string,
  created_at: (r.created_at as Date).toISOString(),
});

export interface FileServiceDeps {
  tx: Transactor;
  repo: FilesRepo;
  audit: AuditService;
  clock: Clock;
  filesDir: string;
  quotaBytes: number;
  /** Server-wide cap per file (STEWARD_UPLOAD_MAX_FILE_BYTES), above the admin's size limit. */
  maxFileBytes?: number;
  storageSettings: () => Promise<Record<string, unknown>>;
}

export function createFileService(deps: FileServiceDeps) {
  const { repo } = deps;

  async function limitsFor(ownerId: number): Promise<number> {
    const s = await deps.storageSettings();
    const perFile = Math.min(
      Number(s.central_file_storage__file_size_limit ?? 1024) * 1024 * 1024,
      deps.maxFileBytes ?? Number.POSITIVE_INFINITY,
    );
    const minFreeBytes = Number(s.central_storage_general__min_free_space ?? 0) * 1024 ** 3;
    if (minFreeBytes > 0) {
      await mkdir(deps.filesDir, { recursive: true });
      const fs = await statfs(deps.filesDir);
      if (fs.bavail * fs.bsize < minFreeBytes) {
        throw new AppError({
          code: 'unavailable',
          message: 'the manager is below its minimum free disk space; uploads are paused',
        });
      }
    }
    const quotaLeft = deps.quotaBytes - (await repo.usedBytes(ownerId));
    if (quotaLeft <= 0)
      throw new AppError({
        code: 'payload_too_large',
        message: 'your file quota is used up; delete files first',
      });
    return Math.min(perFile, quotaLeft);
  }

  return {
    filesDir: deps.filesDir,
    async create(actor: Actor, source: NodeJS.ReadableStream, meta: NewFileMeta): Promise<FileOut> {
      const p = actor.principal as Principal;
      if (meta.ownerId !== undefined && meta.ownerId !== p.userId && p.role !== 'admin') {
        throw new AppError({ code: 'forbidden', message: 'only admins may upload files for another owner' });
      }
      // A credential acts only in its owner's group (issue 13 §1): group_id must be the caller's
      // own group. Admins, who see every group, may file into any.
      if (
        meta.groupId !== undefined &&
        meta.groupId !== null &&
        p.role !== 'admin' &&
        meta.groupId !== (p.groupId ?? null)
      ) {
        throw new AppError({
          code: 'forbidden',
          message: `you may upload only into your own group; you are not in group ${meta.groupId}`,
          details: { field: 'group_id' },
        });
      }
      const ownerId = meta.ownerId ?? p.userId;
      const limit = await limitsFor(ownerId);
      await mkdir(deps.filesDir, { recursive: true });
      const stored = randomUUID().replace(/-/g, '');
      const tmp = join(deps.filesDir, `.${stored}.tmp`);
      const hash = createHash('sha256');
      let size = 0;
      let head = Buffer.alloc(0);
      const meter = new Transform({
        transform(chunk: Buffer, _e, cb) {
          size += chunk.length;
          if (size > limit) {
            cb(
              new AppError({
                code: 'payload_too_large',
                message: `the file is larger than the ${limit} bytes allowed`,
              }),
            );
            return;
          }
          if (head.length < 512) head = Buffer.concat([head, chunk.subarray(0, 512 - head.length)]);
          hash.update(chunk);
          cb(null, chunk);
        },
      });
      try {
        await pipeline(source, meter, createWriteStream(tmp, { flags: 'wx', mode: 0o640 }));
        if ((source as { truncated?: boolean }).truncated) {
          throw new AppError({
            code: 'payload_too_large',
            message: 'the file is larger than this route accepts',
          });
        }
        if (size === 0) throw badField('body.file', 'is empty');
        await commitFile(tmp, join(deps.filesDir, stored));
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
      const { type, mime } = detectType(head);
      try {
        return await deps.tx.transaction(async (trx) => {
          const row = await repo.insert(trx, {
            name: meta.filename,
            stored_name: stored,
            size,
            sha256: hash.digest('hex'),
            file_type: type,
            mime_type: mime,
            tags: JSON.stringify(meta.tags ?? p.defaultTags ?? []),
            profile: meta.profile ?? p.defaultProfile ?? null,
            owner_id: ownerId,
            group_id: meta.groupId !== undefined ? meta.groupId : (p.groupId ?? null),
            visibility: meta.visibility ?? 'private',
            created_at: deps.clock.now(),
          });
          await deps.audit.record(trx, actor, {
            action: 'file.uploaded',
            targetType: 'file',
            targetId: row.id,
            summary: `uploaded file "${meta.filename}" (${size} bytes)`,
            status: 201,
          });
          return toOut(row as unknown as Record<string, unknown>);
        });
      } catch (err) {
        await rm(join(deps.filesDir, stored), { force: true });
        throw err;
      }
    },

    async list(p: Principal, f: FileFilter, limit: number, offset: number) {
      const [rows, count] = await Promise.all([repo.list(p, f, limit, offset), repo.count(p, f)]);
      return {
        results: rows.map((r) => toOut(r as unknown as Record<string, unknown>)),
        count,
      };
    },

    async get(p: Principal, id: number): Promise<FileOut & { stored_name: string }> {
      const row = await repo.findVisible(p, id);
      if (!row) throw notFound('file');
      return { ...toOut(row as unknown as Record<string, unknown>), stored_name: row.stored_name };
    },

    open(storedName: string) {
      return createReadStream(join(deps.filesDir, storedName));
    },

    async remove(actor: Actor, id: number) {
      const p = actor.principal as Principal;
      const f = await this.get(p, id);
      if (p.role !== 'admin' && f.owner_id !== p.userId)
        throw new AppError({ code: 'forbidden', message: 'only the owner or an admin may delete this file' });
      await deps.tx.transaction(async (trx) => {
        await repo.remove(trx, id);
        await deps.audit.record(trx, actor, {
          action: 'file.deleted',
          targetType: 'file',
          targetId: id,
          summary: `deleted file "${f.name}"`,
          status: 204,
        });
      });
      await rm(join(deps.filesDir, f.stored_name), { force: true });
    },

    /** Deletes files older than the cutoff (retention job); returns how many. */
    async deleteOlderThan(cutoff: Date): Promise<number> {
      const rows = await repo.deleteOlderThan(cutoff);
      for (const r of rows) await rm(join(deps.filesDir, r.stored_name), { force: true });
      return rows.length;
    },
  };
}

export type FileService = ReturnType<typeof createFileService>;
