// The packages repository (the store and the downloads from the package repository) on a real
// database: PGlite here, PostgreSQL when the route-test tier runs again with
// STEWARD_TEST_DATABASE_URL (`npm run test:pg`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/database.js';
import { createTransactor } from '../../db/transactor.js';
import { createPackagesRepo } from './packages.repo.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.close();
  await database?.dropDatabase();
});

const repo = createPackagesRepo();

const pkg = (type: string, version: string, size = 100) => ({
  type,
  version,
  requires: '5.0.0',
  sha256: `${version.replace(/\D/g, '').padEnd(64, '0')}`,
  size,
  publisher_fingerprint: `sha256:${'cd'.repeat(32)}`,
  file_name: `${type}/${version}.stwpkg`,
  created: new Date('2026-01-05T08:00:00.000Z'),
});

const downloadRow = (id: number) =>
  database.db
    .selectFrom('fleet_package_downloads')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirstOrThrow();

describe('packages repository: the store', () => {
  it('stores a package once per type and version, and reads it back every way the services do', async () => {
    const tx = createTransactor(database.db);
    const row = await tx.transaction((trx) => repo.insertPackage(trx, pkg('tiscale-worker', '5.4.0', 2048)));
    expect(row).toMatchObject({
      type: 'tiscale-worker',
      version: '5.4.0',
      requires: '5.0.0',
      file_name: 'tiscale-worker/5.4.0.stwpkg',
    });
    expect(Number(row.size)).toBe(2048);
    expect(await repo.findPackageId(tx.direct, 'tiscale-worker', '5.4.0')).toEqual({ id: row.id });
    expect(await repo.findPackageId(tx.direct, 'tiscale-worker', '5.4.1')).toBeUndefined();
    expect(await repo.findPackageId(tx.direct, 'tiscale-hub', '5.4.0')).toBeUndefined();
    expect((await repo.getPackage(tx.direct, 'tiscale-worker', '5.4.0'))?.id).toBe(row.id);
    expect(await repo.packageFileName(tx.direct, 'tiscale-worker', '5.4.0')).toEqual({
      file_name: 'tiscale-worker/5.4.0.stwpkg',
    });
    expect(await repo.packageSha256(tx.direct, 'tiscale-worker', '5.4.0')).toEqual({ sha256: row.sha256 });
    const sized = await repo.packageSizeAndCreated(tx.direct, 'tiscale-worker', '5.4.0');
    expect(Number(sized?.size)).toBe(2048);
    expect(new Date(sized?.created as Date).toISOString()).toBe('2026-01-05T08:00:00.000Z');
    for (const missing of [
      repo.getPackage(tx.direct, 'tiscale-worker', '9.9.9'),
      repo.packageFileName(tx.direct, 'tiscale-worker', '9.9.9'),
      repo.packageSha256(tx.direct, 'tiscale-worker', '9.9.9'),
      repo.packageSizeAndCreated(tx.direct, 'tiscale-worker', '9.9.9'),
    ])
      expect(await missing).toBeUndefined();

    // The (type, version) unique constraint refuses a second copy, even past the service's check.
    await expect(repo.insertPackage(tx.direct, pkg('tiscale-worker', '5.4.0'))).rejects.toThrow();
    expect(await repo.packagesOfType(tx.direct, 'tiscale-worker')).toHaveLength(1);

    await repo.deletePackage(tx.direct, row.id);
    expect(await repo.getPackage(tx.direct, 'tiscale-worker', '5.4.0')).toBeUndefined();
  });

  it('lists by type, then in the order packages were added; filters by type', async () => {
    const tx = createTransactor(database.db);
    const w2 = await repo.insertPackage(tx.direct, pkg('tiscale-worker', '5.6.0'));
    const h1 = await repo.insertPackage(tx.direct, pkg('tiscale-hub', '5.5.0'));
    const w1 = await repo.insertPackage(tx.direct, pkg('tiscale-worker', '5.5.0'));
    const a1 = await repo.insertPackage(tx.direct, pkg('a1000', '9.0.0'));
    expect((await repo.listPackages(tx.direct)).map((r) => r.id)).toEqual([a1.id, h1.id, w2.id, w1.id]);
    expect((await repo.packagesOfType(tx.direct, 'tiscale-worker')).map((r) => r.version).sort()).toEqual([
      '5.5.0',
      '5.6.0',
    ]);
    expect(await repo.packagesOfType(tx.direct, 'manager')).toEqual([]);
  });

  it('writes nothing when the transaction rolls back (the audit record could not be written)', async () => {
    const tx = createTransactor(database.db);
    await expect(
      tx.transaction(async (trx) => {
        await repo.insertPackage(trx, pkg('tiscale-hub', '7.0.0'));
        throw new Error('audit failed');
      }),
    ).rejects.toThrow('audit failed');
    expect(await repo.findPackageId(tx.direct, 'tiscale-hub', '7.0.0')).toBeUndefined();
  });
});

describe('packages repository: downloads', () => {
  const t0 = new Date('2026-01-10T10:00:00.000Z');
  const at = (s: number) => new Date(t0.getTime() + s * 1000);
  const start = (type: string, version: string, when = t0) => ({
    type,
    version,
    status: 'downloading',
    total: 1000,
    started_by: 'admin',
    started: when,
    heartbeat: when,
  });

  it('lets one running download of a package in; progress moves only while it runs', async () => {
    const tx = createTransactor(database.db);
    const row = await tx.transaction((trx) => repo.insertDownload(trx, start('tiscale-hub', '6.0.0')));
    expect(row).toMatchObject({ status: 'downloading', error: null, finished: null, started_by: 'admin' });
    expect(Number(row.received)).toBe(0);
    expect(Number(row.total)).toBe(1000);
    expect((await repo.runningDownload(tx.direct, 'tiscale-hub', '6.0.0'))?.id).toBe(row.id);
    expect(await repo.runningDownload(tx.direct, 'tiscale-hub', '6.0.1')).toBeUndefined();
    // The partial unique index: a second running download of the same package fails.
    await expect(repo.insertDownload(tx.direct, start('tiscale-hub', '6.0.0'))).rejects.toThrow();
    // Another package may download at the same time.
    const other = await repo.insertDownload(tx.direct, start('tiscale-worker', '6.0.0'));

    await repo.downloadProgress(tx.direct, row.id, 400, at(5));
    let d = await downloadRow(row.id);
    expect(Number(d.received)).toBe(400);
    expect(new Date(d.heartbeat).toISOString()).toBe(at(5).toISOString());

    await repo.downloadVerifying(tx.direct, row.id, 1000, at(6));
    d = await downloadRow(row.id);
    expect(d.status).toBe('verifying');
    expect(Number(d.received)).toBe(1000);

    await repo.finishDownload(tx.direct, row.id, null, 1000, at(7));
    d = await downloadRow(row.id);
    expect(d).toMatchObject({ status: 'done', error: null });
    expect(Number(d.received)).toBe(1000);
    expect(new Date(d.finished as Date).toISOString()).toBe(at(7).toISOString());
    expect(new Date(d.heartbeat).toISOString()).toBe(at(7).toISOString());
    expect(await repo.runningDownload(tx.direct, 'tiscale-hub', '6.0.0')).toBeUndefined();

    // A late progress update leaves a finished download as it ended.
    await repo.downloadProgress(tx.direct, row.id, 10, at(8));
    expect(Number((await downloadRow(row.id)).received)).toBe(1000);

    // A failed one keeps what it had received and says why.
    await repo.downloadProgress(tx.direct, other.id, 300, at(5));
    await repo.finishDownload(tx.direct, other.id, 'the package does not match', 1000, at(9));
    d = await downloadRow(other.id);
    expect(d).toMatchObject({ status: 'error', error: 'the package does not match' });
    expect(Number(d.received)).toBe(300);

    // Once it finished, the package may be downloaded again.
    const again = await repo.insertDownload(tx.direct, start('tiscale-hub', '6.0.0', at(10)));
    expect((await repo.latestDownload(tx.direct, 'tiscale-hub', '6.0.0'))?.id).toBe(again.id);
    await repo.finishDownload(tx.direct, again.id, 'stopped', 1000, at(11));
  });

  it('closes only the running downloads of that package whose heartbeat is stale', async () => {
    const tx = createTransactor(database.db);
    const stale = await repo.insertDownload(tx.direct, start('a1000', '8.0.0', at(0)));
    const fresh = await repo.insertDownload(tx.direct, start('a1000', '8.0.1', at(0)));
    await repo.downloadProgress(tx.direct, fresh.id, 5, at(100));
    const now = at(150);
    const staleBefore = at(30);
    await repo.closeStaleDownloads(tx.direct, 'a1000', '8.0.0', now, staleBefore);
    // Another package with a stale heartbeat is not touched by a close for 8.0.0.
    await repo.closeStaleDownloads(tx.direct, 'a1000', '8.0.1', now, staleBefore);
    const s = await downloadRow(stale.id);
    expect(s).toMatchObject({
      status: 'error',
      error: 'interrupted (the manager stopped during the download)',
    });
    expect(new Date(s.finished as Date).toISOString()).toBe(now.toISOString());
    expect(await downloadRow(fresh.id)).toMatchObject({ status: 'downloading', finished: null });
    expect(await repo.runningDownload(tx.direct, 'a1000', '8.0.0')).toBeUndefined();
    await repo.finishDownload(tx.direct, fresh.id, null, 1000, at(160));
  });

  it('lists the newest downloads first, at most the limit', async () => {
    const tx = createTransactor(database.db);
    const ids: number[] = [];
    for (const v of ['9.0.1', '9.0.2', '9.0.3']) {
      const r = await repo.insertDownload(tx.direct, start('tiscale-worker', v));
      ids.push(r.id);
    }
    const recent = await repo.recentDownloads(tx.direct, 2);
    expect(recent.map((r) => r.id)).toEqual([ids[2], ids[1]]);
    const all = await repo.recentDownloads(tx.direct, 500);
    expect(all.map((r) => r.id)).toEqual([...all.map((r) => r.id)].sort((a, b) => b - a));
    expect(all.length).toBeGreaterThanOrEqual(3);
  });
});
