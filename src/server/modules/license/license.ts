// Manager licences: a JSON document `{ license: {...}, signature }` where the signature is
// Ed25519 over the canonical JSON of `license` (keys sorted, no spaces). The vendor keeps the
// private key (`steward license issue`); the manager is configured with the public key only.

import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';

export interface LicenseBody {
  serial_number: string;
  product: string;
  company: string;
  license_type: string;
  machine_id: string;
  creation_date: string;
  expiry_date: string;
  limits: Record<string, number>;
}

export interface LicenseDocument {
  license: LicenseBody;
  signature: string;
}

export type LicenseStatus = 'VALID' | 'EXPIRED' | 'INVALID';

export interface LicenseCheck {
  status: LicenseStatus;
  reason: string;
}

/** JSON with object keys sorted at every level: the exact bytes that are signed. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function signLicense(privateKeyPem: string, body: LicenseBody): LicenseDocument {
  const key = createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('the vendor key must be an Ed25519 private key');
  const signature = sign(null, Buffer.from(canonicalJson(body), 'utf8'), key).toString('base64');
  return { license: body, signature };
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** Parses an uploaded licence file; throws Error with a reason when it is not one. */
export function parseLicense(raw: Buffer): LicenseDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new Error('the licence file is not valid JSON');
  }
  const d = doc as Partial<LicenseDocument>;
  const l = d?.license as Partial<LicenseBody> | undefined;
  if (!l || typeof d.signature !== 'string') throw new Error('the licence file has no license or signature');
  for (const f of [
    'serial_number',
    'product',
    'company',
    'license_type',
    'machine_id',
    'creation_date',
    'expiry_date',
  ] as const) {
    if (typeof l[f] !== 'string') throw new Error(`the licence has no ${f}`);
  }
  if (!DATE_RE.test(l.expiry_date as string) || !DATE_RE.test(l.creation_date as string)) {
    throw new Error('creation_date and expiry_date must be YYYY-MM-DD');
  }
  if (l.limits !== undefined && (typeof l.limits !== 'object' || l.limits === null))
    throw new Error('limits must be an object');
  return { license: { ...(l as LicenseBody), limits: l.limits ?? {} }, signature: d.signature };
}

/** Checks signature, machine binding and expiry (the licence is valid through its expiry date, UTC). */
export function checkLicense(
  doc: LicenseDocument,
  publicKeyPem: string | undefined,
  machineId: string,
  now: Date,
): LicenseCheck {
  if (!publicKeyPem)
    return { status: 'INVALID', reason: 'no licence public key is configured on this manager' };
  let ok = false;
  try {
    ok = verify(
      null,
      Buffer.from(canonicalJson(doc.license), 'utf8'),
      createPublicKey(publicKeyPem),
      Buffer.from(doc.signature, 'base64'),
    );
  } catch {
    ok = false;
  }
  if (!ok) return { status: 'INVALID', reason: 'the signature does not verify' };
  if (doc.license.machine_id !== machineId)
    return { status: 'INVALID', reason: 'the licence is for another machine id' };
  const end = new Date(`${doc.license.expiry_date}T23:59:59.999Z`);
  if (now > end) return { status: 'EXPIRED', reason: `expired on ${doc.license.expiry_date}` };
  return { status: 'VALID', reason: '' };
}
