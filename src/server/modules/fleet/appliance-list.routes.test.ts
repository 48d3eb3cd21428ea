// The appliance list an admin works with: search (name, URL, host name), the state, type, group
// and configuration-status filters, each sort order with its tie-break, pagination, and the
// enrollment endpoint. Rows come from the factory, so each state and value is set exactly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';
import { insertAppliance } from '../../../../test/helpers/rows.js';

let t: TestContext;
let admin: Record<string, string>;
const ids: Record<string, number> = {};

const PREFIX = 'lst-';

async function list(query: string, headers = admin) {
  return t.app.inject({ method: 'GET', url: `/api/v1/appliances/?page_size=100&${query}`, headers });
}

/** Names of the listed appliances of this file, in the order the API gave them. */
async function names(query: string): Promise<string[]> {
  const res = await list(query);
  expect(res.statusCode, res.body).toBe(200);
  return (res.json().results as { name: string }[]).map((a) => a.name).filter((n) => n.startsWith(PREFIX));
}

beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
  const group = await t.db
    .insertInto('config_groups')
    .values({ name: 'lst-group', content: '{}' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const at = (h: number) => new Date(Date.UTC(2026, 0, 1, h));
  const rows: [string, Parameters<typeof insertAppliance>[1]][] = [
    // online, with a host name that only the search by host name finds
    [
      'lst-alpha',
      {
        type: 'tiscale-worker',
        url: 'https://10.20.0.1:8443',
        hostname: 'edge-router.corp',
        authorized: true,
        online: true,
        status: 'online',
        latency: 2.5,
        release: '5.10.0',
        last_seen_online: at(10),
        group_id: group.id,
        configuration_status: 'done',
      },
    ],
    // offline, with a stale latency stored
    [
      'lst-bravo',
      {
        type: 'tiscale-hub',
        url: 'https://bravo.lab.example:8443',
        authorized: true,
        online: false,
        status: 'offline',
        latency: 9.75,
        release: '5.9.1',
        last_seen_online: at(8),
        configuration_status: 'error',
      },
    ],
    // maintenance (and offline: maintenance wins)
    [
      'lst-charlie',
      {
        type: 'tiscale-worker',
        authorized: true,
        online: false,
        maintenance: true,
        status: 'offline',
        release: '5.3.0',
        last_seen_online: at(9),
        group_id: group.id,
        configuration_status: 'changes_awaiting_apply',
      },
    ],
    // never authorized, never seen
    ['lst-delta', { type: 'a1000', authorized: false, configuration_status: 'no_configuration_group' }],
    // degraded
    [
      'lst-echo',
      {
        type: 'tiscale-worker',
        authorized: true,
        online: true,
        status: 'degraded',
        latency: 4,
        release: '5.3.0',
        last_seen_online: at(10),
        configuration_status: 'done',
      },
    ],
    // a name with LIKE's wildcards in it: a search for "_" or "%" must match it literally
    ['lst-fox_trot', { type: 'tiscale-worker', authorized: false }],
  ];
  for (const [name, values] of rows) ids[name] = await insertAppliance(t.db, { ...values, name });
});

afterAll(async () => {
  await t?.close();
});

describe('GET /api/v1/appliances/: search', () => {
  it('matches the name, the URL and the host name, case-insensitively', async () => {
    expect(await names('search=ALPHA')).toEqual(['lst-alpha']);
    expect(await names('search=bravo.lab')).toEqual(['lst-bravo']);
    expect(await names('search=10.20.0.1')).toEqual(['lst-alpha']);
    expect(await names('search=Edge-Router')).toEqual(['lst-alpha']);
  });

  it("takes LIKE's wildcards literally", async () => {
    expect(await names('search=_')).toEqual(['lst-fox_trot']);
    expect(await names('search=%25')).toEqual([]);
  });
});

describe('GET /api/v1/appliances/: filters', () => {
  it('gives each appliance one state and filters by one or several', async () => {
    const res = await list('search=lst-&ordering=name');
    const byName = Object.fromEntries(
      (res.json().results as { name: string; state: string }[]).map((a) => [a.name, a.state]),
    );
    expect(byName).toEqual({
      'lst-alpha': 'online',
      'lst-bravo': 'offline',
      'lst-charlie': 'maintenance',
      'lst-delta': 'unauthorized',
      'lst-echo': 'degraded',
      'lst-fox_trot': 'unauthorized',
    });
    expect(await names('state=online')).toEqual(['lst-alpha']);
    expect(await names('state=offline')).toEqual(['lst-bravo']);
    expect(await names('state=maintenance')).toEqual(['lst-charlie']);
    expect(await names('state=degraded')).toEqual(['lst-echo']);
    expect(await names('state=unauthorized&ordering=name')).toEqual(['lst-delta', 'lst-fox_trot']);
    expect(await names('state=offline,maintenance&ordering=name')).toEqual(['lst-bravo', 'lst-charlie']);
  });

  it('names an unknown state in a 400', async () => {
    const res = await list('state=online,sleeping');
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual([
      { field: 'query.state', message: expect.stringContaining('"sleeping"') },
    ]);
  });

  it('filters by type (legacy or product name), group and configuration status', async () => {
    expect(await names('type=hub')).toEqual(['lst-bravo']);
    expect(await names('type=a1000')).toEqual(['lst-delta']);
    expect(await names('group_name=lst-group&ordering=name')).toEqual(['lst-alpha', 'lst-charlie']);
    expect(await names('configuration_status=error')).toEqual(['lst-bravo']);
    expect(await names('configuration_status=done&type=worker&ordering=name')).toEqual([
      'lst-alpha',
      'lst-echo',
    ]);
    expect(await names('group_name=lst-group&state=online')).toEqual(['lst-alpha']);
    const bad = await list('type=router');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe('query.type');
  });

  it('shows no latency for an appliance that does not answer', async () => {
    const res = await list('search=lst-&ordering=name');
    const latency = Object.fromEntries(
      (res.json().results as { name: string; latency: number | null }[]).map((a) => [a.name, a.latency]),
    );
    expect(latency['lst-alpha']).toBe(2.5);
    expect(latency['lst-bravo']).toBeNull();
    expect(latency['lst-charlie']).toBeNull();
  });
});

describe('GET /api/v1/appliances/: ordering', () => {
  it('sorts by name both ways', async () => {
    const asc = await names('ordering=name');
    expect(asc).toEqual(['lst-alpha', 'lst-bravo', 'lst-charlie', 'lst-delta', 'lst-echo', 'lst-fox_trot']);
    expect(await names('ordering=-name')).toEqual([...asc].reverse());
  });

  it('sorts by state in the order online, degraded, offline, maintenance, unauthorized; ties by id', async () => {
    expect(await names('ordering=state')).toEqual([
      'lst-alpha',
      'lst-echo',
      'lst-bravo',
      'lst-charlie',
      'lst-delta',
      'lst-fox_trot',
    ]);
    // Descending state; the two unauthorized ones keep their id order (the tie-break).
    expect(await names('ordering=-state')).toEqual([
      'lst-delta',
      'lst-fox_trot',
      'lst-charlie',
      'lst-bravo',
      'lst-echo',
      'lst-alpha',
    ]);
  });

  it('sorts by last seen with the never-seen last either way', async () => {
    expect(await names('ordering=-last_seen_online&search=lst-')).toEqual([
      'lst-alpha',
      'lst-echo',
      'lst-charlie',
      'lst-bravo',
      'lst-delta',
      'lst-fox_trot',
    ]);
    expect(await names('ordering=last_seen_online')).toEqual([
      'lst-bravo',
      'lst-charlie',
      'lst-alpha',
      'lst-echo',
      'lst-delta',
      'lst-fox_trot',
    ]);
  });

  it('sorts releases as numbers (5.10.0 after 5.9.1)', async () => {
    expect(await names('ordering=-release')).toEqual([
      'lst-alpha',
      'lst-bravo',
      'lst-charlie',
      'lst-echo',
      'lst-delta',
      'lst-fox_trot',
    ]);
  });

  it('sorts by type, group, configuration status and latency, then by id', async () => {
    expect(await names('ordering=type')).toEqual([
      'lst-delta',
      'lst-bravo',
      'lst-alpha',
      'lst-charlie',
      'lst-echo',
      'lst-fox_trot',
    ]);
    expect((await names('ordering=group_name')).slice(0, 2)).toEqual(['lst-alpha', 'lst-charlie']);
    expect((await names('ordering=configuration_status,name')).slice(0, 2)).toEqual([
      'lst-charlie',
      'lst-alpha',
    ]);
    // Offline latencies are not facts: they sort with the missing ones, last.
    expect((await names('ordering=latency')).slice(0, 2)).toEqual(['lst-alpha', 'lst-echo']);
    expect((await names('ordering=-latency')).slice(0, 2)).toEqual(['lst-echo', 'lst-alpha']);
  });

  it('names an unknown sort field in a 400', async () => {
    const res = await list('ordering=name,-colour');
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual([{ field: 'query.ordering', message: 'unknown field(s): colour' }]);
  });

  it('pages without overlap or gaps under any order', async () => {
    const all = await names('ordering=state&search=lst-');
    const seen: string[] = [];
    for (let page = 1; page <= 3; page++) {
      const res = await t.app.inject({
        method: 'GET',
        url: `/api/v1/appliances/?search=lst-&ordering=state&page_size=2&page=${page}`,
        headers: admin,
      });
      expect(res.statusCode).toBe(200);
      expect(res.json().count).toBe(6);
      seen.push(...(res.json().results as { name: string }[]).map((a) => a.name));
    }
    expect(seen).toEqual(all);
  });
});

describe('GET /api/v1/appliances/: permissions', () => {
  it('viewers may list; a token without appliances:read is refused', async () => {
    const viewer = await t.headersFor('viewer');
    expect((await list('state=online', viewer)).statusCode).toBe(200);
    const narrow = await t.headersFor('viewer', { scopes: ['tokens:read'] });
    const res = await list('state=online', narrow);
    expect(res.statusCode).toBe(403);
    expect(res.json().required_permission).toBe('appliances:read');
  });
});

describe('GET /api/v1/appliances/enrollment/', () => {
  it("gives the agent command that pins this manager's pairing key", async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/api/v1/appliances/enrollment/?type=hub&name=hub-7',
      headers: await t.headersFor('viewer'),
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    const key = await t.db.selectFrom('fleet_identity').select('fingerprint').executeTakeFirstOrThrow();
    expect(body.fingerprint).toBe(key.fingerprint);
    expect(body.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(body.argv).toEqual([
      'agent',
      '--type',
      'tiscale-hub',
      '--manager',
      key.fingerprint,
      '--name',
      'hub-7',
    ]);
    expect(body.command).toBe(`steward ${body.argv.join(' ')}`);
    // No base_url and no allowed Host: the manager does not guess its own address.
    expect(body.manager_url).toBeNull();
  });

  it('defaults to a worker, names bad input, and is refused without appliances:read', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/appliances/enrollment/', headers: admin });
    expect(res.json().argv.slice(0, 3)).toEqual(['agent', '--type', 'tiscale-worker']);
    const badType = await t.app.inject({
      method: 'GET',
      url: '/api/v1/appliances/enrollment/?type=router',
      headers: admin,
    });
    expect(badType.statusCode).toBe(400);
    expect(badType.json().errors[0].field).toBe('query.type');
    const badName = await t.app.inject({
      method: 'GET',
      url: '/api/v1/appliances/enrollment/?name=a%20b;rm',
      headers: admin,
    });
    expect(badName.statusCode).toBe(400);
    expect(badName.json().errors[0].field).toBe('query.name');
    const narrow = await t.headersFor('viewer', { scopes: ['tokens:read'] });
    const refused = await t.app.inject({
      method: 'GET',
      url: '/api/v1/appliances/enrollment/',
      headers: narrow,
    });
    expect(refused.statusCode).toBe(403);
  });

  it('tells the manager URL from base_url once it is set', async () => {
    const set = await t.app.inject({
      method: 'POST',
      url: '/api/v1/config/network/',
      headers: admin,
      payload: { base_url: 'https://steward.example:8443' },
    });
    expect(set.statusCode, set.body).toBe(200);
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/appliances/enrollment/', headers: admin });
    expect(res.json().manager_url).toBe('https://steward.example:8443');
  });
});
