// The manager licence: machine id, upload (refused unless VALID), status; and the service with
// a configured vendor key, end to end with a licence signed like `steward license issue` does.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';
import { multipart } from '../../../../test/helpers/system.js';
import { createTransactor } from '../../db/transactor.js';
import type { Actor } from '../../shared/actor.js';
import { createAuditRepo } from '../audit/audit.repo.js';
import { createAuditService } from '../audit/audit.service.js';
import { createSettingsStore } from '../settings/settings.repo.js';
import { signLicense } from './license.js';
import { createLicenseService } from './license.service.js';

let t: TestContext;
let admin: Record<string, string>;
beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
});
afterAll(async () => {
  await t?.close();
});

const vendor = generateKeyPairSync('ed25519');
const priv = vendor.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const pub = vendor.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const licenceFor = (machineId: string, expiry = '2099-12-31') =>
  Buffer.from(
    JSON.stringify(
      signLicense(priv, {
        serial_number: 's-1',
        product: 'STEWARD_MANAGER',
        company: 'Example Corp',
        license_type: 'SUBSCRIPTION',
        machine_id: machineId,
        creation_date: '2026-01-01',
        expiry_date: expiry,
        limits: { appliances: 50 },
      }),
    ),
  );

const put = (data: Buffer, headers = admin) => {
  const mp = multipart([{ name: 'file', value: data, filename: 'license.json' }]);
  return t.app.inject({
    method: 'PUT',
    url: '/api/v1/license/upload/',
    headers: { ...headers, ...mp.headers },
    payload: mp.payload,
  });
};

describe('manager licence routes', () => {
  it('generates a machine id (admins only), and reports INVALID without a licence', async () => {
    expect(
      (
        await t.app.inject({
          method: 'POST',
          url: '/api/v1/license/machine-id/generate/',
          headers: await t.headersFor('operator'),
        })
      ).statusCode,
    ).toBe(403);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/license/machine-id/generate/',
      headers: admin,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().machine_id).toMatch(/^[0-9a-f]{32}$/);
    const st = await t.app.inject({
      method: 'GET',
      url: '/api/v1/license/manager/',
      headers: await t.headersFor('viewer'),
    });
    expect(st.json()).toMatchObject({
      status: 'INVALID',
      machineId: res.json().machine_id,
      reason: 'no licence installed',
    });
  });

  it('refuses a licence it cannot verify (400) and a file that is not one', async () => {
    const st = (
      await t.app.inject({ method: 'GET', url: '/api/v1/license/manager/', headers: admin })
    ).json();
    const res = await put(licenceFor(st.machineId));
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toContain('INVALID');
    expect((await put(Buffer.from('garbage'))).statusCode).toBe(400);
  });
});

describe('licence service with a vendor key', () => {
  const actor: Actor = {
    kind: 'request',
    principal: null,
    name: null,
    ip: '127.0.0.1',
    userAgent: null,
    method: 'PUT',
    path: '/api/v1/license/upload/',
    requestId: 'test',
    audited: false,
  };
  const service = () =>
    createLicenseService({
      tx: createTransactor(t.db),
      audit: createAuditService({ repo: createAuditRepo(t.db), clock: t.clock }),
      settings: createSettingsStore(t.db),
      clock: t.clock,
      publicKeyPem: pub,
    });

  it('installs a VALID licence for this machine; refuses expired ones and ones for other machines', async () => {
    const s = service();
    const machineId = await s.generateMachineId(actor);
    await expect(s.upload(actor, licenceFor('f'.repeat(32)))).rejects.toThrow(/another machine/);
    await expect(s.upload(actor, licenceFor(machineId, '2020-01-01'))).rejects.toThrow(/EXPIRED/);
    const ok = await s.upload(actor, licenceFor(machineId));
    expect(ok).toMatchObject({
      status: 'VALID',
      product: 'STEWARD_MANAGER',
      expiryDate: '2099-12-31',
      limits: { appliances: 50 },
    });
    expect((await s.status()).status).toBe('VALID');
    // A new machine id voids the licence.
    await s.generateMachineId(actor);
    expect((await s.status()).status).toBe('INVALID');
  });
});
