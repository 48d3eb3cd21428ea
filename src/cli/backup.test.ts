// `steward backup create`, `verify` and `restore` against an embedded database on disk.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { sql } from 'kysely';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../server/db/client.js';
import { migrateToLatest } from '../server/db/migrator.js';
import { registerBackupCommand } from './backup.js';

const dataDir = mkdtempSync(join(tmpdir(), 'steward-backup-cli-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const run = (...args: string[]) => {
  const program = new Command().exitOverride();
  registerBackupCommand(program);
  return program.parseAsync(['node', 'steward', ...args]);
};

describe('steward backup', () => {
  it('creates, verifies and restores an archive', async () => {
    const db = await openDatabase({ dataDir });
    await migrateToLatest(db.db);
    await sql`insert into settings (key, value) values ('cli.test', '{"v": 1}')`.execute(db.db);
    await db.close();
    const out = join(dataDir, 'copy.tar.gz');
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      await run('backup', 'create', '--data-dir', dataDir, '--out', out, '--quiet');
      await run('backup', 'verify', out, '--data-dir', dataDir, '--quiet');
      const db2 = await openDatabase({ dataDir });
      await sql`update settings set value = '{"v": 2}' where key = 'cli.test'`.execute(db2.db);
      await db2.close();
      await run('backup', 'restore', out, '--yes', '--data-dir', dataDir, '--quiet');
      const printed = write.mock.calls.map((c) => String(c[0])).join('');
      expect(printed).toContain('backup written:');
      expect(printed).toMatch(/OK: backup of .* tables, \d+ rows/);
      expect(printed).toContain('restored the backup');
    } finally {
      write.mockRestore();
    }
    const db3 = await openDatabase({ dataDir });
    const row = await sql<{
      v: { v: number };
    }>`select value as v from settings where key = 'cli.test'`.execute(db3.db);
    await db3.close();
    expect(row.rows[0]?.v).toEqual({ v: 1 });
  }, 180_000);
});
