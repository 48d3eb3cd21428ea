// A fresh, migrated database for one test file: in-memory PGlite by default, or a throwaway
// database on the PostgreSQL server named by STEWARD_TEST_DATABASE_URL (created here and
// dropped in close()), so the same route tests run on both engines.

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type DatabaseHandle, openDatabase } from '../../src/server/db/client.js';
import { migrateToLatest } from '../../src/server/db/migrator.js';

export const PG_URL = process.env.STEWARD_TEST_DATABASE_URL;

export async function createTestDatabase(): Promise<DatabaseHandle & { dropDatabase: () => Promise<void> }> {
  if (!PG_URL) {
    const handle = await openDatabase({});
    await migrateToLatest(handle.db);
    return { ...handle, dropDatabase: async () => {} };
  }
  const name = `steward_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ url: url.toString(), poolSize: 5 });
  await migrateToLatest(handle.db);
  return {
    ...handle,
    async dropDatabase() {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
