// The data directory lock: one live owner at a time; a lock left by a dead process (or by a pid
// that now belongs to another process) is taken over; release removes only our own lock.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from './client.js';
import { DataDirLockedError, LOCK_FILE, lockDataDir } from './data-dir-lock.js';

const root = mkdtempSync(join(tmpdir(), 'steward-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => {
  const d = join(root, `d${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

describe('lockDataDir', () => {
  it('refuses a second owner while the first holds it, naming the holder', async () => {
    const dir = fresh();
    const lock = await lockDataDir(dir, 'steward serve');
    const err = await lockDataDir(dir, 'steward backup create').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataDirLockedError);
    expect((err as Error).message).toContain(`in use by \`steward serve\` (pid ${process.pid}`);
    await lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    await (await lockDataDir(dir)).release();
  });

  it('takes over a lock whose process is gone, or whose pid was reused', async () => {
    const dir = fresh();
    const dead = spawnSync(process.execPath, ['-e', '']).pid as number;
    writeFileSync(
      join(dir, LOCK_FILE),
      JSON.stringify({ pid: dead, start: null, command: 'x', since: 'then' }),
    );
    const a = await lockDataDir(dir);
    await a.release();
    // Our own pid, but another start time: the pid belonged to a process that has died.
    writeFileSync(
      join(dir, LOCK_FILE),
      JSON.stringify({ pid: process.pid, start: '1', command: 'x', since: 'then' }),
    );
    const b = await lockDataDir(dir);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).since).not.toBe('then');
    await b.release();
    // A torn (empty) lock file left by a crash during its write.
    writeFileSync(join(dir, LOCK_FILE), '');
    await (await lockDataDir(dir)).release();
  });

  it('release leaves a lock that another owner holds now', async () => {
    const dir = fresh();
    const a = await lockDataDir(dir);
    const other = JSON.stringify({ pid: 1, start: null, command: 'other', since: 'now' });
    writeFileSync(join(dir, LOCK_FILE), other);
    await a.release();
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(other);
  });

  it('openDatabase holds it for an embedded database on disk until close', async () => {
    const dir = fresh();
    const db = await openDatabase({ dataDir: dir });
    try {
      await expect(openDatabase({ dataDir: dir })).rejects.toBeInstanceOf(DataDirLockedError);
    } finally {
      await db.close();
    }
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  }, 120_000);
});
