// The settings store's statements on a real database: PGlite here, PostgreSQL when the route-test
// tier runs again with STEWARD_TEST_DATABASE_URL (`npm run test:pg`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/database.js';
import type { ClusterBus } from '../../db/notify.js';
import { createTransactor } from '../../db/transactor.js';
import { createSettingsStore } from './settings.repo.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.close();
  await database?.dropDatabase();
});

const stored = (key: string) =>
  database.db.selectFrom('settings').selectAll().where('key', '=', key).executeTakeFirst();

describe('settings store', () => {
  it('answers the defaults for a key never set, and the stored fields over the defaults once set', async () => {
    const store = createSettingsStore(database.db);
    expect(await store.get('t.absent', { a: 1, b: 'x' })).toEqual({ a: 1, b: 'x' });
    await store.set(database.db, 't.merge', { a: 2 }, null);
    // A field added to the defaults after the value was stored still appears.
    expect(await store.get('t.merge', { a: 1, b: 'x' })).toEqual({ a: 2, b: 'x' });
  });

  it('inserts a key, then replaces its value with who changed it and when', async () => {
    const store = createSettingsStore(database.db);
    await store.set(database.db, 't.upsert', { v: 1 }, 7);
    const first = await stored('t.upsert');
    expect(first?.value).toEqual({ v: 1 });
    expect(first?.updated_by).toBe(7);
    await new Promise((r) => setTimeout(r, 5));
    await store.set(database.db, 't.upsert', { v: 2 }, null);
    const second = await stored('t.upsert');
    expect(second?.value).toEqual({ v: 2 });
    expect(second?.updated_by).toBeNull();
    expect(second?.updated_at.getTime()).toBeGreaterThan(first?.updated_at.getTime() ?? Infinity);
    const n = await database.db
      .selectFrom('settings')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('key', '=', 't.upsert')
      .executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(1);
  });

  it('writes in the caller transaction: read inside it, gone when it rolls back', async () => {
    const store = createSettingsStore(database.db);
    const tx = createTransactor(database.db);
    await expect(
      tx.transaction(async (trx) => {
        await store.set(trx, 't.rollback', { v: 'inside' }, null);
        expect(await store.get('t.rollback', { v: 'default' }, trx)).toEqual({ v: 'inside' });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await store.get('t.rollback', { v: 'default' })).toEqual({ v: 'default' });
    expect(await stored('t.rollback')).toBeUndefined();
    // A Kysely transaction (what modules pass today) is a handle too.
    await database.db.transaction().execute((trx) => store.set(trx, 't.kysely', { v: 'k' }, 3));
    expect((await stored('t.kysely'))?.value).toEqual({ v: 'k' });
  });

  it('tells local listeners at once, announces on the bus, and reads back a change another replica announces', async () => {
    const subscribers = new Map<string, (data: Record<string, unknown>) => void>();
    const published: { topic: string; data: Record<string, unknown> }[] = [];
    const bus: ClusterBus = {
      replicaId: 'test',
      publish: async (topic, data) => {
        published.push({ topic, data });
      },
      subscribe: (topic, fn) => {
        subscribers.set(topic, fn);
      },
      onResync: () => {},
      close: async () => {},
    };
    const store = createSettingsStore(database.db, bus);
    const heard: [string, object][] = [];
    const stop = store.onChange((key, value) => heard.push([key, value]));
    store.notifyChanged('t.local', { v: 1 });
    expect(heard).toEqual([['t.local', { v: 1 }]]);
    expect(published).toEqual([{ topic: 'settings.changed', data: { key: 't.local' } }]);

    // Another replica committed a value and announced its key: this one reads the stored value.
    await store.set(database.db, 't.remote', { v: 'from the database' }, null);
    subscribers.get('settings.changed')?.({ key: 't.remote' });
    await expect.poll(() => heard.length).toBe(2);
    expect(heard[1]).toEqual(['t.remote', { v: 'from the database' }]);
    // A key with no row tells nobody.
    subscribers.get('settings.changed')?.({ key: 't.never-set' });
    await new Promise((r) => setTimeout(r, 50));
    expect(heard).toHaveLength(2);

    stop();
    store.notifyChanged('t.after-stop', { v: 2 });
    expect(heard).toHaveLength(2);
  });
});
