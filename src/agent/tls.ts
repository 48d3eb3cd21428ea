// The agent's TLS key and self-signed certificate (the manager pins the certificate at pairing).

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './state.js';

/** The agent's TLS key and self-signed certificate, made once and kept in the data directory. */
export async function loadOrCreateTls(
  dataDir: string,
  hostname: string,
): Promise<{ key: string; cert: string }> {
  const keyPath = join(dataDir, 'tls.key');
  const certPath = join(dataDir, 'tls.crt');
  if (existsSync(keyPath) && existsSync(certPath)) {
    return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8') };
  }
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keySize: 2048,
    algorithm: 'sha256',
    days: 3650,
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: hostname },
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  } as Parameters<typeof generate>[1]);
  writeFileAtomic(keyPath, pems.private);
  writeFileAtomic(certPath, pems.cert, 0o644);
  return { key: pems.private, cert: pems.cert };
}
