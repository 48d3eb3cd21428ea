// Chunked uploads (flow.js protocol of seed 003): single chunk, several chunks with resume,
// limits (413) and every kind of bad input (400).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';
import { multipart, newIdentifier, uploadFile } from '../../../../test/helpers/system.js';

let t: TestContext;
let admin: Record<string, string>;
beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
});
afterAll(async () => {
  await t?.close();
});

const chunkForm = (fields: Record<string, string>, file: Buffer | null = Buffer.from('x')) =>
  multipart([
    ...Object.entries(fields).map(([name, value]) => ({ name, value })),
    ...(file ? [{ name: 'file', value: file, filename: 'f' }] : []),
  ]);

const post = (mp: ReturnType<typeof multipart>, headers = admin) =>
  t.app.inject({
    method: 'POST',
    url: '/api/v1/system/upload/',
    headers: { ...headers, ...mp.headers },
    payload: mp.payload,
  });

describe('POST /api/v1/system/upload/', () => {
  it('stores a one-chunk file as <flowIdentifier>.<flowFilename> (the seed curl)', async () => {
    const content = Buffer.from('-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n');
    const { id, res } = await uploadFile(t.app, admin, 'valid_cert.pem', content);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      complete: true,
      filename: `${id}.valid_cert.pem`,
      received: content.length,
    });
    expect(readFileSync(join(t.dataDir, 'uploads', `${id}.valid_cert.pem`))).toEqual(content);
  });

  it('assembles many chunks, and resumes after an interruption (GET tells what is there)', async () => {
    const content = Buffer.alloc(10_000);
    for (let i = 0; i < content.length; i++) content[i] = i % 251;
    const id = newIdentifier();
    // Interrupted after chunks 1 and 2 of 4.
    const first = await uploadFile(t.app, admin, 'big.bin', content, {
      identifier: id,
      chunkSize: 3000,
      only: [1, 2],
    });
    expect(first.res.json()).toMatchObject({ complete: false, received: 6000 });
    const probe = (n: number) =>
      t.app.inject({
        method: 'GET',
        url: `/api/v1/system/upload/?flowIdentifier=${id}&flowFilename=big.bin&flowChunkNumber=${n}&flowCurrentChunkSize=3000`,
        headers: admin,
      });
    expect((await probe(1)).statusCode).toBe(200);
    expect((await probe(3)).statusCode).toBe(204);
    const rest = await uploadFile(t.app, admin, 'big.bin', content, {
      identifier: id,
      chunkSize: 3000,
      only: [3, 4],
    });
    expect(rest.res.json()).toMatchObject({ complete: true, received: 10_000 });
    expect(readFileSync(join(t.dataDir, 'uploads', `${id}.big.bin`)).equals(content)).toBe(true);
    expect(existsSync(join(t.dataDir, 'uploads', '.chunks', id))).toBe(false);
    expect((await probe(3)).statusCode).toBe(200);
  });

  it('refuses a total size one byte over the limit with 413', async () => {
    const limit = 4 * 1024 ** 3;
    const ok = chunkForm({
      flowIdentifier: newIdentifier(),
      flowFilename: 'a.bin',
      flowTotalSize: String(limit),
      flowCurrentChunkSize: '1',
      flowChunkNumber: '1',
    });
    expect((await post(ok)).statusCode).toBe(200);
    const over = chunkForm({
      flowIdentifier: newIdentifier(),
      flowFilename: 'a.bin',
      flowTotalSize: String(limit + 1),
      flowCurrentChunkSize: '1',
      flowChunkNumber: '1',
    });
    const res = await post(over);
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('payload_too_large');
  });

  it.each([
    ['a short identifier', { flowIdentifier: 'abc' }, 'body.flowIdentifier'],
    ['a non-hex identifier', { flowIdentifier: 'z'.repeat(32) }, 'body.flowIdentifier'],
    ['a path in the file name', { flowFilename: '../../etc/passwd' }, 'body.flowFilename'],
    ['a backslash path', { flowFilename: '..\\evil.pem' }, 'body.flowFilename'],
    ['a hidden file name', { flowFilename: '.bashrc' }, 'body.flowFilename'],
    ['chunk number 0', { flowChunkNumber: '0' }, 'body.flowChunkNumber'],
    ['a negative size', { flowTotalSize: '-5' }, 'body.flowTotalSize'],
    [
      'a chunk size that does not match the bytes',
      { flowTotalSize: '5', flowCurrentChunkSize: '2' },
      'body.file',
    ],
    ['an unknown field', { colour: 'blue' }, 'body.colour'],
  ])('refuses %s with a 400 naming the field', async (_what, change, field) => {
    const fields = {
      flowIdentifier: newIdentifier(),
      flowFilename: 'x.pem',
      flowTotalSize: '1',
      flowCurrentChunkSize: '1',
      flowChunkNumber: '1',
      ...change,
    };
    const res = await post(chunkForm(fields));
    expect(res.statusCode).toBe(400);
    expect(res.json().errors?.[0]?.field).toBe(field);
  });

  it('accepts the extra fields a real flow.js client sends', async () => {
    const fields = {
      flowChunkNumber: '1',
      flowChunkSize: '1048576',
      flowCurrentChunkSize: '1',
      flowTotalSize: '1',
      flowIdentifier: newIdentifier(),
      flowFilename: 'x.pem',
      flowRelativePath: 'x.pem',
      flowTotalChunks: '1',
    };
    const res = await post(chunkForm(fields));
    expect(res.statusCode).toBe(200);
    expect(res.json().complete).toBe(true);
  });

  it('refuses a request without a file, and a non-multipart body', async () => {
    const noFile = chunkForm(
      {
        flowIdentifier: newIdentifier(),
        flowFilename: 'x.pem',
        flowTotalSize: '1',
        flowCurrentChunkSize: '1',
        flowChunkNumber: '1',
      },
      null,
    );
    expect((await post(noFile)).statusCode).toBe(400);
    const json = await t.app.inject({
      method: 'POST',
      url: '/api/v1/system/upload/',
      headers: admin,
      payload: { a: 1 },
    });
    expect(json.statusCode).toBe(415);
  });

  it('refuses the same identifier with another file name (409)', async () => {
    const id = newIdentifier();
    const base = { flowIdentifier: id, flowTotalSize: '2', flowCurrentChunkSize: '1' };
    expect(
      (await post(chunkForm({ ...base, flowFilename: 'one.bin', flowChunkNumber: '1' }))).statusCode,
    ).toBe(200);
    expect(
      (await post(chunkForm({ ...base, flowFilename: 'two.bin', flowChunkNumber: '2' }))).statusCode,
    ).toBe(409);
  });

  it('needs system:write: viewers and operators are refused', async () => {
    const fields = {
      flowIdentifier: newIdentifier(),
      flowFilename: 'x.pem',
      flowTotalSize: '1',
      flowCurrentChunkSize: '1',
      flowChunkNumber: '1',
    };
    expect((await post(chunkForm(fields), await t.headersFor('operator'))).statusCode).toBe(403);
    expect((await post(chunkForm(fields), await t.headersFor('viewer'))).statusCode).toBe(403);
    expect((await post(chunkForm(fields), {})).statusCode).toBe(401);
  });
});
