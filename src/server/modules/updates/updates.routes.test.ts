// The manager's own update against the real package store and a real apply hook: signed
// `manager` packages are uploaded through the fleet module's route; the hook is a shell script
// written here into a temp dir, which records what it receives and waits for the test's go.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublisher, multipartFile } from '../../../../test/helpers/agent-package.js';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';
import { VERSION } from '../../version.js';
import { pickManagerUpdate } from './manager-update.js';

// Versions around the running one, so the test holds whatever VERSION says.
const [major, minor, patch] = VERSION.split('.').map((n) => Number.parseInt(n, 10) || 0);
const NEXT_PATCH = `${major}.${minor}.${(patch ?? 0) + 1}`;
const NEXT_MINOR = `${major}.${(minor ?? 0) + 1}.0`;

const hookDir = mkdtempSync(join(tmpdir(), 'steward-manager-hook-'));
const hookPath = join(hookDir, 'apply-hook');
writeFileSync(
  hookPath,
  `#!/bin/sh
dir="${hookDir}"
cat > "$dir/received.json"
printf '%s' "$1" > "$dir/args"
while [ ! -e "$dir/go" ]; do sleep 0.05; done
rm -f "$dir/go"
if [ -e "$dir/fail" ]; then echo "could not install: disk full" >&2; exit 3; fi
exit 0
`,
);
chmodSync(hookPath, 0o755);

let t: TestContext;
let admin: Record<string, string>;
let publisher: ReturnType<typeof createPublisher>;
beforeAll(async () => {
  t = await createTestContext({ config: { applyHook: hookPath } });
  admin = await t.adminHeaders();
  publisher = createPublisher(t.dataDir);
});
afterAll(async () => {
  writeFileSync(join(hookDir, 'go'), ''); // never leave a hook waiting
  await t?.close();
  rmSync(hookDir, { recursive: true, force: true });
});

const AVAILABLE = '/api/v1/update-system/available-update/';
const START = '/api/v1/update/latest/';

async function upload(ctx: TestContext, pkg: Buffer, headers: Record<string, string>) {
  const mp = multipartFile('file', 'p.stwpkg', pkg);
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/package-management/upload/',
    headers: { ...headers, ...mp.headers },
    payload: mp.payload,
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { sha256: string };
}

const available = async (headers = admin) => {
  const res = await t.app.inject({ method: 'GET', url: AVAILABLE, headers });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
};
const start = (headers = admin) => t.app.inject({ method: 'POST', url: START, headers });

async function until<T>(what: string, fn: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function auditOf(action: string) {
  const res = await t.app.inject({ method: 'GET', url: `/api/v1/audit/?action=${action}`, headers: admin });
  expect(res.statusCode).toBe(200);
  return res.json().results as {
    action: string;
    outcome: string;
    username: string | null;
    path: string | null;
    status: number | null;
    target_id: string | null;
    summary: string;
    details: Record<string, unknown>;
  }[];
}

describe('manager update', () => {
  let offered: { sha256: string };

  it('offers nothing while the store holds no manager package newer than the running one', async () => {
    const empty = await available();
    expect(empty).toEqual({
      available: false,
      current_version: VERSION,
      reason: 'the package store holds no manager package',
      filename: null,
      sha1: null,
      sha256: null,
      version: null,
      requires: null,
      size: null,
      time: null,
      update_status: { status: 'idle', message: null },
    });

    // An appliance package is no manager update, however new.
    await upload(
      t,
      publisher.build({ type: 'tiscale-worker', version: '99.0.0', requires: '0.0.1' }, 'echo w'),
      admin,
    );
    expect((await available()).available).toBe(false);

    // The running version itself is not newer.
    await upload(t, publisher.build({ type: 'manager', version: VERSION, requires: '0.0.1' }, 'same'), admin);
    const same = await available();
    expect(same.available).toBe(false);
    expect(same.reason).toContain(`no manager package is newer than the running ${VERSION}`);

    // Newer, but it requires a release this manager does not run yet.
    await upload(
      t,
      publisher.build({ type: 'manager', version: NEXT_MINOR, requires: NEXT_PATCH }, 'later'),
      admin,
    );
    const unsatisfied = await available();
    expect(unsatisfied.available).toBe(false);
    expect(unsatisfied.reason).toContain(`manager ${NEXT_MINOR} requires ${NEXT_PATCH}`);

    const refused = await start();
    expect(refused.statusCode).toBe(409);
    expect(refused.json().detail).toContain('no manager update available');
    expect(refused.json().detail).toContain(`requires ${NEXT_PATCH}`);
    await until('the refusal in the audit log', async () =>
      (await auditOf('request.post')).some((r) => r.path === START && r.status === 409),
    );
  });

  it('offers the newest satisfiable manager package, with its build time', async () => {
    offered = await upload(
      t,
      publisher.build(
        { type: 'manager', version: NEXT_PATCH, requires: VERSION, created: '2026-11-20T09:30:00Z' },
        '#!/bin/sh\necho installing the manager\n',
      ),
      admin,
    );
    const a = await available();
    expect(a).toMatchObject({
      available: true,
      current_version: VERSION,
      reason: null,
      filename: `manager-${NEXT_PATCH}.stwpkg`,
      sha1: null,
      sha256: offered.sha256,
      version: NEXT_PATCH,
      requires: VERSION,
      time: '2026-11-20T09:30:00.000Z',
      update_status: { status: 'idle', message: null },
    });
    expect(a.size).toBeGreaterThan(0);

    // The package store lists manager packages with the rest; appliance paths refuse them.
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/package-management/', headers: admin });
    const bins = list.json().bins as { type: string; version: string }[];
    expect(bins.filter((b) => b.type === 'manager').map((b) => b.version)).toEqual([
      VERSION,
      NEXT_MINOR,
      NEXT_PATCH,
    ]);
    const prepare = await t.app.inject({
      method: 'POST',
      url: `/api/v1/package-management/manager/${NEXT_PATCH}/`,
      headers: admin,
      payload: {},
    });
    expect(prepare.statusCode).toBe(400);
    expect(prepare.json().errors[0].field).toBe('path.appliance_type');
  });

  it('needs upgrades:read to look and upgrades:write to start', async () => {
    expect((await t.app.inject({ method: 'GET', url: AVAILABLE })).statusCode).toBe(401);
    expect((await start({})).statusCode).toBe(401);
    const viewer = await t.headersFor('viewer');
    expect((await available(viewer)).available).toBe(true);
    const denied = await start(viewer);
    expect(denied.statusCode).toBe(403);
    // Refusals are audited too (after the response has gone).
    await until('the denial in the audit log', async () =>
      (await auditOf('auth.permission_denied')).some((r) => r.path === START && r.outcome === 'denied'),
    );
    const scoped = await t.headersFor('admin', { scopes: ['upgrades:read'] });
    expect((await start(scoped)).statusCode).toBe(403);
    expect(existsSync(join(hookDir, 'received.json'))).toBe(false);
    // The old appliance-package listing at this path is gone (GET /api/v1/package-management/ has it).
    expect((await t.app.inject({ method: 'GET', url: START, headers: admin })).statusCode).toBe(405);
  });

  it('runs the apply hook in the background, one at a time, and audits start and outcome', async () => {
    const res = await start();
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toEqual({ status: 'started', version: NEXT_PATCH });

    await until('the hook to read its input', async () => existsSync(join(hookDir, 'args')));
    const running = await available();
    expect(running.update_status.status).toBe('running');
    const second = await start();
    expect(second.statusCode).toBe(409);
    expect(second.json().detail).toContain('already running');

    const received = await until('the hook input', async () => {
      const text = readFileSync(join(hookDir, 'received.json'), 'utf8');
      return text.length > 0 && JSON.parse(text);
    });
    expect(readFileSync(join(hookDir, 'args'), 'utf8')).toBe('manager-update');
    expect(received).toEqual({
      section: 'manager-update',
      value: {
        version: NEXT_PATCH,
        requires: VERSION,
        sha256: offered.sha256,
        package_path: expect.any(String),
      },
    });
    const path = received.value.package_path as string;
    expect(isAbsolute(path)).toBe(true);
    const env = JSON.parse(readFileSync(path, 'utf8'));
    expect(env.manifest).toMatchObject({ type: 'manager', version: NEXT_PATCH });
    expect(createHash('sha256').update(Buffer.from(env.payload, 'base64')).digest('hex')).toBe(
      offered.sha256,
    );

    writeFileSync(join(hookDir, 'go'), '');
    const done = await until('the update to finish', async () => {
      const a = await available();
      return a.update_status.status !== 'running' && a.update_status;
    });
    expect(done.status).toBe('done');
    expect(done.message).toContain(`manager ${NEXT_PATCH}`);

    const started = await auditOf('manager_update.started');
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({
      outcome: 'success',
      username: 'admin',
      target_id: `manager-${NEXT_PATCH}`,
      details: { from: VERSION, version: NEXT_PATCH, sha256: offered.sha256 },
    });
    const finished = await auditOf('manager_update.finished');
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({ outcome: 'success', username: 'manager-update' });
  });

  it('reports a failing hook with its stderr, in the state and the audit log', async () => {
    writeFileSync(join(hookDir, 'fail'), '');
    expect((await start()).statusCode).toBe(202);
    writeFileSync(join(hookDir, 'go'), '');
    const failed = await until('the update to fail', async () => {
      const a = await available();
      return a.update_status.status !== 'running' && a.update_status;
    });
    rmSync(join(hookDir, 'fail'));
    expect(failed.status).toBe('error');
    expect(failed.message).toContain('exited with 3');
    expect(failed.message).toContain('could not install: disk full');
    const audit = await auditOf('manager_update.failed');
    expect(audit).toHaveLength(1);
    expect(audit[0]?.outcome).toBe('failure');
    expect(String(audit[0]?.details.error)).toContain('could not install: disk full');
  });

  it('refuses a stored file that no longer matches its sha256, and runs no hook', async () => {
    const path = JSON.parse(readFileSync(join(hookDir, 'received.json'), 'utf8')).value.package_path;
    rmSync(join(hookDir, 'received.json'));
    const env = JSON.parse(readFileSync(path, 'utf8'));
    const original = JSON.stringify(env);
    env.payload = Buffer.from('#!/bin/sh\nsomething else\n').toString('base64');
    writeFileSync(path, JSON.stringify(env));
    const res = await start();
    expect(res.statusCode).toBe(409);
    expect(res.json().detail).toContain('no longer matches its sha256');
    expect(existsSync(join(hookDir, 'received.json'))).toBe(false);
    expect((await available()).update_status.status).toBe('error'); // still the last run's
    writeFileSync(path, original);
  });
});

describe('manager update without an apply hook', () => {
  let bare: TestContext;
  beforeAll(async () => {
    bare = await createTestContext();
  });
  afterAll(async () => {
    await bare?.close();
  });

  it('is a 409 saying the host must configure STEWARD_APPLY_HOOK', async () => {
    const headers = await bare.adminHeaders();
    const pub = createPublisher(bare.dataDir);
    await upload(bare, pub.build({ type: 'manager', version: NEXT_PATCH, requires: VERSION }, 'x'), headers);
    const res = await bare.app.inject({ method: 'POST', url: START, headers });
    expect(res.statusCode).toBe(409);
    expect(res.json().detail).toContain('STEWARD_APPLY_HOOK');
    const records = await bare.app.inject({
      method: 'GET',
      url: '/api/v1/audit/?action=manager_update.started',
      headers,
    });
    expect(records.json().results).toEqual([]);
  });
});

describe('pickManagerUpdate', () => {
  const p = (type: string, version: string, requires = '0') => ({
    type,
    version,
    requires,
    sha256: 'x',
    size: 1,
  });
  it('compares release numbers, skips appliance packages and unsatisfiable ones', () => {
    expect(pickManagerUpdate([p('manager', '1.9.0'), p('manager', '1.10.0')], '1.2.0').pkg?.version).toBe(
      '1.10.0',
    );
    expect(pickManagerUpdate([p('a1000', '9.0.0')], '1.0.0').reason).toBe(
      'the package store holds no manager package',
    );
    const fallback = pickManagerUpdate(
      [p('manager', '3.0.0', '2.0.0'), p('manager', '1.5.0', '1.0.0')],
      '1.0.0',
    );
    expect(fallback.pkg?.version).toBe('1.5.0');
  });
});
