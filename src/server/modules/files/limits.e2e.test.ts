// Upload limits and the per-user file quota are server configuration: a real `steward serve`
// started with STEWARD_UPLOAD_MAX_FILE_BYTES / STEWARD_UPLOAD_MAX_CHUNK_BYTES /
// STEWARD_FILE_QUOTA_BYTES enforces them (one byte over is a 413).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningManager, startManager } from '../../../../test/helpers/process.js';
import { multipart, newIdentifier } from '../../../../test/helpers/system.js';

const PASSWORD = 'Limits-Admin-Password-1';
let m: RunningManager;
let dataDir: string;
let auth: Record<string, string>;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'steward-limits-'));
  m = await startManager({
    STEWARD_DATA_DIR: dataDir,
    STEWARD_TLS: 'off',
    STEWARD_ADMIN_PASSWORD: PASSWORD,
    STEWARD_UPLOAD_MAX_FILE_BYTES: '4096',
    STEWARD_UPLOAD_MAX_CHUNK_BYTES: '2048',
    STEWARD_FILE_QUOTA_BYTES: '6000',
  });
  const login = await call(`${m.baseUrl}/api/v1/auth/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: PASSWORD }),
  });
  expect(login.status, login.body).toBe(200);
  auth = { authorization: `Token ${login.json().token}` };
});
afterAll(async () => {
  await m?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function chunk(id: string, total: number, size: number) {
  const mp = multipart([
    { name: 'flowChunkNumber', value: '1' },
    { name: 'flowCurrentChunkSize', value: String(size) },
    { name: 'flowFilename', value: 'a.bin' },
    { name: 'flowIdentifier', value: id },
    { name: 'flowTotalSize', value: String(total) },
    { name: 'file', value: Buffer.alloc(size, 1), filename: 'a.bin' },
  ]);
  return call(`${m.baseUrl}/api/v1/system/upload/`, {
    method: 'POST',
    headers: { ...auth, ...mp.headers },
    body: mp.payload.toString('latin1'),
  });
}

const putFile = (size: number) =>
  call(`${m.baseUrl}/api/v1/files/?filename=f${size}.bin`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/octet-stream' },
    body: Buffer.alloc(size, 2).toString('latin1'),
  });

describe('upload limits from the server configuration', () => {
  it('refuse a total size or a chunk one byte over the configured limits', async () => {
    expect((await chunk(newIdentifier(), 4097, 1024)).status).toBe(413);
    expect((await chunk(newIdentifier(), 3000, 2049)).status).toBe(413);
    const ok = await chunk(newIdentifier(), 2048, 2048);
    expect(ok.status, ok.body).toBe(200);
  });

  it('cap files at the configured size and each user at the configured quota', async () => {
    expect((await putFile(4097)).status).toBe(413);
    expect((await putFile(4096)).status).toBe(201);
    // 4096 of 6000 used: 1904 left.
    expect((await putFile(1905)).status).toBe(413);
    expect((await putFile(1904)).status).toBe(201);
    expect((await putFile(1)).status).toBe(413);
  });
});
