// Seed 003, "Connect appliances to the Manager": add, authorize, upgrade (curl -d without a
// content type), upload a certificate, check connected appliances and their licensing, against
// the built `steward serve` and real agents. (Package download and listing: the package
// management tests.)
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { createPublisher, multipartFile } from '../helpers/agent-package.js';
import { call } from '../helpers/process.js';
import {
  eventually,
  expectStatus,
  type SeedManager,
  seedCurl,
  seedRequest,
  startSeedManager,
} from './harness.js';

let m: SeedManager;
let publisher: ReturnType<typeof createPublisher>;
const agents: TestAgent[] = [];
const ids: Record<string, number> = {};
const work = mkdtempSync(join(tmpdir(), 'steward-seed-connect-'));

beforeAll(async () => {
  m = await startSeedManager({}, (dataDir) => {
    publisher = createPublisher(dataDir);
  });
  for (const [name, type, tls] of [
    ['worker-1', 'tiscale-worker', false],
    ['hub-1', 'tiscale-hub', true],
    ['analyze-1', 'a1000', false],
  ] as const) {
    agents.push(await startTestAgent({ type, name, tls }));
  }
});
afterAll(async () => {
  await m?.stop();
  for (const a of agents) await a.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const agent = (name: string) => agents.find((a) => a.state.identity.name === name) as TestAgent;

describe('seed 003: Add appliances to the Manager', () => {
  it.each([
    ['worker-1', 'tiscale-worker'],
    ['hub-1', 'tiscale-hub'],
    ['analyze-1', 'a1000'],
  ])('POST /api/v1/appliances/create/ (%s, type %s)', async (name, type) => {
    const res = await seedRequest(m, 'POST /api/v1/appliances/create/', {
      name,
      type,
      url: agent(name).url,
      snmp_community: 'string',
      // "load balancer password (Hub)": hubs only, as the seed's comment says.
      ...(type === 'tiscale-hub' ? { haproxy_password: 'string' } : {}),
    });
    expect(res.status, res.body).toBe(201);
    expect(res.json()).toMatchObject({ name, type });
    ids[name] = res.json().id;
  });
});

describe('seed 003: Authorize appliances', () => {
  it('Hub, Worker: GET /api/v1/appliances/{id}/authorization/', async () => {
    for (const name of ['worker-1', 'hub-1']) {
      const res = await seedRequest(m, `GET /api/v1/appliances/${ids[name]}/authorization/`);
      expect(res.status, res.body).toBe(200);
    }
  });

  it('Spectra Analyze: PUT /api/v1/appliances/{id}/authorization/ with {"token"}', async () => {
    const res = await seedRequest(m, `PUT /api/v1/appliances/${ids['analyze-1']}/authorization/`, {
      token: agent('analyze-1').token,
    });
    expect(res.status, res.body).toBe(200);
  });
});

describe('seed 003: Update appliances', () => {
  beforeAll(async () => {
    // The package the seed downloads from the cloud, here uploaded signed by a trusted publisher.
    const pkg = publisher.build(
      { type: 'tiscale-worker', version: '5.4.0', requires: '5.0.0' },
      '#!/bin/sh\necho "installing $STEWARD_UPGRADE_VERSION"\n',
    );
    const form = multipartFile('file', 'worker-5.4.0.stwpkg', pkg);
    const up = await call(`${m.baseUrl}/api/v1/package-management/upload/`, {
      method: 'POST',
      headers: { authorization: `Token ${m.token}`, ...form.headers },
      body: form.payload.toString('latin1'),
    });
    expect(up.status, up.body).toBe(201);
  });

  it('curl -X POST https://{server}/api/upgrade/start/ -H \'Authorization: Token <token>\' -d \'{"appliance_name":"<appliance_name>"}\'', async () => {
    const res = await seedCurl(
      `curl -X POST https://{server}/api/upgrade/start/
-H 'Authorization: Token <token>'
-d '{"appliance_name":"<appliance_name>"}'`,
      m,
      { replace: { '<appliance_name>': 'worker-1' } },
    );
    expect(res.status, res.body).toBe(202);
    expect(res.json().status).toBe('pending');
  });

  it('curl -X POST https://{server}/api/upgrade/status/ -H \'Authorization: Token <token>\' -d \'{"appliance_name":"<appliance_name>"}\'', async () => {
    const command = `curl -X POST https://{server}/api/upgrade/status/
-H 'Authorization: Token <token>'
-d '{"appliance_name":"<appliance_name>"}'`;
    const final = await eventually('the upgrade to finish', async () => {
      const res = expectStatus(
        await seedCurl(command, m, { replace: { '<appliance_name>': 'worker-1' } }),
        200,
      );
      const body = res.json();
      expect(['idle', 'pending', 'downloading', 'installing', 'error']).toContain(body.status);
      return body.status === 'idle' && body;
    });
    expect(final.log).toContain('installing 5.4.0');
    expect(agent('worker-1').state.identity.release).toBe('5.4.0');
  });
});

describe('seed 003: Upload SSL certificate to appliances', () => {
  it('POST /api/v1/appliances/upload-certificate/{id}/ with -F file=@cert.pem (certificate only)', async () => {
    // The hub's certificate issued for the key the hub holds (what a CA returns for its request).
    const hub = agent('hub-1');
    const privateKey = readFileSync(join(hub.dataDir, 'tls.key'), 'utf8');
    const publicKey = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
    const pems = await generate([{ name: 'commonName', value: 'hub-1.example.com' }], {
      keyPair: { privateKey, publicKey },
      algorithm: 'sha256',
    });
    writeFileSync(join(work, 'cert.pem'), pems.cert);
    const res = await seedCurl(
      `curl -X POST https://{server}/api/v1/appliances/upload-certificate/${ids['hub-1']}/ -H 'Authorization: Token <token>' -F file=@cert.pem`,
      m,
      { cwd: work },
    );
    expect(res.status, res.body).toBe(200);
    expect(readFileSync(join(hub.dataDir, 'tls.crt'), 'utf8')).toBe(pems.cert);
  });

  it('a Spectra Analyze appliance is refused, as the seed notes', async () => {
    const pems = await generate([{ name: 'commonName', value: 'a' }], { keySize: 2048 });
    writeFileSync(join(work, 'a.pem'), pems.cert + pems.private);
    const res = await seedCurl(
      `curl -X POST https://{server}/api/v1/appliances/upload-certificate/${ids['analyze-1']}/ -H 'Authorization: Token <token>' -F file=@a.pem`,
      m,
      { cwd: work },
    );
    expect(res.status).toBe(400);
  });
});

describe('seed 003: Check connected appliances', () => {
  it('GET /api/v1/configuration/appliances/', async () => {
    const res = expectStatus(await seedRequest(m, 'GET /api/v1/configuration/appliances/'), 200).json();
    expect(res.count).toBe(3);
    for (const r of res.results) {
      expect(Object.keys(r)).toEqual(
        expect.arrayContaining([
          'id',
          'appliance_name',
          'type',
          'release',
          'cluster',
          'state',
          'appliance_hostname',
        ]),
      );
      expect(r.cluster).toBe('standalone');
    }
  });

  it('GET /api/v1/appliances/licensing/', async () => {
    const res = await seedRequest(m, 'GET /api/v1/appliances/licensing/');
    expect(res.status, res.body).toBe(200);
  });

  it("the guide's path without /v1 and slash answers too: GET /api/appliances/licensing", async () => {
    const res = await seedCurl(
      `curl -H "Authorization: Token <token>" https://{server}/api/appliances/licensing`,
      m,
    );
    expect(res.status, res.body).toBe(200);
  });
});
