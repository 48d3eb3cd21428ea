// The database handle. Everything outside src/server/db/ sees only a Kysely<Database>; which
// engine sits underneath (embedded PGlite or a PostgreSQL server through `pg`) is decided here.

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import { type DataDirLock, lockDataDir } from './data-dir-lock.js';
import { embeddedStartParams, ensureCluster, preferSmallWasmCode } from './embedded.js';
import type { Database } from './schema.js';

export type DatabaseKind = 'pglite' | 'postgres';

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly kind: DatabaseKind;
  /** Human-readable location for the start banner (never contains a password). */
  readonly location: string;
  /** The pg pool when kind is postgres (for metrics and LISTEN/NOTIFY); undefined on PGlite. */
  readonly pool: pg.Pool | undefined;
  /** The server URL, for the dedicated connections of the bus and leases (never logged). */
  readonly connectionString: string | undefined;
  ping(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

// Timestamps come back as JS Dates (timestamptz) and bigint counters as numbers: the values
// Steward stores in int8 columns (use counts, audit ids) stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));

export interface OpenDatabaseOptions {
  /** postgres:// URL; when absent, PGlite is used. */
  url?: string | undefined;
  /** Directory for PGlite's files; absent means in memory (tests). */
  dataDir?: string | undefined;
  /** Statement timeout on PostgreSQL, so a stuck server turns into an error, not a hang. */
  statementTimeoutMs?: number;
  poolSize?: number;
  /**
   * In memory only: start from this copy of a data directory (PGlite's `dumpDataDir()`) instead
   * of creating a new cluster: the tests' migrated template, loaded in about a quarter of initdb's time.
   */
  loadDataDir?: Blob | undefined;
  /** Hears what takes a while: making a new embedded cluster (the first start). */
  progress?: ((line: string) => void) | undefined;
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '****';
    return u.toString();
  } catch {
    return 'postgres://(unparseable)';
  }
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<DatabaseHandle> {
  if (opts.url) {
    const pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: 2000,
      statement_timeout: opts.statementTimeoutMs ?? 5000,
      // The server enforces statement_timeout only while it runs; a frozen or unreachable server
      // never answers, so the client gives up on its own after the same time.
      query_timeout: opts.statementTimeoutMs ?? 5000,
      idleTimeoutMillis: 30_000,
    });
    // A dropped connection must not crash the process: pg emits 'error' on a client whose
    // connection ends, even while a query of it is running (that query rejects too). Idle
    // clients report to the pool, clients in use to their own listener.
    pool.on('error', () => {});
    pool.on('connect', (client) => {
      client.on('error', () => {});
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return {
      db,
      kind: 'postgres',
      location: redactUrl(opts.url),
      pool,
      connectionString: opts.url,
      ping: (timeoutMs = 2000) => pingWithTimeout(db, timeoutMs),
      close: () => db.destroy(),
    };
  }
  let location = 'in memory';
  let pglite: PGlite;
  let lock: DataDirLock | undefined;
  if (opts.dataDir) {
    const dir = join(opts.dataDir, 'pgdata');
    mkdirSync(opts.dataDir, { recursive: true });
    location = dir;
    // The embedded database lives in this process: no second process may open the directory.
    lock = await lockDataDir(opts.dataDir);
    try {
      preferSmallWasmCode();
      if (!existsSync(join(dir, 'PG_VERSION'))) {
        opts.progress?.(
          `preparing the embedded database in ${dir} (first start; this takes a few seconds)...`,
        );
      }
      await ensureCluster(dir);
      pglite = await PGlite.create(dir, { startParams: embeddedStartParams() });
    } catch (err) {
      await lock.release();
      throw err;
    }
  } else {
    pglite = await PGlite.create(opts.loadDataDir ? { loadDataDir: opts.loadDataDir } : {});
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    kind: 'pglite',
    location,
    pool: undefined,
    connectionString: undefined,
    ping: (timeoutMs = 2000) => pingWithTimeout(db, timeoutMs),
    close: async () => {
      try {
        await db.destroy();
      } finally {
        await lock?.release();
      }
    },
  };
}

async function pingWithTimeout(db: Kysely<Database>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<false>((res) => {
      timer = setTimeout(() => res(false), timeoutMs);
    });
    const probe = sql`select 1 as ok`.execute(db).then(
      () => true,
      () => false,
    );
    return await Promise.race([probe, timeout]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
