// Package downloads from the repository (seed 003: "Downloads an update package"). The admin
// sets the repository (a setting, audited); the list shows what it offers beside what the store
// holds; a POST starts a background download whose progress is a row in fleet_package_downloads.
// A download lands in a temp file in the store's directory, is checked against the index (size,
// sha256) and then goes through the store's own verification (publisher signature over the
// manifest, payload sha256) before it is renamed into place; any failure removes the temp file.

import { randomUUID, X509Certificate } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  MANAGER_PACKAGE_TYPE,
  normalizeApplianceType,
  normalizePackageType,
} from '../../../contract/fleet-fields.js';
import type { Transactor } from '../../db/transactor.js';
import { type Actor, actorUserId, systemActor } from '../../shared/actor.js';
import { AppError, badField, notFound } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import { type Logger, silentLogger } from '../../shared/logger.js';
import type { AuditService } from '../audit/audit.service.js';
import type { SettingsStore } from '../settings/settings.repo.js';
import {
  downloadPackage,
  fetchIndex,
  type IndexEntry,
  normalizeFingerprint,
  REPOSITORY_DEFAULTS,
  REPOSITORY_SETTINGS_KEY,
  RepositoryError,
  type RepositorySettings,
} from './package-repository.js';
import type { PackagesRepo } from './packages.repo.js';
import type { PackagesService } from './packages.service.js';

export interface PackageDownloadsDeps {
  tx: Transactor;
  packagesRepo: PackagesRepo;
  settings: SettingsStore;
  audit: AuditService;
  clock: Clock;
  /** The package store a verified download enters. */
  upgrades: Pick<PackagesService, 'addPackage' | 'list'>;
  dataDir: string;
  /** Largest package accepted from the repository, in bytes. */
  maxBytes: number;
  timeoutMs?: number;
  /** Hears of what a background download could not record; the fleet module passes the server's. */
  log?: Logger;
}

/** Longest a whole download may take (a repository trickling bytes never times out otherwise). */
const DOWNLOAD_DEADLINE_MS = 30 * 60 * 1000;
/** How long the list waits for the index: a GET should not hang on a dead repository. */
const LIST_TIMEOUT_MS = 10_000;
/** A running download whose heartbeat is older than this was cut off (a manager restart). */
const STALE_MS = 2 * 60 * 1000;
const PROGRESS_EVERY_MS = 500;

export const NO_REPOSITORY =
  'no package repository is set: an admin sets it with PUT /api/v1/package-management/repository/ {"url": "https://packages.example.com/steward/"} (a vendor repository or a local mirror), or uploads the package with POST /api/v1/package-management/upload/';

export interface RepositoryInput {
  url?: string | undefined;
  ca_pem?: string | undefined;
  fingerprint_sha256?: string | undefined;
}

export function createPackageDownloads(deps: PackageDownloadsDeps) {
  const { packagesRepo, audit, clock } = deps;
  const log = deps.log ?? silentLogger;
  const storeDir = join(deps.dataDir, 'packages');
  const timeoutMs = deps.timeoutMs ?? 30_000;
  const inflight = new Set<Promise<void>>();
  const stopping = new AbortController();

  const repository = () =>
    deps.settings.get<RepositorySettings>(REPOSITORY_SETTINGS_KEY, { ...REPOSITORY_DEFAULTS });

  function checkRepository(next: RepositorySettings) {
    const errors: { field: string; message: string }[] = [];
    if (next.url !== '') {
      let u: URL | undefined;
      try {
        u = new URL(next.url);
      } catch {
        errors.push({ field: 'body.url', message: 'must be an https URL' });
      }
      if (u && u.protocol !== 'https:') errors.push({ field: 'body.url', message: 'must be an https URL' });
      if (u && (u.username || u.password))
        errors.push({ field: 'body.url', message: 'must not carry a user name or password' });
      if (u && (u.search || u.hash))
        errors.push({ field: 'body.url', message: 'must not carry a query or fragment' });
    }
    if (next.ca_pem !== '') {
      try {
        new X509Certificate(next.ca_pem);
      } catch {
        errors.push({ field: 'body.ca_pem', message: 'must be a PEM certificate' });
      }
    }
    if (
      next.fingerprint_sha256 !== '' &&
      !/^[0-9a-f]{64}$/.test(normalizeFingerprint(next.fingerprint_sha256))
    )
      errors.push({ field: 'body.fingerprint_sha256', message: 'must be 64 hex digits (colons allowed)' });
    if (errors.length > 0)
      throw new AppError({
        code: 'validation_failed',
        message: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
        errors,
      });
  }

  async function offers(
    settings: RepositorySettings,
  ): Promise<{ entries: IndexEntry[]; reason: string | null }> {
    if (!settings.url) return { entries: [], reason: NO_REPOSITORY };
    try {
      return {
        entries: await fetchIndex(settings, { timeoutMs: Math.min(timeoutMs, LIST_TIMEOUT_MS) }),
        reason: null,
      };
    } catch (err) {
      return {
        entries: [],
        reason: err instanceof RepositoryError ? err.message : 'the repository could not be read',
      };
    }
  }

  type DownloadRow = Awaited<ReturnType<typeof latestDownload>>;
  async function latestDownload(type: string, version: string) {
    return packagesRepo.latestDownload(deps.tx.direct, type, version);
  }

  function downloadOut(row: NonNullable<DownloadRow>) {
    return {
      status: row.status,
      received: Number(row.received),
      total: Number(row.total),
      error: row.error,
      started: new Date(row.started).toISOString(),
      finished: row.finished ? new Date(row.finished).toISOString() : null,
    };
  }

  async function run(id: number, settings: RepositorySettings, entry: IndexEntry) {
    const dir = join(storeDir, entry.type);
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `.download-${randomUUID()}.part`);
    let last = 0;
    const progress = (received: number) => {
      const now = Date.now();
      if (now - last < PROGRESS_EVERY_MS) return;
      last = now;
      void packagesRepo
        .downloadProgress(deps.tx.direct, id, received, clock.now())
        .catch((err: unknown) =>
          log.warn({ err, downloadId: id }, 'could not record the progress of a package download'),
        );
    };
    let error: string | null = null;
    try {
      await downloadPackage(settings, entry, tmp, {
        timeoutMs,
        onProgress: progress,
        signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(DOWNLOAD_DEADLINE_MS)]),
      });
      await packagesRepo.downloadVerifying(deps.tx.direct, id, entry.size, clock.now());
      await deps.upgrades.addPackage(systemActor('package-download'), await readFile(tmp), 'repository', {
        type: entry.type,
        version: entry.version,
        signature: entry.signature,
      });
    } catch (err) {
      // Our own words only: RepositoryError and AppError messages never carry the remote body.
      error =
        err instanceof RepositoryError || err instanceof AppError
          ? err.message
          : 'the package could not be stored';
    } finally {
      await rm(tmp, { force: true });
    }
    await deps.tx.transaction(async (trx) => {
      await packagesRepo.finishDownload(trx, id, error, entry.size, clock.now());
      if (error)
        await audit.record(trx, systemActor('package-download'), {
          action: 'package.download_failed',
          outcome: 'failure',
          targetType: 'package',
          targetId: `${entry.type}/${entry.version}`,
          summary: `download of ${entry.type} ${entry.version} failed: ${error}`.slice(0, 1000),
        });
    });
  }

  return {
    /** Waits for downloads; with `abort` (shutdown), cuts them off first (recorded as errors). */
    async settle(abort = false) {
      if (abort) stopping.abort();
      while (inflight.size > 0) await Promise.all([...inflight]);
    },

    async getRepository() {
      return repository();
    },

    async setRepository(actor: Actor, input: RepositoryInput) {
      const prev = await repository();
      const next: RepositorySettings = {
        url: (input.url ?? prev.url).trim(),
        ca_pem: (input.ca_pem ?? prev.ca_pem).trim(),
        fingerprint_sha256: (input.fingerprint_sha256 ?? prev.fingerprint_sha256).trim(),
      };
      checkRepository(next);
      const changed = (Object.keys(next) as (keyof RepositorySettings)[]).filter((k) => next[k] !== prev[k]);
      await deps.tx.transaction(async (trx) => {
        await deps.settings.set(trx, REPOSITORY_SETTINGS_KEY, next, actorUserId(actor));
        await audit.record(trx, actor, {
          action: 'settings.package_repository.updated',
          targetType: 'settings',
          targetId: 'package_repository',
          summary: `updated the package repository${next.url ? ` (${next.url})` : ' (none)'}`,
          details: { fields: changed },
          status: 200,
        });
      });
      deps.settings.notifyChanged(REPOSITORY_SETTINGS_KEY, next);
      return next;
    },

    /** The store's packages and the repository's offers (`bins`), with each one's latest download. */
    async list() {
      const store = await deps.upgrades.list();
      const settings = await repository();
      const { entries, reason } = await offers(settings);
      const bins: {
        type: string;
        version: string;
        requires: string;
        sha256: string;
        size: number;
        stored: boolean;
        in_repository: boolean;
        download: ReturnType<typeof downloadOut> | null;
      }[] = store.bins.map((b) => ({ ...b, stored: true, in_repository: false, download: null }));
      for (const e of entries) {
        const have = bins.find((b) => b.type === e.type && b.version === e.version);
        if (have) have.in_repository = true;
        else
          bins.push({
            type: e.type,
            version: e.version,
            requires: '',
            sha256: e.sha256,
            size: e.size,
            stored: false,
            in_repository: true,
            download: null,
          });
      }
      const downloads = await packagesRepo.recentDownloads(deps.tx.direct, 500);
      for (const b of bins) {
        const d = downloads.find((x) => x.type === b.type && x.version === b.version);
        if (d) b.download = downloadOut(d);
      }
      return {
        ...store,
        bins,
        is_ticloud_data_available: reason === null,
        reason,
        repository_url: settings.url || null,
      };
    },

    async status(typeText: string, version: string) {
      const type = normalizePackageType(typeText);
      if (!type)
        throw badField('path.appliance_type', 'must be a1000, tiscale-worker, tiscale-hub or manager');
      const row = await latestDownload(type, version);
      if (row) return { type, version, ...downloadOut(row) };
      // Uploaded rather than downloaded: it is there all the same.
      const stored = await packagesRepo.packageSizeAndCreated(deps.tx.direct, type, version);
      if (!stored) throw notFound(`download of ${type} ${version}`);
      const at = new Date(stored.created).toISOString();
      const size = Number(stored.size);
      return {
        type,
        version,
        status: 'done',
        received: size,
        total: size,
        error: null,
        started: at,
        finished: at,
      };
    },

    /** Starts a download (202), or says the package is already in the store (200). */
    async download(actor: Actor, typeText: string, version: string) {
      if (normalizePackageType(typeText) === MANAGER_PACKAGE_TYPE) {
        throw badField(
          'path.appliance_type',
          'manager packages are not installed on appliances: see GET /api/v1/update-system/available-update/',
        );
      }
      const type = normalizeApplianceType(typeText);
      if (!type) throw badField('path.appliance_type', 'must be a1000, tiscale-worker or tiscale-hub');
      const stored = await packagesRepo.packageSha256(deps.tx.direct, type, version);
      if (stored)
        return {
          code: 200 as const,
          body: {
            detail: `${type} ${version} is in the package store and ready`,
            type,
            version,
            status: 'done',
            sha256: stored.sha256,
          },
        };
      const settings = await repository();
      if (!settings.url) throw new AppError({ code: 'conflict', message: NO_REPOSITORY });
      const { entries, reason } = await offers(settings);
      if (reason !== null)
        throw new AppError({
          code: 'unavailable',
          message: `the package repository cannot be read: ${reason}`,
        });
      const entry = entries.find((e) => e.type === type && e.version === version);
      if (!entry) throw notFound(`${type} ${version} in the package repository`);
      if (entry.size > deps.maxBytes)
        throw new AppError({
          code: 'payload_too_large',
          message: `${type} ${version} is ${entry.size} bytes; packages are limited to ${deps.maxBytes} bytes`,
        });
      const now = clock.now();
      const begin = () =>
        deps.tx.transaction(async (trx) => {
          // A download cut off by a restart never finishes on its own: close it so it can start again.
          await packagesRepo.closeStaleDownloads(trx, type, version, now, new Date(now.getTime() - STALE_MS));
          const running = await packagesRepo.runningDownload(trx, type, version);
          if (running) return { row: running, fresh: false };
          const row = await packagesRepo.insertDownload(trx, {
            type,
            version,
            status: 'downloading',
            total: entry.size,
            started_by: actor.principal?.username ?? null,
            started: now,
            heartbeat: now,
          });
          await audit.record(trx, actor, {
            action: 'package.download_started',
            targetType: 'package',
            targetId: `${type}/${version}`,
            summary: `started downloading ${type} ${version} (${entry.size} bytes) from the package repository`,
            status: 202,
          });
          return { row, fresh: true };
        });
      // Two replicas may start the same download at the same moment; the partial unique index
      // lets one in, and the other reports that one.
      const started = await begin().catch(async (err) => {
        if (err instanceof AppError) throw err;
        const running = await latestDownload(type, version);
        if (!running || running.finished) throw err;
        return { row: running, fresh: false };
      });
      if (started.fresh) {
        const p = run(started.row.id, settings, entry)
          .catch((err: unknown) =>
            log.error(
              { err, downloadId: started.row.id, type, version },
              'package download outcome not recorded; the download shows as running until it goes stale',
            ),
          )
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
      return {
        code: 202 as const,
        body: {
          detail: `downloading ${type} ${version} in the background; follow it with GET /api/v1/package-management/${type}/${version}/`,
          type,
          version,
          status: started.row.status,
          sha256: entry.sha256,
        },
      };
    },
  };
}

export type PackageDownloads = ReturnType<typeof createPackageDownloads>;
