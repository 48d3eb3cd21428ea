// Backup and restore of the whole manager: every table, the uploaded files and certificates.
// A backup is written under a temporary name, fsynced and renamed, so a crash at any moment
// leaves earlier backups whole and no partial file under a final name. A restore extracts and
// verifies everything first, then replaces all rows in one transaction; on any failure nothing
// has changed.

import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { DatabaseHandle } from '../../db/client.js';
import type { Database } from '../../db/schema.js';
import { AppError } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import { VERSION } from '../../version.js';
import { type AuditService, systemContext } from '../audit/audit.service.js';
import { ArchiveError, extractArchive, FILE_AREAS, type Manifest, writeArchive } from './backup.archive.js';
import { dumpDatabase, listMigrations, listTables, loadDatabase } from './backup.db.js';
import { atomicWrite, commitFile, fsyncDir } from './fs-util.js';

export const BACKUP_RE = /^steward-backup-\d{8}T\d{6}Z(-\d+)?\.tar\.gz$/;
const KEEP = 3;

export type BackupState = 'none' | 'running' | 'success' | 'error' | 'restoring';

export interface BackupStatus {
  status: BackupState;
  /** `idle` when no backup or restore is running (the seed: then the backup is ready). */
  message: string;
  backup_filename: string;
  created_at: string | null;
  size: number | null;
}

export interface Progress {
  phase: 'dump' | 'archive' | 'extract' | 'verify' | 'load' | 'files' | 'done';
  table?: string;
  rows?: number;
}

export interface BackupServiceDeps {
  db: Kysely<Database>;
  database: Pick<DatabaseHandle, 'kind'>;
  audit: AuditService;
  clock: Clock;
  dataDir: string;
  afterRestore?: () => Promise<void>;
  /** Whether this process can open the restored secrets (false: restart with the restored key). */
  secretsReadable?: () => Promise<boolean>;
  onFailure?: (message: string) => Promise<void>;
}

/** Oldest first: by time stamp, then by the `-n` suffix added when two share a second. */
function byAge(names: string[]): string[] {
  const key = (n: string) => {
    const m = /^steward-backup-(\d{8}T\d{6}Z)(?:-(\d+))?\.tar\.gz$/.exec(n);
    return [m?.[1] ?? '', Number(m?.[2] ?? 0)] as const;
  };
  return [...names].sort((x, y) => {
    const [a1, a2] = key(x);
    const [b1, b2] = key(y);
    return a1 < b1 ? -1 : a1 > b1 ? 1 : a2 - b2;
  });
}

const stamp = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

export function createBackupService(deps: BackupServiceDeps) {
  const dir = join(deps.dataDir, 'backups');
  let state: BackupState = 'none';
  let lastError = '';
  let running: Promise<unknown> | undefined;

  async function latest(): Promise<{ name: string; size: number; mtime: Date } | undefined> {
    let names: string[] = [];
    try {
      names = byAge((await readdir(dir)).filter((n) => BACKUP_RE.test(n)));
    } catch {
      return undefined;
    }
    const name = names.at(-1);
    if (!name) return undefined;
    const s = await stat(join(dir, name));
    return { name, size: s.size, mtime: s.mtime };
  }

  /** Removes temporaries left by a crash and all but the newest KEEP backups. */
  async function tidy() {
    let names: string[] = [];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const n of names) if (n.startsWith('.')) await rm(join(dir, n), { recursive: true, force: true });
    const finals = byAge(names.filter((n) => BACKUP_RE.test(n)));
    for (const n of finals.slice(0, Math.max(0, finals.length - KEEP)))
      await rm(join(dir, n), { force: true });
  }

  function exclusive<T>(next: BackupState, fn: () => Promise<T>): Promise<T> {
    if (running)
      throw new AppError({
        code: 'conflict',
        message: `a ${state === 'restoring' ? 'restore' : 'backup'} is already running`,
      });
    state = next;
    const p = fn();
    running = p;
    p.then(
      () => {
        running = undefined;
      },
      () => {
        running = undefined;
      },
    );
    return p;
  }

  /** Writes one backup; resolves with its file name. */
  async function createNow(
    opts: { passphrase?: string; onProgress?: (p: Progress) => void } = {},
  ): Promise<string> {
    await mkdir(dir, { recursive: true });
    await tidy();
    const work = join(dir, `.work-${randomBytes(6).toString('hex')}`);
    await mkdir(work, { mode: 0o700 });
    const createdAt = deps.clock.now();
    let name = `steward-backup-${stamp(createdAt)}.tar.gz`;
    for (let i = 1; await exists(join(dir, name)); i++) {
      name = `steward-backup-${stamp(createdAt)}-${i}.tar.gz`;
    }
    const tmp = join(dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      const { tables, migrations } = await dumpDatabase(deps.db, work, (table, rows) =>
        opts.onProgress?.({ phase: 'dump', table, rows }),
      );
      opts.onProgress?.({ phase: 'archive' });
      await writeArchive(tmp, {
        dumpDir: work,
        tables,
        migrations,
        databaseKind: deps.database.kind,
        dataDir: deps.dataDir,
        version: VERSION,
        createdAt,
        ...(opts.passphrase ? { passphrase: opts.passphrase } : {}),
      });
      await commitFile(tmp, join(dir, name));
      opts.onProgress?.({ phase: 'done' });
      return name;
    } finally {
      await rm(work, { recursive: true, force: true });
      await rm(tmp, { force: true });
    }
  }

  async function recordSystem(action: string, summary: string, outcome: 'success' | 'failure', details = {}) {
    try {
      await deps.audit.record(deps.db, systemContext('backup'), {
        action,
        outcome,
        summary,
        targetType: 'backup',
        details,
      });
    } catch {
      // the audit failure is already visible in logs; the backup result stands
    }
  }

  /** Verifies an archive without changing anything; returns its manifest. */
  async function verify(path: string, passphrase?: string): Promise<Manifest> {
    const staging = join(dir, `.verify-${randomBytes(6).toString('hex')}`);
    await mkdir(staging, { recursive: true, mode: 0o700 });
    try {
      return await extractArchive(path, staging, passphrase);
    } catch (err) {
      if (err instanceof ArchiveError)
        throw new AppError({
          code: 'validation_failed',
          message: err.message,
          errors: [{ field: 'body.file', message: err.message }],
        });
      throw err;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  async function restoreNow(
    path: string,
    who: { request?: FastifyRequest; actor?: string },
    opts: { passphrase?: string; onProgress?: (p: Progress) => void } = {},
  ): Promise<{ manifest: Manifest; restartRequired: boolean }> {
    await mkdir(dir, { recursive: true });
    const staging = join(dir, `.restore-${randomBytes(6).toString('hex')}`);
    await mkdir(staging, { recursive: true, mode: 0o700 });
    try {
      opts.onProgress?.({ phase: 'extract' });
      let manifest: Manifest;
      try {
        manifest = await extractArchive(path, staging, opts.passphrase);
      } catch (err) {
        if (err instanceof ArchiveError) {
          throw new AppError({
            code: 'validation_failed',
            message: err.message,
            errors: [{ field: 'body.file', message: err.message }],
          });
        }
        throw err;
      }
      opts.onProgress?.({ phase: 'verify' });
      const current = await listMigrations(deps.db);
      const missing = manifest.database.migrations.filter((m) => !current.includes(m));
      const extra = current.filter((m) => !manifest.database.migrations.includes(m));
      if (missing.length || extra.length) {
        throw new AppError({
          code: 'validation_failed',
          message:
            `the backup's database schema does not match this manager's ` +
            `(${missing.length ? `unknown here: ${missing.slice(0, 3).join(', ')}` : `not in the backup: ${extra.slice(0, 3).join(', ')}`}); ` +
            'restore with the Steward version that made the backup',
        });
      }
      const tables = await listTables(deps.db);
      const unknown = manifest.tables.map((t) => t.name).filter((t) => !tables.includes(t));
      if (unknown.length)
        throw new AppError({
          code: 'validation_failed',
          message: `the backup has unknown tables: ${unknown.join(', ')}`,
        });
      await deps.db.transaction().execute(async (trx) => {
        await loadDatabase(
          trx,
          join(staging, 'db'),
          manifest.tables.map((t) => t.name),
          (table, rows) => opts.onProgress?.({ phase: 'load', table, rows }),
        );
        const event = {
          action: 'backup.restored',
          targetType: 'backup',
          summary: `restored the backup made at ${manifest.created_at}`,
          details: {
            created_at: manifest.created_at,
            tables: manifest.tables.length,
            files: manifest.files.length,
          },
          status: 200,
        };
        if (who.request) await deps.audit.recordFor(trx, who.request, event);
        else await deps.audit.record(trx, systemContext(who.actor ?? 'cli'), event);
      });
      // Rows are committed; now swap the file areas in (each a rename of a whole directory).
      opts.onProgress?.({ phase: 'files' });
      for (const area of FILE_AREAS) {
        const live = join(deps.dataDir, area);
        const old = join(dir, `.old-${area}-${randomBytes(4).toString('hex')}`);
        await rename(live, old).catch(() => undefined);
        await rename(join(staging, 'files', area), live);
        await rm(old, { recursive: true, force: true });
      }
      const key = await readFile(join(staging, 'files', 'key', 'secret.key')).catch(() => undefined);
      if (key) await atomicWrite(join(deps.dataDir, 'secret.key'), key, 0o600);
      await fsyncDir(deps.dataDir);
      await deps.afterRestore?.();
      const restartRequired = deps.secretsReadable ? !(await deps.secretsReadable()) : false;
      opts.onProgress?.({ phase: 'done' });
      return { manifest, restartRequired };
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  return {
    dir,
    latest,
    verify,
    createNow: (opts?: { passphrase?: string; onProgress?: (p: Progress) => void }) =>
      exclusive('running', async () => {
        try {
          const name = await createNow(opts);
          state = 'success';
          await recordSystem('backup.created', `backup ${name} written`, 'success');
          return name;
        } catch (err) {
          state = 'error';
          lastError = (err as Error).message;
          await recordSystem('backup.failed', 'backup failed', 'failure', { error: lastError.slice(0, 300) });
          await deps.onFailure?.(`Steward backup failed: ${lastError}`);
          throw err;
        }
      }),

    /** Starts a backup in the background (POST /backup/create/). */
    async start(request: FastifyRequest, passphrase?: string) {
      if (running)
        throw new AppError({ code: 'conflict', message: 'a backup or restore is already running' });
      await deps.audit.recordFor(deps.db, request, {
        action: 'backup.requested',
        targetType: 'backup',
        summary: `backup requested${passphrase ? ' (encrypted)' : ''}`,
        status: 202,
      });
      const p = this.createNow(passphrase ? { passphrase } : {});
      p.catch((err) => request.log.warn({ err }, 'backup failed'));
    },

    async status(): Promise<BackupStatus> {
      const l = await latest();
      const busy = running !== undefined;
      const st: BackupState = busy ? state : state === 'none' && l ? 'success' : state;
      return {
        status: st,
        message: busy
          ? state === 'restoring'
            ? 'restore in progress'
            : 'backup in progress'
          : state === 'error'
            ? `idle; last backup failed: ${lastError}`
            : 'idle',
        backup_filename: l?.name ?? '',
        created_at: l ? l.mtime.toISOString() : null,
        size: l?.size ?? null,
      };
    },

    restore: (
      path: string,
      who: { request?: FastifyRequest; actor?: string },
      opts?: { passphrase?: string; onProgress?: (p: Progress) => void },
    ) =>
      exclusive('restoring', async () => {
        try {
          return await restoreNow(path, who, opts);
        } finally {
          state = (await latest()) ? 'success' : 'none';
        }
      }),

    /** Resolves when no backup or restore is running (shutdown). */
    async idle() {
      await running?.catch(() => {});
    },
  };
}

export type BackupService = ReturnType<typeof createBackupService>;

async function exists(p: string) {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
