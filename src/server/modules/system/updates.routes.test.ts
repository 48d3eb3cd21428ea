// Available updates against the real package store: packages signed by a trusted publisher are
// uploaded through the fleet module's route, then read back through the seed's update paths.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublisher, multipartFile } from '../../../../test/helpers/agent-package.js';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';
import { newestByType } from './updates.routes.js';

let t: TestContext;
let admin: Record<string, string>;
beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
});
afterAll(async () => {
  await t?.close();
});

const get = (url: string, headers = admin) => t.app.inject({ method: 'GET', url, headers });

async function upload(pkg: Buffer) {
  const mp = multipartFile('file', 'p.stwpkg', pkg);
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/package-management/upload/',
    headers: { ...admin, ...mp.headers },
    payload: mp.payload,
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { sha256: string };
}

describe('update routes', () => {
  it('say nothing is available while the store is empty', async () => {
    const res = await get('/api/v1/update-system/available-update/');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      available: false,
      type: null,
      filename: null,
      sha1: null,
      sha256: null,
      version: null,
      requires: null,
      size: null,
      time: null,
    });
    expect((await get('/api/v1/update/latest/')).json()).toEqual({ count: 0, results: [] });
  });

  it('answer the newest package by version, not by upload order', async () => {
    const pub = createPublisher(t.dataDir);
    await upload(pub.build({ type: 'tiscale-worker', version: '5.10.0', requires: '5.0.0' }, 'echo a'));
    const w59 = pub.build({ type: 'tiscale-worker', version: '5.9.2', requires: '5.0.0' }, 'echo b');
    await upload(w59);
    const hub = await upload(
      pub.build({ type: 'tiscale-hub', version: '6.0.0', requires: '5.5.0' }, 'echo c'),
    );

    const any = (await get('/api/v1/update-system/available-update/')).json();
    expect(any).toMatchObject({
      available: true,
      type: 'tiscale-hub',
      version: '6.0.0',
      requires: '5.5.0',
      filename: 'tiscale-hub-6.0.0.stwpkg',
      sha256: hub.sha256,
    });
    expect(any.size).toBeGreaterThan(0);

    const worker = await get('/api/v1/update-system/available-update/?appliance_type=worker');
    expect(worker.json()).toMatchObject({ available: true, type: 'tiscale-worker', version: '5.10.0' });
    const a1000 = await get('/api/v1/update-system/available-update/?appliance_type=a1000');
    expect(a1000.json().available).toBe(false);

    const latest = (await get('/api/v1/update/latest/')).json();
    expect(latest.count).toBe(2);
    expect(latest.results.map((r: { type: string; version: string }) => `${r.type} ${r.version}`)).toEqual([
      'tiscale-worker 5.10.0',
      'tiscale-hub 6.0.0',
    ]);
  });

  it('refuse an unknown appliance type with a 400 naming the field', async () => {
    const res = await get('/api/v1/update-system/available-update/?appliance_type=toaster');
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].field).toBe('query.appliance_type');
    const extra = await get('/api/v1/update-system/available-update/?nope=1');
    expect(extra.statusCode).toBe(400);
  });

  it('need upgrades:read', async () => {
    expect((await get('/api/v1/update/latest/', {})).statusCode).toBe(401);
    const viewer = await t.headersFor('viewer');
    expect((await get('/api/v1/update/latest/', viewer)).statusCode).toBe(200);
    const scoped = await t.headersFor('admin', { scopes: ['users:read'] });
    expect((await get('/api/v1/update-system/available-update/', scoped)).statusCode).toBe(403);
  });
});

describe('newestByType', () => {
  it('compares release numbers, not strings', () => {
    const p = (type: string, version: string) => ({ type, version, requires: '1', sha256: 'x', size: 1 });
    expect(newestByType([p('a1000', '9.0'), p('a1000', '10.0'), p('a1000', '10.0.1-rc1')])).toEqual([
      p('a1000', '10.0.1-rc1'),
    ]);
  });
});
