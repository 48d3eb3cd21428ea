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

/**
 * Opens and migrates the database. `print` hears what takes a while, as it starts, so a first
 * start is not seconds of silence: making the embedded database, the migrations about to run and
 * which ran, and how long it all took. An up-to-date database opens without a word.
 */
export async function openAndMigrate(
  opts: OpenOptions,
  print?: (line: string) => void,
): Promise<DatabaseHandle> {
  const started = performance.now();
  let told = false;
  const say = (line: string) => {
    told = true;
    print?.(line);
  };
  mkdirSync(opts.dataDir, { recursive: true });
  const database = await openDatabase({
    url: opts.databaseUrl,
    dataDir: opts.dataDir,
    ...(opts.statementTimeoutMs !== undefined ? { statementTimeoutMs: opts.statementTimeoutMs } : {}),
    progress: say,
  });
  try {
    const { applied } = await migrateToLatest(database.db, undefined, (pending) =>
      say(`applying ${pending.length} database migration(s)...`),
    );
    if (applied.length > 0) say(`applied ${applied.length} database migration(s): ${applied.join(', ')}`);
    if (told) say(`database ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } catch (err) {
    // The embedded database holds the data directory's lock: let go of it before failing.
    await database.close();
    throw err;
  }
  return database;
}
