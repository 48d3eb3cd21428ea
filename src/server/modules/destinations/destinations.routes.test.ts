// Route tests for destination lists: CRUD and entries, Cloudlock's limit/offset and Bearer
// tokens, validation naming each entry, and lists referenced from a group's content: resolved
// and sent to a real in-process agent on apply, a change marks the group out of sync.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../../../../test/helpers/agent.js';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';

let t: TestContext;
let admin: Record<string, string>;
let bearer: Record<string, string>;
let worker: TestAgent;
let workerId: number;

const BASE = '/api/v1/destination-lists/';

async function create(payload: Record<string, unknown>, headers = admin) {
  return t.app.inject({ method: 'POST', url: BASE, headers, payload });
}

async function auditOf(action: string) {
  const res = await t.app.inject({ method: 'GET', url: `/api/v1/audit/?action=${action}`, headers: admin });
  expect(res.statusCode).toBe(200);
  return res.json().results as { action: string; summary: string; details: Record<string, unknown> }[];
}

async function applianceStatus() {
  const res = await t.app.inject({ method: 'GET', url: `/api/v1/appliances/${workerId}/`, headers: admin });
  return res.json() as { configuration_status: string };
}

async function settled() {
  for (let i = 0; i < 200; i++) {
    const s = await applianceStatus();
    if (s.configuration_status !== 'pending') return s;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('apply did not settle');
}

beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
  // Cloudlock's credential style: `Authorization: Bearer <token>`.
  const tokenHeaders = await t.headersFor('operator');
  const raw = (tokenHeaders.authorization ?? Object.values(tokenHeaders)[0] ?? '').replace(/^\S+\s+/, '');
  bearer = { authorization: `Bearer ${raw}` };
  worker = await startTestAgent({ type: 'tiscale-worker' });
  const created = await t.app.inject({
    method: 'POST',
    url: '/api/v1/appliances/create/',
    headers: admin,
    payload: { name: 'dl-w1', type: 'worker', url: worker.url },
  });
  workerId = created.json().id;
  const auth = await t.app.inject({
    method: 'GET',
    url: `/api/v1/appliances/${workerId}/authorization/`,
    headers: admin,
  });
  expect(auth.statusCode, auth.body).toBe(200);
});

afterAll(async () => {
  await t.close();
  await worker.cleanup();
});

describe('destination lists', () => {
  it('creates a list with normalised entries over a Bearer token, audited', async () => {
    const res = await create(
      {
        name: 'office-egress',
        description: 'results may go here',
        entries: ['192.0.2.10', '198.51.100.0/24', '2001:DB8:0:0::1/128'],
      },
      bearer,
    );
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ name: 'office-egress', entry_count: 3, used_by: [] });
    const id = res.json().id;
    const entries = await t.app.inject({ method: 'GET', url: `${BASE}${id}/entries/`, headers: bearer });
    expect(entries.json().results.map((e: { value: string; kind: string }) => [e.value, e.kind])).toEqual([
      ['192.0.2.10', 'ip'],
      ['198.51.100.0/24', 'cidr'],
      ['2001:db8::1', 'ip'],
    ]);
    const audit = await auditOf('destination_list.created');
    expect(audit[0]?.summary).toContain('office-egress');
  });

  it('refuses bad entries, host bits and duplicates, naming each entry; nothing is created', async () => {
    const res = await create({
      name: 'bad',
      entries: ['10.0.0.1', 'example.com', '10.1.2.3/8', '10.0.0.1/32', '300.1.1.1'],
    });
    expect(res.statusCode).toBe(400);
    const errors = res.json().errors as { field: string; message: string }[];
    expect(errors.map((e) => e.field)).toEqual([
      'body.entries[1]',
      'body.entries[2]',
      'body.entries[3]',
      'body.entries[4]',
    ]);
    expect(errors[1]?.message).toContain('10.0.0.0/8');
    expect(errors[2]?.message).toContain('body.entries[0]');
    const list = await t.app.inject({ method: 'GET', url: `${BASE}?search=bad`, headers: admin });
    expect(list.json().count).toBe(0);
    // Names are unique case-insensitively; unknown body fields are refused.
    expect((await create({ name: 'OFFICE-EGRESS' })).statusCode).toBe(409);
    const unknown = await create({ name: 'x1', color: 'red' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.body).toContain('color');
  });

  it("pages with Cloudlock's limit and offset", async () => {
    for (const n of ['p-1', 'p-2', 'p-3']) expect((await create({ name: n })).statusCode).toBe(201);
    const res = await t.app.inject({
      method: 'GET',
      url: `${BASE}?search=p-&limit=2&offset=1`,
      headers: bearer,
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.count).toBe(3);
    expect(body.results.map((r: { name: string }) => r.name)).toEqual(['p-2', 'p-3']);
    expect(body.previous).toContain('offset=0');
    expect(body.next).toBeNull();
    expect(res.headers['x-total-count']).toBe('3');
    const over = await t.app.inject({ method: 'GET', url: `${BASE}?limit=101`, headers: bearer });
    expect(over.statusCode).toBe(400);
  });

  it('needs configuration:write to change and configuration:read to look', async () => {
    const viewer = await t.headersFor('viewer');
    expect((await t.app.inject({ method: 'GET', url: BASE, headers: viewer })).statusCode).toBe(200);
    expect((await create({ name: 'v-list' }, viewer)).statusCode).toBe(403);
    const readOnly = await t.headersFor('admin', { scopes: ['configuration:read'] });
    expect((await create({ name: 'ro-list' }, readOnly)).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: BASE })).statusCode).toBe(401);
  });

  it('adds and removes entries: 409 naming an entry already there, 404 naming one that is not', async () => {
    const id = (await create({ name: 'entries-list', entries: ['203.0.113.1'] })).json().id;
    const dup = await t.app.inject({
      method: 'POST',
      url: `${BASE}${id}/entries/`,
      headers: admin,
      payload: { entries: ['203.0.113.2', '203.0.113.1/32'] },
    });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().errors).toEqual([
      { field: 'body.entries[1]', message: '203.0.113.1 is already in the list' },
    ]);
    const add = await t.app.inject({
      method: 'POST',
      url: `${BASE}${id}/entries/`,
      headers: admin,
      payload: { entries: ['203.0.113.2', '2001:db8::/32'], comment: 'partner' },
    });
    expect(add.statusCode, add.body).toBe(201);
    expect(add.json().added.map((e: { value: string }) => e.value)).toEqual(['203.0.113.2', '2001:db8::/32']);
    const missing = await t.app.inject({
      method: 'POST',
      url: `${BASE}${id}/entries/remove/`,
      headers: admin,
      payload: { entries: ['203.0.113.2', '203.0.113.99'] },
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().errors[0].field).toBe('body.entries[1]');
    const removed = await t.app.inject({
      method: 'POST',
      url: `${BASE}${id}/entries/remove/`,
      headers: admin,
      payload: { entries: ['2001:DB8::/32'] },
    });
    expect(removed.statusCode, removed.body).toBe(200);
    const entryId = add.json().added[0].id;
    const del = await t.app.inject({
      method: 'DELETE',
      url: `${BASE}${id}/entries/${entryId}/`,
      headers: admin,
    });
    expect(del.statusCode).toBe(204);
    const left = await t.app.inject({ method: 'GET', url: `${BASE}${id}/entries/`, headers: admin });
    expect(left.json().results.map((e: { value: string }) => e.value)).toEqual(['203.0.113.1']);
    expect((await auditOf('destination_list.entries_removed')).length).toBe(2);
  });

  it('resolves lists named in a group on apply; a list change marks the group out of sync', async () => {
    const listId = (await create({ name: 'siem', entries: ['192.0.2.50', '192.0.2.128/25'] })).json().id;
    expect(
      (
        await t.app.inject({
          method: 'POST',
          url: '/api/v1/config-group/create/',
          headers: admin,
          payload: { name: 'DG' },
        })
      ).statusCode,
    ).toBe(201);
    // An unknown list is a 400 naming the reference.
    const unknown = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/config-group/save/DG/',
      headers: admin,
      payload: { appliances: ['dl-w1'], content: { destinations__lists: ['siem', 'nope'] } },
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().errors).toEqual([
      { field: 'body.content.destinations__lists[1]', message: 'no destination list named "nope"' },
    ]);
    const save = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/config-group/save/DG/',
      headers: admin,
      payload: {
        appliances: ['dl-w1'],
        content: { destinations__lists: ['siem', 'office-egress'], destinations__allowed_ips: ['192.0.2.1'] },
      },
    });
    expect(save.statusCode, save.body).toBe(200);
    const apply = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/config-group/update/DG/',
      headers: admin,
      payload: { applyconfiguration: [] },
    });
    expect(apply.statusCode, apply.body).toBe(202);
    expect((await settled()).configuration_status).toBe('done');
    const sent = worker.state.config().content;
    expect(sent).toEqual({
      destinations__allowed_ips: ['192.0.2.1', '192.0.2.50', '192.0.2.10', '2001:db8::1'],
      destinations__allowed_cidrs: ['192.0.2.128/25', '198.51.100.0/24'],
    });
    expect(sent).not.toHaveProperty('destinations__lists');

    // The list is in use: shown, and not deleted or renamed (409 naming the group).
    const shown = await t.app.inject({ method: 'GET', url: `${BASE}${listId}/`, headers: admin });
    expect(shown.json().used_by).toEqual(['DG']);
    const del = await t.app.inject({ method: 'DELETE', url: `${BASE}${listId}/`, headers: admin });
    expect(del.statusCode).toBe(409);
    expect(del.json().detail).toContain('DG');
    const rename = await t.app.inject({
      method: 'PATCH',
      url: `${BASE}${listId}/`,
      headers: admin,
      payload: { name: 'siem-2' },
    });
    expect(rename.statusCode).toBe(409);

    // A change to the list: the group gets a new revision, the member is out of sync, the diff shows it.
    const add = await t.app.inject({
      method: 'POST',
      url: `${BASE}${listId}/entries/`,
      headers: bearer,
      payload: { entries: ['192.0.2.77'] },
    });
    expect(add.statusCode, add.body).toBe(201);
    expect(add.json().groups_out_of_sync).toEqual(['DG']);
    expect((await applianceStatus()).configuration_status).toBe('changes_awaiting_apply');
    const diff = await t.app.inject({ method: 'GET', url: '/api/v1/config-group/diff/DG/', headers: admin });
    expect(diff.statusCode).toBe(200);
    expect(diff.json().appliances[0].changes).toEqual([
      {
        field: 'destinations__allowed_ips',
        action: 'changed',
        from: ['192.0.2.1', '192.0.2.50', '192.0.2.10', '2001:db8::1'],
        to: ['192.0.2.1', '192.0.2.50', '192.0.2.77', '192.0.2.10', '2001:db8::1'],
      },
    ]);
    const audit = await auditOf('destination_list.entries_added');
    expect(audit[0]?.details.groups).toEqual(['DG']);
    // Applying sends the new entries.
    await t.app.inject({
      method: 'PUT',
      url: '/api/v1/config-group/update/DG/',
      headers: admin,
      payload: { applyconfiguration: [] },
    });
    expect((await settled()).configuration_status).toBe('done');
    expect(worker.state.config().content.destinations__allowed_ips).toContain('192.0.2.77');

    // Once no group names it, the list can go.
    await t.app.inject({
      method: 'PATCH',
      url: '/api/v1/config-group/save/DG/',
      headers: admin,
      payload: { content: { destinations__lists: null } },
    });
    expect(
      (await t.app.inject({ method: 'DELETE', url: `${BASE}${listId}/`, headers: admin })).statusCode,
    ).toBe(204);
    expect((await auditOf('destination_list.deleted')).length).toBe(1);
  });

  it('refuses list references in individual (Spectra Analyze) configuration and malformed references', async () => {
    const bad = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/config-group/save/DG/',
      headers: admin,
      payload: { content: { destinations__lists: 'siem' } },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe('body.content.destinations__lists');
    const twice = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/config-group/save/DG/',
      headers: admin,
      payload: { content: { destinations__lists: ['siem', 'siem'] } },
    });
    expect(twice.statusCode).toBe(400);
    const a1 = await t.app.inject({
      method: 'POST',
      url: '/api/v1/appliances/create/',
      headers: admin,
      payload: { name: 'dl-a1', type: 'a1000', url: 'http://127.0.0.1:7' },
    });
    const individual = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/appliances/content/${a1.json().id}/save/`,
      headers: admin,
      payload: { content: { destinations__lists: ['office-egress'] } },
    });
    expect(individual.statusCode, individual.body).toBe(400);
    expect(individual.json().errors[0].field).toBe('body.content.destinations__lists');
  });
});
