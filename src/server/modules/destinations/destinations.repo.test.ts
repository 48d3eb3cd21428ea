// The destination lists repository on a real database: PGlite here, PostgreSQL when the route-test
// tier runs again with STEWARD_TEST_DATABASE_URL (`npm run test:pg`). One database for the file;
// each test names its own lists.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/database.js';
import { createTransactor, type Tx } from '../../db/transactor.js';
import { createDestinationsRepo, type DestinationsRepo } from './destinations.repo.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let repo: DestinationsRepo;
beforeAll(async () => {
  database = await createTestDatabase();
  repo = createDestinationsRepo(database.db);
});
afterAll(async () => {
  await database?.close();
  await database?.dropDatabase();
});

const tag = () => randomBytes(3).toString('hex');

/** The row locks (FOR UPDATE / FOR SHARE) this transaction holds on destination_lists. */
async function rowLocksHeld(trx: Tx): Promise<number> {
  const r = await sql<{ n: number }>`
    select count(*)::int as n from pg_locks
    where pid = pg_backend_pid() and relation = 'destination_lists'::regclass and mode = 'RowShareLock'`.execute(
    trx as unknown as typeof database.db,
  );
  return Number(r.rows[0]?.n);
}

describe('destination lists repository', () => {
  it('creates, finds by id and by name whatever the case, updates and deletes a list with its entries', async () => {
    const name = `Office-${tag()}`;
    const l = await repo.insert(name, 'egress', database.db);
    expect(l).toMatchObject({ name, description: 'egress' });
    expect((await repo.get(l.id))?.name).toBe(name);
    expect((await repo.byName(name.toUpperCase()))?.id).toBe(l.id);
    expect(await repo.byName(`${name}-other`)).toBeUndefined();
    const later = new Date('2026-04-01T00:00:00Z');
    const row = await repo.update(l.id, { description: 'changed', updated: later });
    expect(row).toMatchObject({ id: l.id, name, description: 'changed', updated: later });
    await repo.insertEntries(l.id, ['192.0.2.1'], '');
    await repo.remove(l.id);
    expect(await repo.get(l.id)).toBeUndefined();
    expect(await repo.entryCount(l.id)).toBe(0);
  });

  it('refuses a second list of the same name in another case (unique index)', async () => {
    const name = `dup-${tag()}`;
    await repo.insert(name, '', database.db);
    await expect(repo.insert(name.toUpperCase(), '', database.db)).rejects.toThrow();
  });

  it('pages by name then id with entry counts, and searches names case-insensitively with literal wildcards', async () => {
    const t = tag();
    const b = await repo.insert(`pg-${t}-b`, '', database.db);
    const a = await repo.insert(`pg-${t}-a`, '', database.db);
    const pct = await repo.insert(`pg-${t}-100%`, '', database.db);
    await repo.insertEntries(a.id, ['192.0.2.1', '192.0.2.0/24'], 'office');
    const page = await repo.page(10, 0, `pg-${t}`);
    expect(page.map((r) => r.name)).toEqual([`pg-${t}-100%`, `pg-${t}-a`, `pg-${t}-b`]);
    expect(Object.fromEntries(page.map((r) => [r.id, Number(r.entry_count)]))).toEqual({
      [a.id]: 2,
      [b.id]: 0,
      [pct.id]: 0,
    });
    expect(await repo.count(`pg-${t}`)).toBe(3);
    expect(await repo.count(`PG-${t.toUpperCase()}-A`)).toBe(1);
    expect((await repo.page(10, 0, `${t}-100%`)).map((r) => r.id)).toEqual([pct.id]);
    expect(await repo.count(`${t}-1%0`)).toBe(0);
    expect((await repo.page(1, 1, `pg-${t}`)).map((r) => r.id)).toEqual([a.id]);
  });

  it('adds entries, reads them in order, by id within their list and by value, and removes them', async () => {
    const l = await repo.insert(`entries-${tag()}`, '', database.db);
    const other = await repo.insert(`entries-${tag()}`, '', database.db);
    expect(await repo.insertEntries(l.id, [], 'none')).toEqual([]);
    const rows = await repo.insertEntries(l.id, ['192.0.2.1', '198.51.100.0/24', '2001:db8::1'], 'lab');
    expect(rows.map((r) => [r.value, r.comment])).toEqual([
      ['192.0.2.1', 'lab'],
      ['198.51.100.0/24', 'lab'],
      ['2001:db8::1', 'lab'],
    ]);
    await expect(repo.insertEntries(l.id, ['192.0.2.1'], '')).rejects.toThrow();
    expect(await repo.entryCount(l.id)).toBe(3);
    expect((await repo.entries(l.id, 2, 1)).map((e) => e.value)).toEqual(['198.51.100.0/24', '2001:db8::1']);
    expect((await repo.entry(l.id, rows[0]?.id as number))?.value).toBe('192.0.2.1');
    expect(await repo.entry(other.id, rows[0]?.id as number)).toBeUndefined();
    expect(await repo.entriesByValue(l.id, [])).toEqual([]);
    expect((await repo.entriesByValue(l.id, ['2001:db8::1', '203.0.113.9'])).map((e) => e.value)).toEqual([
      '2001:db8::1',
    ]);
    expect(await repo.entriesByValue(other.id, ['192.0.2.1'])).toEqual([]);
    await repo.removeEntries([]);
    await repo.removeEntries([rows[0]?.id as number, rows[2]?.id as number]);
    expect((await repo.entries(l.id, 10, 0)).map((e) => e.value)).toEqual(['198.51.100.0/24']);
  });

  it('snapshots the entries of the named lists (exact names), leaving out names with no list', async () => {
    const t = tag();
    const a = await repo.insert(`snap-${t}-a`, '', database.db);
    await repo.insert(`snap-${t}-b`, '', database.db);
    await repo.insertEntries(a.id, ['192.0.2.2', '192.0.2.1'], '');
    expect(await repo.snapshot([])).toEqual({});
    expect(await repo.snapshot([`snap-${t}-a`, `snap-${t}-b`, `snap-${t}-missing`, `SNAP-${t}-A`])).toEqual({
      [`snap-${t}-a`]: ['192.0.2.2', '192.0.2.1'],
      [`snap-${t}-b`]: [],
    });
  });

  it('locks a list for the transaction only when asked (get with lock: FOR UPDATE; snapshot: FOR SHARE)', async () => {
    const name = `lock-${tag()}`;
    const l = await repo.insert(name, '', database.db);
    const tx = createTransactor(database.db);
    expect(
      await tx.transaction(async (trx) => {
        await repo.get(l.id, trx);
        return rowLocksHeld(trx);
      }),
    ).toBe(0);
    expect(
      await tx.transaction(async (trx) => {
        expect((await repo.get(l.id, trx, true))?.id).toBe(l.id);
        return rowLocksHeld(trx);
      }),
    ).toBe(1);
    expect(
      await tx.transaction(async (trx) => {
        await repo.snapshot([name], trx);
        return rowLocksHeld(trx);
      }),
    ).toBe(1);
    // Writes in a transaction that rolls back leave nothing behind.
    await expect(
      tx.transaction(async (trx) => {
        await repo.insertEntries(l.id, ['203.0.113.1'], '', trx);
        expect(await repo.entryCount(l.id, trx)).toBe(1);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await repo.entryCount(l.id)).toBe(0);
  });
});
