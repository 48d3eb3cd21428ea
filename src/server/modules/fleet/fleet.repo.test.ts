// The fleet repository on a real database: PGlite here, PostgreSQL when the route-test tier runs
// again with STEWARD_TEST_DATABASE_URL. The registry's writes, the group join of its reads, the
// activities' filters and order, and the manager key's first-insert-wins.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/database.js';
import { createTransactor } from '../../db/transactor.js';
import { createFleetRepo } from './fleet.repo.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.close();
  await database?.dropDatabase();
});

const created = new Date('2026-02-01T00:00:00Z');
let seq = 0;
function applianceValues(name: string, type = 'tiscale-worker') {
  seq += 1;
  return {
    name,
    type,
    url: `http://10.0.0.${seq}:8443`,
    snmp_community: '',
    haproxy_password_sealed: null,
    system_data: JSON.stringify({}),
    configuration_status_details: JSON.stringify({}),
    created,
    updated: created,
  };
}

describe('fleet repository', () => {
  it('adds an appliance, finds it by id, name and URL, with its group', async () => {
    const repo = createFleetRepo(database.db);
    const tx = createTransactor(database.db);
    const { id } = await tx.transaction((trx) => repo.insertAppliance(trx, applianceValues('reg-1')));
    const url = `http://10.0.0.${seq}:8443`;
    expect(await repo.applianceWithUrl(url)).toEqual({ name: 'reg-1' });
    expect(await repo.applianceWithUrl('http://10.9.9.9:1')).toBeUndefined();
    expect(await repo.getAppliance(id)).toMatchObject({
      id,
      name: 'reg-1',
      type: 'tiscale-worker',
      url,
      authorized: false,
      status: 'unauthorized',
      group_id: null,
      group_name: null,
      group_kind: null,
      created,
    });
    const g = await database.db
      .insertInto('config_groups')
      .values({ name: 'reg-hubs', kind: 'hub', content: '{}', hub_settings: '{}' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await database.db.updateTable('appliances').set({ group_id: g.id }).where('id', '=', id).execute();
    expect(await repo.getApplianceByName('reg-1')).toMatchObject({
      id,
      group_name: 'reg-hubs',
      group_kind: 'hub',
    });
    // Names are unique: a second insert fails rather than shadowing the first.
    await expect(repo.insertAppliance(database.db, applianceValues('reg-1'))).rejects.toThrow();
  });

  it('marks an appliance authorized with its identity, credential and certificate', async () => {
    const repo = createFleetRepo(database.db);
    const { id } = await repo.insertAppliance(database.db, applianceValues('auth-1', 'tiscale-hub'));
    const now = new Date('2026-02-02T12:00:00Z');
    await repo.markAuthorized(database.db, id, {
      uuid: '7f1c0a52-0000-4000-8000-000000000001',
      hostname: 'hub-a',
      release: '5.2.0',
      agentTokenSealed: 'sealed',
      tlsCertPem: null,
      configurationStatus: 'no_configuration_group',
      now,
    });
    expect(await repo.getAppliance(id)).toMatchObject({
      authorized: true,
      uuid: '7f1c0a52-0000-4000-8000-000000000001',
      hostname: 'hub-a',
      release: '5.2.0',
      agent_token_sealed: 'sealed',
      tls_cert_pem: null,
      online: true,
      status: 'online',
      last_seen_online: now,
      configuration_status: 'no_configuration_group',
      configuration_status_details: {},
      updated: now,
    });
  });

  it('sets maintenance and deletes, leaving the activities with the name and no id', async () => {
    const repo = createFleetRepo(database.db);
    const { id } = await repo.insertAppliance(database.db, applianceValues('maint-1'));
    const now = new Date('2026-02-03T00:00:00Z');
    await repo.setMaintenance(database.db, id, true, now);
    expect(await repo.getAppliance(id)).toMatchObject({ maintenance: true, updated: now });
    await repo.insertEvent(database.db, {
      at: now,
      applianceId: id,
      applianceName: 'maint-1',
      kind: 'appliance.maintenance_started',
      message: 'x'.repeat(2500),
    });
    await repo.deleteAppliance(database.db, id);
    expect(await repo.getAppliance(id)).toBeUndefined();
    const { rows } = await repo.listEvents({ applianceName: 'maint-1' }, 10, 0);
    expect(rows).toHaveLength(1);
    // The activity outlives the appliance (ON DELETE SET NULL); messages are bounded.
    expect(rows[0]).toMatchObject({ appliance_id: null, severity: 'info', source: 'manager', details: {} });
    expect(rows[0]?.message).toHaveLength(2000);
  });

  it('lists activities newest first with filters; many are inserted in one statement', async () => {
    const repo = createFleetRepo(database.db);
    const t0 = new Date('2026-02-10T00:00:00Z');
    const at = (s: number) => new Date(t0.getTime() + s * 1000);
    await repo.insertEvents(database.db, [
      {
        at: at(1),
        appliance_id: null,
        appliance_name: 'ev-a',
        kind: 'config.applied',
        severity: 'info',
        source: 'manager',
        message: 'one',
        details: '{"revision":1}',
      },
      {
        at: at(2),
        appliance_id: null,
        appliance_name: 'ev-a',
        kind: 'config.failed',
        severity: 'error',
        source: 'manager',
        message: 'two',
        details: '{}',
      },
      {
        at: at(2),
        appliance_id: null,
        appliance_name: 'ev-b',
        kind: 'config.applied',
        severity: 'info',
        source: 'appliance',
        message: 'three',
        details: '{}',
      },
    ]);
    const all = await repo.listEvents({ since: t0.toISOString() }, 10, 0);
    expect(all.count).toBe(3);
    // Same instant: the later insert first.
    expect(all.rows.map((e) => e.message)).toEqual(['three', 'two', 'one']);
    expect(all.rows[2]?.details).toEqual({ revision: 1 });
    expect(
      (await repo.listEvents({ applianceName: 'ev-a', severity: 'error' }, 10, 0)).rows.map((e) => e.message),
    ).toEqual(['two']);
    expect((await repo.listEvents({ kind: 'config.applied', since: t0.toISOString() }, 10, 0)).count).toBe(2);
    const page = await repo.listEvents({ since: at(2).toISOString(), until: at(3).toISOString() }, 1, 1);
    expect(page).toMatchObject({ count: 2 });
    expect(page.rows.map((e) => e.message)).toEqual(['two']);
  });

  it('lists appliances by state and search pattern, ordered with nulls last and ties by id', async () => {
    const repo = createFleetRepo(database.db);
    const tx = createTransactor(database.db);
    const add = (name: string, extra: Record<string, unknown>) =>
      tx.transaction((trx) => repo.insertAppliance(trx, { ...applianceValues(name), ...extra }));
    await add('ls-up', {
      authorized: true,
      online: true,
      status: 'online',
      release: '5.10.0',
      hostname: 'Edge-7',
    });
    await add('ls-down', { authorized: true, online: false, status: 'offline', release: '5.9.2' });
    await add('ls-maint', { authorized: true, online: true, maintenance: true, release: null });
    await add('ls-new', {});
    const names = async (filter: Parameters<typeof repo.listAppliances>[0]) =>
      (await repo.listAppliances(filter, 100, 0)).rows.map((r) => r.name).filter((n) => n.startsWith('ls-'));

    expect(await names({ states: ['offline', 'maintenance'] })).toEqual(['ls-down', 'ls-maint']);
    expect(await names({ states: ['unauthorized'] })).toEqual(['ls-new']);
    expect(await names({ search: '%edge%' })).toEqual(['ls-up']);
    expect(await names({ order: [{ field: 'release', direction: 'desc' }] })).toEqual([
      'ls-up',
      'ls-down',
      'ls-maint',
      'ls-new',
    ]);
    expect(await names({ order: [{ field: 'state', direction: 'asc' }] })).toEqual([
      'ls-up',
      'ls-down',
      'ls-maint',
      'ls-new',
    ]);
    const page = await repo.listAppliances(
      { states: ['online', 'offline'], order: [{ field: 'name', direction: 'asc' }] },
      1,
      1,
    );
    expect(page.rows).toHaveLength(1);
    expect(page.count).toBeGreaterThanOrEqual(2);
  });

  it('stores the manager key once: a second insert (another replica) leaves the first', async () => {
    const repo = createFleetRepo(database.db);
    expect(await repo.managerIdentity()).toBeUndefined();
    await repo.insertManagerIdentityIfAbsent({
      public_key: 'pub-1',
      private_key_sealed: 'sealed-1',
      fingerprint: 'sha256:1',
    });
    await repo.insertManagerIdentityIfAbsent({
      public_key: 'pub-2',
      private_key_sealed: 'sealed-2',
      fingerprint: 'sha256:2',
    });
    expect(await repo.managerIdentity()).toMatchObject({
      id: 1,
      public_key: 'pub-1',
      private_key_sealed: 'sealed-1',
      fingerprint: 'sha256:1',
    });
  });
});
