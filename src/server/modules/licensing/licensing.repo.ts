// SQL of appliance licensing: machine ids, installed licences and the certificate the manager
// pins. Rows or undefined; never HTTP errors. Every method takes the handle it runs on: a
// service's transaction, or `Transactor.direct` outside one.

import { queryable } from '../../db/queryable.js';
import type { DbHandle } from '../../db/transactor.js';

export function createLicensingRepo() {
  return {
    /** Appliances without a machine id; every appliance with `all`. */
    async appliancesForMachineIds(h: DbHandle, all: boolean) {
      let q = queryable(h).selectFrom('appliances').select(['id', 'name']);
      if (!all) q = q.where('machine_id', 'is', null);
      return q.execute();
    },

    /** Gives an appliance a machine id; `voidLicence` drops the licence bound to its old one. */
    async setMachineId(h: DbHandle, id: number, machineId: string, voidLicence: boolean) {
      await queryable(h)
        .updateTable('appliances')
        .set({ machine_id: machineId, ...(voidLicence ? { license: null } : {}) })
        .where('id', '=', id)
        .execute();
    },

    async applianceByMachineId(h: DbHandle, machineId: string) {
      return queryable(h)
        .selectFrom('appliances')
        .selectAll()
        .where('machine_id', '=', machineId)
        .executeTakeFirst();
    },

    /** Records the licence installed on an appliance (`licence`: its JSON text). */
    async setLicence(h: DbHandle, id: number, licence: string, at: Date) {
      await queryable(h)
        .updateTable('appliances')
        .set({ license: licence, updated: at })
        .where('id', '=', id)
        .execute();
    },

    /** The certificate the manager pins for the appliance's https URL. */
    async setPinnedCertificate(h: DbHandle, id: number, pem: string | null, at: Date) {
      await queryable(h)
        .updateTable('appliances')
        .set({ tls_cert_pem: pem, updated: at })
        .where('id', '=', id)
        .execute();
    },
  };
}

export type LicensingRepo = ReturnType<typeof createLicensingRepo>;
