// The seed's hub group and certificate upload requests (issue 14), against in-process agents:
// the hub group's apply takes `applyconfiguration` like a standard group's; the seed's create
// body with an empty fallback_host; a certificate uploaded alone for a key the appliance holds,
// or with its key as a second form field, checked before anything is installed.
import { createPublicKey, webcrypto } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../../../../test/helpers/agent.js';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';

let t: TestContext;
let admin: Record<string, string>;
const agents: TestAgent[] = [];

async function addHub(name: string, tls = false) {
  const a = await startTestAgent({ type: 'tiscale-hub', name, tls });
  agents.push(a);
  const created = await t.app.inject({
    method: 'POST',
    url: '/api/v1/appliances/create/',
    headers: admin,
    payload: { name, type: 'tiscale-hub', url: a.url },
  });
  expect(created.statusCode, created.body).toBe(201);
  const id = created.json().id as number;
  const auth = await t.app.inject({
    method: 'GET',
    url: `/api/v1/appliances/${id}/authorization/`,
    headers: admin,
  });
  expect(auth.statusCode, auth.body).toBe(200);
  return { id, agent: a };
}

async function status(id: number) {
  for (let i = 0; i < 200; i++) {
    const s = (await t.app.inject({ url: `/api/v1/appliances/${id}/`, headers: admin })).json()
      .configuration_status;
    if (s !== 'pending') return s as string;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('status did not settle');
}

beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
});
afterAll(async () => {
  await t?.close();
  for (const a of agents) await a.cleanup();
});

describe('hub groups as the seed writes them', () => {
  let hub: { id: number; agent: TestAgent };
  beforeAll(async () => {
    hub = await addHub('seed-hub-1');
  });

  it("creates a hub group with the seed's body: every field present, an empty fallback_host means none", async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tiscale-hub-group/create/',
      headers: admin,
      payload: {
        name: 'SeedHubs',
        primary_router_id: 'router-1',
        primary_host: 'seed-hub-1',
        fallback_router_id: '',
        fallback_host: '',
        vrrp_enabled: false,
        virtual_router_id: 1,
        auth_pass: '',
        different_networks: true,
        virtual_ipaddress: '',
        api_worker_token: 'analysis-token',
        srv_available_worker_token: '',
        srv_worker_token: 'stats-token',
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    const g = res.json();
    expect(g.appliances).toEqual(['seed-hub-1']);
    expect(g.hub_settings).not.toHaveProperty('fallback_host');
    expect(g.hub_settings.auth_pass_set).not.toBe(true);
    expect(g.hub_settings).not.toHaveProperty('virtual_ipaddress');
    const view = (await t.app.inject({ url: `/api/v1/appliances/${hub.id}/`, headers: admin })).json();
    expect(view.redundant_with).toBeNull();
  });

  it('an empty fallback_host is still refused with VRRP on, naming the field', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tiscale-hub-group/create/',
      headers: admin,
      payload: {
        name: 'SeedVrrp',
        primary_router_id: 'r1',
        primary_host: 'seed-hub-1',
        fallback_host: '',
        vrrp_enabled: true,
        virtual_router_id: 7,
        auth_pass: 'pw',
        virtual_ipaddress: '10.0.0.9',
      },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors.map((e: { field: string }) => e.field)).toContain('body.fallback_host');
  });

  it('PATCH update takes {"applyconfiguration": [...]} as PUT /api/v1/config-group/update/ does', async () => {
    const saved = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/tiscale-hub-group/save/SeedHubs/',
      headers: admin,
      payload: { content: { hub__balance_method: 'leastconn' } },
    });
    expect(saved.statusCode, saved.body).toBe(200);
    const res = await t.app.inject({
      method: 'PATCH',
      url: '/api/v1/tiscale-hub-group/update/SeedHubs/',
      headers: admin,
      payload: { applyconfiguration: ['seed-hub-1'] },
    });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json().appliances).toEqual([{ name: 'seed-hub-1', configuration_status: 'pending' }]);
    expect(await status(hub.id)).toBe('done');
    expect(hub.agent.state.config()).toMatchObject({ content: { hub__balance_method: 'leastconn' } });
  });

  it('the seed body {"appliances", "content"} still works; both lists at once, or a stranger, is a 400', async () => {
    const ok = await t.app.inject({
      method: 'PATCH',
      url: '/api/v1/tiscale-hub-group/update/SeedHubs/',
      headers: admin,
      payload: { appliances: ['seed-hub-1'], content: {} },
    });
    expect(ok.statusCode, ok.body).toBe(202);
    await status(hub.id);
    const both = await t.app.inject({
      method: 'PATCH',
      url: '/api/v1/tiscale-hub-group/update/SeedHubs/',
      headers: admin,
      payload: { appliances: ['seed-hub-1'], applyconfiguration: ['seed-hub-1'] },
    });
    expect(both.statusCode).toBe(400);
    expect(both.json().errors[0].field).toBe('body.applyconfiguration');
    const stranger = await t.app.inject({
      method: 'PATCH',
      url: '/api/v1/tiscale-hub-group/update/SeedHubs/',
      headers: admin,
      payload: { applyconfiguration: ['not-a-member'] },
    });
    expect(stranger.statusCode).toBe(400);
  });
});

describe('certificate upload as the seed sends it (-F file=@cert.pem)', () => {
  let hub: { id: number; agent: TestAgent };
  const boundary = 'SeedCertBoundary';
  const form = (parts: Record<string, string>) => ({
    'content-type': `multipart/form-data; boundary=${boundary}`,
    payload: `${Object.entries(parts)
      .map(
        ([k, v]) =>
          `--${boundary}\r\nContent-Disposition: form-data; name="${k}"; filename="${k}.pem"\r\nContent-Type: application/octet-stream\r\n\r\n${v}\r\n`,
      )
      .join('')}--${boundary}--\r\n`,
  });
  const upload = (parts: Record<string, string>) => {
    const f = form(parts);
    return t.app.inject({
      method: 'POST',
      url: `/api/v1/appliances/upload-certificate/${hub.id}/`,
      headers: { ...admin, 'content-type': f['content-type'] },
      payload: f.payload,
    });
  };
  const served = () => readFileSync(join(hub.agent.dataDir, 'tls.crt'), 'utf8');

  beforeAll(async () => {
    hub = await addHub('cert-hub', true);
  });

  it('a certificate alone, issued for the key the appliance holds, is installed with that key', async () => {
    // What a CA does with the appliance's key: certify it. The key itself is not sent.
    const privateKey = readFileSync(join(hub.agent.dataDir, 'tls.key'), 'utf8');
    const publicKey = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
    const pems = await generate([{ name: 'commonName', value: 'hub.example.com' }], {
      keyPair: { privateKey, publicKey },
      algorithm: 'sha256',
    });
    const res = await upload({ file: pems.cert });
    expect(res.statusCode, res.body).toBe(200);
    expect(served()).toBe(pems.cert);
    expect(readFileSync(join(hub.agent.dataDir, 'tls.key'), 'utf8')).toBe(privateKey);
    // The manager pinned the new certificate and still reaches the hub.
    const en = await t.app.inject({
      method: 'POST',
      url: `/api/v1/appliances/${hub.id}/connectors/smtp/`,
      headers: admin,
      payload: {},
    });
    expect(en.statusCode, en.body).toBe(200);
  });

  it('a certificate alone for a key the appliance does not hold is a 400 naming file; nothing changes', async () => {
    const before = served();
    const other = await generate([{ name: 'commonName', value: 'other' }], {
      keySize: 2048,
      algorithm: 'sha256',
    });
    const res = await upload({ file: other.cert });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].field).toBe('file');
    expect(res.json().detail).toContain('key');
    expect(served()).toBe(before);
  });

  it('the key as a second form field: checked against the certificate, then installed', async () => {
    const a = await generate([{ name: 'commonName', value: 'a' }], { keySize: 2048, algorithm: 'sha256' });
    const b = await generate([{ name: 'commonName', value: 'b' }], { keySize: 2048, algorithm: 'sha256' });
    const before = served();
    const wrong = await upload({ file: a.cert, key: b.private });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().errors[0].field).toBe('key');
    const twice = await upload({ file: a.cert + a.private, key: a.private });
    expect(twice.statusCode).toBe(400);
    expect(twice.json().errors[0].field).toBe('key');
    const notKey = await upload({ file: a.cert, key: 'not a key' });
    expect(notKey.statusCode).toBe(400);
    expect(served()).toBe(before);
    const ok = await upload({ file: a.cert, key: a.private });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(served()).toBe(a.cert);
  });

  it('the appliance makes a key and a request; the certificate a CA issued for it installs alone', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/appliances/certificate-request/${hub.id}/`,
      headers: admin,
      payload: { common_name: 'hub.example.com', alt_names: ['192.0.2.21'] },
    });
    expect(res.statusCode, res.body).toBe(200);
    const x509 = await import('@peculiar/x509');
    const csr = new x509.Pkcs10CertificateRequest(res.json().csr as string);
    expect(await csr.verify(webcrypto as never)).toBe(true);
    expect(csr.subject).toBe('CN=hub.example.com');
    expect(existsSync(join(hub.agent.dataDir, 'tls.request.key'))).toBe(true);
    // A test CA signs the request.
    const alg = {
      name: 'RSASSA-PKCS1-v1_5',
      hash: 'SHA-256',
      publicExponent: new Uint8Array([1, 0, 1]),
      modulusLength: 2048,
    };
    const ca = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
    const caCert = await x509.X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: '02',
        name: 'CN=Seed Test CA',
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 86_400_000),
        signingAlgorithm: alg,
        keys: ca,
        extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
      },
      webcrypto as never,
    );
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: '01',
        subject: csr.subject,
        issuer: 'CN=Seed Test CA',
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 86_400_000),
        signingAlgorithm: alg,
        publicKey: csr.publicKey,
        signingKey: ca.privateKey,
      },
      webcrypto as never,
    );
    // The certificate with its chain up to the root, which the manager pins; no key.
    const pem = `${cert.toString('pem')}\n${caCert.toString('pem')}\n`;
    const up = await upload({ file: pem });
    expect(up.statusCode, up.body).toBe(200);
    expect(served()).toBe(pem);
    expect(existsSync(join(hub.agent.dataDir, 'tls.request.key'))).toBe(false);
    const en = await t.app.inject({
      method: 'POST',
      url: `/api/v1/appliances/${hub.id}/connectors/smtp/`,
      headers: admin,
      payload: {},
    });
    expect(en.statusCode, en.body).toBe(200);
    const bad = await t.app.inject({
      method: 'POST',
      url: `/api/v1/appliances/certificate-request/${hub.id}/`,
      headers: admin,
      payload: { common_name: 'bad name/with slash' },
    });
    expect(bad.statusCode).toBe(400);
  });

  it('refuses unknown form fields and a viewer', async () => {
    const a = await generate([{ name: 'commonName', value: 'c' }], { keySize: 2048, algorithm: 'sha256' });
    const extra = await upload({ file: a.cert, passphrase: 'x' });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().errors[0].field).toBe('passphrase');
    const viewer = await t.headersFor('viewer');
    const f = form({ file: a.cert, key: a.private });
    const denied = await t.app.inject({
      method: 'POST',
      url: `/api/v1/appliances/upload-certificate/${hub.id}/`,
      headers: { ...viewer, 'content-type': f['content-type'] },
      payload: f.payload,
    });
    expect(denied.statusCode).toBe(403);
  });
});
