// A fresh database for one test file (migrated, or empty for the migrator's own tests): in-memory
// PGlite by default, or a throwaway database on the PostgreSQL server named by
// STEWARD_TEST_DATABASE_URL (created here, removed by dropDatabase()), so the route, repository and
// `*.db.test.ts` tests run on both engines.
//
// A new in-memory PGlite runs initdb, 3-6 s on these machines, once per test file. So the first
// file to need one makes it, migrates it and keeps a copy of its data directory (a template) in
// node_modules/.cache/steward-test-db/, named by a digest of PGlite's version and the migrations;
// every later database is loaded from that copy (about 1 s). A changed migration or PGlite
// version names another template. On PostgreSQL a database and its migrations take under 0.5 s:
// no template there.

import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { Kysely } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import { type DatabaseHandle, openDatabase } from '../../src/server/db/client.js';
import { pgliteVersion } from '../../src/server/db/embedded.js';
import { MIGRATIONS_DIR, migrateToLatest } from '../../src/server/db/migrator.js';
import type { Database } from '../../src/server/db/schema.js';

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
  if (!PG_URL) return { ...(await openPgliteFromTemplate(false)), dropDatabase: async () => {} };
  const database = await createThrowawayDatabase();
  const handle = await openDatabase({ url: database.url, poolSize: 5 });
  return { ...handle, dropDatabase: database.drop };
}

export async function createTestDatabase(): Promise<DatabaseHandle & { dropDatabase: () => Promise<void> }> {
  if (!PG_URL) return { ...(await openPgliteFromTemplate(true)), dropDatabase: async () => {} };
  const handle = await createEmptyTestDatabase();
  await migrateToLatest(handle.db);
  return handle;
}

const NODE_MODULES = join(dirname(fileURLToPath(import.meta.url)), '../../node_modules');
const TEMPLATE_DIR = join(NODE_MODULES, '.cache/steward-test-db');

/** The template's file: PGlite's version and, for a migrated one, every migration's name and text. */
function templateFile(migrated: boolean): string {
  const hash = createHash('sha256');
  hash.update(pgliteVersion());
  if (migrated) {
    for (const file of readdirSync(MIGRATIONS_DIR).sort()) {
      hash.update(`\0${file}\0`).update(readFileSync(join(MIGRATIONS_DIR, file)));
    }
  }
  return join(TEMPLATE_DIR, `${migrated ? 'migrated' : 'empty'}-${hash.digest('hex').slice(0, 16)}.tar`);
}

/** An in-memory PGlite loaded from the template, made first if no file has made it yet. */
async function openPgliteFromTemplate(migrated: boolean): Promise<DatabaseHandle> {
  const file = templateFile(migrated);
  let template: Buffer;
  try {
    template = readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    template = await makeTemplate(file, migrated);
  }
  return openDatabase({ loadDataDir: new Blob([template]) });
}

async function makeTemplate(file: string, migrated: boolean): Promise<Buffer> {
  const pglite = await PGlite.create();
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  try {
    if (migrated) await migrateToLatest(db);
    const dump = Buffer.from(await (await pglite.dumpDataDir('none')).arrayBuffer());
    // Two test files may make it at once: each writes its own file and renames it into place,
    // so a reader never sees half a template.
    mkdirSync(TEMPLATE_DIR, { recursive: true });
    const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(partial, dump);
    renameSync(partial, file);
    return dump;
  } finally {
    await db.destroy();
  }
}
