// The console adds no request the API does not document: every call the typed client makes
// (`api.GET('/path')`, ...) names a path and method of the manager's OpenAPI document, and only
// src/console/api/ talks to the server. (The TypeScript build already refuses unknown paths; this
// test also catches `as any` escapes and stray fetch calls.)
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const CONSOLE = join(ROOT, 'src', 'console');
const built = existsSync(join(ROOT, 'dist', 'server', 'app.js'));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith('.gen.ts') ? [p] : [];
  });
}

describe.skipIf(!built)('console and API contract', () => {
  it('calls only documented operations', () => {
    const doc = JSON.parse(
      execFileSync(process.execPath, [join(ROOT, 'scripts', 'export-openapi.mjs')], {
        cwd: ROOT,
        maxBuffer: 64 * 1024 * 1024,
      }).toString(),
    ) as { paths: Record<string, Record<string, unknown>> };
    const calls: string[] = [];
    for (const file of sources(join(CONSOLE, 'api'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(
        /\bapi\.(GET|POST|PUT|PATCH|DELETE)\(\s*'([^']+)'/g,
      )) {
        calls.push(`${m[1]} ${m[2]}`);
      }
    }
    // Settings sections are called through one map of documented paths (GET and POST each).
    const system = readFileSync(join(CONSOLE, 'api', 'system.ts'), 'utf8');
    const sectionMap = /const SECTION_PATHS = \{([^}]*)\}/.exec(system)?.[1] ?? '';
    const sectionPaths = [...sectionMap.matchAll(/'(\/api\/[^']+)'/g)].map((m) => m[1] as string);
    expect(sectionPaths.length).toBeGreaterThanOrEqual(10);
    for (const p of sectionPaths) calls.push(`GET ${p}`, `POST ${p}`);
    expect(calls.length).toBeGreaterThan(30);
    const undocumented = calls.filter((c) => {
      const [method, path] = c.split(' ') as [string, string];
      return !doc.paths[path]?.[method.toLowerCase()];
    });
    expect(undocumented).toEqual([]);
  });

  it('keeps every server call inside src/console/api/', () => {
    const offenders: string[] = [];
    for (const file of sources(CONSOLE)) {
      const rel = relative(CONSOLE, file);
      if (rel.startsWith('api/') || rel === 'vite.config.ts') continue;
      const text = readFileSync(file, 'utf8');
      if (/\bfetch\(|XMLHttpRequest|EventSource|new WebSocket|from 'openapi-fetch'|api\/client'/.test(text)) {
        offenders.push(rel);
      }
    }
    expect(offenders).toEqual([]);
  });
});
