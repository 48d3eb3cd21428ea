// A fresh database for one test file (migrated, or empty for the migrator's own tests): in-memory
// PGlite by default, or a throwaway database on the PostgreSQL server named by
// STEWARD_TEST_DATABASE_URL (created here, removed by dropDatabase()), so the route, repository and
// `*.db.test.ts` tests run on both engines.

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type DatabaseHandle, openDatabase } from '../../src/server/db/client.js';
import { migrateToLatest } from '../../src/server/db/migrator.js';

export const PG_URL = process.env.STEWARD_TEST_DATABASE_URL;

/** Runs one statement on the server's own database (CREATE and DROP DATABASE cannot run in one of their own). */
async function onServer(url: string, statement: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

/**
 * A new, empty database on the PostgreSQL server of STEWARD_TEST_DATABASE_URL (or `server`):
 * its URL, and `drop` to remove it (open connections included).
 */
export async function createThrowawayDatabase(
  prefix = 'steward_test',
  server = PG_URL,
): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!server) throw new Error('no PostgreSQL server: set STEWARD_TEST_DATABASE_URL');
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await onServer(server, `CREATE DATABASE ${name}`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => onServer(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/**
 * A fresh database with no tables yet (the migrator's own tests): in-memory PGlite, or a
 * throwaway database on the server of STEWARD_TEST_DATABASE_URL, removed by dropDatabase().
 */
export async function createEmptyTestDatabase(): Promise<
  DatabaseHandle & { dropDatabase: () => Promise<void> }
> {
  if (!PG_URL) return { ...(await openDatabase({})), dropDatabase: async () => {} };
  const database = await createThrowawayDatabase();
  const handle = await openDatabase({ url: database.url, poolSize: 5 });
  return { ...handle, dropDatabase: database.drop };
}

export async function createTestDatabase(): Promise<DatabaseHandle & { dropDatabase: () => Promise<void> }> {
  const handle = await createEmptyTestDatabase();
  await migrateToLatest(handle.db);
  return handle;
}
