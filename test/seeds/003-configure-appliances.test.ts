// Seed 003, "Configure appliances" and "Configure connectors": licensing, standard configuration
// groups (the guide's curl commands), hub groups, individual Spectra Analyze configuration and
// hub connectors, against the built `steward serve` and real agents.
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/contract/fleet-fields.js';
import {
  addAppliance,
  api,
  eventually,
  expectStatus,
  type SeedAppliance,
  type SeedManager,
  seedCurl,
  seedRequest,
  startSeedManager,
} from './harness.js';

let m: SeedManager;
const issuer = generateKeyPairSync('ed25519');
const work = mkdtempSync(join(tmpdir(), 'steward-seed-configure-'));
const apps: Record<string, SeedAppliance> = {};

beforeAll(async () => {
  m = await startSeedManager({}, (dataDir) => {
    // The appliance licence issuer the manager trusts.
    mkdirSync(join(dataDir, 'license-keys'), { recursive: true });
    writeFileSync(
      join(dataDir, 'license-keys', 'issuer.pub'),
      issuer.publicKey.export({ format: 'pem', type: 'spki' }),
    );
  });
  apps.Test = await addAppliance(m, 'Test', 'tiscale-worker');
  apps['hub-1'] = await addAppliance(m, 'hub-1', 'tiscale-hub');
  apps['analyze-1'] = await addAppliance(m, 'analyze-1', 'a1000');
});
afterAll(async () => {
  await m?.stop();
  for (const a of Object.values(apps)) await a.agent.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const status = async (name: string) =>
  eventually(`${name} to settle`, async () => {
    const list = expectStatus(await api(m, 'GET', '/api/v1/appliances/?page_size=100'), 200).json();
    const row = list.results.find((r: { name: string }) => r.name === name);
    return row && row.configuration_status !== 'pending' && (row.configuration_status as string);
  });

describe('seed 003: Licensing connected appliances', () => {
  it('Using Spectra Intelligence: the relevant portion {"content": {"cloud__enabled": ...}} in a group', async () => {
    expectStatus(await api(m, 'POST', '/api/v1/config-group/create/', { name: 'Licensing' }), 201);
    const res = await seedRequest(m, 'PATCH /api/v1/config-group/content/Licensing/', {
      content: {
        cloud__enabled: true,
        cloud__url: 'data.reversinglabs.com',
        cloud__user: 'example_username',
        cloud__token: 'example_password',
        cloud__token_set: true,
      },
    });
    expect(res.status, res.body).toBe(200);
    expect(res.body).not.toContain('example_password');
    expectStatus(await api(m, 'DELETE', '/api/v1/config-group/delete/Licensing/'), 204);
  });

  it('Using license files: GET /api/v1/license/ (machine ids for appliances without one)', async () => {
    const res = expectStatus(await seedRequest(m, 'GET /api/v1/license/'), 200).json();
    expect(res.results).toHaveLength(3);
    for (const r of res.results) expect(r.machineId).toMatch(/^[0-9A-F]{32}$/i);
  });

  it('GET api/v1/appliances/licensing/machine-id/ (all machine ids again)', async () => {
    const res = await seedRequest(m, 'GET /api/v1/appliances/licensing/machine-id/');
    expect(res.status, res.body).toBe(200);
  });

  it('PUT /api/v1/appliances/licensing/ with form field file: matched to its appliance', async () => {
    const list = expectStatus(await api(m, 'GET', '/api/v1/license/'), 200).json();
    const machineId = list.results[0].machineId as string;
    const license = {
      status: 'VALID',
      product: 'TISCALE_WORKER',
      machineId,
      version: 1,
      serialNumber: '148d7a56-176d-413b-9eb5-c62f6f5bb67a',
      licenseType: 'WILDCARD',
      company: 'Example',
      expiryDate: '2099-08-24',
      creationDate: '2024-08-24',
    };
    const signature = sign(null, Buffer.from(canonicalJson(license)), issuer.privateKey).toString('base64');
    writeFileSync(join(work, 'license.json'), JSON.stringify({ license, signature }));
    const res = await seedCurl(
      `curl -X PUT https://{server}/api/v1/appliances/licensing/ -H 'Authorization: Token <token>' -F file=@license.json`,
      m,
      { cwd: work },
    );
    expect(res.status, res.body).toBe(200);
  });
});

describe('seed 003: Standard configuration groups (the curl commands)', () => {
  it('curl -X POST https://{server}/api/v1/config-group/create/ ... -d \'{"name":"TestGroup1"}\'', async () => {
    const res = await seedCurl(
      `curl -X POST https://{server}/api/v1/config-group/create/
-H 'Authorization: Token <token>'
-H 'Content-Type: application/json'
-d '{"name":"TestGroup1"}'`,
      m,
    );
    expect(res.status, res.body).toBe(201);
  });

  it('curl -X PATCH https://{server}/api/v1/config-group/save/TestGroup1/ ... -d \'{"appliances":["Test"]}\'', async () => {
    const res = await seedCurl(
      `curl -X PATCH https://{server}/api/v1/config-group/save/TestGroup1/
-H 'Authorization: Token <token>'
-H 'Content-Type: application/json'
-d '{"appliances":["Test"]}'`,
      m,
    );
    expect(res.status, res.body).toBe(200);
    expect(res.json().appliances).toEqual(['Test']);
  });

  it('curl -X PATCH https://{server}/api/v1/config-group/save/TestGroup1/ ... -d \'{"content": {"cloud__enabled":true, ...}}\'', async () => {
    const res = await seedCurl(
      `curl -X PATCH https://{server}/api/v1/config-group/save/TestGroup1/
-H 'Authorization: Token <token>'
-H 'Content-Type: application/json'
-d '{"content":
{
"cloud__enabled":true,
"cloud__url":"https://appliance-api.reversinglabs.com",
"cloud__user":"Test",
"cloud__token":"Test",
"cloud__timeout":60,
"cloud__proxy_enabled":false,
"cloud__proxy_host":"",
"cloud__proxy_port":null,
"cloud__proxy_user":"",
"cloud__proxy_password":"",
"cloud__max_fetch_file_size":500
}
}'`,
      m,
    );
    expect(res.status, res.body).toBe(200);
  });

  it('PATCH /api/v1/config-group/content/{name}/ with the snmp__ request body', async () => {
    const res = await seedRequest(m, 'PATCH /api/v1/config-group/content/TestGroup1/', {
      content: {
        snmp__enable: true,
        snmp__community: '^$',
        snmp__trap_sink_enable: true,
        snmp__trap_community: '^$',
      },
    });
    expect(res.status, res.body).toBe(200);
  });

  it('GET /api/v1/config-group/retrieve/{name}/', async () => {
    const res = expectStatus(
      await seedRequest(m, 'GET /api/v1/config-group/retrieve/TestGroup1/'),
      200,
    ).json();
    expect(res.content).toMatchObject({ cloud__enabled: true, snmp__community: '^$' });
  });

  it('curl -X PATCH https://{server}/api/v1/config-group/update/TestGroup1/ ... -d \'{"applyconfiguration":["Test"]}\'', async () => {
    const res = await seedCurl(
      `curl -X PATCH https://{server}/api/v1/config-group/update/TestGroup1/
-H 'Authorization: Token <token>'
-H 'Content-Type: application/json'
-d '{"applyconfiguration":["Test"]}'`,
      m,
    );
    expect(res.status, res.body).toBe(202);
  });

  it('GET /api/v1/appliances/: configuration_status of the group is done', async () => {
    expect(await status('Test')).toBe('done');
    const list = expectStatus(await seedRequest(m, 'GET /api/v1/appliances/'), 200).json();
    const row = list.results.find((r: { name: string }) => r.name === 'Test');
    expect(row).toMatchObject({ group_name: 'TestGroup1', configuration_status: 'done' });
    expect(apps.Test?.agent.state.config()).toMatchObject({ content: { cloud__user: 'Test' } });
  });

  it('GET /api/v1/config-group/list/ with page and page_size', async () => {
    const res = expectStatus(await seedRequest(m, 'GET /api/v1/config-group/list/?page=1&page_size=10'), 200);
    expect(res.json().results.map((g: { name: string }) => g.name)).toContain('TestGroup1');
  });

  it('DELETE /api/v1/config-group/delete/{name}/', async () => {
    expectStatus(await api(m, 'POST', '/api/v1/config-group/create/', { name: 'Removable' }), 201);
    const res = await seedRequest(m, 'DELETE /api/v1/config-group/delete/Removable/');
    expect(res.status, res.body).toBe(204);
  });
});

describe('seed 003: Hub groups', () => {
  it('POST /api/v1/tiscale-hub-group/create/ with the request body (no fallback hub: empty strings)', async () => {
    const res = await seedRequest(m, 'POST /api/v1/tiscale-hub-group/create/', {
      name: 'HubGroup1',
      primary_router_id: 'router-1',
      primary_host: 'hub-1',
      fallback_router_id: '',
      fallback_host: '',
      vrrp_enabled: false,
      virtual_router_id: 1,
      auth_pass: 'string',
      different_networks: true,
      virtual_ipaddress: '',
      api_worker_token: 'string',
      srv_available_worker_token: 'string',
      srv_worker_token: 'string',
    });
    expect(res.status, res.body).toBe(201);
    expect(res.json().appliances).toEqual(['hub-1']);
  });

  it('PUT /api/v1/tiscale-hub-group/save/{name}/ (as PUT /api/v1/config-group/content/{name}/)', async () => {
    const res = await seedRequest(m, 'PUT /api/v1/tiscale-hub-group/save/HubGroup1/', {
      content: { hub__balance_method: 'leastconn' },
    });
    expect(res.status, res.body).toBe(200);
  });

  it('PATCH /api/v1/tiscale-hub-group/update/{name}/ with {"appliances", "content"}', async () => {
    const res = await seedRequest(m, 'PATCH /api/v1/tiscale-hub-group/update/HubGroup1/', {
      appliances: ['hub-1'],
      content: {},
    });
    expect(res.status, res.body).toBe(202);
    expect(await status('hub-1')).toBe('done');
  });

  it('PATCH /api/v1/tiscale-hub-group/update/{name}/ with {"applyconfiguration"} (equivalent to the group apply)', async () => {
    const res = await seedRequest(m, 'PATCH /api/v1/tiscale-hub-group/update/HubGroup1/', {
      applyconfiguration: ['hub-1'],
    });
    expect(res.status, res.body).toBe(202);
    expect(await status('hub-1')).toBe('done');
  });
});

describe('seed 003: Individual configuration: Spectra Analyze', () => {
  it('PUT /api/v1/appliances/content/{appliance_id}/save/, then PATCH (partial)', async () => {
    const id = apps['analyze-1']?.id as number;
    const put = await seedRequest(m, `PUT /api/v1/appliances/content/${id}/save/`, {
      content: { cloud__enabled: true, cloud__timeout: 60 },
    });
    expect(put.status, put.body).toBe(200);
    const patch = await seedRequest(m, `PATCH /api/v1/appliances/content/${id}/save/`, {
      content: { cloud__timeout: 90 },
    });
    expect(patch.status, patch.body).toBe(200);
  });

  it('POST /api/v1/appliances/content/{appliance_id}/apply/', async () => {
    const id = apps['analyze-1']?.id as number;
    const res = await seedRequest(m, `POST /api/v1/appliances/content/${id}/apply/`);
    expect(res.status, res.body).toBe(202);
    expect(await status('analyze-1')).toBe('done');
    expect(apps['analyze-1']?.agent.state.config()).toMatchObject({
      content: { cloud__enabled: true, cloud__timeout: 90 },
    });
  });
});

describe('seed 003: Configure connectors', () => {
  it('Enable connector: POST /api/v1/appliances/{id}/connectors/{connector_name}/', async () => {
    const res = await seedRequest(m, `POST /api/v1/appliances/${apps['hub-1']?.id}/connectors/s3/`);
    expect(res.status, res.body).toBe(200);
  });

  it('Configure connector: POST /api/v1/appliances/{id}/connectors/{connector_name}/v1/config/', async () => {
    const res = await seedRequest(
      m,
      `POST /api/v1/appliances/${apps['hub-1']?.id}/connectors/s3/v1/config/`,
      {
        bucket: 'samples',
      },
    );
    expect(res.status, res.body).toBe(200);
  });

  it('Get connector configuration: GET /api/v1/appliances/{id}/connectors/{connector_name}/v1/config/', async () => {
    const res = await seedRequest(m, `GET /api/v1/appliances/${apps['hub-1']?.id}/connectors/s3/v1/config/`);
    expect(res.status, res.body).toBe(200);
    expect(JSON.stringify(res.json())).toContain('samples');
  });

  it('a worker is refused: connectors are for hubs only', async () => {
    const res = await seedRequest(m, `POST /api/v1/appliances/${apps.Test?.id}/connectors/s3/`);
    expect(res.status).toBe(400);
  });
});
