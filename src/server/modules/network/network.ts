// Network settings that take effect in the running process: the base URL for absolute links,
// the Host allow-list (checked on every request by a root-level hook), the networks appliances
// may be called in (shared/address-policy.ts, checked by the fleet's agent client), and the served TLS
// certificate (installed from uploaded files, or reset to a self-signed one, then reloaded
// into the running https server without a restart). The Host check's hook is installed on the
// HTTP server by network.hooks.ts.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Server as HttpsServer } from 'node:https';
import { isIP } from 'node:net';
import { generate } from 'selfsigned';
import { type AddressPolicy, createAddressPolicy, parseNetworks } from '../../shared/address-policy.js';
import { AppError, badField } from '../../shared/app-error.js';
import { atomicWrite } from '../../shared/fs-util.js';
import { resolveUploadedFile } from '../files/upload.js';

export interface NetworkState {
  baseUrl: string | undefined;
  allowedHosts: string[];
  /** Where appliances may be called: the setting, else STEWARD_APPLIANCE_NETWORKS, else the default. */
  appliancePolicy: AddressPolicy;
  /** The policy when the setting is empty (from the server configuration). */
  defaultAppliancePolicy: AddressPolicy;
}

/** The appliance_networks setting (addresses and networks, one per line or comma-separated). */
export function parseApplianceNetworks(raw: string, fallback: AddressPolicy): AddressPolicy {
  const { networks, problems } = parseNetworks(raw);
  if (problems.length > 0) throw badField('body.appliance_networks', problems.join('; '));
  return networks.length === 0 ? fallback : createAddressPolicy(networks);
}

const HOST_RE = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** `c1000.example.com` means `https://c1000.example.com`; the result has no trailing slash. */
export function normaliseBaseUrl(raw: string): string {
  const s = raw.trim();
  if (s === '') return '';
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `https://${s}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw badField('body.base_url', 'must be a URL such as https://c1000.example.com');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw badField('body.base_url', 'must use http or https');
  if (u.username || u.password || u.search || u.hash) {
    throw badField('body.base_url', 'must not contain credentials, a query or a fragment');
  }
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/** One host per line; blank lines ignored; each a DNS name, `*.name`, or an IP address. */
export function parseAllowedHosts(raw: string): string[] {
  const out: string[] = [];
  raw.split(/\r?\n/).forEach((line, i) => {
    const h = line.trim().toLowerCase();
    if (h === '') return;
    const bare = h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
    if (isIP(bare) === 0 && !HOST_RE.test(h)) {
      throw badField(
        'body.allowed_hosts',
        `line ${i + 1} ("${line.slice(0, 80)}") is not a host name or IP address`,
      );
    }
    out.push(bare);
  });
  return out;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1']);

/** The host name of a Host header, without port and brackets; undefined when malformed. */
export function hostOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(1, end) : undefined;
  }
  const colon = h.lastIndexOf(':');
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/**
 * Whether a request's Host may be served. An empty list allows everything. Loopback names and
 * addresses always pass, so an admin on the machine cannot lock themselves out.
 */
export function isHostAllowed(state: NetworkState, header: string | undefined): boolean {
  if (state.allowedHosts.length === 0) return true;
  const host = hostOf(header);
  if (host === undefined) return false;
  if (LOOPBACK.has(host) || host.startsWith('127.')) return true;
  if (state.baseUrl) {
    try {
      if (new URL(state.baseUrl).hostname.replace(/^\[|\]$/g, '') === host) return true;
    } catch {
      // an invalid stored base URL only loses this shortcut
    }
  }
  return state.allowedHosts.some((a) => (a.startsWith('*.') ? host.endsWith(a.slice(1)) : a === host));
}

/** What `listedOrigin` reads of a request. */
export interface RequestOrigin {
  headers: { host?: string | undefined };
  protocol: string;
  /** The Host header as the server read it (with the port). */
  host: string;
}

/**
 * The origin to build absolute links from when no base URL is set: the request's own, only when
 * its Host is one the admin listed in allowed_hosts (loopback's free pass does not count).
 * Otherwise undefined, and links are relative: a Host header nobody vouched for never ends up in
 * a `next` link, a `Link` header or the URL an agent is told to trust.
 */
export function listedOrigin(state: NetworkState, request: RequestOrigin): string | undefined {
  if (state.allowedHosts.length === 0) return undefined;
  const host = hostOf(request.headers.host);
  if (host === undefined) return undefined;
  const listed = state.allowedHosts.some((a) =>
    a.startsWith('*.') ? host.endsWith(a.slice(1)) : a === host,
  );
  return listed ? `${request.protocol}://${request.host}` : undefined;
}

export interface TlsFiles {
  certPath: string;
  keyPath: string;
}

export interface CertificateInfo {
  subject: string;
  notAfter: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\r?\n?/g;
const PEM_KEY =
  /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC )?PRIVATE KEY-----\r?\n?/;

/**
 * Reads an uploaded certificate and key and checks that they belong together.
 *
 * Both name files uploaded through /api/v1/system/upload/ (`<flowIdentifier>.<flowFilename>`, or
 * that file's absolute path in the uploads directory): an admin token cannot point the manager
 * at any other file on its host (its master key, /etc/shadow), and no error repeats what a file
 * holds. They may name the same file when it holds both. Only the certificate blocks (the chain,
 * leaf first) go into the served certificate file (world-readable) and only the key block into
 * the key file (0600), so a key uploaded together with its certificate never ends up readable.
 */
export async function loadCertificatePair(
  uploadsDir: string,
  certName: string,
  keyName: string,
  now: Date = new Date(),
): Promise<{ cert: Buffer; key: Buffer; info: CertificateInfo }> {
  const certFile = resolveUploadedFile(uploadsDir, certName, 'body.certificate_path');
  const keyFile = resolveUploadedFile(uploadsDir, keyName, 'body.certificate_key_path');
  const [certText, keyText] = (
    await Promise.all([
      readOrField(certFile, 'body.certificate_path'),
      readOrField(keyFile, 'body.certificate_key_path'),
    ])
  ).map((b) => b.toString('utf8')) as [string, string];
  const chain = certText.match(PEM_CERT) ?? [];
  let x509: X509Certificate;
  try {
    if (chain.length === 0) throw new Error('no certificate');
    x509 = new X509Certificate(chain[0] as string);
    for (const c of chain.slice(1)) new X509Certificate(c);
  } catch {
    throw badField('body.certificate_path', 'is not a PEM certificate');
  }
  if (Date.parse(x509.validTo) < now.getTime()) {
    throw badField(
      'body.certificate_path',
      `the certificate expired on ${new Date(x509.validTo).toISOString()}`,
    );
  }
  const keyPem = PEM_KEY.exec(keyText)?.[0];
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    if (keyPem === undefined) throw new Error('no key');
    privateKey = createPrivateKey(keyPem);
  } catch {
    throw badField('body.certificate_key_path', 'is not an unencrypted PEM private key');
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw badField('body.certificate_key_path', 'the private key does not match the certificate');
  }
  return {
    cert: Buffer.from(chain.map((c) => c.trimEnd()).join('\n')),
    key: Buffer.from(keyPem as string),
    info: { subject: x509.subject, notAfter: new Date(x509.validTo).toISOString() },
  };
}

async function readOrField(path: string, field: string): Promise<Buffer> {
  try {
    const b = await readFile(path);
    if (b.length > 1024 * 1024) throw badField(field, 'file is larger than 1 MiB');
    return b;
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw badField(field, 'no such uploaded file');
  }
}

export async function selfSignedPair(
  commonName: string,
): Promise<{ cert: Buffer; key: Buffer; info: CertificateInfo }> {
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keySize: 2048,
    algorithm: 'sha256',
  });
  const cert = Buffer.from(pems.cert);
  const x509 = new X509Certificate(cert);
  return {
    cert,
    key: Buffer.from(pems.private),
    info: { subject: x509.subject, notAfter: new Date(x509.validTo).toISOString() },
  };
}

/** Writes the pair under the TLS directory (key first, both atomically, key mode 0600). */
export async function installPair(files: TlsFiles, pair: { cert: Buffer; key: Buffer }) {
  await atomicWrite(files.keyPath, pair.key, 0o600);
  await atomicWrite(files.certPath, pair.cert, 0o644);
}

/** Reloads the certificate into the running https server of `app`; a no-op on plain HTTP. */
export function reloadTls(
  app: { server: unknown } | undefined,
  pair: { cert: Buffer; key: Buffer },
): boolean {
  const server = app?.server as Partial<HttpsServer> | undefined;
  if (!server || typeof server.setSecureContext !== 'function') return false;
  server.setSecureContext({ cert: pair.cert, key: pair.key });
  return true;
}
