// Upgrade packages for tests: a publisher key trusted by the manager (written to its
// package-keys directory) and signed package envelopes around a small shell install step.
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PackageManifest } from '../../src/contract/agent-protocol.js';
import { manifestSigningBytes } from '../../src/contract/fleet-fields.js';

export function createPublisher(managerDataDir: string) {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const dir = join(managerDataDir, 'package-keys');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'test-publisher.pub'), publicKey.export({ format: 'pem', type: 'spki' }));
  return {
    build(
      m: Omit<PackageManifest, 'sha256'> & { sha256?: string },
      script: string,
      opts: { badSignature?: boolean } = {},
    ) {
      const payload = Buffer.from(script);
      const manifest: PackageManifest = {
        ...m,
        sha256: m.sha256 ?? createHash('sha256').update(payload).digest('hex'),
      };
      let signature = sign(null, Buffer.from(manifestSigningBytes(manifest)), privateKey);
      if (opts.badSignature) signature = Buffer.alloc(signature.length, 1);
      return Buffer.from(
        JSON.stringify({
          manifest,
          payload: payload.toString('base64'),
          signature: signature.toString('base64'),
        }),
      );
    },
  };
}

/** A multipart/form-data body with one file field, for app.inject(). */
export function multipartFile(field: string, filename: string, data: Buffer) {
  const boundary = `----steward${Date.now().toString(16)}`;
  const payload = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ),
    data,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}
