// The licensing repository on a real database: PGlite here, PostgreSQL when the route-test tier
// runs again with STEWARD_TEST_DATABASE_URL (`npm run test:pg`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/database.js';
import { insertAppliance, readAppliance } from '../../../../test/helpers/rows.js';
import { createTransactor } from '../../db/transactor.js';
import { createLicensingRepo } from './licensing.repo.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.close();
  await database?.dropDatabase();
});

const repo = createLicensingRepo();

const appliance = (name: string, fields: { machine_id?: string; license?: string } = {}) =>
  insertAppliance(database.db, { name, ...fields });

const get = (id: number) => readAppliance(database.db, id);

describe('licensing repository', () => {
  it('lists the appliances without a machine id, or all of them; setting one can void the licence', async () => {
    const tx = createTransactor(database.db);
    const bare = await appliance('lic-bare');
    const held = await appliance('lic-held', {
      machine_id: 'AAAA',
      license: JSON.stringify({ serialNumber: 'S-1' }),
    });
    const without = await repo.appliancesForMachineIds(tx.direct, false);
    expect(without).toEqual([{ id: bare, name: 'lic-bare' }]);
    const all = await repo.appliancesForMachineIds(tx.direct, true);
    expect(all.map((r) => r.id).sort((a, b) => a - b)).toEqual([bare, held]);

    // Generating keeps a licence; regenerating voids it.
    await repo.setMachineId(tx.direct, bare, 'BBBB', false);
    await tx.transaction(async (trx) => repo.setMachineId(trx, held, 'CCCC', false));
    expect((await get(held)).license).toEqual({ serialNumber: 'S-1' });
    await repo.setMachineId(tx.direct, held, 'DDDD', true);
    const after = await get(held);
    expect(after.machine_id).toBe('DDDD');
    expect(after.license).toBeNull();
    expect((await get(bare)).machine_id).toBe('BBBB');
    expect(await repo.appliancesForMachineIds(tx.direct, false)).toEqual([]);
  });

  it('finds an appliance by machine id, records its licence and the certificate it pins', async () => {
    const tx = createTransactor(database.db);
    const id = await appliance('lic-find', { machine_id: 'EEEE' });
    expect((await repo.applianceByMachineId(tx.direct, 'EEEE'))?.id).toBe(id);
    expect(await repo.applianceByMachineId(tx.direct, 'NO-SUCH-ID')).toBeUndefined();

    const at = new Date('2026-03-01T10:00:00.000Z');
    await repo.setLicence(tx.direct, id, JSON.stringify({ serialNumber: 'S-2', version: 3 }), at);
    let row = await get(id);
    expect(row.license).toEqual({ serialNumber: 'S-2', version: 3 });
    expect(new Date(row.updated).toISOString()).toBe(at.toISOString());

    const later = new Date('2026-03-02T10:00:00.000Z');
    await repo.setPinnedCertificate(tx.direct, id, '-----BEGIN CERTIFICATE-----\nx\n', later);
    row = await get(id);
    expect(row.tls_cert_pem).toBe('-----BEGIN CERTIFICATE-----\nx\n');
    expect(new Date(row.updated).toISOString()).toBe(later.toISOString());
    await repo.setPinnedCertificate(tx.direct, id, null, later);
    expect((await get(id)).tls_cert_pem).toBeNull();
  });

  it('writes nothing when the transaction it ran in rolls back', async () => {
    const tx = createTransactor(database.db);
    const id = await appliance('lic-rollback', { machine_id: 'FFFF' });
    await expect(
      tx.transaction(async (trx) => {
        await repo.setLicence(trx, id, JSON.stringify({ serialNumber: 'S-3' }), new Date());
        throw new Error('the agent refused');
      }),
    ).rejects.toThrow('the agent refused');
    expect((await get(id)).license).toBeNull();
  });
});
