// A PostgreSQL server of a test's own: initdb in a temporary directory, started with pg_ctl on a
// free loopback port, so a test can stop it (`pg_ctl stop -m fast` or `-m immediate`) and start
// it again without disturbing the shared server on 5432 that other tests use.
//
// PostgreSQL refuses to run as root: when the test runs as root (CI on this machine does), the
// directory is given to the `postgres` user and every command runs through
// `runuser -u postgres --`. `postgresUnavailable()` says why such a server cannot be made here
// (no binaries, no runuser, no postgres user), for `it.skipIf`.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The newest /usr/lib/postgresql/<version>/bin with initdb and pg_ctl, or STEWARD_TEST_PG_BIN. */
function findBinDir(): string | undefined {
  const fromEnv = process.env.STEWARD_TEST_PG_BIN;
  if (fromEnv) return existsSync(join(fromEnv, 'pg_ctl')) ? fromEnv : undefined;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = join(base, v, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  return undefined;
}

const isRoot = process.getuid?.() === 0;

function postgresUser(): { uid: number; gid: number } | undefined {
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    return undefined;
  }
}

/** Why a throwaway server cannot be started on this machine, or undefined when it can. */
export function postgresUnavailable(): string | undefined {
  if (!findBinDir()) return 'no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql';
  if (isRoot) {
    if (!existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser'))
      return 'running as root and runuser is missing (initdb refuses root)';
    if (!postgresUser()) return 'running as root and there is no postgres user (initdb refuses root)';
  }
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Process ids whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may contain spaces, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

export interface ThrowawayPostgres {
  port: number;
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust authentication, loopback only). */
  url: string;
  /** A URL for another database on this server. */
  urlFor(database: string): string;
  /** `pg_ctl start -w`: resolves once the server accepts connections. */
  start(): Promise<void>;
  /** `pg_ctl stop -w -m <mode>`: fast disconnects clients and shuts down; immediate aborts. */
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  /**
   * SIGSTOP to the postmaster and every backend: connections stay open and nothing answers, like
   * a server whose machine hangs. `thaw()` sends SIGCONT.
   */
  freeze(): void;
  thaw(): void;
  /** The server log (for a failing test's message). */
  log(): string;
  /** Stops the server if it runs and removes the directory; never throws. */
  destroy(): Promise<void>;
}

export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const reason = postgresUnavailable();
  if (reason) throw new Error(`cannot start a throwaway PostgreSQL server: ${reason}`);
  const bin = findBinDir() as string;
  const dir = mkdtempSync(join(tmpdir(), 'steward-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const owner = isRoot ? postgresUser() : undefined;
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const pg = (tool: string, args: string[]) =>
    isRoot
      ? run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args], { timeout: 60_000 })
      : run(join(bin, tool), args, { timeout: 60_000 });

  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let running = false;
  let frozen: number[] = [];
  const postmasterPid = () => {
    try {
      return Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return undefined;
    }
  };
  const server: ThrowawayPostgres = {
    port,
    url,
    urlFor: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    async start() {
      // Loopback TCP only; the Unix socket lives in the temporary directory, not /var/run.
      // fsync off: the data is thrown away, and a crash test (-m immediate) still replays WAL.
      await pg('pg_ctl', [
        'start',
        '-w',
        '-t',
        '30',
        '-D',
        data,
        '-l',
        logFile,
        '-o',
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`,
      ]);
      running = true;
    },
    async stop(mode) {
      await pg('pg_ctl', ['stop', '-w', '-t', '30', '-m', mode, '-D', data]);
      running = false;
    },
    freeze() {
      const pid = postmasterPid();
      if (!pid) throw new Error('the throwaway PostgreSQL server is not running');
      frozen = [pid, ...childrenOf(pid)];
      for (const p of frozen) process.kill(p, 'SIGSTOP');
    },
    thaw() {
      for (const p of frozen) {
        try {
          process.kill(p, 'SIGCONT');
        } catch {
          // already gone
        }
      }
      frozen = [];
    },
    log: () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
    async destroy() {
      server.thaw();
      if (running || existsSync(join(data, 'postmaster.pid'))) {
        await pg('pg_ctl', ['stop', '-w', '-t', '30', '-m', 'immediate', '-D', data]).catch(() => undefined);
        running = false;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await pg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
    await server.start();
  } catch (err) {
    await server.destroy();
    throw err;
  }
  return server;
}
