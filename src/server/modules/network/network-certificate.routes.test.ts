// The seed's network settings body (issue 14): reset_ssl with the two certificate paths, the
// same file for both, and what an admin token must not make the manager read or serve.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';
import { uploadFile } from '../../../../test/helpers/system.js';

let t: TestContext;
let admin: Record<string, string>;
beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
});
afterAll(async () => {
  await t?.close();
});

const post = (payload: Record<string, unknown>) =>
  t.app.inject({ method: 'POST', url: '/api/v1/config/network/', headers: admin, payload });
const served = () => readFileSync(join(t.dataDir, 'tls', 'manager.crt'), 'utf8');
const uploads = () => join(t.dataDir, 'uploads');

describe('network settings with the seed body', () => {
  it('reset_ssl: true with certificate_path and certificate_key_path installs the named pair', async () => {
    const pems = await generate([{ name: 'commonName', value: 'c1000.example.com' }], { keySize: 2048 });
    const cert = await uploadFile(t.app, admin, 'valid_cert.pem', Buffer.from(pems.cert));
    const key = await uploadFile(t.app, admin, 'valid_cert.key', Buffer.from(pems.private));
    const res = await post({
      base_url: 'c1000.example.com',
      allowed_hosts: 'worker1.example.com\nworker2.example.com',
      certificate_path: join(uploads(), `${cert.id}.valid_cert.pem`),
      certificate_key_path: join(uploads(), `${key.id}.valid_cert.key`),
      reset_ssl: true,
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      base_url: 'https://c1000.example.com',
      allowed_hosts: 'worker1.example.com\nworker2.example.com',
    });
    expect(res.json().certificate_subject).toContain('c1000.example.com');
    expect(served().trim()).toBe(pems.cert.trim());
    expect(res.json()).not.toHaveProperty('reset_ssl');
  });

  it('one file holding certificate and key may be named twice; the key never lands in the served certificate', async () => {
    const pems = await generate([{ name: 'commonName', value: 'both.example.com' }], { keySize: 2048 });
    const both = await uploadFile(t.app, admin, 'both.pem', Buffer.from(pems.cert + pems.private));
    const name = `${both.id}.both.pem`;
    const res = await post({ certificate_path: name, certificate_key_path: name, reset_ssl: true });
    expect(res.statusCode, res.body).toBe(200);
    expect(served()).not.toContain('PRIVATE KEY');
    expect(served().trim()).toBe(pems.cert.trim());
    expect(readFileSync(join(t.dataDir, 'tls', 'manager.key'), 'utf8')).toContain('PRIVATE KEY');
  });

  it('paths outside the uploads directory are a 400 naming the field, and nothing changes', async () => {
    const before = served();
    // A PEM key the attacker would like served (or read back) from the manager's own data.
    const pems = await generate([{ name: 'commonName', value: 'x' }], { keySize: 2048 });
    writeFileSync(join(t.dataDir, 'planted.pem'), pems.cert + pems.private);
    const good = await uploadFile(t.app, admin, 'good.pem', Buffer.from(pems.cert + pems.private));
    const goodName = `${good.id}.good.pem`;
    for (const [field, bad] of [
      ['certificate_path', '/etc/passwd'],
      ['certificate_path', '/proc/self/environ'],
      ['certificate_path', join(t.dataDir, 'planted.pem')],
      ['certificate_path', `${uploads()}/../planted.pem`],
      ['certificate_key_path', '../planted.pem'],
      ['certificate_key_path', join(t.dataDir, 'tls', 'manager.key')],
      ['certificate_key_path', '/my/default/path'],
    ] as const) {
      const body = {
        certificate_path: goodName,
        certificate_key_path: goodName,
        [field]: bad,
        reset_ssl: true,
      };
      const res = await post(body);
      expect(res.statusCode, `${field}=${bad}`).toBe(400);
      expect(res.json().errors[0].field).toBe(`body.${field}`);
      expect(res.body).not.toContain('BEGIN');
      expect(res.body).not.toContain('root:');
    }
    expect(served()).toBe(before);
  });

  it('an expired certificate, a key as certificate or a certificate as key are 400s naming the field', async () => {
    const before = served();
    const old = await generate([{ name: 'commonName', value: 'old.example.com' }], {
      keySize: 2048,
      notBeforeDate: new Date('2020-01-01T00:00:00Z'),
      notAfterDate: new Date('2021-01-01T00:00:00Z'),
    });
    const expired = await uploadFile(t.app, admin, 'old.pem', Buffer.from(old.cert + old.private));
    const e = await post({
      certificate_path: `${expired.id}.old.pem`,
      certificate_key_path: `${expired.id}.old.pem`,
    });
    expect(e.statusCode).toBe(400);
    expect(e.json().errors[0]).toMatchObject({ field: 'body.certificate_path' });
    expect(e.json().detail).toContain('expired');
    const pems = await generate([{ name: 'commonName', value: 'y' }], { keySize: 2048 });
    const certOnly = await uploadFile(t.app, admin, 'c.pem', Buffer.from(pems.cert));
    const keyOnly = await uploadFile(t.app, admin, 'k.pem', Buffer.from(pems.private));
    const swapped = await post({
      certificate_path: `${keyOnly.id}.k.pem`,
      certificate_key_path: `${certOnly.id}.c.pem`,
    });
    expect(swapped.statusCode).toBe(400);
    expect(swapped.json().errors[0].field).toBe('body.certificate_path');
    const noKey = await post({
      certificate_path: `${certOnly.id}.c.pem`,
      certificate_key_path: `${certOnly.id}.c.pem`,
    });
    expect(noKey.statusCode).toBe(400);
    expect(noKey.json().errors[0].field).toBe('body.certificate_key_path');
    expect(served()).toBe(before);
  });

  it('reset_ssl alone still goes back to a self-signed certificate', async () => {
    const before = served();
    const res = await post({ reset_ssl: true });
    expect(res.statusCode).toBe(200);
    expect(served()).not.toBe(before);
    expect(res.json().certificate_path).toBe('');
  });
});
