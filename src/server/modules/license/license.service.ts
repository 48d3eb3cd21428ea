// The manager's own licence: machine id, installed licence and its status.

import { randomBytes } from 'node:crypto';
import type { Transactor } from '../../db/transactor.js';
import { type Actor, actorUserId } from '../../shared/actor.js';
import { badField } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import type { AuditService } from '../audit/audit.service.js';
import type { SettingsStore } from '../settings/settings.repo.js';
import { checkLicense, type LicenseDocument, type LicenseStatus, parseLicense } from './license.js';

const KEY = 'license.manager';

interface Stored {
  machine_id: string;
  document: LicenseDocument | null;
}

export interface LicenseInfo {
  status: LicenseStatus;
  reason: string;
  machineId: string;
  product: string | null;
  company: string | null;
  serialNumber: string | null;
  licenseType: string | null;
  creationDate: string | null;
  expiryDate: string | null;
  limits: Record<string, number>;
}

export interface LicenseServiceDeps {
  tx: Transactor;
  audit: AuditService;
  settings: SettingsStore;
  clock: Clock;
  publicKeyPem: string | undefined;
}

export function createLicenseService(deps: LicenseServiceDeps) {
  const read = () => deps.settings.get<Stored>(KEY, { machine_id: '', document: null });

  function info(s: Stored): LicenseInfo {
    const d = s.document;
    const check = d
      ? checkLicense(d, deps.publicKeyPem, s.machine_id, deps.clock.now())
      : {
          status: 'INVALID' as const,
          reason: s.machine_id ? 'no licence installed' : 'no machine id yet: generate one',
        };
    return {
      status: check.status,
      reason: check.reason,
      machineId: s.machine_id,
      product: d?.license.product ?? null,
      company: d?.license.company ?? null,
      serialNumber: d?.license.serial_number ?? null,
      licenseType: d?.license.license_type ?? null,
      creationDate: d?.license.creation_date ?? null,
      expiryDate: d?.license.expiry_date ?? null,
      limits: d?.license.limits ?? {},
    };
  }

  return {
    async status() {
      return info(await read());
    },

    /** A new machine id; an installed licence (bound to the old id) stops being valid. */
    async generateMachineId(actor: Actor): Promise<string> {
      const machineId = randomBytes(16).toString('hex');
      const prev = await read();
      await deps.tx.transaction(async (trx) => {
        await deps.settings.set(trx, KEY, { ...prev, machine_id: machineId }, actorUserId(actor));
        await deps.audit.record(trx, actor, {
          action: 'license.machine_id_generated',
          targetType: 'license',
          summary: 'generated a new machine id',
          details: { machine_id: machineId },
          status: 200,
        });
      });
      deps.settings.notifyChanged(KEY, { ...prev, machine_id: machineId });
      return machineId;
    },

    /** Installs a licence; refuses (400, nothing stored) one that is not VALID for this machine. */
    async upload(actor: Actor, raw: Buffer): Promise<LicenseInfo> {
      let doc: LicenseDocument;
      try {
        doc = parseLicense(raw);
      } catch (err) {
        throw badField('body.file', (err as Error).message);
      }
      const prev = await read();
      const next: Stored = { machine_id: prev.machine_id, document: doc };
      const out = info(next);
      if (out.status !== 'VALID') throw badField('body.file', `licence is ${out.status}: ${out.reason}`);
      await deps.tx.transaction(async (trx) => {
        await deps.settings.set(trx, KEY, next, actorUserId(actor));
        await deps.audit.record(trx, actor, {
          action: 'license.installed',
          targetType: 'license',
          targetId: doc.license.serial_number,
          summary: `installed licence ${doc.license.serial_number} (${doc.license.product}, until ${doc.license.expiry_date})`,
          status: 200,
        });
      });
      deps.settings.notifyChanged(KEY, next);
      return out;
    },
  };
}

export type LicenseService = ReturnType<typeof createLicenseService>;
