// GET /api/v1/summary/: the dashboard's numbers for each kind of caller, and what a caller
// without the permission gets. The SQL of each figure has its own cases in summary.repo.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';
import { insertAppliance } from '../../../../test/helpers/rows.js';

let t: TestContext;
const HOUR = 3_600_000;

beforeAll(async () => {
  t = await createTestContext();
  const now = t.clock.now();
  const w1 = await insertAppliance(t.db, {
    name: 'sum-w1',
    authorized: true,
    online: true,
    status: 'online',
    configuration_status: 'done',
  });
  await insertAppliance(t.db, {
    name: 'sum-w2',
    authorized: true,
    online: true,
    status: 'online',
    configuration_status: 'done',
  });
  const w3 = await insertAppliance(t.db, {
    name: 'sum-w3',
    authorized: true,
    online: false,
    status: 'offline',
    configuration_status: 'mismatch',
    last_seen_online: new Date(now.getTime() - 3 * HOUR),
  });
  await insertAppliance(t.db, { name: 'sum-w4', authorized: true, online: true, maintenance: true });
  await insertAppliance(t.db, { name: 'sum-new', authorized: false });
  await t.db
    .insertInto('fleet_events')
    .values([
      {
        at: new Date(now.getTime() - 3 * HOUR),
        appliance_id: w3,
        appliance_name: 'sum-w3',
        kind: 'appliance.offline',
        severity: 'warning',
        message: 'appliance sum-w3 is offline: connect ECONNREFUSED',
      },
      {
        at: new Date(now.getTime() - HOUR),
        appliance_id: w1,
        appliance_name: 'sum-w1',
        kind: 'config.applied',
        severity: 'info',
        message: 'configuration revision 1 applied to sum-w1 (done)',
      },
    ])
    .execute();
});
afterAll(async () => {
  await t?.close();
});

const get = async (headers: Record<string, string>) =>
  t.app.inject({ method: 'GET', url: '/api/v1/summary/', headers });

describe('GET /api/v1/summary/', () => {
  it('gives an admin every count, what needs attention and the last 24 hours', async () => {
    const res = await get(await t.adminHeaders());
    expect(res.statusCode).toBe(200);
    const s = res.json();
    expect(s.appliances).toEqual({
      total: 5,
      by_state: { online: 2, degraded: 0, offline: 1, maintenance: 1, unauthorized: 1 },
      by_configuration_status: {
        changes_awaiting_apply: 0,
        pending: 0,
        error: 0,
        done: 2,
        mismatch: 1,
        unsupported: 0,
        no_configuration_group: 2,
      },
    });
    expect(s.attention.map((a: { kind: string; target_name: string }) => [a.kind, a.target_name])).toEqual([
      ['appliance.offline', 'sum-w3'],
      ['appliance.unauthorized', 'sum-new'],
    ]);
    expect(s.attention[0]).toMatchObject({ severity: 'error', target_type: 'appliance' });
    expect(s.attention[0].since).toBe(new Date(t.clock.now().getTime() - 3 * HOUR).toISOString());
    expect(s.alerts.last_24h).toBe(1);
    expect(s.alerts.recent[0]).toMatchObject({ kind: 'appliance.offline', appliance_name: 'sum-w3' });
    // sum-w3 went offline three hours ago: before that, all four authorized appliances answered.
    const series = s.fleet_state as { at: string; online: number; offline: number }[];
    expect(series.at(-1)).toMatchObject({ online: 3, offline: 1 });
    expect(series[0]).toMatchObject({ online: 4, offline: 0 });
    expect(new Date(series[0]?.at ?? 0).getTime()).toBeLessThanOrEqual(t.clock.now().getTime() - 24 * HOUR);
    expect(s.rollouts).toEqual([]);
    expect(s.upgrades).toEqual({ in_flight: 0, current: null, recent: [] });
    expect(s.tokens).toMatchObject({ warning_days: 7, expiring: 0, soonest: [] });
  });

  it('shows a configuration rollout under way and an upgrade in flight', async () => {
    const admin = await t.adminHeaders();
    const group = await t.app.inject({
      method: 'POST',
      url: '/api/v1/config-group/create/',
      headers: admin,
      payload: { name: 'sum-group' },
    });
    expect(group.statusCode).toBeLessThan(300);
    const g = await t.db
      .selectFrom('config_groups')
      .select(['id'])
      .where('name', '=', 'sum-group')
      .executeTakeFirstOrThrow();
    await t.db
      .updateTable('appliances')
      .set({ group_id: g.id, configuration_status: 'pending' })
      .where('name', 'in', ['sum-w1', 'sum-w2'])
      .execute();
    await t.db
      .updateTable('appliances')
      .set({ configuration_status: 'done' })
      .where('name', '=', 'sum-w2')
      .execute();
    const w1 = await t.db
      .selectFrom('appliances')
      .select('id')
      .where('name', '=', 'sum-w1')
      .executeTakeFirstOrThrow();
    await t.db
      .insertInto('fleet_upgrades')
      .values({ appliance_id: w1.id, package_id: null, version: '9.9.9', status: 'downloading' })
      .execute();

    const s = (await get(admin)).json();
    expect(s.rollouts).toEqual([
      {
        group_id: g.id,
        group_name: 'sum-group',
        revision: expect.any(Number),
        total: 2,
        by_status: { done: 1, pending: 1 },
      },
    ]);
    expect(s.upgrades.in_flight).toBe(1);
    expect(s.upgrades.current).toMatchObject({
      appliance_name: 'sum-w1',
      version: '9.9.9',
      status: 'downloading',
      finished: null,
    });
  });

  it('counts tokens expiring within the warning window: every user’s for admins, a viewer’s own', async () => {
    const admin = await t.adminHeaders();
    const soon = new Date(t.clock.now().getTime() + 3 * 24 * HOUR).toISOString();
    const later = new Date(t.clock.now().getTime() + 30 * 24 * HOUR).toISOString();
    const made = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/',
      headers: admin,
      payload: { name: 'sum-admin-soon', expires_at: soon },
    });
    expect(made.statusCode).toBe(201);
    t.secrets.add(made.json().token);
    const late = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/',
      headers: admin,
      payload: { name: 'sum-admin-later', expires_at: later },
    });
    expect(late.statusCode).toBe(201);
    t.secrets.add(late.json().token);

    const s = (await get(admin)).json();
    expect(s.tokens.expiring).toBe(1);
    expect(s.tokens.soonest).toEqual([
      { id: made.json().id, name: 'sum-admin-soon', owner: 'admin', expires_at: expect.any(String) },
    ]);
    expect(s.attention).toContainEqual(
      expect.objectContaining({ kind: 'token.expiring', target_type: 'token', target_id: made.json().id }),
    );

    // A viewer's own token expires in 90 days (the default lifetime); the admin's is not theirs.
    const viewer = (await get(await t.headersFor('viewer'))).json();
    expect(viewer.tokens).toMatchObject({ expiring: 0, soonest: [] });
    expect(viewer.appliances.total).toBe(5);

    // The warning window is the system alerting setting; 0 turns it off.
    const off = await t.app.inject({
      method: 'POST',
      url: '/api/v1/config/systemalerting/',
      headers: admin,
      payload: { token_expiry_warning_days: 0 },
    });
    expect(off.statusCode).toBe(200);
    expect((await get(admin)).json().tokens).toEqual({ warning_days: 0, expiring: 0, soonest: [] });
  });

  it('leaves out the sections a token may not read, and refuses one without appliances:read', async () => {
    const narrow = await t.headersFor('operator', { scopes: ['appliances:read'] });
    const res = await get(narrow);
    expect(res.statusCode).toBe(200);
    const s = res.json();
    expect(s.appliances.total).toBe(5);
    expect([s.rollouts, s.upgrades, s.tokens]).toEqual([null, null, null]);

    const other = await t.headersFor('operator', { scopes: ['tokens:read', 'upgrades:read'] });
    const refused = await get(other);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().required_permission).toBe('appliances:read');

    const anonymous = await get({});
    expect(anonymous.statusCode).toBe(401);
  });
});
