// The serving certificate: given files, or a self-signed one generated into the data directory
// on first start (so `curl -k` works out of the box, as the seed says) and reused afterwards.

import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { writeFileAtomic } from './shared/files.js';

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
  /** SHA-256 fingerprint, for agents that pin the manager. */
  fingerprint: string;
  source: string;
}

export function certificatePaths(dataDir: string) {
  return { cert: join(dataDir, 'tls', 'manager.crt'), key: join(dataDir, 'tls', 'manager.key') };
}

export async function generateSelfSigned(dataDir: string): Promise<void> {
  const host = hostname();
  const pems = await generate([{ name: 'commonName', value: host }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 825 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: host },
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  } as Parameters<typeof generate>[1]);
  const paths = certificatePaths(dataDir);
  writeFileAtomic(paths.key, pems.private, 0o600);
  writeFileAtomic(paths.cert, pems.cert, 0o644);
}

export async function loadTls(dataDir: string, certFile?: string, keyFile?: string): Promise<TlsMaterial> {
  let paths = { cert: certFile, key: keyFile };
  let source = 'configured files';
  if (!certFile || !keyFile) {
    paths = certificatePaths(dataDir);
    source = 'self-signed certificate in the data directory';
    if (!existsSync(paths.cert as string) || !existsSync(paths.key as string))
      await generateSelfSigned(dataDir);
  }
  const cert = readFileSync(paths.cert as string);
  const key = readFileSync(paths.key as string);
  const x509 = new X509Certificate(cert);
  if (!x509.checkPrivateKey((await import('node:crypto')).createPrivateKey(key))) {
    throw new Error(`the TLS key does not match the certificate (${paths.cert})`);
  }
  return { key, cert, fingerprint: x509.fingerprint256, source: `${source} (${paths.cert})` };
}
