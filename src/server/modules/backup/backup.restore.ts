// Verifying and restoring a backup archive, cut from backup.service.ts (which writes them and
// runs one backup or restore at a time): a restore extracts and verifies everything into a
// staging folder first, then replaces all rows in one transaction and swaps the file areas in;
// on any failure before the commit nothing has changed.

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Transactor } from '../../db/transactor.js';
import type { Actor } from '../../shared/actor.js';
import { AppError, badField } from '../../shared/app-error.js';
import { atomicWrite, fsyncDir } from '../../shared/fs-util.js';
import type { AuditService } from '../audit/audit.service.js';
import {
  ArchiveError,
  type ExtractLimits,
  extractArchive,
  FILE_AREAS,
  type Manifest,
} from './backup.archive.js';
import type { ArchiveSecret, BackupKey } from './backup.crypto.js';
import type { BackupRepo } from './backup.repo.js';

/** Maps an archive problem to the client error: 413 past a limit, else 400 naming the field. */
export function archiveProblem(err: ArchiveError): AppError {
  if (err.kind === 'too_large') return new AppError({ code: 'payload_too_large', message: err.message });
  const field = err.kind === 'wrong_passphrase' ? 'body.passphrase' : 'body.file';
  return new AppError({
    code: 'validation_failed',
    message: err.message,
    errors: [{ field, message: err.message }],
  });
}

export interface Progress {
  phase: 'dump' | 'archive' | 'extract' | 'verify' | 'load' | 'files' | 'done';
  table?: string;
  rows?: number;
}

export interface RestoreDeps {
  tx: Transactor;
  repo: BackupRepo;
  audit: AuditService;
  dataDir: string;
  /** The backups folder: staging folders go there, on the same file system as the data. */
  dir: string;
  limits: ExtractLimits;
  /** The backup key an admin set (it may throw when it cannot be opened); undefined: none set. */
  storedKey: () => Promise<BackupKey | undefined>;
  afterRestore?: () => Promise<void>;
  /** Whether this process can open the restored secrets (false: restart with the restored key). */
  secretsReadable?: () => Promise<boolean>;
}

/** Verifies an archive without changing anything; returns its manifest. */
export async function verifyArchive(deps: RestoreDeps, path: string, passphrase: string): Promise<Manifest> {
  await mkdir(deps.dir, { recursive: true });
  const staging = join(deps.dir, `.verify-${randomBytes(6).toString('hex')}`);
  await mkdir(staging, { recursive: true, mode: 0o700 });
  try {
    return await extractArchive(path, staging, { passphrase, limits: deps.limits });
  } catch (err) {
    if (err instanceof ArchiveError) throw archiveProblem(err);
    throw err;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

export async function restoreArchive(
  deps: RestoreDeps,
  path: string,
  actor: Actor,
  opts: { passphrase?: string; onProgress?: (p: Progress) => void },
): Promise<{ manifest: Manifest; restartRequired: boolean }> {
  // Without a passphrase: the backup key an admin set here, which opens only the archives this
  // manager sealed with it (the seed's restore-upload sends the file alone). A new machine, or an
  // archive sealed with another passphrase, needs the passphrase.
  const secret: ArchiveSecret | undefined = opts.passphrase ?? (await deps.storedKey());
  if (secret === undefined)
    throw badField('body.passphrase', 'is required: the passphrase the archive was encrypted with');
  await mkdir(deps.dir, { recursive: true });
  const staging = join(deps.dir, `.restore-${randomBytes(6).toString('hex')}`);
  await mkdir(staging, { recursive: true, mode: 0o700 });
  try {
    opts.onProgress?.({ phase: 'extract' });
    const current = await deps.repo.listMigrations();
    const tables = await deps.repo.listTables();
    let manifest: Manifest;
    try {
      manifest = await extractArchive(path, staging, {
        passphrase: secret,
        limits: deps.limits,
        // Checked from the manifest, before any entry is written.
        checkManifest: (m) => {
          opts.onProgress?.({ phase: 'verify' });
          const missing = m.database.migrations.filter((x) => !current.includes(x));
          const extra = current.filter((x) => !m.database.migrations.includes(x));
          if (missing.length || extra.length)
            throw new ArchiveError(
              `the backup's database schema does not match this manager's ` +
                `(${missing.length ? `unknown here: ${missing.slice(0, 3).join(', ')}` : `not in the backup: ${extra.slice(0, 3).join(', ')}`}); ` +
                'restore with the Steward version that made the backup',
            );
          const unknown = m.tables.map((t) => t.name).filter((t) => !tables.includes(t));
          if (unknown.length) throw new ArchiveError(`the backup has unknown tables: ${unknown.join(', ')}`);
        },
      });
    } catch (err) {
      if (err instanceof ArchiveError) throw archiveProblem(err);
      throw err;
    }
    await deps.tx.transaction(async (trx) => {
      await deps.repo.load(
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
      await deps.audit.record(trx, actor, event);
    });
    // Rows are committed; now swap the file areas in (each a rename of a whole directory).
    opts.onProgress?.({ phase: 'files' });
    for (const area of FILE_AREAS) {
      const live = join(deps.dataDir, area);
      const old = join(deps.dir, `.old-${area}-${randomBytes(4).toString('hex')}`);
      await rename(live, old).catch(() => undefined); // no live area yet; any other failure fails the next rename
      await rename(join(staging, 'files', area), live);
      await rm(old, { recursive: true, force: true });
    }
    // Verified against the manifest: missing means the archive carries no key, not a failure.
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
