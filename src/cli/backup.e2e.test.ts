// `steward backup create`, `verify` and `restore` against an embedded database on disk.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { sql } from 'kysely';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../server/db/client.js';
import { migrateToLatest } from '../server/db/migrator.js';
import { registerBackupCommand } from './backup.js';

const dataDir = mkdtempSync(join(tmpdir(), 'steward-backup-cli-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const passFile = join(dataDir, '..', `${dataDir.split('/').pop()}.pass`);
writeFileSync(passFile, 'cli test passphrase\n', { mode: 0o600 });
afterAll(() => rmSync(passFile, { force: true }));

const run = (...args: string[]) => {
  const program = new Command().exitOverride();
  registerBackupCommand(program);
  return program.parseAsync(['node', 'steward', ...args]);
};

/** Runs a command that fails: its message on standard error and exit code 1. */
async function failing(...args: string[]): Promise<string> {
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const exit = vi.spyOn(process, 'exit').mockImplementation(((code: number) => {
    throw new Error(`exit ${code}`);
  }) as never);
  try {
    await expect(run(...args)).rejects.toThrow('exit 1');
    return err.mock.calls.map((c) => String(c[0])).join('');
  } finally {
    err.mockRestore();
    exit.mockRestore();
  }
}

describe('steward backup', () => {
  it('creates, verifies and restores an encrypted archive with the passphrase from a file', async () => {
    const db = await openDatabase({ dataDir });
    await migrateToLatest(db.db);
    await sql`insert into settings (key, value) values ('cli.test', '{"v": 1}')`.execute(db.db);
    await db.close();
    const out = join(dataDir, 'copy.tar.gz');
    // No passphrase given and none set in the manager: the message says what to give.
    const none = await failing('backup', 'create', '--data-dir', dataDir, '--quiet');
    expect(none).toContain('no backup passphrase is set');
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      await run(
        'backup',
        'create',
        '--data-dir',
        dataDir,
        '--out',
        out,
        '--quiet',
        '--passphrase-file',
        passFile,
      );
      await run('backup', 'verify', out, '--data-dir', dataDir, '--quiet', '--passphrase-file', passFile);
      const db2 = await openDatabase({ dataDir });
      await sql`update settings set value = '{"v": 2}' where key = 'cli.test'`.execute(db2.db);
      await db2.close();
      await run(
        'backup',
        'restore',
        out,
        '--yes',
        '--data-dir',
        dataDir,
        '--quiet',
        '--passphrase-file',
        passFile,
      );
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
    // The restore is audited as the command line's actor, `cli:<user>`.
    const restored = await sql<{
      username: string;
      auth_method: string;
    }>`select username, auth_method from audit_log where action = 'backup.restored'`.execute(db3.db);
    await db3.close();
    expect(row.rows[0]?.v).toEqual({ v: 1 });
    expect(restored.rows).toEqual([{ username: `cli:${userInfo().username}`, auth_method: 'cli' }]);
    // Restore and verify always need the passphrase.
    expect(await failing('backup', 'restore', out, '--yes', '--data-dir', dataDir, '--quiet')).toContain(
      'the backup passphrase is required',
    );
    const wrong = join(dataDir, 'wrong.pass');
    writeFileSync(wrong, 'not the passphrase of it');
    expect(
      await failing('backup', 'verify', out, '--data-dir', dataDir, '--passphrase-file', wrong),
    ).toContain('wrong passphrase');
  }, 240_000);

  it('explains where the passphrase comes from in --help', () => {
    const program = new Command();
    const backup = registerBackupCommand(program);
    expect(backup.commands.map((c) => c.name())).toEqual(['create', 'verify', 'restore']);
    for (const sub of backup.commands) {
      let text = '';
      sub.configureOutput({ writeOut: (t) => (text += t) });
      sub.outputHelp();
      expect(text).toContain('--passphrase-file');
      expect(text).toContain('--passphrase-stdin');
      expect(text).toContain('STEWARD_BACKUP_PASSPHRASE');
      expect(text).toContain('beside a running manager these commands refuse');
    }
  });
});
