// The upgrades repository on a real database: PGlite here, PostgreSQL when the route-test tier
// runs again with STEWARD_TEST_DATABASE_URL (`npm run test:pg`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/database.js';
import { insertAppliance } from '../../../../test/helpers/rows.js';
import { createTransactor } from '../../db/transactor.js';
import { createPackagesRepo } from './packages.repo.js';
import { createUpgradesRepo } from './upgrades.repo.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.close();
  await database?.dropDatabase();
});

const repo = createUpgradesRepo();
const packages = createPackagesRepo();

const appliance = (name: string) =>
  insertAppliance(database.db, { name, type: 'tiscale-hub', release: '5.0.0' });

async function storedPackage(version: string) {
  const row = await packages.insertPackage(database.db, {
    type: 'tiscale-hub',
    version,
    requires: '5.0.0',
    sha256: 'ab'.repeat(32),
    size: 10,
    publisher_fingerprint: `sha256:${'cd'.repeat(32)}`,
    file_name: `tiscale-hub/${version}.stwpkg`,
  });
  return row.id;
}

const upgradeRow = (id: number) =>
  database.db.selectFrom('fleet_upgrades').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

describe('upgrades repository', () => {
  it('lets one unfinished upgrade in across the fleet, and names its appliance', async () => {
    const tx = createTransactor(database.db);
    const h1 = await appliance('up-h1');
    const h2 = await appliance('up-h2');
    const pkg = await storedPackage('5.1.0');
    expect(await repo.activeUpgrade(tx.direct)).toBeUndefined();
    expect(await repo.runningUpgradeTo(tx.direct, pkg)).toBeUndefined();

    const started = new Date('2026-02-01T10:00:00.000Z');
    const first = await tx.transaction((trx) =>
      repo.insertUpgrade(trx, {
        appliance_id: h1,
        package_id: pkg,
        version: '5.1.0',
        status: 'pending',
        started,
      }),
    );
    expect(first).toBeGreaterThan(0);
    expect(await repo.activeUpgrade(tx.direct)).toEqual({ name: 'up-h1' });
    expect(await repo.runningUpgradeTo(tx.direct, pkg)).toEqual({ id: first });

    // A second start anywhere in the fleet fails on the unique index, and leaves no row.
    await expect(
      tx.transaction((trx) =>
        repo.insertUpgrade(trx, { appliance_id: h2, package_id: pkg, version: '5.1.0', status: 'pending' }),
      ),
    ).rejects.toThrow();
    expect(await repo.latestUpgradeOf(tx.direct, h2)).toBeUndefined();

    // Once the first finished, the next may start.
    await repo.setUpgradeProgress(tx.direct, first, { status: 'idle', log: 'done\n', finished: new Date() });
    expect(await repo.activeUpgrade(tx.direct)).toBeUndefined();
    expect(await repo.runningUpgradeTo(tx.direct, pkg)).toBeUndefined();
    const second = await repo.insertUpgrade(tx.direct, {
      appliance_id: h2,
      package_id: pkg,
      version: '5.1.0',
      status: 'pending',
    });
    expect(await repo.activeUpgrade(tx.direct)).toEqual({ name: 'up-h2' });
    await repo.setUpgradeProgress(tx.direct, second, { status: 'error', log: 'x\n', finished: new Date() });
  });

  it('sets the status, the log only when given, and the end only when it ends', async () => {
    const tx = createTransactor(database.db);
    const h = await appliance('up-progress');
    const pkg = await storedPackage('5.2.0');
    const id = await repo.insertUpgrade(tx.direct, {
      appliance_id: h,
      package_id: pkg,
      version: '5.2.0',
      status: 'pending',
    });
    let row = await upgradeRow(id);
    expect(row).toMatchObject({ status: 'pending', log: '', finished: null });

    await repo.setUpgradeProgress(tx.direct, id, { status: 'downloading', log: 'sending\n' });
    row = await upgradeRow(id);
    expect(row).toMatchObject({ status: 'downloading', log: 'sending\n', finished: null });

    await repo.setUpgradeProgress(tx.direct, id, { status: 'installing' });
    row = await upgradeRow(id);
    expect(row).toMatchObject({ status: 'installing', log: 'sending\n', finished: null });

    const end = new Date('2026-02-02T10:00:00.000Z');
    await repo.setUpgradeProgress(tx.direct, id, { status: 'idle', log: 'installed\n', finished: end });
    row = await upgradeRow(id);
    expect(row.status).toBe('idle');
    expect(row.log).toBe('installed\n');
    expect(new Date(row.finished as Date).toISOString()).toBe(end.toISOString());
  });

  it("reads an appliance's latest upgrade, and sets the release an upgrade left", async () => {
    const tx = createTransactor(database.db);
    const h = await appliance('up-latest');
    const older = await storedPackage('5.3.0');
    const newer = await storedPackage('5.4.0');
    const a = await repo.insertUpgrade(tx.direct, {
      appliance_id: h,
      package_id: older,
      version: '5.3.0',
      status: 'pending',
    });
    await repo.setUpgradeProgress(tx.direct, a, { status: 'idle', finished: new Date() });
    const b = await repo.insertUpgrade(tx.direct, {
      appliance_id: h,
      package_id: newer,
      version: '5.4.0',
      status: 'pending',
    });
    expect((await repo.latestUpgradeOf(tx.direct, h))?.id).toBe(b);
    await repo.setUpgradeProgress(tx.direct, b, { status: 'idle', finished: new Date() });

    // Removing a package keeps the history of finished upgrades to it (package_id becomes null).
    await packages.deletePackage(tx.direct, newer);
    const kept = await repo.latestUpgradeOf(tx.direct, h);
    expect(kept).toMatchObject({ id: b, package_id: null, version: '5.4.0' });

    await tx.transaction((trx) => repo.setApplianceRelease(trx, h, '5.4.0'));
    const app = await database.db
      .selectFrom('appliances')
      .select(['release'])
      .where('id', '=', h)
      .executeTakeFirstOrThrow();
    expect(app.release).toBe('5.4.0');
  });
});
