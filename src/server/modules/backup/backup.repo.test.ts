// The backup repository on a real database: PGlite here, PostgreSQL when the route-test tier runs
// again with STEWARD_TEST_DATABASE_URL (`npm run test:pg`). A dump and a load of this very
// database: what is dumped, what a load replaces, and what it resets.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/database.js';
import { createTransactor } from '../../db/transactor.js';
import { createBackupRepo } from './backup.repo.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
const dirs: string[] = [];
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.close();
  await database?.dropDatabase();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'steward-backup-repo-'));
  dirs.push(d);
  return d;
};

describe('backup repository', () => {
  it('lists the tables a restore replaces (no bookkeeping, no runtime state) and the migrations', async () => {
    const repo = createBackupRepo(database.db);
    const tables = await repo.listTables();
    expect(tables).toContain('audit_log');
    expect(tables).toContain('settings');
    expect(tables).toContain('sessions');
    for (const t of ['kysely_migration', 'kysely_migration_lock', 'cluster_replicas', 'rate_limit_counters'])
      expect(tables).not.toContain(t);
    expect([...tables].sort()).toEqual(tables);
    const migrations = await repo.listMigrations();
    expect(migrations[0]).toBe('0001_core');
    expect([...migrations].sort()).toEqual(migrations);
  });

  it('dumps every table but the sessions, and loads them back in a transaction only', async () => {
    const repo = createBackupRepo(database.db);
    const tx = createTransactor(database.db);
    const db = database.db;
    const user = await db
      .insertInto('users')
      .values({ username: 'dumped', role: 'admin' } as never)
      .returning('id')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('sessions')
      .values({
        user_id: user.id,
        digest: 'd1',
        prefix: 'p',
        expires_at: new Date(Date.now() + 60_000),
      } as never)
      .execute();
    const appliance = await db
      .insertInto('appliances')
      .values({
        name: 'a1',
        type: 'tiscale-worker',
        url: 'https://10.0.0.1:8443',
        configuration_status: 'applied',
      } as never)
      .returning('id')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('settings')
      .values({ key: 'repo.test', value: JSON.stringify({ v: 1 }), updated_by: null })
      .execute();

    const dir = tempDir();
    const seen: string[] = [];
    const { tables, migrations } = await repo.dump(dir, (table) => seen.push(table));
    expect(migrations).toEqual(await repo.listMigrations());
    const names = tables.map((t) => t.name);
    expect(names).not.toContain('sessions');
    expect(names).toContain('users');
    const users = tables.find((t) => t.name === 'users');
    expect(users).toMatchObject({ file: 'db/users.jsonl', rows: 1 });
    const lines = readFileSync(join(dir, 'users.jsonl'), 'utf8').trim().split('\n');
    expect(JSON.parse(lines[0] as string)).toMatchObject({ id: user.id, username: 'dumped' });
    expect(seen).toContain('users');

    // Changes after the dump: a restore takes them back.
    await db
      .updateTable('settings')
      .set({ value: JSON.stringify({ v: 2 }) })
      .where('key', '=', 'repo.test')
      .execute();
    await db
      .insertInto('users')
      .values({ username: 'later', role: 'viewer' } as never)
      .execute();

    await expect(repo.load(tx.direct, dir, names)).rejects.toThrow(/inside a transaction/);
    // A load that fails rolls back with its transaction: the rows are as they were.
    await expect(
      tx.transaction(async (trx) => {
        await repo.load(trx, dir, names);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(
      (await db.selectFrom('users').select('username').orderBy('id').execute()).map((r) => r.username),
    ).toEqual(['dumped', 'later']);

    await tx.transaction((trx) => repo.load(trx, dir, names));
    expect((await db.selectFrom('users').select('username').execute()).map((r) => r.username)).toEqual([
      'dumped',
    ]);
    // Sessions are emptied, not restored.
    expect(await db.selectFrom('sessions').selectAll().execute()).toEqual([]);
    // Restored configuration must be applied again.
    const a = await db
      .selectFrom('appliances')
      .select('configuration_status')
      .where('id', '=', appliance.id)
      .executeTakeFirst();
    expect(a?.configuration_status).toBe('changes_awaiting_apply');
    // Sequences continue after the restored ids.
    const next = await db
      .insertInto('users')
      .values({ username: 'after', role: 'viewer' } as never)
      .returning('id')
      .executeTakeFirstOrThrow();
    expect(next.id).toBe(user.id + 1);
    const settings = await repo.settings();
    expect(settings.find((r) => r.key === 'repo.test')?.value).toEqual({ v: 1 });
  });
});
