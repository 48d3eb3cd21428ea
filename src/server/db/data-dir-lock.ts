// One process at a time on an embedded database. PGlite keeps the whole database in the memory
// of the process that opened it and writes its files back on its own schedule: a second process
// opening the same directory (`steward backup restore` beside a running `steward serve`) works on
// its own copy, and what it writes is never seen by the first, or is overwritten by it.
//
// The owner holds `<data dir>/steward.lock`, created exclusively (O_EXCL) with its pid and the
// start time of that process. A lock whose process is gone (kill -9, power loss), or whose pid now
// belongs to another process (same pid, another start time), is stale and is taken over.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

export const LOCK_FILE = 'steward.lock';

interface LockInfo {
  pid: number;
  /** Kernel start time of the process (Linux `/proc/<pid>/stat` field 22), when known. */
  start: string | null;
  command: string;
  since: string;
}

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockInfo,
  ) {
    super(
      `the data directory ${dataDir} is in use by \`${holder.command}\` (pid ${holder.pid}, since ${holder.since}). ` +
        'The embedded database can be open in one process only: stop that process first, or do this through ' +
        'its API instead (for backups: POST /api/v1/backup/create/ and POST /api/v1/backup/restore-upload/).',
    );
    this.name = 'DataDirLockedError';
  }
}

/** The start time of a process, or null when it cannot be read (no /proc, or no such process). */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(info: LockInfo): boolean {
  if (!Number.isInteger(info.pid) || info.pid <= 0) return false;
  try {
    process.kill(info.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // Same pid, other process: the owner died and its pid was given to someone else.
  const now = processStart(info.pid);
  return !(info.start && now && info.start !== now);
}

export interface DataDirLock {
  release(): Promise<void>;
}

/** Takes the data directory's lock for this process, or throws DataDirLockedError. */
export async function lockDataDir(
  dataDir: string,
  command = process.argv.slice(1, 3).join(' '),
): Promise<DataDirLock> {
  const path = join(dataDir, LOCK_FILE);
  const mine: LockInfo = {
    pid: process.pid,
    start: processStart(process.pid),
    command: command || 'steward',
    since: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const h = await open(path, 'wx', 0o600);
      try {
        await h.writeFile(JSON.stringify(mine));
        await h.sync();
      } finally {
        await h.close();
      }
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          // Only our own lock: never remove one that another process took over meanwhile.
          const now = await readFile(path, 'utf8').catch(() => ''); // no lock file: nothing of ours to remove
          if (now === JSON.stringify(mine)) await rm(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    // Unreadable is taken as released meanwhile: the next attempt's exclusive create decides.
    const raw = await readFile(path, 'utf8').catch(() => undefined);
    if (raw === undefined) continue;
    let held: LockInfo | undefined;
    try {
      held = JSON.parse(raw) as LockInfo;
    } catch {
      held = undefined;
    }
    // An empty or torn file is a lock being written right now, or one left by a crash during
    // its write; the first is at most milliseconds old, so wait a moment before calling it stale.
    if (!held && attempt === 0) {
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    if (held && isAlive(held)) throw new DataDirLockedError(dataDir, held);
    // Stale: move it aside under a unique name (atomic), so two processes cannot both remove
    // one lock and then each think they hold the next.
    const aside = join(dataDir, `.${LOCK_FILE}.stale-${randomBytes(4).toString('hex')}`);
    const moved = await rename(path, aside).then(
      () => true,
      () => false,
    );
    if (moved && (await readFile(aside, 'utf8').catch(() => raw)) !== raw) {
      // Another process replaced the stale lock with its own in between: give it back. If a third
      // took the name meanwhile, that one holds it and the next attempt meets it: nothing to log.
      await link(aside, path).catch(() => undefined);
    }
    await rm(aside, { force: true });
  }
  throw new Error(`could not take the lock ${path}`);
}
