// `steward package add|list|remove` as real processes (the built CLI, test/helpers/process.ts) on a
// manager data directory with the embedded database; then a real manager on that directory
// lists the package through GET /api/v1/package-management/ and shows the audit record.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPublisher } from '../../test/helpers/agent-package.js';
import { runSteward, STEWARD } from '../../test/helpers/process.js';

const dataDir = mkdtempSync(join(tmpdir(), 'steward-package-cli-'));
let manager: ChildProcess | undefined;

afterAll(async () => {
  if (manager && manager.exitCode === null) {
    const exited = new Promise((r) => manager?.once('exit', r));
    manager.kill('SIGTERM');
    await exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

const steward = (...args: string[]) => runSteward(args, { NODE_OPTIONS: '', STEWARD_DATA_DIR: dataDir });

describe('steward package', () => {
  const publisher = createPublisher(dataDir);
  const good = join(dataDir, 'worker-5.4.0.stwpkg');
  // The product name in the manifest, as a publisher may write it: signed as written, stored normalized.
  const worker = 'worker' as 'tiscale-worker';
  writeFileSync(good, publisher.build({ type: worker, version: '5.4.0', requires: '5.0.0' }, 'exit 0\n'));
  // The manager's own release: stored and listed with the others.
  const managerPkg = join(dataDir, 'manager-0.2.0.stwpkg');
  writeFileSync(
    managerPkg,
    publisher.build({ type: 'manager', version: '0.2.0', requires: '0.1.0' }, 'manager release\n'),
  );

  it('adds a signed package, refuses a duplicate, a bad signature and unknown types', async () => {
    const added = await steward('package', 'add', good, '--type', 'tiscale-worker', '--version', '5.4.0');
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(
      /^added tiscale-worker 5\.4\.0 \(requires 5\.0\.0, \d+ bytes, sha256 [0-9a-f]{64}/,
    );

    const dup = await steward('package', 'add', good);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('the store already has tiscale-worker 5.4.0');

    const forged = join(dataDir, 'forged.stwpkg');
    writeFileSync(
      forged,
      publisher.build({ type: 'tiscale-worker', version: '5.5.0', requires: '5.0.0' }, 'exit 0\n', {
        badSignature: true,
      }),
    );
    const bad = await steward('package', 'add', forged);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('file.signature: does not verify with any trusted publisher key');

    const tampered = join(dataDir, 'tampered.stwpkg');
    const env = JSON.parse(
      publisher.build({ type: 'tiscale-worker', version: '5.6.0', requires: '5.0.0' }, 'exit 0\n').toString(),
    );
    env.payload = Buffer.from('rm -rf /\n').toString('base64');
    writeFileSync(tampered, JSON.stringify(env));
    const mism = await steward('package', 'add', tampered);
    expect(mism.code).toBe(1);
    expect(mism.stderr).toContain('file.manifest.sha256: does not match the payload');

    const unknownType = await steward('package', 'add', good, '--type', 'toaster');
    expect(unknownType.code).toBe(2);
    expect(unknownType.stderr).toContain('--type: unknown package type "toaster"');
    expect(unknownType.stderr).toContain('or manager');

    const notManager = await steward('package', 'add', good, '--type', 'manager');
    expect(notManager.code).toBe(2);
    expect(notManager.stderr).toContain('--type: the package is for tiscale-worker, not manager');
    const mgr = await steward('package', 'add', managerPkg, '--type', 'manager', '--version', '0.2.0');
    expect(mgr.stderr).toBe('');
    expect(mgr.stdout).toMatch(/^added manager 0\.2\.0 \(requires 0\.1\.0, /);

    const otherType = await steward('package', 'add', good, '--type', 'hub');
    expect(otherType.code).toBe(2);
    expect(otherType.stderr).toContain('--type: the package is for tiscale-worker, not tiscale-hub');

    const otherVersion = await steward('package', 'add', good, '--version', '6.0.0');
    expect(otherVersion.code).toBe(2);
    expect(otherVersion.stderr).toContain('--version: the package is version 5.4.0, not 6.0.0');

    const missing = await steward('package', 'add', join(dataDir, 'nope.stwpkg'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such file');

    const listed = await steward('package', 'list');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/tiscale-worker\s+5\.4\.0\s+requires 5\.0\.0/);
    expect(listed.stdout).toMatch(/manager\s+0\.2\.0\s+requires 0\.1\.0/);
    expect(listed.stdout).not.toContain('5.5.0');

    const help = await steward('package', 'add', '--help');
    expect(help.stdout).toContain('--version <version>');
    expect(help.stdout).toContain('package-keys');
  }, 120_000);

  it('a manager on that data directory lists the package and the audit record', async () => {
    manager = spawn(
      process.execPath,
      [STEWARD, 'serve', '--host', '127.0.0.1', '--port', '0', '--tls', 'off'],
      {
        env: {
          ...process.env,
          NODE_OPTIONS: '',
          STEWARD_DATA_DIR: dataDir,
          STEWARD_ADMIN_PASSWORD: 'Package Cli Test Passphrase 1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    const base = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`manager did not start:\n${out}`)), 60_000);
      const onData = (d: Buffer) => {
        out += String(d);
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      };
      manager?.stdout?.on('data', onData);
      manager?.stderr?.on('data', onData);
      manager?.once('exit', (code) => reject(new Error(`manager exited ${code}:\n${out}`)));
    });
    const login = await fetch(`${base}/api/v1/auth/token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'Package Cli Test Passphrase 1' }),
    });
    expect(login.status).toBe(200);
    const auth = { authorization: `Token ${((await login.json()) as { token: string }).token}` };
    const res = await fetch(`${base}/api/v1/package-management/`, { headers: auth });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { bins: { type: string; version: string; requires: string }[] };
    expect(body.bins).toEqual([
      expect.objectContaining({ type: 'manager', version: '0.2.0', requires: '0.1.0' }),
      expect.objectContaining({ type: 'tiscale-worker', version: '5.4.0', requires: '5.0.0' }),
    ]);
    const audit = await fetch(`${base}/api/v1/audit/?action=package.added`, { headers: auth });
    const records = JSON.stringify(await audit.json());
    expect(records).toContain('added package tiscale-worker 5.4.0 (steward package)');
    expect(records).toContain(`"username":"cli:${userInfo().username}"`);

    const exited = new Promise((r) => manager?.once('exit', r));
    manager.kill('SIGTERM');
    await exited;

    const removed = await steward('package', 'remove', 'worker', '5.4.0');
    expect(removed.stderr).toBe('');
    expect(removed.stdout).toBe('removed tiscale-worker 5.4.0\n');
    const again = await steward('package', 'remove', 'worker', '5.4.0');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('package tiscale-worker 5.4.0 not found');
    const removedManager = await steward('package', 'remove', 'manager', '0.2.0');
    expect(removedManager.stdout).toBe('removed manager 0.2.0\n');
    const empty = await steward('package', 'list', '--json');
    expect(JSON.parse(empty.stdout).bins).toEqual([]);
  }, 180_000);
});
