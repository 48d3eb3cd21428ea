// The migrator on an empty database: in-memory PGlite, or a throwaway database on the
// PostgreSQL server of STEWARD_TEST_DATABASE_URL (`npm run test:pg`).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEmptyTestDatabase } from '../../../test/helpers/database.js';
import { migrateToLatest } from './migrator.js';

describe('migrateToLatest', () => {
  it("applies a new migration of a lower range after a later range's migrations ran", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'steward-migrations-'));
    const database = await createEmptyTestDatabase();
    try {
      writeFileSync(join(dir, '0001_core.sql'), 'CREATE TABLE a (x int);');
      writeFileSync(join(dir, '0100_fleet.sql'), 'CREATE TABLE b (x int);');
      // The start-up log says what is about to run before it runs (a first start takes seconds).
      const told: string[][] = [];
      const tell = (names: string[]) => told.push(names);
      expect((await migrateToLatest(database.db, dir, tell)).applied).toEqual(['0001_core', '0100_fleet']);
      // The next release adds a core migration: it sorts before 0100, which already ran.
      writeFileSync(join(dir, '0004_more.sql'), 'CREATE TABLE c (x int);');
      expect((await migrateToLatest(database.db, dir, tell)).applied).toEqual(['0004_more']);
      expect((await migrateToLatest(database.db, dir, tell)).applied).toEqual([]);
      expect(told).toEqual([['0001_core', '0100_fleet'], ['0004_more']]);
    } finally {
      await database.close();
      await database.dropDatabase();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
