// Writes the role and permission table (generated from src/contract/permissions.ts) between
// the markers of every docs/*.md that has them. `--check` writes nothing and fails when a
// document is out of date.
//   npx tsx scripts/permission-table.ts [--check]
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableIn, updatePermissionTable } from '../src/contract/permission-table.js';

const docs = join(import.meta.dirname, '..', 'docs');
const check = process.argv.includes('--check');
let stale = 0;
let found = 0;
for (const name of readdirSync(docs).filter((n) => n.endsWith('.md'))) {
  const path = join(docs, name);
  const text = readFileSync(path, 'utf8');
  if (tableIn(text) === undefined) continue;
  found++;
  const next = updatePermissionTable(text);
  if (next === text) continue;
  stale++;
  if (check) console.error(`docs/${name}: the permission table differs from the catalogue`);
  else {
    writeFileSync(path, next);
    console.log(`docs/${name}: permission table updated`);
  }
}
if (found === 0) {
  console.error('no document has the permission-table markers');
  process.exit(1);
}
if (check && stale > 0) process.exit(1);
