// The manager's own update (seed 003, "Update the Manager"). A release of the manager is a
// package of type `manager` in the package store (the fleet module's; uploaded and signature
// checked like any other). Steward does not replace its own files: installing a release is the
// host's business (an OS package, a container image, a systemd unit), so starting the update
// hands the stored package to the apply hook named in the server configuration
// (STEWARD_APPLY_HOOK) with the section `manager-update`, after checking the package's sha256
// once more. One update at a time per manager process; the state of the last one is in memory
// (the audit log keeps every start and outcome).

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { compareReleases, MANAGER_PACKAGE_TYPE } from '../../../contract/fleet-fields.js';
import type { Transactor } from '../../db/transactor.js';
import { type Actor, systemActor } from '../../shared/actor.js';
import { AppError, conflict } from '../../shared/app-error.js';
import type { AuditService } from '../audit/audit.service.js';

/** One package of the store, as the upgrade service lists it. */
export interface StoredPackage {
  type: string;
  version: string;
  requires: string;
  sha256: string;
  size: number;
}

/** What the manager update needs of the package store: read-only. */
export interface PackageStoreReader {
  list(): Promise<{ bins: StoredPackage[] }>;
  /** Absolute path of the stored package file. */
  packageFile(type: string, version: string): Promise<string | undefined>;
}

export type ManagerUpdateStatus = 'idle' | 'running' | 'done' | 'error';

/** The section the apply hook is called with, and what it receives as `value`. */
export const MANAGER_UPDATE_SECTION = 'manager-update';
export interface ManagerUpdateHookValue {
  version: string;
  requires: string;
  sha256: string;
  /** Absolute path of the stored package (the signed JSON envelope; `payload` is base64). */
  package_path: string;
}

export interface ManagerUpdaterDeps {
  tx: Transactor;
  audit: AuditService;
  store: () => PackageStoreReader | undefined;
  /** The apply hook (section, value); undefined when the server configuration names none. */
  hook: ((section: string, value: Record<string, unknown>) => Promise<void>) | undefined;
  /** The running manager's version (src/server/version.ts). */
  currentVersion: string;
  log?: (msg: string, err?: unknown) => void;
}

/**
 * The newest `manager` package newer than `running` whose `requires` the running version
 * satisfies; with why there is none otherwise.
 */
export function pickManagerUpdate(
  bins: readonly StoredPackage[],
  running: string,
): { pkg: StoredPackage; reason?: undefined } | { pkg?: undefined; reason: string } {
  const managers = bins.filter((p) => p.type === MANAGER_PACKAGE_TYPE);
  if (managers.length === 0) return { reason: 'the package store holds no manager package' };
  const newer = managers
    .filter((p) => compareReleases(p.version, running) > 0)
    .sort((a, b) => compareReleases(b.version, a.version));
  if (newer.length === 0) {
    const newest = [...managers].sort((a, b) => compareReleases(b.version, a.version))[0];
    return {
      reason: `no manager package is newer than the running ${running} (the newest in the store is ${newest?.version})`,
    };
  }
  const fit = newer.find((p) => compareReleases(running, p.requires) >= 0);
  if (!fit) {
    const top = newer[0] as StoredPackage;
    return {
      reason: `manager ${top.version} requires ${top.requires}; this manager runs ${running} (no newer package it can take)`,
    };
  }
  return { pkg: fit };
}

/** The build time a manifest may carry (`created`, ISO 8601), or null. */
function buildTime(manifest: unknown): string | null {
  const created = (manifest as { created?: unknown } | undefined)?.created;
  if (typeof created !== 'string') return null;
  const t = Date.parse(created);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

export function createManagerUpdater(deps: ManagerUpdaterDeps) {
  const state: { status: ManagerUpdateStatus; message: string | null; version: string | null } = {
    status: 'idle',
    message: null,
    version: null,
  };
  let busy = false;
  let running: Promise<void> | undefined;
  // Build time per package (by sha256): read once from the stored envelope.
  const times = new Map<string, string | null>();

  const store = () => {
    const s = deps.store();
    if (!s) throw new AppError({ code: 'unavailable', message: 'the package store is not available' });
    return s;
  };

  /** Reads the stored package and checks its payload against the sha256 the store recorded. */
  async function readChecked(s: PackageStoreReader, pkg: StoredPackage) {
    const path = await s.packageFile(pkg.type, pkg.version);
    if (!path) throw conflict(`manager ${pkg.version} was removed from the package store`);
    let env: { manifest?: { sha256?: unknown }; payload?: unknown };
    try {
      env = JSON.parse(await readFile(path, 'utf8'));
    } catch (err) {
      throw conflict(
        `the stored file of manager ${pkg.version} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'not JSON'}); remove the package and add it again`,
      );
    }
    const payload = typeof env.payload === 'string' ? Buffer.from(env.payload, 'base64') : Buffer.alloc(0);
    const digest = createHash('sha256').update(payload).digest('hex');
    if (digest !== pkg.sha256 || String(env.manifest?.sha256 ?? '').toLowerCase() !== pkg.sha256) {
      throw conflict(
        `the stored file of manager ${pkg.version} no longer matches its sha256; remove the package and add it again`,
      );
    }
    return { path, time: buildTime(env.manifest) };
  }

  async function finish(version: string, outcome: { ok: true } | { ok: false; error: string }) {
    state.status = outcome.ok ? 'done' : 'error';
    state.message = outcome.ok
      ? `the apply hook finished for manager ${version}; the host installs it (this process runs ${deps.currentVersion} until it is restarted)`
      : `the apply hook failed for manager ${version}: ${outcome.error}`;
    try {
      await deps.audit.record(deps.tx.direct, systemActor('manager-update'), {
        action: outcome.ok ? 'manager_update.finished' : 'manager_update.failed',
        outcome: outcome.ok ? 'success' : 'failure',
        targetType: 'package',
        targetId: `${MANAGER_PACKAGE_TYPE}-${version}`,
        summary: state.message,
        details: outcome.ok ? { version } : { version, error: outcome.error },
      });
    } catch (err) {
      deps.log?.('could not audit the outcome of the manager update', err);
    }
  }

  return {
    /** The seed's available-update answer, with the state of the last manager update. */
    async available() {
      const s = store();
      const pick = pickManagerUpdate((await s.list()).bins, deps.currentVersion);
      const update_status = { status: state.status, message: state.message };
      if (!pick.pkg) {
        return {
          available: false,
          current_version: deps.currentVersion,
          reason: pick.reason,
          filename: null,
          sha1: null,
          sha256: null,
          version: null,
          requires: null,
          size: null,
          time: null,
          update_status,
        };
      }
      const pkg = pick.pkg;
      let time = times.get(pkg.sha256);
      if (time === undefined) {
        time = await readChecked(s, pkg).then(
          (r) => r.time,
          () => null, // a broken file is reported by the POST, which refuses it
        );
        times.set(pkg.sha256, time);
      }
      return {
        available: true,
        current_version: deps.currentVersion,
        reason: null,
        filename: `${MANAGER_PACKAGE_TYPE}-${pkg.version}.stwpkg`,
        sha1: null,
        sha256: pkg.sha256,
        version: pkg.version,
        requires: pkg.requires,
        size: pkg.size,
        time,
        update_status,
      };
    },

    /** Starts the update: checks, audits the start, runs the hook in the background. */
    async start(actor: Actor): Promise<{ status: 'started'; version: string }> {
      if (busy) throw conflict(`a manager update to ${state.version ?? 'a new release'} is already running`);
      busy = true;
      let launched = false;
      try {
        const s = store();
        const pick = pickManagerUpdate((await s.list()).bins, deps.currentVersion);
        if (!pick.pkg) throw conflict(`no manager update available: ${pick.reason}`);
        const hook = deps.hook;
        if (!hook) {
          throw conflict(
            'no apply hook is configured: installing a manager release is the host\'s job, so the host must set STEWARD_APPLY_HOOK (see docs/administration.md, "Manager updates")',
          );
        }
        const pkg = pick.pkg;
        const { path } = await readChecked(s, pkg);
        const value: ManagerUpdateHookValue = {
          version: pkg.version,
          requires: pkg.requires,
          sha256: pkg.sha256,
          package_path: path,
        };
        await deps.audit.record(deps.tx.direct, actor, {
          action: 'manager_update.started',
          targetType: 'package',
          targetId: `${MANAGER_PACKAGE_TYPE}-${pkg.version}`,
          summary: `started the manager update from ${deps.currentVersion} to ${pkg.version}`,
          status: 202,
          details: { from: deps.currentVersion, version: pkg.version, sha256: pkg.sha256 },
        });
        state.status = 'running';
        state.version = pkg.version;
        state.message = `the apply hook is installing manager ${pkg.version}`;
        launched = true;
        running = hook(MANAGER_UPDATE_SECTION, { ...value })
          .then(
            () => finish(pkg.version, { ok: true }),
            (err: Error) => finish(pkg.version, { ok: false, error: err.message }),
          )
          .finally(() => {
            busy = false;
            running = undefined;
          });
        return { status: 'started', version: pkg.version };
      } catch (err) {
        if (!launched) busy = false;
        throw err;
      }
    },

    /** Waits for a running hook (shutdown and tests). */
    async idle() {
      await running;
    },
  };
}

export type ManagerUpdater = ReturnType<typeof createManagerUpdater>;
