// The files repository on a real database: PGlite here, PostgreSQL when the route-test tier runs
// again with STEWARD_TEST_DATABASE_URL (`npm run test:pg`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/database.js';
import { createTransactor } from '../../db/transactor.js';
import type { Principal } from '../../shared/principal.js';
import { createFilesRepo } from './files.repo.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.close();
  await database?.dropDatabase();
});

const who = (userId: number, role: Principal['role'], groupId: number | null = null): Principal => ({
  userId,
  username: `u${userId}`,
  role,
  permissions: new Set(),
  method: 'session',
  credentialSource: 'cookie',
  groupId,
});

let n = 0;
const file = (
  name: string,
  owner: number | null,
  extra: { visibility?: string; group_id?: number | null; tags?: string[]; size?: number; at?: Date } = {},
) => ({
  name,
  stored_name: `stored-${++n}`,
  size: extra.size ?? 10,
  sha256: 'a'.repeat(64),
  file_type: name.endsWith('.pcap') ? 'pcap' : 'text',
  mime_type: 'text/plain',
  tags: JSON.stringify(extra.tags ?? []),
  profile: null,
  owner_id: owner,
  group_id: extra.group_id ?? null,
  visibility: extra.visibility ?? 'private',
  ...(extra.at ? { created_at: extra.at } : {}),
});

describe('files repository', () => {
  it('shows admins every file and others their own, public ones and their group’s', async () => {
    const repo = createFilesRepo(database.db);
    const tx = createTransactor(database.db);
    const mine = await repo.insert(tx.direct, file('mine.txt', 1));
    const other = await repo.insert(tx.direct, file('other.txt', 2));
    const pub = await repo.insert(tx.direct, file('public.txt', 2, { visibility: 'public' }));
    const group = await repo.insert(tx.direct, file('group.txt', 2, { visibility: 'group', group_id: 5 }));
    const elsewhere = await repo.insert(tx.direct, file('g6.txt', 2, { visibility: 'group', group_id: 6 }));
    const ids = async (p: Principal) => (await repo.list(p, {}, 100, 0)).map((r) => r.id);
    expect(await ids(who(9, 'admin'))).toEqual([elsewhere.id, group.id, pub.id, other.id, mine.id]);
    expect(await ids(who(1, 'viewer', 5))).toEqual([group.id, pub.id, mine.id]);
    // Without a group, "group" files are nobody's but their owner's.
    expect(await ids(who(1, 'viewer'))).toEqual([pub.id, mine.id]);
    expect(await repo.count(who(1, 'viewer', 5), {})).toBe(3);
    expect((await repo.findVisible(who(1, 'viewer'), other.id))?.name).toBeUndefined();
    expect((await repo.findVisible(who(2, 'operator'), other.id))?.name).toBe('other.txt');
    // Pages: newest first, limit and offset.
    expect((await repo.list(who(9, 'admin'), {}, 2, 1)).map((r) => r.id)).toEqual([group.id, pub.id]);
    await database.db.deleteFrom('files').execute();
  });

  it('filters by tag, owner, type and a literal name search', async () => {
    const repo = createFilesRepo(database.db);
    const admin = who(9, 'admin');
    const a = await repo.insert(database.db, file('capture_1.pcap', 1, { tags: ['lab', 'x'] }));
    const b = await repo.insert(database.db, file('capture%2.txt', 2, { tags: ['lab'] }));
    const c = await repo.insert(database.db, file('notes.txt', 2, { tags: ['x'] }));
    const ids = async (f: Parameters<typeof repo.list>[1]) =>
      (await repo.list(admin, f, 100, 0)).map((r) => r.id);
    expect(await ids({ tag: 'lab' })).toEqual([b.id, a.id]);
    expect(await ids({ tag: 'x', ownerId: 2 })).toEqual([c.id]);
    expect(await ids({ type: 'pcap' })).toEqual([a.id]);
    expect(await ids({ search: 'CAPTURE' })).toEqual([b.id, a.id]);
    // `%` and `_` are literal characters of the name, not patterns.
    expect(await ids({ search: '%' })).toEqual([b.id]);
    expect(await ids({ search: 'e_1' })).toEqual([a.id]);
    expect(await ids({ search: 'e_2' })).toEqual([]);
    expect(await repo.count(admin, { tag: 'lab' })).toBe(2);
    // The row comes back whole, tags parsed.
    expect(a).toMatchObject({
      name: 'capture_1.pcap',
      owner_id: 1,
      tags: ['lab', 'x'],
      visibility: 'private',
    });
    await database.db.deleteFrom('files').execute();
  });

  it('sums an owner’s bytes (0 for none), deletes in a transaction and by age', async () => {
    const repo = createFilesRepo(database.db);
    const tx = createTransactor(database.db);
    expect(await repo.usedBytes(1)).toBe(0);
    const old = await repo.insert(
      database.db,
      file('old.txt', 1, { size: 3_000_000_000, at: new Date('2020-01-01T00:00:00Z') }),
    );
    const recent = await repo.insert(database.db, file('new.txt', 1, { size: 5 }));
    await repo.insert(database.db, file('theirs.txt', 2, { size: 7 }));
    // bigint sizes beyond 2^31 add up exactly.
    expect(await repo.usedBytes(1)).toBe(3_000_000_005);
    // A delete in a transaction that fails leaves the row.
    await expect(
      tx.transaction(async (trx) => {
        await repo.remove(trx, recent.id);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect((await repo.findVisible(who(9, 'admin'), recent.id))?.id).toBe(recent.id);
    await tx.transaction((trx) => repo.remove(trx, recent.id));
    expect(await repo.findVisible(who(9, 'admin'), recent.id)).toBeUndefined();
    expect(await repo.deleteOlderThan(new Date('2021-01-01T00:00:00Z'))).toEqual([
      { stored_name: old.stored_name },
    ]);
    expect(await repo.usedBytes(1)).toBe(0);
    expect(await repo.count(who(9, 'admin'), {})).toBe(1);
  });
});
