// The configuration repository on a real database: PGlite here, PostgreSQL when the route-test
// tier runs again with STEWARD_TEST_DATABASE_URL (where the lock test proves a second save waits
// for the first). Groups and revisions, membership, and the configuration status as saves and
// rollouts move it: an in-flight apply (`pending`) is not overwritten by a save, an outcome is
// recorded only for appliances still in the source's scope.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/database.js';
import { insertAppliance, readAppliance } from '../../../../test/helpers/rows.js';
import { createTransactor } from '../../db/transactor.js';
import { createConfigRepo } from './config.repo.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.close();
  await database?.dropDatabase();
});

const appliance = (values: { group_id?: number | null; configuration_status?: string } = {}) =>
  insertAppliance(database.db, {
    group_id: values.group_id ?? null,
    configuration_status: values.configuration_status ?? 'no_configuration_group',
  });

const read = (id: number) => readAppliance(database.db, id);

describe('configuration repository', () => {
  it('creates, finds, pages, counts and deletes groups', async () => {
    const repo = createConfigRepo(database.db);
    const before = await repo.countGroups();
    const b = await repo.insertGroup(database.db, {
      name: 'pg-b',
      kind: 'standard',
      content: '{}',
      hub_settings: null,
    });
    const a = await repo.insertGroup(database.db, {
      name: 'pg-a',
      kind: 'hub',
      content: '{}',
      hub_settings: JSON.stringify({ primary_host: 'hub-1' }),
    });
    expect(a).toMatchObject({
      name: 'pg-a',
      kind: 'hub',
      revision: 0,
      content: {},
      hub_settings: { primary_host: 'hub-1' },
    });
    expect(await repo.getGroup('pg-b')).toEqual(b);
    expect(await repo.getGroupById(a.id)).toEqual(a);
    expect(await repo.getGroup('pg-none')).toBeUndefined();
    expect(await repo.countGroups()).toBe(before + 2);
    const names = (await repo.pageGroups(100, 0)).map((g) => g.name);
    expect(names.indexOf('pg-a')).toBeLessThan(names.indexOf('pg-b'));
    expect((await repo.pageGroups(1, names.indexOf('pg-b'))).map((g) => g.name)).toEqual(['pg-b']);
    // A duplicate name is refused by the database, not silently added.
    await expect(
      repo.insertGroup(database.db, { name: 'pg-a', kind: 'standard', content: '{}', hub_settings: null }),
    ).rejects.toThrow();
    const member = await appliance({ group_id: b.id });
    await repo.insertRevision(database.db, {
      group_id: b.id,
      appliance_id: null,
      revision: 1,
      content: '{}',
      created_by: 'alice',
    });
    await repo.deleteGroup(database.db, b.id);
    expect(await repo.getGroupById(b.id)).toBeUndefined();
    expect(await repo.revision({ groupId: b.id }, 1)).toBeUndefined();
    expect((await read(member)).group_id).toBeNull();
  });

  it('saves content and revisions, and reads a revision with the list entries saved with it', async () => {
    const repo = createConfigRepo(database.db);
    const g = await repo.insertGroup(database.db, {
      name: 'rev-g',
      kind: 'standard',
      content: '{}',
      hub_settings: null,
    });
    const now = new Date('2026-04-01T00:00:00Z');
    await repo.setGroupContent(database.db, g.id, { ntp_server: 'a' }, 1, now);
    expect(await repo.getGroupById(g.id)).toMatchObject({
      content: { ntp_server: 'a' },
      revision: 1,
      updated: now,
    });
    const later = new Date('2026-04-02T00:00:00Z');
    await repo.setGroupRevision(database.db, g.id, 2, later);
    expect(await repo.getGroupById(g.id)).toMatchObject({
      content: { ntp_server: 'a' },
      revision: 2,
      updated: later,
    });
    await repo.insertRevision(database.db, {
      group_id: g.id,
      appliance_id: null,
      revision: 2,
      content: JSON.stringify({ destinations__lists: ['blocked'] }),
      destination_lists: JSON.stringify({ blocked: ['10.0.0.1'] }),
      created: later,
      created_by: null,
    });
    const a = await appliance();
    await repo.insertRevision(database.db, {
      group_id: null,
      appliance_id: a,
      revision: 2,
      content: JSON.stringify({ ntp_server: 'own' }),
      destination_lists: null,
      created: later,
      created_by: 'bob',
    });
    expect(await repo.revision({ groupId: g.id }, 2)).toEqual({
      content: { destinations__lists: ['blocked'] },
      destination_lists: { blocked: ['10.0.0.1'] },
    });
    expect(await repo.revision({ applianceId: a }, 2)).toEqual({
      content: { ntp_server: 'own' },
      destination_lists: null,
    });
    expect(await repo.revision({ groupId: g.id }, 1)).toBeUndefined();
  });

  it('finds the groups whose content references a list, by name, and locks them', async () => {
    const repo = createConfigRepo(database.db);
    const tx = createTransactor(database.db);
    const refs = (lists: string[]) => JSON.stringify({ destinations__lists: lists });
    await repo.insertGroup(database.db, {
      name: 'lists-z',
      kind: 'standard',
      content: refs(['dns', 'mail']),
      hub_settings: null,
    });
    await repo.insertGroup(database.db, {
      name: 'lists-y',
      kind: 'hub',
      content: refs(['mail']),
      hub_settings: '{}',
    });
    await repo.insertGroup(database.db, {
      name: 'lists-x',
      kind: 'standard',
      content: refs(['mailbox']),
      hub_settings: null,
    });
    expect((await repo.groupsUsingList('mail')).map((g) => g.name)).toEqual(['lists-y', 'lists-z']);
    expect((await repo.groupsUsingList('dns')).map((g) => g.name)).toEqual(['lists-z']);
    expect(await repo.groupsUsingList('none')).toEqual([]);
    const locked = await tx.transaction((trx) => repo.groupsUsingList('mail', trx, true));
    expect(locked.map((g) => g.name)).toEqual(['lists-y', 'lists-z']);
  });

  it('a locked group: a second save reads it only after the first committed', async () => {
    const repo = createConfigRepo(database.db);
    const tx = createTransactor(database.db);
    const g = await repo.insertGroup(database.db, {
      name: 'lock-g',
      kind: 'standard',
      content: '{}',
      hub_settings: null,
    });
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let firstLocked!: () => void;
    const locked = new Promise<void>((r) => {
      firstLocked = r;
    });
    const first = tx.transaction(async (trx) => {
      const row = await repo.getGroup('lock-g', trx, true);
      firstLocked();
      await held;
      await repo.setGroupContent(trx, g.id, { n: 1 }, (row?.revision ?? 0) + 1, new Date());
    });
    await locked;
    const second = tx.transaction(async (trx) => (await repo.getGroup('lock-g', trx, true))?.revision);
    setTimeout(release, 200);
    await first;
    expect(await second).toBe(1);
  });

  it('moves members in and out of a group', async () => {
    const repo = createConfigRepo(database.db);
    const g = await repo.insertGroup(database.db, {
      name: 'mem-g',
      kind: 'standard',
      content: '{}',
      hub_settings: null,
    });
    const [a, b, c] = [await appliance(), await appliance(), await appliance()];
    const now = new Date('2026-04-03T00:00:00Z');
    await repo.addMembers(database.db, [a, b, c], g.id, 4, now);
    expect(await read(a)).toMatchObject({
      group_id: g.id,
      configuration_status: 'changes_awaiting_apply',
      configuration_status_details: { revision: 4 },
      applied_revision: null,
      updated: now,
    });
    // A PUT keeping a only: b and c leave.
    await repo.releaseMembers(database.db, g.id, [a], now);
    expect((await read(a)).group_id).toBe(g.id);
    expect(await read(b)).toMatchObject({
      group_id: null,
      configuration_status: 'no_configuration_group',
      configuration_status_details: {},
    });
    // Keeping none: everyone leaves (an empty `not in` list would be invalid SQL).
    await repo.releaseMembers(database.db, g.id, [], now);
    expect((await read(a)).group_id).toBeNull();
    await repo.addMembers(database.db, [b], g.id, 4, now);
    await database.db.updateTable('appliances').set({ applied_revision: 4 }).where('id', '=', b).execute();
    await repo.detachMembers(database.db, g.id);
    // Deleting the group leaves `updated` as it was.
    expect(await read(b)).toMatchObject({
      group_id: null,
      applied_revision: null,
      configuration_status: 'no_configuration_group',
      updated: now,
    });
  });

  it('marks members awaiting a save, except those whose apply is in flight', async () => {
    const repo = createConfigRepo(database.db);
    const g = await repo.insertGroup(database.db, {
      name: 'await-g',
      kind: 'standard',
      content: '{}',
      hub_settings: null,
    });
    const done = await appliance({ group_id: g.id, configuration_status: 'done' });
    const pending = await appliance({ group_id: g.id, configuration_status: 'pending' });
    const stranger = await appliance({ configuration_status: 'done' });
    await repo.markGroupAwaitingApply(database.db, g.id, { revision: 3, destination_list: 'dns' });
    expect(await read(done)).toMatchObject({
      configuration_status: 'changes_awaiting_apply',
      configuration_status_details: { revision: 3, destination_list: 'dns' },
    });
    expect((await read(pending)).configuration_status).toBe('pending');
    expect((await read(stranger)).configuration_status).toBe('done');
  });

  it('saves individual content and sets the status of the targets of an apply', async () => {
    const repo = createConfigRepo(database.db);
    const a = await appliance();
    const b = await appliance();
    const now = new Date('2026-04-05T00:00:00Z');
    await repo.setIndividualContent(database.db, a, { ntp_server: 'x' }, 2, now);
    expect(await read(a)).toMatchObject({
      individual_content: { ntp_server: 'x' },
      individual_revision: 2,
      configuration_status: 'changes_awaiting_apply',
      configuration_status_details: { revision: 2 },
      updated: now,
    });
    await repo.setConfigurationStatus(database.db, [a, b], 'pending', { revision: 2 }, now);
    expect(await read(b)).toMatchObject({
      configuration_status: 'pending',
      configuration_status_details: { revision: 2 },
    });
  });

  it('records rollout outcomes only for appliances still in scope, with what they now run', async () => {
    const repo = createConfigRepo(database.db);
    const tx = createTransactor(database.db);
    const g = await repo.insertGroup(database.db, {
      name: 'out-g',
      kind: 'standard',
      content: '{}',
      hub_settings: null,
    });
    const applied = await appliance({ group_id: g.id, configuration_status: 'pending' });
    const failed = await appliance({ group_id: g.id, configuration_status: 'pending' });
    const left = await appliance({ configuration_status: 'pending' }); // left the group meanwhile
    await database.db
      .updateTable('appliances')
      .set({ applied_revision: 1, applied_hash: 'old', running_hash: 'old' })
      .where('id', '=', failed)
      .execute();
    const now = new Date('2026-04-06T00:00:00Z');
    const written = await tx.transaction((trx) =>
      repo.recordOutcomes(
        trx,
        [
          { id: applied, status: 'done', details: { revision: 2 }, hash: 'new' },
          { id: failed, status: 'error', details: { reason: 'refused', revision: 2 }, hash: null },
          { id: left, status: 'done', details: { revision: 2 }, hash: 'new' },
        ],
        { groupId: g.id, revision: 2 },
        now,
      ),
    );
    expect(written.sort((x, y) => x - y)).toEqual([applied, failed].sort((x, y) => x - y));
    expect(await read(applied)).toMatchObject({
      configuration_status: 'done',
      configuration_status_details: { revision: 2 },
      applied_revision: 2,
      applied_hash: 'new',
      running_hash: 'new',
      last_applied_config_timestamp: now,
      updated: now,
    });
    // No hash: the agent did not take the revision; what it ran before stays recorded.
    expect(await read(failed)).toMatchObject({
      configuration_status: 'error',
      configuration_status_details: { reason: 'refused', revision: 2 },
      applied_revision: 1,
      applied_hash: 'old',
      running_hash: 'old',
      last_applied_config_timestamp: null,
    });
    expect((await read(left)).configuration_status).toBe('pending');

    // Individual configuration: only an appliance in no group.
    const single = await appliance({ configuration_status: 'pending' });
    const grouped = await appliance({ group_id: g.id, configuration_status: 'pending' });
    const one = (id: number) =>
      repo.recordOutcomes(
        database.db,
        [{ id, status: 'unsupported', details: {}, hash: 'h' }],
        { applianceId: id, revision: 5 },
        now,
      );
    expect(await one(single)).toEqual([single]);
    expect(await read(single)).toMatchObject({ configuration_status: 'unsupported', applied_revision: 5 });
    expect(await one(grouped)).toEqual([]);
    expect((await read(grouped)).configuration_status).toBe('pending');
  });
});
