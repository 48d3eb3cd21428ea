// The embedded database's upkeep: after a run, the planner knows how many rows a table holds
// (it had no statistics before), the space of deleted rows is reclaimed for reuse and the
// visibility map is set (index-only scans). On a PostgreSQL server it does nothing: autovacuum
// runs there.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, PG_URL } from '../../../test/helpers/database.js';
import type { DatabaseHandle } from './client.js';
import { createEmbeddedMaintenance } from './maintenance.js';

let database: DatabaseHandle & { dropDatabase: () => Promise<void> };

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await database?.close();
  await database?.dropDatabase();
});

const stats = async () =>
  (
    await sql<{
      reltuples: number;
      relallvisible: number;
      dead: number | null;
    }>`SELECT c.reltuples::float8 AS reltuples,
        c.relallvisible::int AS relallvisible, s.n_dead_tup::int AS dead
      FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
      WHERE c.oid = 'public.fleet_events'::regclass`.execute(database.db)
  ).rows[0];

describe.skipIf(Boolean(PG_URL))('embedded database upkeep (PGlite)', () => {
  it('gives the planner the row count and sets the visibility map of every table', async () => {
    await sql`INSERT INTO fleet_events (at, kind, severity, source, message, details)
      SELECT now() - make_interval(secs => g), 'appliance.online', 'info', 'manager', 'm', '{}'
      FROM generate_series(1, 3000) g`.execute(database.db);
    await sql`DELETE FROM fleet_events WHERE id % 3 = 0`.execute(database.db);
    const before = await stats();
    expect(before?.relallvisible).toBe(0);

    const run = await createEmbeddedMaintenance(database).run();
    const tables = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`.execute(database.db);
    expect(run.tables).toBe(tables.rows[0]?.n);
    expect(run.slowest?.table).toEqual(expect.any(String));

    const after = await stats();
    expect(after?.reltuples).toBe(2000);
    expect(after?.relallvisible).toBeGreaterThan(0);
    const plan = await sql<{ 'QUERY PLAN': string }>`EXPLAIN SELECT * FROM fleet_events`.execute(database.db);
    expect(plan.rows[0]?.['QUERY PLAN']).toMatch(/rows=2000 /);
  });
});

describe.skipIf(!PG_URL)('on a PostgreSQL server', () => {
  it('does nothing: autovacuum does it there', async () => {
    expect(await createEmbeddedMaintenance(database).run()).toEqual({ tables: 0, ms: 0, slowest: null });
  });
});
