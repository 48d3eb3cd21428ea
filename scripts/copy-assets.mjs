// Copies the non-TypeScript files the server needs at run time (SQL migrations, word lists)
// from src/ into dist/, keeping their relative paths.
import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

const assets = ['server/db/migrations', 'server/modules/identity/data'];
for (const rel of assets) {
  const from = join('src', rel);
  if (!existsSync(from)) continue;
  const to = join('dist', rel);
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to, { recursive: true });
  console.log(`copied ${readdirSync(from).length} file(s) to ${to}`);
}
