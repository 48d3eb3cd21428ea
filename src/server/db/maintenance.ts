// Upkeep of the embedded database. PostgreSQL's autovacuum launcher does not run inside PGlite
// (one backend, no background workers), so without this the embedded database never reclaims
// the space of updated and deleted rows, never sets the visibility map (no index-only scans) and
// never gathers planner statistics: a table of 50,000 events is planned as if it held a few
// dozen rows. A PostgreSQL server does this itself; there this is never run.
//
// One table at a time (PGlite runs in the manager's thread: each table is a short pause instead
// of one long one), each VACUUM (ANALYZE), in the order of the most rows changed since the last.

import { sql } from 'kysely';
import type { DatabaseHandle } from './client.js';

export interface MaintenanceRun {
  tables: number;
  ms: number;
  /** The table that took longest, with its time: what a pause of the manager came from. */
  slowest: { table: string; ms: number } | null;
}

export function createEmbeddedMaintenance(database: Pick<DatabaseHandle, 'db' | 'kind'>) {
  return {
    /** Vacuums and analyzes every table of the public schema; nothing on a PostgreSQL server. */
    async run(): Promise<MaintenanceRun> {
      const started = performance.now();
      if (database.kind !== 'pglite') return { tables: 0, ms: 0, slowest: null };
      const tables = await sql<{ name: string }>`SELECT c.relname AS name
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
          WHERE n.nspname = 'public' AND c.relkind = 'r'
          ORDER BY coalesce(s.n_mod_since_analyze, 0) + coalesce(s.n_dead_tup, 0) DESC, c.relname`.execute(
        database.db,
      );
      let slowest: MaintenanceRun['slowest'] = null;
      for (const { name } of tables.rows) {
        const t = performance.now();
        await sql`VACUUM (ANALYZE) ${sql.id('public', name)}`.execute(database.db);
        const ms = performance.now() - t;
        if (!slowest || ms > slowest.ms) slowest = { table: name, ms: Math.round(ms) };
      }
      return { tables: tables.rows.length, ms: Math.round(performance.now() - started), slowest };
    },
  };
}

export type EmbeddedMaintenance = ReturnType<typeof createEmbeddedMaintenance>;
