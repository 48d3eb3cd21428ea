// Opening the manager's database for a process: the data directory, the database (embedded in it,
// or a PostgreSQL server), and the migrations. `steward serve`, `steward migrate` and the CLI
// commands that use services (cli/context.ts) all open it here.

import { mkdirSync } from 'node:fs';
import { type DatabaseHandle, openDatabase } from './client.js';
import { migrateToLatest } from './migrator.js';

export interface OpenOptions {
  dataDir: string;
  databaseUrl: string | undefined;
  /** Statement timeout on PostgreSQL (0: none, for long backups and restores); default 5 s. */
  statementTimeoutMs?: number | undefined;
}

/** Opens and migrates the database; `print` hears which migrations ran, if any. */
export async function openAndMigrate(
  opts: OpenOptions,
  print?: (line: string) => void,
): Promise<DatabaseHandle> {
  mkdirSync(opts.dataDir, { recursive: true });
  const database = await openDatabase({
    url: opts.databaseUrl,
    dataDir: opts.dataDir,
    ...(opts.statementTimeoutMs !== undefined ? { statementTimeoutMs: opts.statementTimeoutMs } : {}),
  });
  try {
    const { applied } = await migrateToLatest(database.db);
    if (applied.length > 0 && print)
      print(`applied ${applied.length} database migration(s): ${applied.join(', ')}`);
  } catch (err) {
    // The embedded database holds the data directory's lock: let go of it before failing.
    await database.close();
    throw err;
  }
  return database;
}
