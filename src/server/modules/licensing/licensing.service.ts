// Appliance licences and certificates. A licence file is JSON
//   {"license": {machineId, product, serialNumber, licenseType, company, expiryDate, creationDate, version},
//    "signature": <base64 Ed25519 over the canonical licence>}
// signed by an issuer whose public key is in <dataDir>/license-keys/*.pub. The manager verifies
// it, matches it to an appliance by machine id, and installs it on that appliance's agent.

import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  randomBytes,
  verify,
  X509Certificate,
} from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../../../contract/fleet-fields.js';
import type { Transactor } from '../../db/transactor.js';
import type { Actor } from '../../shared/actor.js';
import { AppError, badField, conflict } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import type { AuditService } from '../audit/audit.service.js';
import { AgentUnreachable, agentErrorText } from '../fleet/agent-client.js';
import type { ApplianceRow, FleetRepo } from '../fleet/fleet.repo.js';
import type { FleetService } from '../fleet/fleet.service.js';
import type { LicensingRepo } from './licensing.repo.js';

const PRODUCTS: Record<string, string> = {
  a1000: 'A1000',
  'tiscale-worker': 'TISCALE_WORKER',
  'tiscale-hub': 'TISCALE_HUB',
};

export interface LicenceDoc {
  machineId: string;
  product: string;
  serialNumber: string;
  licenseType: string;
  company: string;
  expiryDate: string;
  creationDate: string;
  version: number;
}

function trustedKeys(dir: string): KeyObject[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.pub') || f.endsWith('.pem'))
      .flatMap((f) => {
        try {
          return [createPublicKey(readFileSync(join(dir, f), 'utf8'))];
        } catch {
          return [];
        }
      });
  } catch {
    return [];
  }
}

const PEM_KEY =
  /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----\s*/;

export interface LicensingServiceDeps {
  tx: Transactor;
  /** The fleet's repository: appliances are read through it. */
  repo: FleetRepo;
  licensingRepo: LicensingRepo;
  fleet: FleetService;
  audit: AuditService;
  clock: Clock;
  dataDir: string;
}

export function createLicensingService(deps: LicensingServiceDeps) {
  const { repo, licensingRepo, fleet, audit, clock } = deps;

  function entry(a: ApplianceRow) {
    const l = (a.license ?? null) as LicenceDoc | null;
    const expired = l ? Date.parse(`${l.expiryDate}T23:59:59Z`) < clock.now().getTime() : false;
    return {
      id: a.id,
      appliance_name: a.name,
      type: a.type,
      status: l ? (expired ? 'EXPIRED' : 'VALID') : 'UNLICENSED',
      product: l?.product ?? PRODUCTS[a.type] ?? a.type,
      machineId: a.machine_id,
      version: l?.version ?? null,
      serialNumber: l?.serialNumber ?? null,
      licenseType: l?.licenseType ?? null,
      company: l?.company ?? null,
      expiryDate: l?.expiryDate ?? null,
      creationDate: l?.creationDate ?? null,
    };
  }

  async function call<T>(row: ApplianceRow, path: string, body: unknown) {
    try {
      const res = await fleet.agentCall<T>(row, path, { method: 'PUT', body, timeoutMs: 15_000 });
      if (res.status !== 200)
        throw new AppError({ code: 'conflict', message: `the appliance refused: ${agentErrorText(res)}` });
      return res.body;
    } catch (err) {
      if (err instanceof AgentUnreachable) {
        throw new AppError({ code: 'unavailable', message: `cannot reach ${row.name}: ${err.message}` });
      }
      throw err;
    }
  }

  /** Sends a certificate alone: the agent installs it with the key it holds, if one matches. */
  async function installWithHeldKey(row: ApplianceRow, cert: string) {
    let res: Awaited<ReturnType<typeof fleet.agentCall>>;
    try {
      res = await fleet.agentCall(row, 'agent/v1/certificate', {
        method: 'PUT',
        body: { cert },
        timeoutMs: 15_000,
      });
    } catch (err) {
      if (err instanceof AgentUnreachable) {
        throw new AppError({ code: 'unavailable', message: `cannot reach ${row.name}: ${err.message}` });
      }
      throw err;
    }
    if (res.status === 200) return;
    if (res.status === 400 && (res.body as { code?: unknown } | null)?.code === 'key_mismatch') {
      throw badField(
        'file',
        `the certificate belongs to no key that ${row.name} holds: send its private key as form field "key" ` +
          '(or in the same file)',
      );
    }
    throw new AppError({ code: 'conflict', message: `the appliance refused: ${agentErrorText(res)}` });
  }

  return {
    /** Machine ids for appliances without one (all of them with `regenerate`, which voids licences). */
    async machineIds(actor: Actor, limit: number, offset: number, regenerate = false) {
      await deps.tx.transaction(async (trx) => {
        const rows = await licensingRepo.appliancesForMachineIds(trx, regenerate);
        for (const r of rows) {
          await licensingRepo.setMachineId(
            trx,
            r.id,
            randomBytes(16).toString('hex').toUpperCase(),
            regenerate,
          );
        }
        if (rows.length > 0) {
          await audit.record(trx, actor, {
            action: regenerate ? 'license.machine_ids_regenerated' : 'license.machine_ids_generated',
            targetType: 'appliance',
            summary: `${regenerate ? 'regenerated' : 'generated'} machine ids for ${rows.length} appliance(s)`,
            status: 200,
          });
        }
      });
      return this.list(limit, offset);
    },

    async list(limit: number, offset: number) {
      const { rows, count } = await repo.listAppliances({}, limit, offset);
      return { count, results: rows.map(entry) };
    },

    async install(actor: Actor, data: Buffer) {
      let doc: { license?: Record<string, unknown>; signature?: unknown };
      try {
        doc = JSON.parse(data.toString('utf8'));
      } catch {
        throw badField('file', 'is not a licence file (JSON with "license" and "signature")');
      }
      const lic = doc.license;
      if (!lic || typeof lic !== 'object' || typeof doc.signature !== 'string') {
        throw badField('file', 'a licence file needs "license" and "signature"');
      }
      const keys = trustedKeys(join(deps.dataDir, 'license-keys'));
      if (keys.length === 0) {
        throw conflict(
          `no trusted licence issuer keys: put the issuer's public key (PEM) in ${join(deps.dataDir, 'license-keys')}/`,
        );
      }
      const sig = Buffer.from(doc.signature, 'base64');
      if (!keys.some((k) => verify(null, Buffer.from(canonicalJson(lic)), k, sig))) {
        throw badField('file.signature', 'does not verify with any trusted licence issuer key');
      }
      if (typeof lic.machineId !== 'string' || lic.machineId === '')
        throw badField('file.license.machineId', 'is required');
      if (typeof lic.expiryDate !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(lic.expiryDate)) {
        throw badField('file.license.expiryDate', 'must be a date (YYYY-MM-DD)');
      }
      const row = await licensingRepo.applianceByMachineId(deps.tx.direct, lic.machineId);
      if (!row) throw badField('file.license.machineId', 'matches no appliance (generate machine ids first)');
      if (lic.product !== undefined && lic.product !== PRODUCTS[row.type]) {
        throw badField(
          'file.license.product',
          `is ${String(lic.product)}, but ${row.name} is ${PRODUCTS[row.type]}`,
        );
      }
      if (!row.authorized) throw conflict(`appliance ${row.name} is not authorized`);
      await call(row, 'agent/v1/license', { license: lic, signature: doc.signature });
      await deps.tx.transaction(async (trx) => {
        await licensingRepo.setLicence(trx, row.id, JSON.stringify(lic), clock.now());
        await fleet.event(trx, row, 'license.installed', `licence installed on ${row.name}`);
        await audit.record(trx, actor, {
          action: 'license.installed',
          targetType: 'appliance',
          targetId: row.id,
          summary: `installed licence ${String(lic.serialNumber ?? '')} on ${row.name}`,
          status: 200,
        });
      });
      return entry({ ...row, license: lic });
    },

    /** Has a hub or worker make a new key (kept on the appliance) and a certificate request for it. */
    async requestCertificate(actor: Actor, id: number, commonName: string, altNames: string[]) {
      const row = await fleet.mustGet(id);
      if (row.type === 'a1000') {
        throw new AppError({
          code: 'validation_failed',
          message: 'certificates can be requested for hubs and workers only',
          errors: [{ field: 'path.id', message: 'is a Spectra Analyze appliance' }],
        });
      }
      if (!row.authorized) throw conflict(`appliance ${row.name} is not authorized`);
      let res: Awaited<ReturnType<typeof fleet.agentCall>>;
      try {
        res = await fleet.agentCall(row, 'agent/v1/certificate/request', {
          method: 'POST',
          body: { common_name: commonName, alt_names: altNames },
          timeoutMs: 30_000,
        });
      } catch (err) {
        if (err instanceof AgentUnreachable) {
          throw new AppError({ code: 'unavailable', message: `cannot reach ${row.name}: ${err.message}` });
        }
        throw err;
      }
      const csr = (res.body as { csr?: unknown } | null)?.csr;
      if (
        res.status !== 200 ||
        typeof csr !== 'string' ||
        !csr.startsWith('-----BEGIN CERTIFICATE REQUEST-----')
      ) {
        throw new AppError({ code: 'conflict', message: `the appliance refused: ${agentErrorText(res)}` });
      }
      await deps.tx.transaction(async (trx) => {
        await fleet.event(
          trx,
          row,
          'certificate.requested',
          `certificate request for ${commonName} on ${row.name}`,
        );
        await audit.record(trx, actor, {
          action: 'appliance.certificate_requested',
          targetType: 'appliance',
          targetId: row.id,
          summary: `certificate request for ${commonName} made on ${row.name}`,
          status: 200,
        });
      });
      return { csr };
    },

    /**
     * A PEM file holding the certificate (chain first), with its private key in the same file,
     * in `keyData`, or held by the appliance already (then the agent checks the pair).
     */
    async uploadCertificate(actor: Actor, id: number, data: Buffer, keyData?: Buffer) {
      const row = await fleet.mustGet(id);
      if (row.type === 'a1000') {
        throw new AppError({
          code: 'validation_failed',
          message: 'certificates can be uploaded to hubs and workers only',
          errors: [{ field: 'path.id', message: 'is a Spectra Analyze appliance' }],
        });
      }
      if (!row.authorized) throw conflict(`appliance ${row.name} is not authorized`);
      const pem = data.toString('utf8');
      const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\s*/g) ?? [];
      if (certs.length === 0) throw badField('file', 'must be PEM holding the certificate (chain first)');
      const keyIn = (text: string) => PEM_KEY.exec(text)?.[0];
      const inFile = keyIn(pem);
      const key = keyData === undefined ? inFile : keyIn(keyData.toString('utf8'));
      if (keyData !== undefined && key === undefined) throw badField('key', 'must be a PEM private key');
      if (keyData !== undefined && inFile !== undefined) {
        throw badField('key', 'the file holds a private key already: send the key in one place');
      }
      const keyField = keyData === undefined ? 'file' : 'key';
      let fingerprint: string;
      try {
        const cert = new X509Certificate(certs[0] as string);
        if (Date.parse(cert.validTo) < clock.now().getTime()) throw new Error('the certificate has expired');
        fingerprint = cert.fingerprint256;
      } catch (err) {
        throw badField('file', (err as Error).message);
      }
      if (key !== undefined) {
        let matches = false;
        try {
          matches = new X509Certificate(certs[0] as string).checkPrivateKey(createPrivateKey(key));
        } catch (err) {
          throw badField(keyField, `the private key is not usable: ${(err as Error).message}`);
        }
        if (!matches) throw badField(keyField, 'the private key does not belong to the certificate');
      }
      const certPem = certs.join('');
      if (key !== undefined) await call(row, 'agent/v1/certificate', { cert: certPem, key });
      else await installWithHeldKey(row, certPem);
      await deps.tx.transaction(async (trx) => {
        // Pinning follows the certificate the admin installed.
        await licensingRepo.setPinnedCertificate(
          trx,
          row.id,
          row.url.startsWith('https:') ? certPem : row.tls_cert_pem,
          clock.now(),
        );
        await fleet.event(
          trx,
          row,
          'certificate.installed',
          `TLS certificate ${fingerprint} installed on ${row.name}`,
        );
        await audit.record(trx, actor, {
          action: 'appliance.certificate_installed',
          targetType: 'appliance',
          targetId: row.id,
          summary: `installed TLS certificate ${fingerprint} on ${row.name}`,
          status: 200,
        });
      });
      return { detail: `certificate installed on ${row.name}`, fingerprint };
    },
  };
}

export type LicensingService = ReturnType<typeof createLicensingService>;
