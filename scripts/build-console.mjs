// Builds the web console: exports the manager's OpenAPI document (from the compiled server,
// so run after `tsc`), generates the typed client `src/console/api/schema.gen.ts` from it,
// type-checks the console against it (an API change that breaks the console fails here), and
// bundles the app into dist/console/, which the manager serves at `/`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => join(root, 'node_modules', '.bin', name);
const run = (cmd, args, what) => {
  try {
    execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  } catch {
    console.error(`console: ${what} failed (see above)`);
    process.exit(1);
  }
};

const work = mkdtempSync(join(tmpdir(), 'steward-console-'));
try {
  const spec = join(work, 'openapi.json');
  const doc = execFileSync(process.execPath, [join(root, 'scripts', 'export-openapi.mjs')], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
  });
  const document = JSON.parse(String(doc));
  writeFileSync(spec, JSON.stringify(document));
  console.log('console: OpenAPI document exported');
  run(
    bin('openapi-typescript'),
    [spec, '--output', 'src/console/api/schema.gen.ts', '--alphabetize'],
    'generating the API types',
  );
  run(bin('tsc'), ['-p', 'src/console/tsconfig.json'], 'type-checking the console against the API');
  console.log('console: type check passed');
  run(bin('vite'), ['build', '--config', 'src/console/vite.config.ts', '--logLevel', 'warn'], 'bundling');
  console.log('console: built into dist/console/');
} finally {
  rmSync(work, { recursive: true, force: true });
}
