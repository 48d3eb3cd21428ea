// The package store. A package is a JSON envelope
//   {"manifest": {type, version, requires, sha256}, "payload": <base64 install step>, "signature": <base64>}
// signed (Ed25519, over the canonical manifest) by a publisher whose public key the admin put in
// <dataDir>/package-keys/*.pub. The store checks the publisher's signature and the sha256 when a
// package enters it (upload, `steward package add`, a download from the package repository).
// A package of type `manager` is the manager's own release: it is stored and listed with the
// others but never sent to an appliance (the system module hands it to the host's apply hook).
// Upgrades (upgrades.service.ts) install what is stored here.

import { createHash, createPublicKey, type KeyObject, randomUUID, verify } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PackageManifest } from '../../../contract/agent-protocol.js';
import { manifestSigningBytes, normalizePackageType } from '../../../contract/fleet-fields.js';
import type { Transactor } from '../../db/transactor.js';
import type { Actor } from '../../shared/actor.js';
import { AppError, badField, conflict, notFound } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import type { AuditService } from '../audit/audit.service.js';
import type { PackagesRepo } from './packages.repo.js';
import type { UpgradesRepo } from './upgrades.repo.js';

export interface PackagesServiceDeps {
  tx: Transactor;
  packagesRepo: PackagesRepo;
  /** A package is not removed while an upgrade to it runs. */
  upgradesRepo: UpgradesRepo;
  audit: AuditService;
  clock: Clock;
  dataDir: string;
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

function fingerprintOf(key: KeyObject): string {
  return `sha256:${createHash('sha256')
    .update(key.export({ format: 'der', type: 'spki' }))
    .digest('hex')}`;
}

export function createPackagesService(deps: PackagesServiceDeps) {
  const { upgradesRepo, packagesRepo, audit, clock } = deps;
  const storeDir = join(deps.dataDir, 'packages');

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

  return {
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
  };
}

export type PackagesService = ReturnType<typeof createPackagesService>;
