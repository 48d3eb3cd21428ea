import { describe, expect, it } from 'vitest';
import { splitSqlStatements } from './migrator.js';

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
