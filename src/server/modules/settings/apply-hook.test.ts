// The apply hook gets the section name and its JSON, and its failures are reported.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApplyHook } from './apply-hook.js';

const dir = mkdtempSync(join(tmpdir(), 'steward-hook-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string) {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('apply hook', () => {
  it('runs the executable with the section as argument and the JSON on stdin', async () => {
    const out = join(dir, 'got.json');
    const hook = createApplyHook(script('ok.sh', `echo "$1" > ${out}.arg; cat > ${out}`));
    await hook?.('ntp', { enable: true, servers: 'ntp.example.com' });
    expect(readFileSync(`${out}.arg`, 'utf8').trim()).toBe('ntp');
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({
      section: 'ntp',
      value: { enable: true, servers: 'ntp.example.com' },
    });
  });

  it('rejects with the exit code and stderr when the hook fails', async () => {
    const hook = createApplyHook(script('bad.sh', 'cat > /dev/null; echo "chronyc: not found" >&2; exit 3'));
    await expect(hook?.('ntp', {})).rejects.toThrow(/exited with 3: chronyc: not found/);
  });

  it('is absent when no executable is configured', () => {
    expect(createApplyHook(undefined)).toBeUndefined();
  });
});
