// How a new embedded database is made (embedded.ts): from the build's template when the installed
// PGlite made it, by initdb otherwise, never half-made. PGlite on disk: the e2e tier.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, describe, expect, it } from 'vitest';
import { type ClusterTemplate, embeddedStartParams, ensureCluster, pgliteVersion } from './embedded.js';

const root = mkdtempSync(join(tmpdir(), 'steward-embedded-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function tablesOf(dir: string): Promise<string[]> {
  const pglite = await PGlite.create(dir, { startParams: embeddedStartParams() });
  try {
    const { rows } = await pglite.query<{ name: string }>(
      "select tablename as name from pg_tables where schemaname = 'public' order by 1",
    );
    return rows.map((r) => r.name);
  } finally {
    await pglite.close();
  }
}

/** A template whose cluster holds a table named `marker`, so a test can tell it was used. */
async function markedTemplate(version: string): Promise<ClusterTemplate> {
  const pglite = await PGlite.create();
  await pglite.exec('create table marker (id int)');
  const tar = Buffer.from(await (await pglite.dumpDataDir('gzip')).arrayBuffer());
  await pglite.close();
  const dir = mkdtempSync(join(root, 'template-'));
  const template = { tarball: join(dir, 't.tar.gz'), stamp: join(dir, 't.json') };
  writeFileSync(template.tarball, tar);
  writeFileSync(template.stamp, JSON.stringify({ pglite: version }));
  return template;
}

describe('a new embedded database', () => {
  it('is loaded from a template the installed PGlite made, and made by initdb when another version made it', async () => {
    const ours = await markedTemplate(pgliteVersion());
    await ensureCluster(join(root, 'from-template'), ours);
    expect(await tablesOf(join(root, 'from-template'))).toEqual(['marker']);

    const theirs = { ...ours, stamp: join(root, 'other-version.json') };
    writeFileSync(theirs.stamp, JSON.stringify({ pglite: '0.0.1' }));
    await ensureCluster(join(root, 'by-initdb'), theirs);
    expect(await tablesOf(join(root, 'by-initdb'))).toEqual([]);
  });

  it('replaces what a first start killed while making it left behind, and leaves an existing one alone', async () => {
    const dir = join(root, 'killed');
    mkdirSync(`${dir}.new/base`, { recursive: true });
    writeFileSync(`${dir}.new/base/half-written`, 'x');
    mkdirSync(dir); // the empty directory an earlier version created before initdb
    await ensureCluster(dir, { tarball: join(root, 'none.tar.gz'), stamp: join(root, 'none.json') });
    expect(existsSync(join(dir, 'PG_VERSION'))).toBe(true);
    expect(existsSync(`${dir}.new`)).toBe(false);

    const pglite = await PGlite.create(dir);
    await pglite.exec('create table kept (id int)');
    await pglite.close();
    await ensureCluster(dir, await markedTemplate(pgliteVersion()));
    expect(await tablesOf(dir)).toEqual(['kept']);
  });

  it('refuses a directory that holds files but no database, and changes nothing in it', async () => {
    const dir = join(root, 'foreign');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    await expect(ensureCluster(dir)).rejects.toThrow(/holds files but no database \(no PG_VERSION\)/);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('the build left a template for the installed PGlite beside the built module', () => {
    // dist/ is built by `npm ci` (prepare) before any test runs; the built module reads this pair.
    const built = join(import.meta.dirname, '../../../dist/server/db');
    const stamp = JSON.parse(readFileSync(join(built, 'pgdata-template.json'), 'utf8')) as { pglite: string };
    expect(stamp.pglite).toBe(pgliteVersion());
    expect(readFileSync(join(built, 'pgdata-template.tar.gz')).subarray(0, 2)).toEqual(
      Buffer.from([0x1f, 0x8b]),
    );
  });
});
