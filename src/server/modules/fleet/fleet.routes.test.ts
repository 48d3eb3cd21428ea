// Route tests for the fleet API: registry, authorization, groups, apply, activities. Agents run
// in-process on 127.0.0.1.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../../../../test/helpers/agent.js';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';
import { callAgent } from './agent-client.js';

let t: TestContext;
let admin: Record<string, string>;
let viewer: Record<string, string>;
const agents: TestAgent[] = [];

async function agent(type: 'a1000' | 'tiscale-worker' | 'tiscale-hub', release?: string) {
  const a = await startTestAgent({ type, release });
  agents.push(a);
  return a;
}

async function createAppliance(name: string, type: string, url: string, extra: Record<string, unknown> = {}) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/appliances/create/',
    headers: admin,
    payload: { name, type, url, ...extra },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: number; name: string };
}

async function waitForStatus(id: number, predicate: (s: string) => boolean) {
  for (let i = 0; i < 100; i++) {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/appliances/${id}/`, headers: admin });
    const body = res.json();
    if (predicate(body.configuration_status)) return body;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('status did not settle');
}

beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
  viewer = await t.headersFor('viewer');
});

afterAll(async () => {
  await t?.close();
  for (const a of agents) await a.cleanup();
});

describe('registry', () => {
  it('adds an appliance with a legacy or product type name, hiding passwords', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/appliances/create/',
      headers: admin,
      payload: {
        name: 'hub-x',
        type: 'hub',
        url: 'http://127.0.0.1:1/',
        snmp_community: 'c',
        haproxy_password: 'pw',
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({
      name: 'hub-x',
      type: 'tiscale-hub',
      url: 'http://127.0.0.1:1',
      authorized: false,
      haproxy_password_set: true,
      configuration_status: 'no_configuration_group',
    });
    expect(res.body).not.toContain('"pw"');
  });

  it('names bad fields with 400 and refuses duplicates with 409', async () => {
    const bad = await t.app.inject({
      method: 'POST',
      url: '/api/v1/appliances/create/',
      headers: admin,
      payload: { name: 'w-bad', type: 'toaster', url: 'http://127.0.0.1:2' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe('body.type');
    const url = await t.app.inject({
      method: 'POST',
      url: '/api/v1/appliances/create/',
      headers: admin,
      payload: { name: 'w-bad', type: 'worker', url: 'ftp://x' },
    });
    expect(url.statusCode).toBe(400);
    expect(url.json().errors[0].field).toBe('body.url');
    const unknown = await t.app.inject({
      method: 'POST',
      url: '/api/v1/appliances/create/',
      headers: admin,
      payload: { name: 'w-bad', type: 'worker', url: 'http://127.0.0.1:2', colour: 'red' },
    });
    expect(unknown.statusCode).toBe(400);
    const dup = await t.app.inject({
      method: 'POST',
      url: '/api/v1/appliances/create/',
      headers: admin,
      payload: { name: 'hub-x', type: 'hub', url: 'http://127.0.0.1:3' },
    });
    expect(dup.statusCode).toBe(409);
  });

  it('lists, gets, the compact list, and 404 for a missing appliance; viewers cannot write', async () => {
    const list = await t.app.inject({
      method: 'GET',
      url: '/api/v1/appliances/?page_size=5',
      headers: viewer,
    });
    expect(list.statusCode).toBe(200);
    expect(list.json().count).toBeGreaterThanOrEqual(1);
    const compact = await t.app.inject({
      method: 'GET',
      url: '/api/v1/configuration/appliances/',
      headers: viewer,
    });
    expect(compact.json().results[0]).toMatchObject({
      appliance_name: 'hub-x',
      cluster: 'standalone',
      type: 'tiscale-hub',
    });
    const missing = await t.app.inject({ method: 'GET', url: '/api/v1/appliances/9999/', headers: admin });
    expect(missing.statusCode).toBe(404);
    const denied = await t.app.inject({
      method: 'POST',
      url: '/api/v1/appliances/create/',
      headers: viewer,
      payload: { name: 'v1', type: 'worker', url: 'http://127.0.0.1:4' },
    });
    expect(denied.statusCode).toBe(403);
    const licensing = await t.app.inject({
      method: 'GET',
      url: '/api/v1/appliances/licensing/',
      headers: viewer,
    });
    expect(licensing.statusCode).toBe(200);
  });

  it('deletes an appliance', async () => {
    const a = await createAppliance('gone-1', 'worker', 'http://127.0.0.1:5');
    const del = await t.app.inject({ method: 'DELETE', url: `/api/v1/appliances/${a.id}/`, headers: admin });
    expect(del.statusCode).toBe(204);
    const again = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/appliances/${a.id}/`,
      headers: admin,
    });
    expect(again.statusCode).toBe(404);
  });
});

describe('authorization', () => {
  it('pairs with a worker agent (GET) and pins its uuid', async () => {
    const w = await agent('tiscale-worker');
    const a = await createAppliance('auth-w', 'tiscale-worker', w.url);
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/appliances/${a.id}/authorization/`,
      headers: admin,
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ authorized: true, uuid: w.state.identity.uuid, release: '5.3.0' });
    // The agent now refuses another manager's key.
    expect(w.state.secrets().manager).not.toBeNull();
  });

  it('refuses GET for an Analyze appliance and takes its token with PUT', async () => {
    const an = await agent('a1000');
    const a = await createAppliance('auth-a', 'a1000', an.url);
    const get = await t.app.inject({
      method: 'GET',
      url: `/api/v1/appliances/${a.id}/authorization/`,
      headers: admin,
    });
    expect(get.statusCode).toBe(400);
    const wrong = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/appliances/${a.id}/authorization/`,
      headers: admin,
      payload: { token: 'not-a-token' },
    });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().errors[0].field).toBe('body.token');
    const ok = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/appliances/${a.id}/authorization/`,
      headers: admin,
      payload: { token: an.token },
    });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().authorized).toBe(true);
  });

  it('reports an unreachable agent as 503, not 500', async () => {
    const a = await createAppliance('auth-dead', 'worker', 'http://127.0.0.1:9');
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/appliances/${a.id}/authorization/`,
      headers: admin,
    });
    expect(res.statusCode).toBe(503);
  });
});

describe('configuration groups', () => {
  let w1: TestAgent;
  let w1Id: number;

  beforeAll(async () => {
    w1 = await agent('tiscale-worker');
    w1Id = (await createAppliance('cg-w1', 'worker', w1.url)).id;
    await t.app.inject({ method: 'GET', url: `/api/v1/appliances/${w1Id}/authorization/`, headers: admin });
  });

  it('creates, saves members and content, retrieves with secrets write-only', async () => {
    const c = await t.app.inject({
      method: 'POST',
      url: '/api/v1/config-group/create/',
      headers: admin,
      payload: { name: 'G1' },
    });
    expect(c.statusCode).toBe(201);
    const dup = await t.app.inject({
      method: 'POST',
      url: '/api/v1/config-group/create/',
      headers: admin,
      payload: { name: 'G1' },
    });
    expect(dup.statusCode).toBe(409);
    const members = await t.app.inject({
      method: 'PATCH',
      url: '/api/v1/config-group/save/G1/',
      headers: admin,
      payload: { appliances: ['cg-w1'] },
    });
    expect(members.statusCode, members.body).toBe(200);
    const content = await t.app.inject({
      method: 'PATCH',
      url: '/api/v1/config-group/save/G1/',
      headers: admin,
      payload: {
        content: {
          cloud__enabled: true,
          cloud__user: 'Test',
          cloud__token: 'Sekret-1',
          cloud__timeout: 60,
          cloud__proxy_port: null,
        },
      },
    });
    expect(content.statusCode, content.body).toBe(200);
    expect(content.json()).toMatchObject({ revision: 1, appliances: ['cg-w1'] });
    expect(content.json().content).toMatchObject({ cloud__enabled: true, cloud__token_set: true });
    expect(content.body).not.toContain('Sekret-1');
    const got = await t.app.inject({
      method: 'GET',
      url: '/api/v1/config-group/retrieve/G1/',
      headers: viewer,
    });
    expect(got.json().statuses[0]).toMatchObject({
      name: 'cg-w1',
      configuration_status: 'changes_awaiting_apply',
    });
  });

  it('names unknown fields and bad values in a 400', async () => {
    const res = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/config-group/content/G1/',
      headers: admin,
      payload: {
        content: {
          snmp__bogus: 1,
          snmp__trap_disk_threshold: 101,
          destinations__allowed_cidrs: ['10.0.0.0/33'],
        },
      },
    });
    expect(res.statusCode).toBe(400);
    const fields = res
      .json()
      .errors.map((e: { field: string }) => e.field)
      .sort();
    expect(fields).toEqual([
      'body.content.destinations__allowed_cidrs',
      'body.content.snmp__bogus',
      'body.content.snmp__trap_disk_threshold',
    ]);
  });

  it('refuses an appliance in a second group and a missing group', async () => {
    await t.app.inject({
      method: 'POST',
      url: '/api/v1/config-group/create/',
      headers: admin,
      payload: { name: 'G2' },
    });
    const res = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/config-group/save/G2/',
      headers: admin,
      payload: { appliances: ['cg-w1'] },
    });
    expect(res.statusCode).toBe(409);
    const missing = await t.app.inject({
      method: 'GET',
      url: '/api/v1/config-group/retrieve/nope/',
      headers: admin,
    });
    expect(missing.statusCode).toBe(404);
    const unknown = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/config-group/save/G2/',
      headers: admin,
      payload: { appliances: ['no-such'] },
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().errors[0].field).toBe('body.appliances[0]');
  });

  it('diffs, applies in the background and ends done; the agent has the config', async () => {
    const diff = await t.app.inject({ method: 'GET', url: '/api/v1/config-group/diff/G1/', headers: viewer });
    expect(diff.statusCode).toBe(200);
    const fields = diff.json().appliances[0].changes.map((c: { field: string }) => c.field);
    expect(fields).toContain('cloud__token');
    expect(diff.body).not.toContain('Sekret-1');
    const bad = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/config-group/update/G1/',
      headers: admin,
      payload: { applyconfiguration: ['hub-x'] },
    });
    expect(bad.statusCode).toBe(400);
    const apply = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/config-group/update/G1/',
      headers: admin,
      payload: { applyconfiguration: ['cg-w1'] },
    });
    expect(apply.statusCode, apply.body).toBe(202);
    const done = await waitForStatus(w1Id, (s) => s !== 'pending');
    expect(done.configuration_status).toBe('done');
    expect(done.last_applied_config_timestamp).not.toBeNull();
    expect(w1.state.config()).toMatchObject({
      revision: 1,
      content: { cloud__token: 'Sekret-1', cloud__timeout: 60 },
    });
    const after = await t.app.inject({
      method: 'GET',
      url: '/api/v1/config-group/diff/G1/',
      headers: viewer,
    });
    expect(after.json().appliances[0].changes).toEqual([]);
  });

  it('maintenance: settable (audited, unknown fields 400), held back from applies, applied after', async () => {
    const unknown = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/appliances/${w1Id}/`,
      headers: admin,
      payload: { maintenance: true, name: 'renamed' },
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.body).toContain('name');
    const notBool = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/appliances/${w1Id}/`,
      headers: admin,
      payload: { maintenance: 'sometimes' },
    });
    expect(notBool.statusCode).toBe(400);
    expect(notBool.body).toContain('maintenance');
    const forbidden = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/appliances/${w1Id}/`,
      headers: viewer,
      payload: { maintenance: true },
    });
    expect(forbidden.statusCode).toBe(403);
    const on = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/appliances/${w1Id}/`,
      headers: admin,
      payload: { maintenance: true },
    });
    expect(on.statusCode, on.body).toBe(200);
    expect(on.json().maintenance).toBe(true);
    const audited = await t.db
      .selectFrom('audit_log')
      .select(['action', 'summary'])
      .where('action', '=', 'appliance.maintenance_started')
      .execute();
    expect(audited).toEqual([
      { action: 'appliance.maintenance_started', summary: 'put appliance cg-w1 in maintenance' },
    ]);

    const before = w1.state.config();
    const save = await t.app.inject({
      method: 'PATCH',
      url: '/api/v1/config-group/save/G1/',
      headers: admin,
      payload: { content: { cloud__timeout: 90 } },
    });
    expect(save.statusCode, save.body).toBe(200);
    const apply = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/config-group/update/G1/',
      headers: admin,
      payload: { applyconfiguration: [] },
    });
    expect(apply.statusCode, apply.body).toBe(202);
    expect(apply.json().appliances).toEqual([
      { name: 'cg-w1', configuration_status: 'changes_awaiting_apply' },
    ]);
    // Nothing was sent: the status is recorded by the apply itself, with no rollout to wait for.
    const held = (
      await t.app.inject({ method: 'GET', url: `/api/v1/appliances/${w1Id}/`, headers: admin })
    ).json();
    expect(held.configuration_status).toBe('changes_awaiting_apply');
    expect(held.configuration_status_details).toMatchObject({ maintenance: true });
    expect(held.configuration_status_details.reason).toContain('in maintenance');
    expect(w1.state.config()).toEqual(before);
    const heldEvent = await t.app.inject({
      method: 'GET',
      url: `/api/v1/activities/?appliance=${w1Id}&kind=config.held`,
      headers: admin,
    });
    expect(heldEvent.json().count).toBe(1);

    const off = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/appliances/${w1Id}/`,
      headers: admin,
      payload: { maintenance: false },
    });
    expect(off.json().maintenance).toBe(false);
    const again = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/config-group/update/G1/',
      headers: admin,
      payload: { applyconfiguration: [] },
    });
    expect(again.json().appliances).toEqual([{ name: 'cg-w1', configuration_status: 'pending' }]);
    const done = await waitForStatus(w1Id, (s) => s !== 'pending');
    expect(done.configuration_status).toBe('done');
    expect(w1.state.config()).toMatchObject({ content: { cloud__timeout: 90 } });
  });

  it('lists groups with page_size and deletes one', async () => {
    const list = await t.app.inject({
      method: 'GET',
      url: '/api/v1/config-group/list/?page=1&page_size=1',
      headers: viewer,
    });
    expect(list.statusCode).toBe(200);
    expect(list.json()).toMatchObject({ count: 2 });
    expect(list.json().next).not.toBeNull();
    const del = await t.app.inject({
      method: 'DELETE',
      url: '/api/v1/config-group/delete/G2/',
      headers: admin,
    });
    expect(del.statusCode).toBe(204);
  });
});

describe('hub groups and connectors', () => {
  let hubId: number;
  let hubAgent: TestAgent;
  beforeAll(async () => {
    const h = await agent('tiscale-hub');
    hubAgent = h;
    hubId = (await createAppliance('hub-1', 'hub', h.url)).id;
    await t.app.inject({ method: 'GET', url: `/api/v1/appliances/${hubId}/authorization/`, headers: admin });
  });

  it('validates hub group settings and fixes them at creation', async () => {
    const bad = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tiscale-hub-group/create/',
      headers: admin,
      payload: { name: 'HG', primary_router_id: 'r1', primary_host: 'https://hub-1', virtual_router_id: 300 },
    });
    expect(bad.statusCode).toBe(400);
    const ok = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tiscale-hub-group/create/',
      headers: admin,
      payload: {
        name: 'HG',
        primary_router_id: 'r1',
        primary_host: 'hub-1',
        virtual_router_id: 51,
        auth_pass: 'vrrp1234',
      },
    });
    expect(ok.statusCode, ok.body).toBe(201);
    expect(ok.json()).toMatchObject({
      kind: 'hub',
      appliances: ['hub-1'],
      hub_settings: { auth_pass_set: true },
    });
    const change = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/tiscale-hub-group/save/HG/',
      headers: admin,
      payload: { virtual_router_id: 52 },
    });
    expect(change.statusCode).toBe(400);
    expect(change.json().errors[0].field).toBe('body.virtual_router_id');
    const save = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/tiscale-hub-group/save/HG/',
      headers: admin,
      payload: { content: { hub__balance_method: 'leastconn' } },
    });
    expect(save.statusCode, save.body).toBe(200);
    const apply = await t.app.inject({
      method: 'PATCH',
      url: '/api/v1/tiscale-hub-group/update/HG/',
      headers: admin,
      payload: {},
    });
    expect(apply.statusCode, apply.body).toBe(202);
    const done = await waitForStatus(hubId, (s) => s !== 'pending');
    expect(done.configuration_status).toBe('done');
  });

  it('redundancy: from the hub group and whether the peer hub is up; connected workers are the online ones', async () => {
    const get = async (id: number) =>
      (await t.app.inject({ method: 'GET', url: `/api/v1/appliances/${id}/`, headers: admin })).json();
    const add = async (name: string, type: 'tiscale-hub' | 'tiscale-worker') => {
      const a = await agent(type);
      const id = (await createAppliance(name, type, a.url)).id;
      const auth = await t.app.inject({
        method: 'GET',
        url: `/api/v1/appliances/${id}/authorization/`,
        headers: admin,
      });
      expect(auth.statusCode, auth.body).toBe(200);
      return id;
    };
    const p = await add('hub-p', 'tiscale-hub');
    const f = await add('hub-f', 'tiscale-hub');
    const w = await add('hub-w', 'tiscale-worker');
    const lone = await get(p);
    expect(lone).toMatchObject({
      redundancy_status: 'standalone',
      redundant_with: null,
      connected_workers: [],
    });
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tiscale-hub-group/create/',
      headers: admin,
      payload: {
        name: 'HA',
        primary_router_id: 'r1',
        primary_host: 'hub-p',
        fallback_router_id: 'r2',
        fallback_host: 'hub-f',
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const joined = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/tiscale-hub-group/save/HA/',
      headers: admin,
      payload: { appliances: ['hub-p', 'hub-f', 'hub-w'] },
    });
    expect(joined.statusCode, joined.body).toBe(200);
    expect(await get(p)).toMatchObject({
      redundancy_status: 'redundant',
      configured_redundancy_status: 'redundant',
      redundant_with: 'hub-f',
      connected_workers: ['hub-w'],
    });
    expect(await get(f)).toMatchObject({ redundancy_status: 'redundant', redundant_with: 'hub-p' });
    expect(await get(w)).toMatchObject({ redundancy_status: 'standalone', connected_workers: [] });
    // What the health job records when the fallback hub and the worker stop answering.
    await t.db.updateTable('appliances').set({ online: false }).where('id', 'in', [f, w]).execute();
    expect(await get(p)).toMatchObject({
      redundancy_status: 'degraded',
      configured_redundancy_status: 'redundant',
      redundant_with: 'hub-f',
      connected_workers: [],
    });
    expect((await get(f)).redundancy_status).toBe('degraded');
    const compact = await t.app.inject({
      method: 'GET',
      url: '/api/v1/configuration/appliances/?page_size=100',
      headers: admin,
    });
    const states = Object.fromEntries(
      compact
        .json()
        .results.map((r: { appliance_name: string; state: string }) => [r.appliance_name, r.state]),
    );
    expect(states).toMatchObject({ 'hub-p': 'primary', 'hub-f': 'secondary', 'hub-w': 'standalone' });
    const list = await t.app.inject({
      method: 'GET',
      url: '/api/v1/appliances/?group_name=HA',
      headers: admin,
    });
    expect(list.json().results.map((r: { redundancy_status: string }) => r.redundancy_status)).toEqual([
      'degraded',
      'degraded',
      'standalone',
    ]);
  });

  it('PATCH save of a hub group adds members without dropping any, even when two adds race', async () => {
    for (const [name, type] of [
      ['merge-hub', 'tiscale-hub'],
      ['merge-w1', 'tiscale-worker'],
      ['merge-w2', 'tiscale-worker'],
      ['merge-w3', 'tiscale-worker'],
    ] as const)
      await createAppliance(name, type, `http://127.0.0.1:9/${name}`);
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tiscale-hub-group/create/',
      headers: admin,
      payload: { name: 'MERGE', primary_router_id: 'r1', primary_host: 'merge-hub' },
    });
    expect(created.statusCode, created.body).toBe(201);
    const patch = (payload: Record<string, unknown>) =>
      t.app.inject({
        method: 'PATCH',
        url: '/api/v1/tiscale-hub-group/save/MERGE/',
        headers: admin,
        payload,
      });
    // Two admins add one worker each at the same moment: both stay, with the hub.
    const [a, b] = await Promise.all([
      patch({ appliances: ['merge-w1'] }),
      patch({ appliances: ['merge-w2'] }),
    ]);
    expect(a.statusCode, a.body).toBe(200);
    expect(b.statusCode, b.body).toBe(200);
    const members = async () =>
      (await t.app.inject({ url: '/api/v1/config-group/retrieve/MERGE/', headers: admin })).json()
        .appliances as string[];
    expect((await members()).sort()).toEqual(['merge-hub', 'merge-w1', 'merge-w2']);
    // Members only: no new revision. A hub-only setting is refused, by name, and nothing changes.
    expect(a.json().revision).toBe(created.json().revision);
    const fixed = await patch({ appliances: ['merge-w3'], virtual_router_id: 7 });
    expect(fixed.statusCode).toBe(400);
    expect(fixed.json().errors[0].field).toBe('body.virtual_router_id');
    expect((await members()).sort()).toEqual(['merge-hub', 'merge-w1', 'merge-w2']);
    // PUT still replaces.
    const put = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/tiscale-hub-group/save/MERGE/',
      headers: admin,
      payload: { appliances: ['merge-hub', 'merge-w3'] },
    });
    expect(put.statusCode, put.body).toBe(200);
    expect((await members()).sort()).toEqual(['merge-hub', 'merge-w3']);
    // A viewer cannot add.
    const denied = await t.app.inject({
      method: 'PATCH',
      url: '/api/v1/tiscale-hub-group/save/MERGE/',
      headers: viewer,
      payload: { appliances: ['merge-w1'] },
    });
    expect(denied.statusCode).toBe(403);
  });

  it('enables and configures a connector on a hub; ids must be digits; hubs only', async () => {
    const en = await t.app.inject({
      method: 'POST',
      url: `/api/v1/appliances/${hubId}/connectors/s3/`,
      headers: admin,
      payload: {},
    });
    expect(en.statusCode, en.body).toBe(200);
    expect(en.json().enabled).toBe(true);
    const set = await t.app.inject({
      method: 'POST',
      url: `/api/v1/appliances/${hubId}/connectors/s3/v1/config/`,
      headers: admin,
      payload: { bucket: 'samples', secret_key: 'abc' },
    });
    expect(set.statusCode, set.body).toBe(200);
    const get = await t.app.inject({
      method: 'GET',
      url: `/api/v1/appliances/${hubId}/connectors/s3/v1/config/`,
      headers: viewer,
    });
    expect(get.json().config).toEqual({ bucket: 'samples', secret_key_set: true });
    // Saving what a read showed (or leaving the secret out) keeps the stored secret ...
    const config = `/api/v1/appliances/${hubId}/connectors/s3/v1/config/`;
    const resaved = await t.app.inject({
      method: 'POST',
      url: config,
      headers: admin,
      payload: { bucket: 'renamed', secret_key_set: true },
    });
    expect(resaved.json().config).toEqual({ bucket: 'renamed', secret_key_set: true });
    const omitted = await t.app.inject({
      method: 'POST',
      url: config,
      headers: admin,
      payload: { bucket: 'b2' },
    });
    expect(omitted.json().config).toEqual({ bucket: 'b2', secret_key_set: true });
    // ... and `<secret>_set: false` removes it.
    const removed = await t.app.inject({
      method: 'POST',
      url: config,
      headers: admin,
      payload: { bucket: 'b2', secret_key_set: false },
    });
    expect(removed.json().config).toEqual({ bucket: 'b2' });
    const badName = await t.app.inject({
      method: 'GET',
      url: `/api/v1/appliances/${hubId}/connectors/ftp/v1/config/`,
      headers: admin,
    });
    expect(badName.statusCode).toBe(400);
    const badId = await t.app.inject({
      method: 'GET',
      url: '/api/v1/appliances/1a/connectors/s3/v1/config/',
      headers: admin,
    });
    expect(badId.statusCode).toBe(400);
    const list = await t.app.inject({
      method: 'GET',
      url: '/api/v1/appliances/?search=cg-w1',
      headers: admin,
    });
    const workerId = list.json().results[0].id;
    const notHub = await t.app.inject({
      method: 'POST',
      url: `/api/v1/appliances/${workerId}/connectors/s3/`,
      headers: admin,
      payload: {},
    });
    expect(notHub.statusCode).toBe(400);
  });
  it('hides connector secrets in arrays, nested objects and values from a viewer; a save of the read keeps them', async () => {
    const config = `/api/v1/appliances/${hubId}/connectors/azure-data-lake/v1/config/`;
    const onHub = () =>
      JSON.parse(readFileSync(join(hubAgent.dataDir, 'connectors.json'), 'utf8'))['azure-data-lake'].config;
    const secrets = ['pw-in-array-1', 'tok-nested-2', 'QWNjb3VudEtleTM=', 'dsn-pass-4', 'bearer-tok-5'];
    const stored = {
      password: ['pw-in-array-1'],
      auth: { token: { value: 'tok-nested-2' } },
      connection_string:
        'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=QWNjb3VudEtleTM=;EndpointSuffix=x',
      targets: [{ url: 'postgres://u:dsn-pass-4@db.example/x', header: 'Bearer bearer-tok-5' }],
    };
    const set = await t.app.inject({ method: 'POST', url: config, headers: admin, payload: stored });
    expect(set.statusCode, set.body).toBe(200);
    const read = await t.app.inject({ method: 'GET', url: config, headers: viewer });
    expect(read.statusCode).toBe(200);
    for (const s of secrets) {
      expect(read.body).not.toContain(s);
      expect(set.body).not.toContain(s);
    }
    // Sending back exactly what was read keeps every secret on the hub.
    const resaved = await t.app.inject({
      method: 'POST',
      url: config,
      headers: admin,
      payload: read.json().config,
    });
    expect(resaved.statusCode, resaved.body).toBe(200);
    expect(resaved.json().config).toEqual(read.json().config);
    expect(onHub()).toEqual(stored);
    // A masked value pointed somewhere else is refused, naming the field, and changes nothing.
    const moved = read.json().config;
    moved.targets[0].url = moved.targets[0].url.replace('db.example', 'evil.example');
    const refused = await t.app.inject({ method: 'POST', url: config, headers: admin, payload: moved });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().errors.map((e: { field: string }) => e.field)).toEqual(['body.targets.0.url']);
    expect(onHub()).toEqual(stored);
    // The hub's agent refuses it too (a save racing the manager's check), and keeps what it had.
    const direct = await callAgent(hubAgent.url, 'agent/v1/connectors/azure-data-lake/config', {
      method: 'PUT',
      token: hubAgent.token,
      body: moved,
    });
    expect(direct.status).toBe(400);
    expect(onHub()).toEqual(stored);
  });

  it('never lets a stored connector secret follow a new host: the secret must be typed again', async () => {
    const config = `/api/v1/appliances/${hubId}/connectors/smtp/v1/config/`;
    const onHub = () =>
      JSON.parse(readFileSync(join(hubAgent.dataDir, 'connectors.json'), 'utf8')).smtp.config;
    const stored = { host: 'smtp.corp.example', port: 465, username: 'relay', password: 'relay-pw-6' };
    expect(
      (await t.app.inject({ method: 'POST', url: config, headers: admin, payload: stored })).statusCode,
    ).toBe(200);
    const read = (await t.app.inject({ method: 'GET', url: config, headers: admin })).json().config;
    // The password, unreadable to the client, would be sent to whoever runs the new host.
    for (const payload of [
      { ...read, host: 'attacker.example' },
      { host: 'attacker.example', port: 465, username: 'relay' },
    ]) {
      const refused = await t.app.inject({ method: 'POST', url: config, headers: admin, payload });
      expect(refused.statusCode, refused.body).toBe(400);
      expect(refused.json().errors.map((e: { field: string }) => e.field)).toEqual(['body.password']);
      expect(onHub()).toEqual(stored);
    }
    const direct = await callAgent(hubAgent.url, 'agent/v1/connectors/smtp/config', {
      method: 'PUT',
      token: hubAgent.token,
      body: { ...read, host: 'attacker.example' },
    });
    expect(direct.status).toBe(400);
    expect(onHub()).toEqual(stored);
    // With the secret typed again, or a change that moves nothing, the save goes through.
    const moved = { ...read, host: 'smtp2.corp.example', password: 'new-pw-7' };
    delete moved.password_set;
    expect(
      (await t.app.inject({ method: 'POST', url: config, headers: admin, payload: moved })).statusCode,
    ).toBe(200);
    expect(onHub()).toMatchObject({ host: 'smtp2.corp.example', password: 'new-pw-7' });
    const same = await t.app.inject({
      method: 'POST',
      url: config,
      headers: admin,
      payload: { ...read, username: 'relay2', host: 'smtp2.corp.example' },
    });
    expect(same.statusCode, same.body).toBe(200);
    expect(onHub()).toMatchObject({ host: 'smtp2.corp.example', username: 'relay2', password: 'new-pw-7' });
  });
});

describe('individual Analyze configuration and activities', () => {
  it('saves and applies individual configuration for an a1000', async () => {
    const an = await agent('a1000');
    const a = await createAppliance('ind-a', 'analyze', an.url);
    await t.app.inject({
      method: 'PUT',
      url: `/api/v1/appliances/${a.id}/authorization/`,
      headers: admin,
      payload: { token: an.token },
    });
    const save = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/appliances/content/${a.id}/save/`,
      headers: admin,
      payload: { content: { cloud__enabled: true, hub__max_connections: 5 } },
    });
    expect(save.statusCode, save.body).toBe(200);
    const apply = await t.app.inject({
      method: 'POST',
      url: `/api/v1/appliances/content/${a.id}/apply/`,
      headers: admin,
    });
    expect(apply.statusCode, apply.body).toBe(202);
    const settled = await waitForStatus(a.id, (s) => s !== 'pending');
    // hub__max_connections is a hub field: the Analyze agent reports it unsupported, by name.
    expect(settled.configuration_status).toBe('unsupported');
    expect(settled.configuration_status_details.unsupported).toHaveProperty('hub__max_connections');
  });

  it('lists activities newest first, filtered by kind and paginated', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/api/v1/activities/?kind=appliance.created&limit=2',
      headers: viewer,
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.results).toHaveLength(2);
    expect(body.results.every((e: { kind: string }) => e.kind === 'appliance.created')).toBe(true);
    expect(body.count).toBeGreaterThan(2);
    const bad = await t.app.inject({
      method: 'GET',
      url: '/api/v1/activities/?since=yesterday',
      headers: viewer,
    });
    expect(bad.statusCode).toBe(400);
  });
});
