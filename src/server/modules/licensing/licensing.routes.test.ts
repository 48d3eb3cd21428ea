// Route tests for appliance licensing and certificate upload, against in-process agents.
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../../../../test/helpers/agent.js';
import { multipartFile } from '../../../../test/helpers/agent-package.js';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';
import { canonicalJson } from '../../../contract/fleet-fields.js';

let t: TestContext;
let admin: Record<string, string>;
let viewer: Record<string, string>;
let hub: TestAgent;
let hubId: number;
let workerId: number;
const issuer = generateKeyPairSync('ed25519');

function licenceFile(licence: Record<string, unknown>, key = issuer.privateKey) {
  const signature = sign(null, Buffer.from(canonicalJson(licence)), key).toString('base64');
  return Buffer.from(JSON.stringify({ license: licence, signature }));
}

async function upload(method: 'PUT' | 'POST', url: string, data: Buffer, headers = admin) {
  const form = multipartFile('file', 'upload.bin', data);
  return t.app.inject({ method, url, headers: { ...headers, ...form.headers }, payload: form.payload });
}

beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
  viewer = await t.headersFor('viewer');
  mkdirSync(join(t.dataDir, 'license-keys'), { recursive: true });
  writeFileSync(
    join(t.dataDir, 'license-keys', 'issuer.pub'),
    issuer.publicKey.export({ format: 'pem', type: 'spki' }),
  );
  hub = await startTestAgent({ type: 'tiscale-hub', tls: true });
  const created = await t.app.inject({
    method: 'POST',
    url: '/api/v1/appliances/create/',
    headers: admin,
    payload: { name: 'lic-hub', type: 'hub', url: hub.url },
  });
  hubId = created.json().id;
  const auth = await t.app.inject({
    method: 'GET',
    url: `/api/v1/appliances/${hubId}/authorization/`,
    headers: admin,
  });
  expect(auth.statusCode, auth.body).toBe(200);
  const w = await t.app.inject({
    method: 'POST',
    url: '/api/v1/appliances/create/',
    headers: admin,
    payload: { name: 'lic-w', type: 'worker', url: 'http://127.0.0.1:7' },
  });
  workerId = w.json().id;
});

afterAll(async () => {
  await t?.close();
  await hub?.cleanup();
});

describe('appliance licensing', () => {
  it('generates machine ids, installs a signed licence matched by machine id, and lists it', async () => {
    const ids = await t.app.inject({ method: 'GET', url: '/api/v1/license/', headers: viewer });
    expect(ids.statusCode, ids.body).toBe(200);
    const hubEntry = ids.json().results.find((e: { id: number }) => e.id === hubId);
    expect(hubEntry).toMatchObject({ status: 'UNLICENSED', product: 'TISCALE_HUB' });
    expect(hubEntry.machineId).toMatch(/^[0-9A-F]{32}$/);
    const again = await t.app.inject({ method: 'GET', url: '/api/v1/license/', headers: viewer });
    expect(again.json().results.find((e: { id: number }) => e.id === hubId).machineId).toBe(
      hubEntry.machineId,
    );

    const licence = {
      machineId: hubEntry.machineId,
      product: 'TISCALE_HUB',
      serialNumber: '148d7a56-176d-413b-9eb5-c62f6f5bb67a',
      licenseType: 'WILDCARD',
      company: 'Example Ltd',
      expiryDate: '2099-08-24',
      creationDate: '2026-01-01',
      version: 1,
    };
    const res = await upload('PUT', '/api/v1/appliances/licensing/', licenceFile(licence));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'VALID', company: 'Example Ltd' });
    const onAgent = JSON.parse(readFileSync(join(hub.dataDir, 'licence.json'), 'utf8'));
    expect(onAgent.license.serialNumber).toBe(licence.serialNumber);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/appliances/licensing/', headers: viewer });
    expect(list.json().results.find((e: { id: number }) => e.id === hubId).status).toBe('VALID');
  });

  it('refuses a licence with a bad signature, for no appliance, or from a viewer', async () => {
    const other = generateKeyPairSync('ed25519');
    const forged = await upload(
      'PUT',
      '/api/v1/appliances/licensing/',
      licenceFile({ machineId: 'X', expiryDate: '2099-01-01' }, other.privateKey),
    );
    expect(forged.statusCode).toBe(400);
    expect(forged.json().errors[0].field).toBe('file.signature');
    const nobody = await upload(
      'PUT',
      '/api/v1/appliances/licensing/',
      licenceFile({ machineId: 'NOPE', expiryDate: '2099-01-01' }),
    );
    expect(nobody.statusCode).toBe(400);
    expect(nobody.json().errors[0].field).toBe('file.license.machineId');
    const denied = await upload(
      'PUT',
      '/api/v1/appliances/licensing/',
      licenceFile({ machineId: 'NOPE' }),
      viewer,
    );
    expect(denied.statusCode).toBe(403);
  });
});

describe('certificate upload', () => {
  it('installs a certificate on a TLS hub, which serves it at once; the manager pins the new one', async () => {
    const pems = await generate([{ name: 'commonName', value: 'hub.example.com' }], {
      keySize: 2048,
      algorithm: 'sha256',
    });
    const res = await upload(
      'POST',
      `/api/v1/appliances/upload-certificate/${hubId}/`,
      Buffer.from(pems.cert + pems.private),
    );
    expect(res.statusCode, res.body).toBe(200);
    expect(readFileSync(join(hub.dataDir, 'tls.crt'), 'utf8')).toBe(pems.cert);
    // The manager still reaches the hub: it now trusts only the new certificate.
    const en = await t.app.inject({
      method: 'POST',
      url: `/api/v1/appliances/${hubId}/connectors/smtp/`,
      headers: admin,
      payload: {},
    });
    expect(en.statusCode, en.body).toBe(200);
  });

  it('refuses a file without a key, and appliances that are not hubs or workers, by name', async () => {
    const pems = await generate([{ name: 'commonName', value: 'x' }], { keySize: 2048, algorithm: 'sha256' });
    const noKey = await upload(
      'POST',
      `/api/v1/appliances/upload-certificate/${hubId}/`,
      Buffer.from(pems.cert),
    );
    expect(noKey.statusCode).toBe(400);
    expect(noKey.json().errors[0].field).toBe('file');
    const unauthorized = await upload(
      'POST',
      `/api/v1/appliances/upload-certificate/${workerId}/`,
      Buffer.from(pems.cert + pems.private),
    );
    expect(unauthorized.statusCode).toBe(409);
    const missing = await upload(
      'POST',
      '/api/v1/appliances/upload-certificate/9999/',
      Buffer.from(pems.cert + pems.private),
    );
    expect(missing.statusCode).toBe(404);
  });
});
