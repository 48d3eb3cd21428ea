// downloadPackage against a real HTTPS server on 127.0.0.1: a refused body leaves no file
// behind once the promise has settled, however early in the download the refusal comes.
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  downloadPackage,
  type IndexEntry,
  RepositoryError,
  type RepositorySettings,
} from './package-repository.js';

let server: Server;
let settings: RepositorySettings;
let dir: string;
const body = Buffer.alloc(64 * 1024, 7);

beforeAll(async () => {
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  server = createServer({ key: pems.private, cert: pems.cert }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  settings = {
    url: `https://127.0.0.1:${port}/repo/`,
    ca_pem: pems.cert,
    fingerprint_sha256: new X509Certificate(pems.cert).fingerprint256,
  };
  dir = mkdtempSync(join(tmpdir(), 'steward-pkgrepo-'));
});

afterAll(() => {
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const entry = (size: number): IndexEntry => ({
  type: 'tiscale-worker',
  version: '1.0.0',
  file: 'p.stwpkg',
  size,
  sha256: '00'.repeat(32),
  signature: '',
});

describe('downloadPackage', () => {
  it('refuses a body larger than announced, and the file is closed before it settles', async () => {
    for (let i = 0; i < 20; i++) {
      const path = join(dir, `d-${i}.part`);
      const err = await downloadPackage(settings, entry(10), path, {
        timeoutMs: 5000,
        onProgress: () => {},
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RepositoryError);
      expect((err as Error).message).toContain('larger than the 10 bytes');
      // What the caller does next (package-downloads.ts): remove the file. Nothing may reappear.
      rmSync(path, { force: true });
      await new Promise((r) => setTimeout(r, 20));
      expect(existsSync(path), `attempt ${i}`).toBe(false);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a body whose sha256 differs from the index', async () => {
    const path = join(dir, 'sha.part');
    await expect(
      downloadPackage(settings, entry(body.length), path, { timeoutMs: 5000, onProgress: () => {} }),
    ).rejects.toThrow('does not match the sha256');
    rmSync(path, { force: true });
  });
});
