// Makes the embedded database's template (src/server/db/embedded.ts): an empty PostgreSQL cluster,
// made by PGlite's own initdb once at build time instead of at every new data directory's first
// start, where initdb's second WebAssembly instance took the RSS to ~800 MB. Written beside the
// built db/client.js with the PGlite version that made it, which is the only one that loads it.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';

const out = join('dist', 'server', 'db');
const manifest = join(
  dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite')),
  '..',
  'package.json',
);
const version = JSON.parse(readFileSync(manifest, 'utf8')).version;
const stampFile = join(out, 'pgdata-template.json');
const tarFile = join(out, 'pgdata-template.tar.gz');

let current;
try {
  current = JSON.parse(readFileSync(stampFile, 'utf8')).pglite;
} catch {}
if (current === version && existsSync(tarFile)) {
  console.log(`embedded database template for PGlite ${version} is up to date`);
} else {
  const pglite = await PGlite.create();
  const tar = Buffer.from(await (await pglite.dumpDataDir('gzip')).arrayBuffer());
  await pglite.close();
  mkdirSync(out, { recursive: true });
  // Stamp off, tarball, stamp on (each renamed into place): a build cut short leaves no stamp that
  // vouches for another tarball.
  rmSync(stampFile, { force: true });
  writeFileSync(`${tarFile}.tmp`, tar);
  renameSync(`${tarFile}.tmp`, tarFile);
  writeFileSync(`${stampFile}.tmp`, `${JSON.stringify({ pglite: version })}\n`);
  renameSync(`${stampFile}.tmp`, stampFile);
  console.log(
    `made the embedded database template for PGlite ${version} (${(tar.length / 1e6).toFixed(1)} MB)`,
  );
}
