// The embedded database's files: how a new one is made, and the settings it runs with.
//
// Memory is the reason for both (issue 18, docs/benchmarks.md "Memory of the embedded default").
// PGlite makes a new cluster by running initdb in a second WebAssembly instance of its own inside
// this process; that took the first start's RSS to ~800 MB, and most of it stayed until the process
// ended. The build (scripts/build-pgdata-template.mjs) runs that initdb once and keeps the result,
// a compressed copy of an empty cluster, beside this file; a new data directory is loaded from it
// instead. The copy is what PGlite itself would have loaded after its initdb (it makes one the same
// way, with dumpDataDir), and it is used only with the PGlite version that made it: otherwise, or
// when running from the sources, PGlite runs initdb as before.
//
// A new cluster is made in `pgdata.new` and renamed to `pgdata` once PGlite has closed it, so a
// process killed while making it leaves no half-made database behind, only a directory the next
// start deletes.

import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { PGlite } from '@electric-sql/pglite';

/**
 * PostgreSQL's shared buffer cache inside the WebAssembly memory, which never shrinks once grown.
 * initdb's default, 128 MB, was 140 MB of the idle RSS; the files stay in the operating system's
 * page cache, which the kernel can give back, so a small cache costs reads, not data safety.
 */
export const EMBEDDED_SHARED_BUFFERS = '16MB';

/** A compressed empty cluster and the stamp naming the PGlite version that made it. */
export interface ClusterTemplate {
  tarball: string;
  stamp: string;
}

/** The one the build puts beside this module (dist/server/db/); absent when run from src/. */
export const BUILT_TEMPLATE: ClusterTemplate = {
  tarball: fileURLToPath(new URL('./pgdata-template.tar.gz', import.meta.url)),
  stamp: fileURLToPath(new URL('./pgdata-template.json', import.meta.url)),
};

export function pgliteVersion(): string {
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  // The package's entry is <package>/dist/index.cjs; its package.json is not exported.
  const manifest = join(dirname(entry), '..', 'package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/** The template's contents, if it exists and the installed PGlite made it. */
function readTemplate(template: ClusterTemplate): Blob | undefined {
  if (!existsSync(template.tarball) || !existsSync(template.stamp)) return undefined;
  const stamp = JSON.parse(readFileSync(template.stamp, 'utf8')) as { pglite?: string };
  if (stamp.pglite !== pgliteVersion()) return undefined;
  return new Blob([readFileSync(template.tarball)]);
}

/**
 * V8 compiles PGlite's WebAssembly twice: quickly (Liftoff) and then, for hot functions, again
 * optimised (TurboFan); the second copy kept ~60 MB more code resident. Set before the first
 * PGlite instance compiles its module.
 */
export function preferSmallWasmCode(): void {
  setFlagsFromString('--liftoff-only');
}

/** PGlite's start parameters with the embedded settings added. */
export function embeddedStartParams(): string[] {
  const defaults = (PGlite as unknown as { defaultStartParams: string[] }).defaultStartParams;
  return [...defaults, '-c', `shared_buffers=${EMBEDDED_SHARED_BUFFERS}`];
}

/**
 * Makes the cluster in `dir` if it has none. A directory that exists without PG_VERSION and is not
 * empty is not something this code made whole: refuse it rather than guess.
 */
export async function ensureCluster(dir: string, template: ClusterTemplate = BUILT_TEMPLATE): Promise<void> {
  if (existsSync(join(dir, 'PG_VERSION'))) return;
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new Error(
      `${dir} holds files but no database (no PG_VERSION): move it away, or restore a backup into a new data directory`,
    );
  }
  preferSmallWasmCode();
  const staging = `${dir}.new`;
  rmSync(staging, { recursive: true, force: true });
  const copy = readTemplate(template);
  const pglite = await PGlite.create(staging, {
    ...(copy ? { loadDataDir: copy } : {}),
    startParams: embeddedStartParams(),
  });
  await pglite.close();
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
}
