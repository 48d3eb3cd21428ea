// Route tests for the package repository: a repository served over HTTPS on 127.0.0.1 with a
// self-signed certificate, signed packages from a test publisher the manager trusts.
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { sql } from 'kysely';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublisher, multipartFile } from '../../../../test/helpers/agent-package.js';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';

let t: TestContext;
let admin: Record<string, string>;
let server: Server;
let repoUrl: string;
let caPem: string;
let fingerprint: string;
let publisher: ReturnType<typeof createPublisher>;
/** What the repository serves: path -> status and body. */
const served = new Map<string, { status: number; body: Buffer | string }>();
/** Paths whose body is sent without ever ending the response. */
const stalled = new Set<string>();

const LIST = '/api/v1/package-management/';
const REPOSITORY = '/api/v1/package-management/repository/';

function entryOf(type: string, version: string, pkg: Buffer, file = `${type}-${version}.stwpkg`) {
  const env = JSON.parse(pkg.toString()) as { signature: string };
  return {
    type,
    version,
    file,
    size: pkg.length,
    sha256: createHash('sha256').update(pkg).digest('hex'),
    signature: env.signature,
  };
}

function serveIndex(entries: unknown[]) {
  served.set('/repo/index.json', {
    status: 200,
    body: JSON.stringify({ format: 'steward-package-index/1', packages: entries }),
  });
}

function servePackage(entry: { file: string }, pkg: Buffer) {
  served.set(`/repo/${entry.file}`, { status: 200, body: pkg });
}

const setRepository = (body: Record<string, unknown>, headers = admin) =>
  t.app.inject({ method: 'PUT', url: REPOSITORY, headers, payload: body });

const list = async (headers = admin) => {
  const res = await t.app.inject({ method: 'GET', url: LIST, headers });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
};

const download = (type: string, version: string, headers = admin) =>
  t.app.inject({
    method: 'POST',
    url: `/api/v1/package-management/${type}/${version}/`,
    headers: { ...headers, 'content-type': 'application/json' },
    payload: '{}',
  });

async function finished(type: string, version: string) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/package-management/${type}/${version}/`,
      headers: admin,
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    if (body.status === 'done' || body.status === 'error') return body;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the download did not finish');
}

/** Every file under the package store (temp files included). */
function storeFiles(): string[] {
  const dir = join(t.dataDir, 'packages');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1));
}

async function storedRows(type: string, version: string) {
  return t.db
    .selectFrom('fleet_packages')
    .selectAll()
    .where('type', '=', type)
    .where('version', '=', version)
    .execute();
}

async function auditOf(action: string) {
  const res = await t.app.inject({ method: 'GET', url: `/api/v1/audit/?action=${action}`, headers: admin });
  expect(res.statusCode).toBe(200);
  return res.json().results as { action: string; summary: string; username: string | null }[];
}

beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
  publisher = createPublisher(t.dataDir);
  const pems = await generate([{ name: 'commonName', value: 'mirror.test' }], {
    keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  } as Parameters<typeof generate>[1]);
  caPem = pems.cert;
  fingerprint = new X509Certificate(pems.cert).fingerprint256;
  server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    const hit = served.get(req.url ?? '');
    res.statusCode = hit?.status ?? 404;
    if (stalled.has(req.url ?? '')) res.write(hit?.body ?? '');
    else res.end(hit?.body ?? 'not here');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  repoUrl = `https://127.0.0.1:${(server.address() as { port: number }).port}/repo/`;
});

afterAll(async () => {
  await t.close();
  await new Promise((r) => server.close(r));
});

describe('package repository', () => {
  it('without a repository: the list says why and a download is a 409 naming what to set', async () => {
    const body = await list();
    expect(body.is_ticloud_data_available).toBe(false);
    expect(body.reason).toContain('PUT /api/v1/package-management/repository/');
    const res = await download('tiscale-worker', '3.4.0');
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json().detail).toContain('PUT /api/v1/package-management/repository/');
  });

  it('only an admin sets the repository; it must be https; the change is audited', async () => {
    const operator = await t.headersFor('operator');
    expect((await setRepository({ url: repoUrl }, operator)).statusCode).toBe(403);
    const scoped = await t.headersFor('admin', { scopes: ['upgrades:write', 'upgrades:read'] });
    expect((await setRepository({ url: repoUrl }, scoped)).statusCode).toBe(403);
    const plain = await setRepository({ url: 'http://127.0.0.1:1/repo/' });
    expect(plain.statusCode).toBe(400);
    expect(plain.json().errors[0].field).toBe('body.url');
    const withUser = await setRepository({ url: 'https://user:pw@127.0.0.1/repo/' });
    expect(withUser.statusCode).toBe(400);
    const badCa = await setRepository({ url: repoUrl, ca_pem: 'not a certificate' });
    expect(badCa.statusCode).toBe(400);
    expect(badCa.json().errors[0].field).toBe('body.ca_pem');
    const badPin = await setRepository({ url: repoUrl, fingerprint_sha256: 'abc' });
    expect(badPin.json().errors[0].field).toBe('body.fingerprint_sha256');
    const ok = await setRepository({ url: repoUrl });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().url).toBe(repoUrl);
    const viewer = await t.headersFor('viewer');
    const seen = await t.app.inject({ method: 'GET', url: REPOSITORY, headers: viewer });
    expect(seen.json().url).toBe(repoUrl);
    expect((await auditOf('settings.package_repository.updated')).length).toBe(1);
  });

  it('refuses a self-signed repository until its CA or fingerprint is pinned', async () => {
    const pkg = publisher.build({ type: 'tiscale-worker', version: '3.4.0', requires: '3.0.0' }, 'exit 0');
    const e = entryOf('tiscale-worker', '3.4.0', pkg);
    serveIndex([e]);
    servePackage(e, pkg);
    await setRepository({ url: repoUrl, ca_pem: '', fingerprint_sha256: '' });
    const untrusted = await list();
    expect(untrusted.is_ticloud_data_available).toBe(false);
    expect(untrusted.reason).toMatch(/^TLS: /);

    await setRepository({ fingerprint_sha256: 'ab'.repeat(32) });
    const wrongPin = await list();
    expect(wrongPin.is_ticloud_data_available).toBe(false);
    expect(wrongPin.reason).toContain('fingerprint_sha256');

    await setRepository({ fingerprint_sha256: fingerprint });
    const pinned = await list();
    expect(pinned.is_ticloud_data_available, pinned.reason).toBe(true);

    await setRepository({ fingerprint_sha256: '', ca_pem: caPem });
    const trusted = await list();
    expect(trusted.is_ticloud_data_available, trusted.reason).toBe(true);
    expect(trusted.reason).toBeNull();
    expect(trusted.bins).toContainEqual(
      expect.objectContaining({
        type: 'tiscale-worker',
        version: '3.4.0',
        stored: false,
        in_repository: true,
        size: pkg.length,
      }),
    );
  });

  it('downloads a good package in the background; it enters the store verified', async () => {
    const viewer = await t.headersFor('viewer');
    expect((await download('tiscale-worker', '3.4.0', viewer)).statusCode).toBe(403);
    const res = await download('tiscale-worker', '3.4.0');
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json().status).toBe('downloading');
    const done = await finished('tiscale-worker', '3.4.0');
    expect(done, JSON.stringify(done)).toMatchObject({ status: 'done', error: null });
    expect(done.received).toBe(done.total);
    const rows = await storedRows('tiscale-worker', '3.4.0');
    expect(rows.length).toBe(1);
    expect(storeFiles()).toEqual([join('tiscale-worker', '3.4.0.stwpkg')]);
    const after = await list();
    expect(after.bins).toContainEqual(
      expect.objectContaining({
        type: 'tiscale-worker',
        version: '3.4.0',
        stored: true,
        in_repository: true,
      }),
    );
    const added = await auditOf('package.added');
    expect(added.some((a) => a.summary.includes('downloaded from the package repository'))).toBe(true);
    expect((await auditOf('package.download_started')).length).toBe(1);
    // Once stored, the seed's POST answers that it is ready.
    const again = await download('worker', '3.4.0');
    expect(again.statusCode).toBe(200);
    expect(again.json().status).toBe('done');
  });

  it('refuses a package whose signature does not verify, storing nothing', async () => {
    const pkg = publisher.build({ type: 'tiscale-worker', version: '3.5.0', requires: '3.0.0' }, 'exit 0', {
      badSignature: true,
    });
    const e = entryOf('tiscale-worker', '3.5.0', pkg);
    serveIndex([e]);
    servePackage(e, pkg);
    expect((await download('tiscale-worker', '3.5.0')).statusCode).toBe(202);
    const out = await finished('tiscale-worker', '3.5.0');
    expect(out.status).toBe('error');
    expect(out.error).toContain('signature');
    expect(await storedRows('tiscale-worker', '3.5.0')).toEqual([]);
    expect(storeFiles()).toEqual([join('tiscale-worker', '3.4.0.stwpkg')]);
    expect((await auditOf('package.download_failed')).length).toBeGreaterThan(0);
  });

  it('refuses a package that does not match the sha256 or size in the index', async () => {
    const pkg = publisher.build({ type: 'tiscale-hub', version: '3.6.0', requires: '3.0.0' }, 'exit 0');
    const e = { ...entryOf('tiscale-hub', '3.6.0', pkg), sha256: 'ee'.repeat(32) };
    const longer = publisher.build({ type: 'tiscale-hub', version: '3.7.0', requires: '3.0.0' }, 'exit 0');
    const e2 = { ...entryOf('tiscale-hub', '3.7.0', longer), size: 10 };
    serveIndex([e, e2]);
    servePackage(e, pkg);
    servePackage(e2, longer);
    expect((await download('tiscale-hub', '3.6.0')).statusCode).toBe(202);
    const out = await finished('tiscale-hub', '3.6.0');
    expect(out.status).toBe('error');
    expect(out.error).toContain('sha256');
    expect((await download('tiscale-hub', '3.7.0')).statusCode).toBe(202);
    const out2 = await finished('tiscale-hub', '3.7.0');
    expect(out2.status).toBe('error');
    expect(out2.error).toContain('larger than');
    expect(await storedRows('tiscale-hub', '3.6.0')).toEqual([]);
    expect(await storedRows('tiscale-hub', '3.7.0')).toEqual([]);
    expect(storeFiles()).toEqual([join('tiscale-worker', '3.4.0.stwpkg')]);
  });

  it('refuses a package other than the one the index announced (a swapped file)', async () => {
    const real = publisher.build({ type: 'a1000', version: '9.0.0', requires: '1.0.0' }, 'exit 0');
    const other = publisher.build({ type: 'a1000', version: '9.0.1', requires: '1.0.0' }, 'exit 0');
    // The index describes `other` under 9.0.0's name: hash and size match, the manifest does not.
    const e = { ...entryOf('a1000', '9.0.0', other), signature: entryOf('a1000', '9.0.0', real).signature };
    serveIndex([e]);
    servePackage(e, other);
    expect((await download('a1000', '9.0.0')).statusCode).toBe(202);
    const out = await finished('a1000', '9.0.0');
    expect(out.status).toBe('error');
    expect(out.error).toContain('announced');
    expect(await storedRows('a1000', '9.0.1')).toEqual([]);
    expect(await storedRows('a1000', '9.0.0')).toEqual([]);
  });

  it('never echoes what the repository sent in an error', async () => {
    const secret = 'REMOTE-BODY-7f3a';
    served.set('/repo/index.json', { status: 200, body: `{"packages": [{"type": "${secret}"}]}` });
    const bad = await list();
    expect(bad.is_ticloud_data_available).toBe(false);
    expect(bad.reason).toContain('packages[0].type');
    expect(JSON.stringify(bad)).not.toContain(secret);
    served.set('/repo/index.json', { status: 500, body: secret });
    const failed = await list();
    expect(failed.reason).toContain('HTTP 500');
    expect(JSON.stringify(failed)).not.toContain(secret);
    const res = await download('tiscale-worker', '4.0.0');
    expect(res.statusCode).toBe(503);
    expect(res.body).not.toContain(secret);

    const pkg = publisher.build({ type: 'tiscale-worker', version: '4.0.0', requires: '1.0.0' }, 'exit 0');
    const e = entryOf('tiscale-worker', '4.0.0', pkg);
    serveIndex([e]);
    served.set(`/repo/${e.file}`, { status: 502, body: secret });
    expect((await download('tiscale-worker', '4.0.0')).statusCode).toBe(202);
    const out = await finished('tiscale-worker', '4.0.0');
    expect(out.error).toContain('HTTP 502');
    expect(JSON.stringify(out)).not.toContain(secret);
  });

  it('answers 404 for a package the repository does not offer, 413 over the size limit, 400 for an unknown type', async () => {
    serveIndex([
      {
        type: 'tiscale-worker',
        version: '9.9.9',
        file: 'huge.stwpkg',
        size: 300 * 1024 * 1024,
        sha256: 'aa'.repeat(32),
        signature: 'AAAA',
      },
    ]);
    expect((await download('tiscale-worker', '8.8.8')).statusCode).toBe(404);
    // Over the size limit (256 MiB, as an upload): refused before anything is fetched.
    const huge = await download('tiscale-worker', '9.9.9');
    expect(huge.statusCode).toBe(413);
    expect(
      (await t.db.selectFrom('fleet_package_downloads').selectAll().where('version', '=', '9.9.9').execute())
        .length,
    ).toBe(0);
    const res = await download('router', '1.0.0');
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].field).toBe('path.appliance_type');
  });

  it('an upload whose audit record cannot be written leaves no file in the store', async () => {
    const pkg = publisher.build({ type: 'tiscale-hub', version: '1.2.3', requires: '1.0.0' }, 'exit 0');
    const before = storeFiles();
    await sql`ALTER TABLE audit_log ADD CONSTRAINT audit_blocked CHECK (action = 'never') NOT VALID`.execute(
      t.db,
    );
    try {
      const form = multipartFile('file', 'hub.stwpkg', pkg);
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/package-management/upload/',
        headers: { ...admin, ...form.headers },
        payload: form.payload,
      });
      expect(res.statusCode).toBe(503);
    } finally {
      await sql`ALTER TABLE audit_log DROP CONSTRAINT audit_blocked`.execute(t.db);
    }
    expect(await storedRows('tiscale-hub', '1.2.3')).toEqual([]);
    expect(storeFiles()).toEqual(before);
    // Uploaded when the audit works: its status is `done` though it was never downloaded.
    const form = multipartFile('file', 'hub.stwpkg', pkg);
    const ok = await t.app.inject({
      method: 'POST',
      url: '/api/v1/package-management/upload/',
      headers: { ...admin, ...form.headers },
      payload: form.payload,
    });
    expect(ok.statusCode, ok.body).toBe(201);
    const status = await t.app.inject({
      method: 'GET',
      url: '/api/v1/package-management/hub/1.2.3/',
      headers: admin,
    });
    expect(status.json()).toMatchObject({ type: 'tiscale-hub', status: 'done', received: pkg.length });
    const none = await t.app.inject({
      method: 'GET',
      url: '/api/v1/package-management/hub/1.2.4/',
      headers: admin,
    });
    expect(none.statusCode).toBe(404);
  });

  it('a shutdown cuts off a stalled download at once and records why', async () => {
    const t2 = await createTestContext();
    const admin2 = await t2.adminHeaders();
    const p2 = createPublisher(t2.dataDir);
    const pkg = p2.build({ type: 'tiscale-worker', version: '6.0.0', requires: '1.0.0' }, 'exit 0');
    const e = entryOf('tiscale-worker', '6.0.0', pkg, 'stall.stwpkg');
    serveIndex([e]);
    // Half the package, then nothing: the socket stays open (an idle timeout would take 30 s).
    served.set('/repo/stall.stwpkg', { status: 200, body: pkg.subarray(0, 10) });
    stalled.add('/repo/stall.stwpkg');
    try {
      const set = await t2.app.inject({
        method: 'PUT',
        url: REPOSITORY,
        headers: admin2,
        payload: { url: repoUrl, ca_pem: caPem },
      });
      expect(set.statusCode, set.body).toBe(200);
      const res = await t2.app.inject({
        method: 'POST',
        url: '/api/v1/package-management/tiscale-worker/6.0.0/',
        headers: admin2,
        payload: {},
      });
      expect(res.statusCode, res.body).toBe(202);
      await new Promise((r) => setTimeout(r, 700));
      const started = Date.now();
      await t2.app.close();
      expect(Date.now() - started).toBeLessThan(5000);
      const row = await t2.db
        .selectFrom('fleet_package_downloads')
        .selectAll()
        .where('version', '=', '6.0.0')
        .executeTakeFirstOrThrow();
      expect(row.status).toBe('error');
      expect(row.finished).not.toBeNull();
      expect(existsSync(join(t2.dataDir, 'packages', 'tiscale-worker'))).toBe(true);
      expect(readdirSync(join(t2.dataDir, 'packages', 'tiscale-worker'))).toEqual([]);
    } finally {
      stalled.delete('/repo/stall.stwpkg');
      await t2.close().catch(() => undefined);
    }
  });

  it('reports a repository that is down', async () => {
    await new Promise((r) => server.close(r));
    server.closeAllConnections();
    const body = await list();
    expect(body.is_ticloud_data_available).toBe(false);
    expect(body.reason).toContain('refused the connection');
    expect((await download('tiscale-worker', '3.9.0')).statusCode).toBe(503);
    // What is already in the store is still listed.
    expect(body.bins.some((b: { stored: boolean }) => b.stored)).toBe(true);
  });
});
