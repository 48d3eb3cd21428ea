// Backup and restore of the whole manager: every table, the uploaded files and certificates.
// A backup is written under a temporary name, fsynced and renamed, so a crash at any moment
// leaves earlier backups whole and no partial file under a final name. A restore
// (backup.restore.ts) extracts and verifies everything first, then replaces all rows in one
// transaction; on any failure nothing has changed. This service runs one of them at a time.
//
// Every archive is encrypted (backup.crypto.ts) with a key derived from the backup passphrase
// an admin sets. The manager keeps that key only sealed with its secret box, never the
// passphrase, so backups run unattended. A restore takes the passphrase, which is all that a
// fresh machine needs; without one, the stored key opens only the archives sealed with it.

import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatabaseHandle } from '../../db/client.js';
import type { Transactor } from '../../db/transactor.js';
import { type Actor, actorUserId, systemActor } from '../../shared/actor.js';
import { AppError, badField } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import { commitFile } from '../../shared/fs-util.js';
import type { Logger } from '../../shared/logger.js';
import type { SecretBox } from '../../shared/secret-box.js';
import { VERSION } from '../../version.js';
import type { AuditService } from '../audit/audit.service.js';
import type { SettingsStore } from '../settings/settings.repo.js';
import { DEFAULT_EXTRACT_LIMITS, type ExtractLimits, writeArchive } from './backup.archive.js';
import { type BackupKey, type KdfParams, newBackupKey } from './backup.crypto.js';
import type { BackupRepo } from './backup.repo.js';
import { type Progress, type RestoreDeps, restoreArchive, verifyArchive } from './backup.restore.js';

export type { Progress } from './backup.restore.js';

export const BACKUP_RE = /^steward-backup-\d{8}T\d{6}Z(-\d+)?\.tar\.gz$/;
const KEEP = 3;
/** Settings key of the stored backup key (sealed K, KDF parameters and salt; never the passphrase). */
export const PASSPHRASE_KEY = 'backup.passphrase';
export const MIN_PASSPHRASE = 12;

interface StoredPassphrase {
  kdf?: KdfParams;
  key_sealed?: string;
  set_at?: string;
}

export interface PassphraseStatus {
  passphrase_set: boolean;
  passphrase_set_at: string | null;
}

/** The 409 of a backup asked for before an admin chose a passphrase: it names what to set. */
export const NO_PASSPHRASE =
  'no backup passphrase is set: an admin sets one first with POST /api/v1/config/backup/ ' +
  `{"passphrase": "..."} (${MIN_PASSPHRASE} characters or more); every backup is encrypted with it`;

export type BackupState = 'none' | 'running' | 'success' | 'error' | 'restoring';

export interface BackupStatus {
  status: BackupState;
  /** `idle` when no backup or restore is running (the seed: then the backup is ready). */
  message: string;
  backup_filename: string;
  created_at: string | null;
  size: number | null;
}

export interface BackupServiceDeps {
  tx: Transactor;
  repo: BackupRepo;
  database: Pick<DatabaseHandle, 'kind'>;
  audit: AuditService;
  clock: Clock;
  dataDir: string;
  /** Where the sealed backup key lives, and the box that seals it. */
  settings: SettingsStore;
  secrets: SecretBox;
  /** Caps on what a restore may extract (the free disk space is always checked as well). */
  extractLimits?: ExtractLimits;
  afterRestore?: () => Promise<void>;
  /** Whether this process can open the restored secrets (false: restart with the restored key). */
  secretsReadable?: () => Promise<boolean>;
  onFailure?: (message: string) => Promise<void>;
  /** Where a background backup (POST /backup/create/) reports its failure, and a lost audit record. */
  log: Logger;
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
  const limits = deps.extractLimits ?? DEFAULT_EXTRACT_LIMITS;

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
  async function storedPassphrase(): Promise<StoredPassphrase> {
    return deps.settings.get<StoredPassphrase>(PASSPHRASE_KEY, {});
  }

  /** The key to seal an archive with: from a passphrase given now, else the one an admin set. */
  async function backupKey(passphrase?: string): Promise<BackupKey> {
    if (passphrase !== undefined) {
      if (passphrase.length < MIN_PASSPHRASE)
        throw badField('body.passphrase', `must have at least ${MIN_PASSPHRASE} characters`);
      return newBackupKey(passphrase);
    }
    const stored = await storedPassphrase();
    if (!stored.key_sealed || !stored.kdf) throw new AppError({ code: 'conflict', message: NO_PASSPHRASE });
    let hex: string;
    try {
      hex = deps.secrets.open(stored.key_sealed);
    } catch {
      throw new AppError({
        code: 'conflict',
        message:
          'the stored backup passphrase cannot be opened with the secret key this manager runs with ' +
          '(after a restore that brought another key, restart the manager); or set the passphrase again ' +
          'with POST /api/v1/config/backup/',
      });
    }
    return { key: Buffer.from(hex, 'hex'), kdf: stored.kdf };
  }

  /** What verifying and restoring (backup.restore.ts) need of this service. */
  const restoreDeps: RestoreDeps = {
    tx: deps.tx,
    repo: deps.repo,
    audit: deps.audit,
    dataDir: deps.dataDir,
    dir,
    limits,
    storedKey: async () => ((await storedPassphrase()).key_sealed ? backupKey() : undefined),
    afterRestore: deps.afterRestore,
    secretsReadable: deps.secretsReadable,
  };

  async function createNow(
    opts: { passphrase?: string; key?: BackupKey; onProgress?: (p: Progress) => void } = {},
  ): Promise<string> {
    const key = opts.key ?? (await backupKey(opts.passphrase));
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
      const { tables, migrations } = await deps.repo.dump(work, (table, rows) =>
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
        key,
        log: deps.log,
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
      await deps.audit.record(deps.tx.direct, systemActor('backup'), {
        action,
        outcome,
        summary,
        targetType: 'backup',
        details,
      });
    } catch (err) {
      // The backup result stands; the missing record is said in the log.
      deps.log.warn({ err }, `could not write the audit record ${action}`);
    }
  }

  function createExclusive(opts?: {
    passphrase?: string;
    key?: BackupKey;
    onProgress?: (p: Progress) => void;
  }) {
    return exclusive('running', async () => {
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
    });
  }

  return {
    dir,
    latest,
    /** Verifies an archive without changing anything; returns its manifest. */
    verify: (path: string, passphrase: string) => verifyArchive(restoreDeps, path, passphrase),

    async passphraseStatus(): Promise<PassphraseStatus> {
      const stored = await storedPassphrase();
      return { passphrase_set: Boolean(stored.key_sealed), passphrase_set_at: stored.set_at ?? null };
    },

    /**
     * Sets the backup passphrase: stores the key derived from it (sealed) with the KDF parameters
     * and salt; the passphrase itself is not kept anywhere. Audited in the same transaction.
     */
    async setPassphrase(actor: Actor, passphrase: string): Promise<PassphraseStatus> {
      if (passphrase.length < MIN_PASSPHRASE)
        throw badField('body.passphrase', `must have at least ${MIN_PASSPHRASE} characters`);
      const k = await newBackupKey(passphrase);
      const value: StoredPassphrase = {
        kdf: k.kdf,
        key_sealed: deps.secrets.seal(k.key.toString('hex')),
        set_at: deps.clock.now().toISOString(),
      };
      const replaced = (await storedPassphrase()).key_sealed !== undefined;
      await deps.tx.transaction(async (trx) => {
        await deps.settings.set(trx, PASSPHRASE_KEY, value, actorUserId(actor));
        await deps.audit.record(trx, actor, {
          action: 'backup.passphrase_set',
          targetType: 'settings',
          targetId: 'backup',
          summary: replaced
            ? 'changed the backup passphrase (earlier archives keep their own)'
            : 'set the backup passphrase',
          status: 200,
        });
      });
      deps.settings.notifyChanged(PASSPHRASE_KEY, value);
      return { passphrase_set: true, passphrase_set_at: value.set_at ?? null };
    },

    /** Writes one backup now (CLI, jobs); without a passphrase, with the one an admin set. */
    createNow: (opts?: { passphrase?: string; onProgress?: (p: Progress) => void }) => createExclusive(opts),

    /** Starts a backup in the background (POST /backup/create/). */
    async start(actor: Actor, passphrase?: string) {
      if (running)
        throw new AppError({ code: 'conflict', message: 'a backup or restore is already running' });
      // The key is resolved before the 202, so a missing passphrase is the caller's 409.
      const key = await backupKey(passphrase);
      await deps.audit.record(deps.tx.direct, actor, {
        action: 'backup.requested',
        targetType: 'backup',
        summary: `backup requested${passphrase ? ' (with a one-off passphrase)' : ''}`,
        status: 202,
      });
      const p = createExclusive({ key });
      p.catch((err) => deps.log.warn({ err, reqId: actor.requestId }, 'backup failed'));
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
      actor: Actor,
      opts: { passphrase?: string; onProgress?: (p: Progress) => void },
    ) =>
      exclusive('restoring', async () => {
        try {
          return await restoreArchive(restoreDeps, path, actor, opts);
        } finally {
          state = (await latest()) ? 'success' : 'none';
        }
      }),

    /** Resolves when no backup or restore is running (shutdown). */
    async idle() {
      await running?.catch(() => {}); // not dropped: the caller that started it hears (and logs) its failure
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
