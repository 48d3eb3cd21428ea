// Forward-only SQL migrations: src/server/db/migrations/NNNN_name.sql, applied in name order.
// Kysely's Migrator records what ran (kysely_migration) and takes a lock while it works
// (a transaction-scoped advisory lock on PostgreSQL), so two managers starting together on one
// server apply each migration exactly once.

import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

class SqlFileMigrationProvider implements MigrationProvider {
  constructor(private readonly dir: string) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await readdir(this.dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
    const out: Record<string, Migration> = {};
    for (const file of files) {
      const text = await readFile(join(this.dir, file), 'utf8');
      out[file.replace(/\.sql$/, '')] = {
        // Statements run one by one inside the migrator's transaction (PGlite's extended
        // protocol takes one statement per query).
        // biome-ignore lint/suspicious/noExplicitAny: migrations run below the typed schema
        up: async (db: Kysely<any>) => {
          for (const statement of splitSqlStatements(text)) await sql.raw(statement).execute(db);
        },
      };
    }
    return out;
  }
}

/**
 * Splits a SQL script on top-level semicolons, respecting quotes, dollar-quoted bodies and
 * comments. Our migrations are plain DDL; this is not a general SQL parser.
 */
export function splitSqlStatements(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    const rest = text.slice(i);
    if (rest.startsWith('--')) {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end + 1;
      current += '\n';
      continue;
    }
    if (rest.startsWith('/*')) {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 2;
      continue;
    }
    const dollar = /^\$[A-Za-z_]*\$/.exec(rest);
    if (dollar) {
      const tag = dollar[0];
      const end = text.indexOf(tag, i + tag.length);
      const stop = end === -1 ? text.length : end + tag.length;
      current += text.slice(i, stop);
      i = stop;
      continue;
    }
    if (ch === "'" || ch === '"') {
      let j = i + 1;
      while (j < text.length && !(text[j] === ch && text[j + 1] !== ch)) j += text[j] === ch ? 2 : 1;
      current += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (ch === ';') {
      if (current.trim()) out.push(current.trim());
      current = '';
      i++;
      continue;
    }
    current += ch;
    i++;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

export interface MigrationReport {
  applied: string[];
}

export async function migrateToLatest(
  // biome-ignore lint/suspicious/noExplicitAny: any typed database can be migrated
  db: Kysely<any>,
  dir = MIGRATIONS_DIR,
  /** Hears the names of the migrations about to run, when there are any. */
  onPending?: (names: string[]) => void,
): Promise<MigrationReport> {
  // Each module numbers its migrations in its own range (ADR 0001: core 00xx, fleet 01xx,
  // system 02xx), so a new core migration sorts before fleet's already applied ones: apply it
  // anyway instead of refusing a database migrated by the previous release.
  const migrator = new Migrator({
    db,
    provider: new SqlFileMigrationProvider(dir),
    allowUnorderedMigrations: true,
  });
  if (onPending) {
    const pending = (await migrator.getMigrations()).filter((m) => m.executedAt === undefined);
    if (pending.length > 0) onPending(pending.map((m) => m.name));
  }
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    const where = failed ? ` in ${failed.migrationName}` : '';
    throw new Error(
      `database migration failed${where}: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
      },
    );
  }
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}
