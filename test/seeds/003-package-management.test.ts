// Seed 003, "Update appliances": the package-management curl commands, copied from the seed and
// run with the real curl against a real `steward serve`. Only the base URL (`https://{server}`,
// here the manager on 127.0.0.1 without TLS) and `<token>` are replaced. The package repository
// the manager downloads from is served over HTTPS on 127.0.0.1 with a self-signed certificate,
// which the admin trusts by giving its PEM (`ca_pem`), as for an air-gapped mirror.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublisher } from '../helpers/agent-package.js';
import { call, type RunningManager, startManager } from '../helpers/process.js';

const PASSWORD = 'Seed 003 Admin Passphrase 2026';

// Verbatim from ../shared/seeds/003_717cd3dbf1b7735e.txt ("Here's a list of curl commands").
const SEED_LIST = `curl -X GET https://{server}/api/v1/package-management/
-H 'Authorization: Token <token>'`;
const SEED_DOWNLOAD = `curl -X POST "https://{server}/api/v1/package-management/tiscale-worker/3.4.0/"
-H "Content-Type: application/json"
-H 'Authorization: Token <token>'
-d '{}'`;

let manager: RunningManager;
let dataDir: string;
let token: string;
let repository: Server;

/** Runs a seed command through sh with curl; returns the HTTP status and the body. */
function runSeed(command: string): Promise<{ status: number; body: string }> {
  const line = command
    .split('\n')
    .join(' ')
    .replaceAll('https://{server}', manager.baseUrl)
    .replaceAll('<token>', token);
  return new Promise((resolve, reject) => {
    // -s and -w only make curl quiet and print the status after the body.
    execFile('sh', ['-c', `${line} -s -w '\\n%{http_code}'`], (err, stdout) => {
      if (err) return reject(err);
      const at = stdout.lastIndexOf('\n');
      resolve({ status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) });
    });
  });
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'steward-seed003-'));
  const publisher = createPublisher(dataDir);
  const pkg = publisher.build({ type: 'tiscale-worker', version: '3.4.0', requires: '3.0.0' }, 'exit 0\n');
  const signature = (JSON.parse(pkg.toString()) as { signature: string }).signature;
  const index = JSON.stringify({
    format: 'steward-package-index/1',
    packages: [
      {
        type: 'tiscale-worker',
        version: '3.4.0',
        file: 'tiscale-worker-3.4.0.stwpkg',
        size: pkg.length,
        sha256: createHash('sha256').update(pkg).digest('hex'),
        signature,
      },
    ],
  });
  const pems = await generate([{ name: 'commonName', value: 'mirror.test' }], {
    keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  } as Parameters<typeof generate>[1]);
  repository = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    if (req.url === '/mirror/index.json') res.end(index);
    else if (req.url === '/mirror/tiscale-worker-3.4.0.stwpkg') res.end(pkg);
    else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => repository.listen(0, '127.0.0.1', () => r()));
  const port = (repository.address() as { port: number }).port;

  manager = await startManager({
    STEWARD_DATA_DIR: dataDir,
    STEWARD_TLS: 'off',
    STEWARD_ADMIN_PASSWORD: PASSWORD,
  });
  const login = await call(`${manager.baseUrl}/api/v1/auth/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: PASSWORD }),
  });
  expect(login.status).toBe(200);
  token = login.json().token;
  const set = await call(`${manager.baseUrl}/api/v1/package-management/repository/`, {
    method: 'PUT',
    headers: { authorization: `Token ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: `https://127.0.0.1:${port}/mirror/`, ca_pem: pems.cert }),
  });
  expect(set.status, set.body).toBe(200);
});

afterAll(async () => {
  await manager?.stop();
  await new Promise((r) => repository?.close(r));
  rmSync(dataDir, { recursive: true, force: true });
});

describe('seed 003: update appliances (package management)', () => {
  it('Get the list of available upgrades', async () => {
    const res = await runSeed(SEED_LIST);
    expect(res.status, res.body).toBe(200);
    const body = JSON.parse(res.body);
    expect(body.is_ticloud_data_available).toBe(true);
    expect(body.bins).toContainEqual(expect.objectContaining({ type: 'tiscale-worker', version: '3.4.0' }));
    expect(typeof body.used_space).toBe('number');
    expect(typeof body.allowed_space).toBe('number');
  });

  it('Download one of the available updates, using the type and version from bins', async () => {
    const res = await runSeed(SEED_DOWNLOAD);
    expect(res.status, res.body).toBe(202);
    expect(JSON.parse(res.body)).toMatchObject({ type: 'tiscale-worker', version: '3.4.0' });
    let status = '';
    for (let i = 0; i < 200 && status !== 'done' && status !== 'error'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const s = await call(`${manager.baseUrl}/api/v1/package-management/tiscale-worker/3.4.0/`, {
        headers: { authorization: `Token ${token}` },
      });
      status = s.json().status;
    }
    expect(status).toBe('done');
    const after = JSON.parse((await runSeed(SEED_LIST)).body);
    expect(after.bins).toContainEqual(
      expect.objectContaining({ type: 'tiscale-worker', version: '3.4.0', stored: true }),
    );
    // The same command again: the package is in the store and ready.
    const again = await runSeed(SEED_DOWNLOAD);
    expect(again.status, again.body).toBe(200);
  });
});
