// Files (CloudShark's captures): uploads with tags, token defaults, type detection, visibility,
// filters, download headers, quota and deletion.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';
import { multipart } from '../../../../test/helpers/system.js';

let t: TestContext;
let admin: Record<string, string>;
beforeAll(async () => {
  t = await createTestContext({ jobIntervals: { retention: 100 } });
  admin = await t.adminHeaders();
});
afterAll(async () => {
  await t?.close();
});

const PCAP = Buffer.concat([Buffer.from('d4c3b2a1', 'hex'), Buffer.alloc(100, 1)]);

async function upload(
  headers: Record<string, string>,
  fields: Record<string, string>,
  content = PCAP,
  filename = 'capture.pcap',
) {
  const mp = multipart([
    ...Object.entries(fields).map(([name, value]) => ({ name, value })),
    { name: 'file', value: content, filename },
  ]);
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/files/',
    headers: { ...headers, ...mp.headers },
    payload: mp.payload,
  });
}

describe('/api/v1/files/', () => {
  it('stores a multipart upload with tags, sha256 and a detected type', async () => {
    const res = await upload(admin, { tags: 'soc, incident-42', visibility: 'public' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({
      name: 'capture.pcap',
      size: PCAP.length,
      file_type: 'pcap',
      tags: ['soc', 'incident-42'],
      visibility: 'public',
    });
    expect(res.json().sha256).toMatch(/^[0-9a-f]{64}$/);
    const audit = await t.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'file.uploaded')
      .execute();
    expect(audit.length).toBeGreaterThan(0);
  });

  it("applies the uploading token's default tags and profile when the request gives none", async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/',
      headers: admin,
      payload: {
        name: 'capture-uploader',
        scopes: ['files:read', 'files:write'],
        default_tags: ['from-token', 'sensor-7'],
        default_profile: 'pcap-default',
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    const token = { authorization: `Token ${res.json().token}` };
    const up = await upload(token, {});
    expect(up.json()).toMatchObject({ tags: ['from-token', 'sensor-7'], profile: 'pcap-default' });
    const own = await upload(token, { tags: 'explicit', profile: 'mine' });
    expect(own.json()).toMatchObject({ tags: ['explicit'], profile: 'mine' });
  });

  it('takes a raw body with the metadata in the query', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/files/?filename=notes.txt&tags=raw',
      headers: { ...admin, 'content-type': 'application/octet-stream' },
      payload: Buffer.from('plain text notes\n'),
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ name: 'notes.txt', file_type: 'text', tags: ['raw'] });
  });

  it('lists with filters, downloads as an attachment, deletes', async () => {
    const list = await t.app.inject({
      method: 'GET',
      url: '/api/v1/files/?tag=incident-42&type=pcap',
      headers: admin,
    });
    expect(list.statusCode).toBe(200);
    expect(list.json().count).toBe(1);
    const id = list.json().results[0].id as number;
    const dl = await t.app.inject({ method: 'GET', url: `/api/v1/files/${id}/download/`, headers: admin });
    expect(dl.statusCode).toBe(200);
    expect(dl.headers['content-disposition']).toBe(
      `attachment; filename="capture.pcap"; filename*=UTF-8''capture.pcap`,
    );
    expect(dl.headers['content-type']).toBe('application/octet-stream');
    expect(dl.rawPayload.equals(PCAP)).toBe(true);
    expect(
      (await t.app.inject({ method: 'DELETE', url: `/api/v1/files/${id}/`, headers: admin })).statusCode,
    ).toBe(204);
    expect(
      (await t.app.inject({ method: 'GET', url: `/api/v1/files/${id}/`, headers: admin })).statusCode,
    ).toBe(404);
  });

  it('hides private files of others; viewers cannot upload', async () => {
    const op1 = await t.headersFor('operator');
    const op2 = await t.headersFor('operator');
    const mine = await upload(op1, { tags: 'private-one' });
    expect(mine.statusCode).toBe(201);
    const id = mine.json().id as number;
    expect(
      (await t.app.inject({ method: 'GET', url: `/api/v1/files/${id}/`, headers: op2 })).statusCode,
    ).toBe(404);
    expect(
      (await t.app.inject({ method: 'DELETE', url: `/api/v1/files/${id}/`, headers: op2 })).statusCode,
    ).toBe(404);
    const l = await t.app.inject({ method: 'GET', url: '/api/v1/files/?tag=private-one', headers: op2 });
    expect(l.json().count).toBe(0);
    expect(
      (await t.app.inject({ method: 'GET', url: `/api/v1/files/${id}/`, headers: admin })).statusCode,
    ).toBe(200);
    expect((await upload(await t.headersFor('viewer'), {})).statusCode).toBe(403);
    expect((await upload(op2, { owner_id: '1' })).statusCode).toBe(403);
  });

  it('refuses bad names, tags and files over the size limit', async () => {
    // The multipart parser keeps only the base name; a name field or a hidden name is refused.
    const stripped = await upload(admin, {}, PCAP, '../../etc/passwd');
    expect(stripped.json().name).toBe('passwd');
    expect((await upload(admin, { filename: '../../etc/passwd' })).statusCode).toBe(400);
    expect((await upload(admin, {}, PCAP, '.htaccess')).statusCode).toBe(400);
    expect((await upload(admin, { tags: 'bad tag!' })).statusCode).toBe(400);
    expect((await upload(admin, { colour: 'blue' })).statusCode).toBe(400);
    await t.app.inject({
      method: 'POST',
      url: '/api/v1/config/central_logging/',
      headers: admin,
      payload: { central_file_storage__file_size_limit: 1 },
    });
    const big = await upload(admin, {}, Buffer.alloc(1024 * 1024 + 1));
    expect(big.statusCode).toBe(413);
    const exact = await upload(admin, {}, Buffer.alloc(1024 * 1024));
    expect(exact.statusCode).toBe(201);
  });

  it('refuses uploads below the minimum free space (503)', async () => {
    const cfg = (body: object) =>
      t.app.inject({ method: 'POST', url: '/api/v1/config/central_logging/', headers: admin, payload: body });
    expect((await cfg({ central_storage_general__min_free_space: 99999 })).statusCode).toBe(200);
    const res = await upload(admin, {});
    expect(res.statusCode).toBe(503);
    expect(res.json().detail).toContain('free disk space');
    await cfg({ central_storage_general__min_free_space: 0 });
  });

  it('the retention job deletes files older than the storage TTL, with their bytes', async () => {
    const old = await upload(admin, { tags: 'ttl-old' });
    const fresh = await upload(admin, { tags: 'ttl-fresh' });
    await t.db
      .updateTable('files')
      .set({ created_at: new Date(t.clock.now().getTime() - 3 * 3_600_000) } as never)
      .where('id', '=', old.json().id)
      .execute();
    await t.app.inject({
      method: 'POST',
      url: '/api/v1/config/central_logging/',
      headers: admin,
      payload: { central_file_storage__ttl: 2 },
    });
    await t.app.startJobs();
    const exists = async (id: number) =>
      (await t.app.inject({ method: 'GET', url: `/api/v1/files/${id}/`, headers: admin })).statusCode;
    await expect.poll(() => exists(old.json().id), { timeout: 10_000 }).toBe(404);
    expect(await exists(fresh.json().id)).toBe(200);
  });
});
