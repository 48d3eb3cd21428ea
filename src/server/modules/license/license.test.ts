// Licence documents: Ed25519 signatures over canonical JSON, machine binding, expiry.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, checkLicense, type LicenseBody, parseLicense, signLicense } from './license.js';

const vendor = generateKeyPairSync('ed25519');
const priv = vendor.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const pub = vendor.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();

const body: LicenseBody = {
  serial_number: '148d7a56-176d-413b-9eb5-c62f6f5bb67a',
  product: 'STEWARD_MANAGER',
  company: 'Example Corp',
  license_type: 'SUBSCRIPTION',
  machine_id: 'a'.repeat(32),
  creation_date: '2026-01-01',
  expiry_date: '2026-12-31',
  limits: { appliances: 100 },
};
const now = new Date('2026-06-01T00:00:00Z');

describe('licences', () => {
  it('canonical JSON sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[2,{"e":0,"f":1}]},"b":1}',
    );
  });

  it('a signed licence for this machine is VALID until the end of its expiry day', () => {
    const doc = parseLicense(Buffer.from(JSON.stringify(signLicense(priv, body))));
    expect(checkLicense(doc, pub, 'a'.repeat(32), now)).toEqual({ status: 'VALID', reason: '' });
    expect(checkLicense(doc, pub, 'a'.repeat(32), new Date('2026-12-31T23:59:00Z')).status).toBe('VALID');
    expect(checkLicense(doc, pub, 'a'.repeat(32), new Date('2027-01-01T00:00:01Z')).status).toBe('EXPIRED');
  });

  it('is INVALID for another machine, another vendor key, any changed field, or no key', () => {
    const doc = signLicense(priv, body);
    expect(checkLicense(doc, pub, 'b'.repeat(32), now).status).toBe('INVALID');
    expect(checkLicense(doc, other, 'a'.repeat(32), now).status).toBe('INVALID');
    expect(
      checkLicense(
        { ...doc, license: { ...doc.license, limits: { appliances: 100000 } } },
        pub,
        'a'.repeat(32),
        now,
      ).status,
    ).toBe('INVALID');
    expect(checkLicense(doc, undefined, 'a'.repeat(32), now).status).toBe('INVALID');
  });

  it('refuses files that are not licences', () => {
    expect(() => parseLicense(Buffer.from('not json'))).toThrow(/JSON/);
    expect(() => parseLicense(Buffer.from('{"license":{}}'))).toThrow();
    expect(() =>
      parseLicense(
        Buffer.from(
          JSON.stringify({ ...signLicense(priv, body), license: { ...body, expiry_date: 'soon' } }),
        ),
      ),
    ).toThrow(/YYYY/);
  });

  it('signing needs an Ed25519 key', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    expect(() => signLicense(rsa, body)).toThrow(/Ed25519/);
  });
});
