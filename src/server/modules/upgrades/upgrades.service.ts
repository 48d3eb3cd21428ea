// Appliance upgrades. The manager sends a stored package (packages.service.ts) to the agent,
// countersigning its manifest; the agent checks that countersignature with the manager key it
// pinned at pairing, and the sha256, runs the install step and reports; the manager follows it
// until the appliance reports the new release. One upgrade runs at a time across the fleet (a
// unique index enforces it across replicas). The service also answers for the package store it
// installs from (its methods are the store's), so callers that know it as the store keep one object.

import { sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PackageManifest } from '../../../contract/agent-protocol.js';
import { compareReleases, manifestSigningBytes } from '../../../contract/fleet-fields.js';
import type { Transactor } from '../../db/transactor.js';
import { type Actor, systemActor } from '../../shared/actor.js';
import { AppError, conflict, notFound } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import { type Logger, silentLogger } from '../../shared/logger.js';
import type { AuditService } from '../audit/audit.service.js';
import { agentErrorText } from '../fleet/agent-client.js';
import type { FleetRepo } from '../fleet/fleet.repo.js';
import type { FleetService } from '../fleet/fleet.service.js';
import type { ManagerKeyStore } from '../fleet/manager-key.js';
import type { PackagesRepo } from './packages.repo.js';
import { createPackagesService } from './packages.service.js';
import type { UpgradesRepo } from './upgrades.repo.js';

/** Largest package, uploaded or downloaded from the repository (and `steward package add`). */
export const MAX_PACKAGE_BYTES = 256 * 1024 * 1024;

export type { PackageOrigin } from './packages.service.js';

export interface UpgradeServiceDeps {
  tx: Transactor;
  /** The fleet's repository: appliances are read through it. */
  repo: FleetRepo;
  upgradesRepo: UpgradesRepo;
  packagesRepo: PackagesRepo;
  fleet: FleetService;
  audit: AuditService;
  clock: Clock;
  managerKey: ManagerKeyStore;
  dataDir: string;
  pollMs?: number;
  /** Hears of an upgrade outcome that could not be recorded; the fleet module passes the server's. */
  log?: Logger;
  /** This replica's id: recorded on the upgrades it follows (ADR 0006). */
  replicaId: string;
}

/**
 * An unfinished upgrade without a recorded replica (a release before migration 0105) counts as
 * left behind after this long: past the 15 minutes a replica follows an install.
 */
const UNCLAIMED_LEFT_MS = 20 * 60_000;

export function createUpgradeService(deps: UpgradeServiceDeps) {
  const { repo, upgradesRepo, packagesRepo, fleet, audit, clock } = deps;
  const log = deps.log ?? silentLogger;
  const storeDir = join(deps.dataDir, 'packages');
  const packages = createPackagesService(deps);
  const inflight = new Set<Promise<void>>();
  let stopping = false;

  type Outcome = { ok: boolean; log: string };
  type Row = NonNullable<Awaited<ReturnType<FleetRepo['getAppliance']>>>;
  type AgentUpgrade = { status: string; log: string; version: string | null; started?: string | null };

  /** Follows the agent's install until it reports the outcome (or the deadline passes). */
  async function follow(
    row: Row,
    manifest: PackageManifest,
    set: (status: string, log?: string) => Promise<void>,
  ) {
    let outcome: Outcome = { ok: false, log: 'timed out waiting for the install step\n' };
    const deadline = Date.now() + 15 * 60 * 1000;
    while (Date.now() < deadline) {
      if (stopping) {
        // Shutdown must not wait for an install: record it and let the admin look.
        return {
          ok: false,
          log: 'the manager stopped while the upgrade ran; check the appliance and start again\n',
        };
      }
      await new Promise((r) => setTimeout(r, deps.pollMs ?? 1000));
      const st = await fleet
        .agentCall<AgentUpgrade>(row, 'agent/v1/upgrade', { timeoutMs: 5000 })
        .catch(() => undefined); // not logged: an appliance restarting to install answers nothing for a while
      if (st?.status !== 200) continue; // the deadline above records an appliance that never answers again
      if (st.body.status === 'installing' || st.body.status === 'downloading') {
        await set(st.body.status, st.body.log);
        continue;
      }
      outcome = { ok: st.body.status === 'idle' && st.body.version === manifest.version, log: st.body.log };
      break;
    }
    return outcome;
  }

  /**
   * For an upgrade another replica left: what the agent already did with this package, so it is
   * not sent twice. `follow` while it installs; the outcome once it reports one for this version
   * since the upgrade started; undefined when it never got it (send it).
   */
  async function alreadySent(row: Row, manifest: PackageManifest, started: Date) {
    const st = await fleet
      .agentCall<AgentUpgrade>(row, 'agent/v1/upgrade', { timeoutMs: 5000 })
      .catch(() => undefined);
    if (st?.status !== 200) return 'follow' as const; // restarting to install, or gone: the deadline decides
    if (st.body.version !== manifest.version) return undefined;
    if (['installing', 'downloading', 'pending'].includes(st.body.status)) return 'follow' as const;
    // The agent's own clock: a minute of drift is allowed before an older run counts as this one.
    const at = st.body.started ? Date.parse(st.body.started) : Number.NaN;
    if (!(at >= started.getTime() - 60_000)) return undefined;
    return { ok: st.body.status === 'idle', log: st.body.log } satisfies Outcome;
  }

  async function runUpgrade(
    upgradeId: number,
    applianceId: number,
    file: string,
    manifest: PackageManifest,
    resumedFrom?: Date,
  ) {
    const set = (status: string, log?: string, finished = false) =>
      upgradesRepo.setUpgradeProgress(deps.tx.direct, upgradeId, {
        status,
        log,
        finished: finished ? clock.now() : undefined,
      });
    const row = await repo.getAppliance(applianceId);
    if (!row) return set('error', 'appliance removed', true).then(() => undefined);
    let outcome: Outcome;
    try {
      const before = resumedFrom ? await alreadySent(row, manifest, resumedFrom) : undefined;
      if (before === 'follow') {
        outcome = await follow(row, manifest, set);
      } else if (before) {
        outcome = before;
      } else {
        await set('downloading', 'sending the package to the appliance\n');
        const env = JSON.parse(readFileSync(file, 'utf8')) as { payload: string };
        const key = await deps.managerKey.get();
        const managerSignature = sign(
          null,
          Buffer.from(manifestSigningBytes(manifest)),
          key.privateKey,
        ).toString('base64');
        const sent = await fleet.agentCall<{ status?: string; log?: string }>(row, 'agent/v1/upgrade', {
          method: 'POST',
          body: { manifest, manager_signature: managerSignature, payload: env.payload },
          timeoutMs: 120_000,
        });
        outcome =
          sent.status !== 202
            ? { ok: false, log: `the appliance refused the package: ${agentErrorText(sent)}\n` }
            : await follow(row, manifest, set);
      }
    } catch (err) {
      outcome = { ok: false, log: `${(err as Error).message}\n` };
    }
    await deps.tx.transaction(async (trx) => {
      await upgradesRepo.setUpgradeProgress(trx, upgradeId, {
        status: outcome.ok ? 'idle' : 'error',
        log: outcome.log,
        finished: clock.now(),
      });
      if (outcome.ok) await upgradesRepo.setApplianceRelease(trx, row.id, manifest.version);
      const kind = outcome.ok ? 'upgrade.finished' : 'upgrade.failed';
      await fleet.event(
        trx,
        row,
        kind,
        outcome.ok
          ? `${row.name} upgraded to ${manifest.version}`
          : `upgrade of ${row.name} to ${manifest.version} failed`,
        outcome.ok ? 'info' : 'error',
      );
      await audit.record(trx, systemActor('fleet-upgrade'), {
        action: kind,
        outcome: outcome.ok ? 'success' : 'failure',
        targetType: 'appliance',
        targetId: row.id,
        summary: `upgrade of ${row.name} to ${manifest.version} ${outcome.ok ? 'finished' : 'failed'}`,
      });
    });
  }

  function track(run: Promise<void>, upgradeId: number, appliance: string, version: string) {
    const p = run
      .catch((err: unknown) =>
        log.error(
          { err, upgradeId, appliance, version },
          'upgrade outcome not recorded (no status, event or audit record); check the appliance',
        ),
      )
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }

  return {
    /**
     * Follows to its end the upgrade a replica no longer alive left unfinished (ADR 0006): claims
     * it, asks the agent what it did with the package, and sends it only if the agent never got
     * it. `live` is the ids of the replicas alive now. Answers whether there was one.
     */
    async resumeLeft(live: string[]): Promise<boolean> {
      const unclaimedBefore = new Date(clock.now().getTime() - UNCLAIMED_LEFT_MS);
      const u = await upgradesRepo.claimLeftUpgrade(deps.tx.direct, deps.replicaId, live, unclaimedBefore);
      if (!u) return false;
      const row = await repo.getAppliance(u.appliance_id);
      const pkg = row ? await packagesRepo.getPackage(deps.tx.direct, row.type, u.version) : undefined;
      log.warn(
        { upgradeId: u.id, appliance: row?.name, version: u.version },
        'resuming an upgrade a stopped manager replica left',
      );
      const manifest: PackageManifest | undefined = pkg && {
        type: pkg.type as PackageManifest['type'],
        version: pkg.version,
        requires: pkg.requires,
        sha256: pkg.sha256,
      };
      if (!row || !pkg || !manifest) {
        // Nothing to send or follow: finish it, so the fleet can be upgraded again.
        await upgradesRepo.setUpgradeProgress(deps.tx.direct, u.id, {
          status: 'error',
          log: `the manager replica running this upgrade stopped and ${row ? 'the package left the store' : 'the appliance was removed'}; start again\n`,
          finished: clock.now(),
        });
        return true;
      }
      track(
        runUpgrade(u.id, row.id, join(storeDir, pkg.file_name), manifest, new Date(u.started)),
        u.id,
        row.name,
        u.version,
      );
      return true;
    },

    /** Waits for running upgrades; with `abort`, stops following them first (shutdown). */
    async settle(abort = false) {
      if (abort) stopping = true;
      while (inflight.size > 0) await Promise.all([...inflight]);
    },

    ...packages,

    async start(actor: Actor, applianceName: string) {
      const row = await repo.getApplianceByName(applianceName);
      if (!row) throw notFound(`appliance "${applianceName}"`);
      if (!row.authorized) throw conflict(`appliance ${row.name} is not authorized`);
      const active = await upgradesRepo.activeUpgrade(deps.tx.direct);
      if (active)
        throw conflict(`an upgrade is already running (appliance ${active.name}); one appliance at a time`);
      const release = row.release ?? '0';
      // Packages of the appliance's own type only (an appliance type, so never a `manager` package).
      const candidates = (await packagesRepo.packagesOfType(deps.tx.direct, row.type))
        .filter((p) => compareReleases(p.version, release) > 0 && compareReleases(release, p.requires) >= 0)
        .sort((a, b) => compareReleases(b.version, a.version));
      const pkg = candidates[0];
      if (!pkg) throw conflict(`no package in the store upgrades ${row.type} ${release}`);
      let upgradeId: number;
      try {
        upgradeId = await deps.tx.transaction(async (trx) => {
          const id = await upgradesRepo.insertUpgrade(trx, {
            appliance_id: row.id,
            package_id: pkg.id,
            version: pkg.version,
            status: 'pending',
            started: clock.now(),
            run_by: deps.replicaId,
          });
          await audit.record(trx, actor, {
            action: 'upgrade.started',
            targetType: 'appliance',
            targetId: row.id,
            summary: `started upgrade of ${row.name} from ${release} to ${pkg.version}`,
            status: 202,
          });
          return id;
        });
      } catch (err) {
        if (err instanceof AppError) throw err;
        // The unique index: another manager replica started one at the same moment.
        throw conflict('an upgrade is already running; one appliance at a time');
      }
      const manifest: PackageManifest = {
        type: pkg.type as PackageManifest['type'],
        version: pkg.version,
        requires: pkg.requires,
        sha256: pkg.sha256,
      };
      track(
        runUpgrade(upgradeId, row.id, join(storeDir, pkg.file_name), manifest),
        upgradeId,
        row.name,
        pkg.version,
      );
      return { appliance_name: row.name, status: 'pending', version: pkg.version, log: '' };
    },

    async status(applianceName: string) {
      const row = await repo.getApplianceByName(applianceName);
      if (!row) throw notFound(`appliance "${applianceName}"`);
      const u = await upgradesRepo.latestUpgradeOf(deps.tx.direct, row.id);
      if (!u)
        return { appliance_name: row.name, status: 'idle', version: null, log: 'Update log not available.' };
      return {
        appliance_name: row.name,
        status: u.status,
        version: u.version,
        log: u.log || 'Update log not available.',
      };
    },
  };
}

export type UpgradeService = ReturnType<typeof createUpgradeService>;
