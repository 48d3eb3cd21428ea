// The package store and appliance upgrades. A package is a JSON envelope
//   {"manifest": {type, version, requires, sha256}, "payload": <base64 install step>, "signature": <base64>}
// signed (Ed25519, over the canonical manifest) by a publisher whose public key the admin put in
// <dataDir>/package-keys/*.pub. The manager checks the publisher's signature and the sha256 when
// a package enters the store, and countersigns the manifest when it sends it to an agent; the
// agent checks that countersignature with the manager key it pinned at pairing, and the sha256.
// One upgrade runs at a time across the fleet (a unique index enforces it across replicas).
// A package of type `manager` is the manager's own release: it is stored and listed with the
// others but never sent to an appliance (the system module hands it to the host's apply hook).

import { createHash, createPublicKey, type KeyObject, randomUUID, sign, verify } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  compareReleases,
  manifestSigningBytes,
  normalizePackageType,
  type PackageManifest,
} from '../../../contract/fleet-fields.js';
import type { Transactor, Tx } from '../../db/transactor.js';
import { type Actor, systemActor } from '../../shared/actor.js';
import { AppError, badField, conflict, notFound } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import type { AuditService } from '../audit/audit.service.js';
import { agentErrorText } from './agent-client.js';
import type { FleetRepo } from './fleet.repo.js';
import type { FleetService } from './fleet.service.js';
import type { ManagerKeyStore } from './manager-key.js';
import type { PackagesRepo } from './packages.repo.js';
import type { UpgradesRepo } from './upgrades.repo.js';

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
}

const VERSION_RE = /^\d{1,6}(\.\d{1,6}){0,3}([-+][A-Za-z0-9.]{1,40})?$/;
const ALLOWED_SPACE_FLOOR = 0;
const PACKAGE_TYPES_TEXT = 'a1000, tiscale-worker, tiscale-hub (or analyze, worker, hub) or manager';

/**
 * How a package comes into (or leaves) the store: `api` (the upload route), `cli` (`steward
 * package`) or `repository` (a download). Its audit record says so.
 */
export type PackageOrigin = 'api' | 'cli' | 'repository';

const ORIGIN_NOTE: Record<PackageOrigin, string> = {
  api: '',
  cli: ' (steward package)',
  repository: ' (downloaded from the package repository)',
};

/** `fleet.event` still takes the fleet repository's handle type; a `Tx` is one at run time. */
const eventHandle = (trx: Tx) => trx as unknown as Parameters<FleetService['event']>[0];

function fingerprintOf(key: KeyObject): string {
  return `sha256:${createHash('sha256')
    .update(key.export({ format: 'der', type: 'spki' }))
    .digest('hex')}`;
}

export function createUpgradeService(deps: UpgradeServiceDeps) {
  const { repo, upgradesRepo, packagesRepo, fleet, audit, clock } = deps;
  const storeDir = join(deps.dataDir, 'packages');
  const inflight = new Set<Promise<void>>();
  let stopping = false;

  function publisherKeys(): Map<string, KeyObject> {
    const dir = join(deps.dataDir, 'package-keys');
    const keys = new Map<string, KeyObject>();
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith('.pub') || f.endsWith('.pem'));
    } catch {
      return keys;
    }
    for (const f of files) {
      try {
        const key = createPublicKey(readFileSync(join(dir, f), 'utf8'));
        keys.set(fingerprintOf(key), key);
      } catch {
        // An unreadable key file trusts nothing; the upload error names the directory.
      }
    }
    return keys;
  }

  function parseEnvelope(data: Buffer): {
    manifest: PackageManifest;
    /** The type as the publisher wrote and signed it (`worker` as well as `tiscale-worker`). */
    signedType: string;
    payload: Buffer;
    signature: Buffer;
  } {
    let env: { manifest?: Record<string, unknown>; payload?: unknown; signature?: unknown };
    try {
      env = JSON.parse(data.toString('utf8'));
    } catch {
      throw badField('file', 'is not a Steward package (a JSON envelope with manifest, payload, signature)');
    }
    const m = env.manifest;
    if (!m || typeof m !== 'object' || typeof env.payload !== 'string' || typeof env.signature !== 'string') {
      throw badField('file', 'package needs "manifest", "payload" and "signature"');
    }
    const type = typeof m.type === 'string' ? normalizePackageType(m.type) : undefined;
    const errors: { field: string; message: string }[] = [];
    if (!type) errors.push({ field: 'file.manifest.type', message: `must be ${PACKAGE_TYPES_TEXT}` });
    if (typeof m.version !== 'string' || !VERSION_RE.test(m.version)) {
      errors.push({ field: 'file.manifest.version', message: 'must be a version like 5.4.0' });
    }
    if (typeof m.requires !== 'string' || !VERSION_RE.test(m.requires)) {
      errors.push({ field: 'file.manifest.requires', message: 'must be a version like 5.0.0' });
    }
    if (typeof m.sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(m.sha256)) {
      errors.push({ field: 'file.manifest.sha256', message: 'must be 64 hex digits' });
    }
    if (errors.length > 0)
      throw new AppError({ code: 'validation_failed', message: 'the package manifest is invalid', errors });
    const manifest: PackageManifest = {
      type: type as PackageManifest['type'],
      version: m.version as string,
      requires: m.requires as string,
      sha256: (m.sha256 as string).toLowerCase(),
    };
    return {
      manifest,
      signedType: m.type as string,
      payload: Buffer.from(env.payload, 'base64'),
      signature: Buffer.from(env.signature, 'base64'),
    };
  }

  async function runUpgrade(upgradeId: number, applianceId: number, file: string, manifest: PackageManifest) {
    const set = (status: string, log?: string, finished = false) =>
      upgradesRepo.setUpgradeProgress(deps.tx.direct, upgradeId, {
        status,
        log,
        finished: finished ? clock.now() : undefined,
      });
    const row = await repo.getAppliance(applianceId);
    if (!row) return set('error', 'appliance removed', true).then(() => undefined);
    let outcome: { ok: boolean; log: string };
    try {
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
      if (sent.status !== 202) {
        outcome = { ok: false, log: `the appliance refused the package: ${agentErrorText(sent)}\n` };
      } else {
        outcome = { ok: false, log: 'timed out waiting for the install step\n' };
        const deadline = Date.now() + 15 * 60 * 1000;
        while (Date.now() < deadline) {
          if (stopping) {
            // Shutdown must not wait for an install: record it and let the admin look.
            outcome = {
              ok: false,
              log: 'the manager stopped while the upgrade ran; check the appliance and start again\n',
            };
            break;
          }
          await new Promise((r) => setTimeout(r, deps.pollMs ?? 1000));
          const st = await fleet
            .agentCall<{ status: string; log: string; version: string | null }>(row, 'agent/v1/upgrade', {
              timeoutMs: 5000,
            })
            .catch(() => undefined);
          if (st?.status !== 200) continue; // the appliance may restart while installing
          if (st.body.status === 'installing' || st.body.status === 'downloading') {
            await set(st.body.status, st.body.log);
            continue;
          }
          outcome = {
            ok: st.body.status === 'idle' && st.body.version === manifest.version,
            log: st.body.log,
          };
          break;
        }
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
        eventHandle(trx),
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

  return {
    /** Waits for running upgrades; with `abort`, stops following them first (shutdown). */
    async settle(abort = false) {
      if (abort) stopping = true;
      while (inflight.size > 0) await Promise.all([...inflight]);
    },

    /**
     * Verifies and stores a package (upload route, `steward package add`, repository downloads),
     * audited as `actor`'s in the same transaction.
     */
    async addPackage(
      actor: Actor,
      data: Buffer,
      origin: PackageOrigin,
      /** What the repository index announced: the package must be exactly that. */
      announced?: { type: string; version: string; signature: string },
    ) {
      const { manifest, signedType, payload, signature } = parseEnvelope(data);
      if (
        announced &&
        (announced.type !== manifest.type ||
          announced.version !== manifest.version ||
          announced.signature !== signature.toString('base64'))
      ) {
        throw badField('file.manifest', 'is not the package the repository index announced');
      }
      if (createHash('sha256').update(payload).digest('hex') !== manifest.sha256) {
        throw badField('file.manifest.sha256', 'does not match the payload');
      }
      const keys = publisherKeys();
      if (keys.size === 0) {
        throw new AppError({
          code: 'conflict',
          message: `no trusted package publisher keys: put the publisher's public key (PEM) in ${join(deps.dataDir, 'package-keys')}/`,
        });
      }
      let publisher: string | undefined;
      for (const [fp, key] of keys) {
        const signed = Buffer.from(
          manifestSigningBytes({ ...manifest, type: signedType as PackageManifest['type'] }),
        );
        if (verify(null, signed, key, signature)) publisher = fp;
      }
      if (!publisher) throw badField('file.signature', 'does not verify with any trusted publisher key');
      const dir = join(storeDir, manifest.type);
      mkdirSync(dir, { recursive: true });
      const fileName = join(manifest.type, `${manifest.version}.stwpkg`);
      // Written beside its final name and renamed only once the row and its audit record are in
      // place, as the transaction's last step: a failure leaves neither a partial nor a stray file.
      const tmp = join(storeDir, `${fileName}.${randomUUID()}.part`);
      await writeFile(tmp, data, { mode: 0o600, flag: 'wx' });
      try {
        return await deps.tx.transaction(async (trx) => {
          const dup = await packagesRepo.findPackageId(trx, manifest.type, manifest.version);
          if (dup) throw conflict(`the store already has ${manifest.type} ${manifest.version}`);
          const row = await packagesRepo.insertPackage(trx, {
            type: manifest.type,
            version: manifest.version,
            requires: manifest.requires,
            sha256: manifest.sha256,
            size: data.length,
            publisher_fingerprint: publisher,
            file_name: fileName,
            created: clock.now(),
          });
          await audit.record(trx, actor, {
            action: 'package.added',
            targetType: 'package',
            targetId: row.id,
            summary: `added package ${manifest.type} ${manifest.version}${ORIGIN_NOTE[origin]}`,
            ...(origin === 'api' ? { status: 201 } : {}),
          });
          await rename(tmp, join(storeDir, fileName));
          return {
            id: row.id,
            type: row.type,
            version: row.version,
            requires: row.requires,
            sha256: row.sha256,
            size: Number(row.size),
            publisher_fingerprint: row.publisher_fingerprint,
            created: new Date(row.created).toISOString(),
          };
        });
      } finally {
        await rm(tmp, { force: true });
      }
    },

    /**
     * Removes a package from the store (`steward package remove`), audited as `actor`'s; refused
     * while it is installing.
     */
    async removePackage(actor: Actor, typeText: string, version: string, origin: PackageOrigin) {
      const type = normalizePackageType(typeText);
      if (!type) throw badField('type', `must be ${PACKAGE_TYPES_TEXT}`);
      const removed = await deps.tx.transaction(async (trx) => {
        const row = await packagesRepo.getPackage(trx, type, version);
        if (!row) throw notFound(`package ${type} ${version}`);
        const running = await upgradesRepo.runningUpgradeTo(trx, row.id);
        if (running)
          throw conflict(`an upgrade to ${type} ${version} is running; remove it when it has finished`);
        // Finished upgrades keep their history (package_id becomes null, version stays).
        await packagesRepo.deletePackage(trx, row.id);
        await audit.record(trx, actor, {
          action: 'package.removed',
          targetType: 'package',
          targetId: row.id,
          summary: `removed package ${type} ${version}${ORIGIN_NOTE[origin]}`,
        });
        return row;
      });
      await rm(join(storeDir, removed.file_name), { force: true });
      return { type: removed.type, version: removed.version };
    },

    async list() {
      const rows = await packagesRepo.listPackages(deps.tx.direct);
      let allowed = ALLOWED_SPACE_FLOOR;
      try {
        const fs = statfsSync(deps.dataDir);
        allowed = fs.bavail * fs.bsize;
      } catch {
        // statfs unavailable: report 0 rather than fail the listing.
      }
      return {
        bins: rows.map((r) => ({
          type: r.type,
          version: r.version,
          requires: r.requires,
          sha256: r.sha256,
          size: Number(r.size),
        })),
        used_space: rows.reduce((n, r) => n + Number(r.size), 0),
        allowed_space: allowed,
        is_ticloud_data_available: false,
      };
    },

    /** Absolute path of a stored package's file, or undefined when the store has no such package. */
    async packageFile(type: string, version: string): Promise<string | undefined> {
      const row = await packagesRepo.packageFileName(deps.tx.direct, type, version);
      return row ? join(storeDir, row.file_name) : undefined;
    },

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
      const p = runUpgrade(upgradeId, row.id, join(storeDir, pkg.file_name), manifest)
        .catch(() => undefined)
        .finally(() => inflight.delete(p));
      inflight.add(p);
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
