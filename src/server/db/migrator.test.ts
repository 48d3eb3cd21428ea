import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from './client.js';
import { migrateToLatest, splitSqlStatements } from './migrator.js';

describe('splitSqlStatements', () => {
  it('splits on top-level semicolons only', () => {
    const sql = `-- a comment; with a semicolon
CREATE TABLE a (x text DEFAULT 'a;b');
/* block; comment */ CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;
INSERT INTO a VALUES ('it''s; fine');`;
    const parts = splitSqlStatements(sql);
    expect(parts).toHaveLength(3);
    expect(parts[0]).toContain("'a;b'");
    expect(parts[1]).toContain('$$ SELECT 1; $$');
    expect(parts[2]).toContain("'it''s; fine'");
  });
});

describe('migrateToLatest', () => {
  it("applies a new migration of a lower range after a later range's migrations ran", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'steward-migrations-'));
    const database = await openDatabase({});
    try {
      writeFileSync(join(dir, '0001_core.sql'), 'CREATE TABLE a (x int);');
      writeFileSync(join(dir, '0100_fleet.sql'), 'CREATE TABLE b (x int);');
      expect((await migrateToLatest(database.db, dir)).applied).toEqual(['0001_core', '0100_fleet']);
      // The next release adds a core migration: it sorts before 0100, which already ran.
      writeFileSync(join(dir, '0004_more.sql'), 'CREATE TABLE c (x int);');
      expect((await migrateToLatest(database.db, dir)).applied).toEqual(['0004_more']);
      expect((await migrateToLatest(database.db, dir)).applied).toEqual([]);
    } finally {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
