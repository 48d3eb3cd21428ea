// The summary's aggregates on a real database: PGlite here, PostgreSQL when the route-test tier
// runs again with STEWARD_TEST_DATABASE_URL. Each figure is checked against rows made for it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/database.js';
import { insertAppliance } from '../../../../test/helpers/rows.js';
import { createSummaryRepo } from './summary.repo.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let repo: ReturnType<typeof createSummaryRepo>;
const HOUR = 3_600_000;
const now = new Date();
const ids: Record<string, number> = {};

beforeAll(async () => {
  database = await createTestDatabase();
  repo = createSummaryRepo(database.db);
  const db = database.db;
  const group = await db
    .insertInto('config_groups')
    .values({ name: 'summary-workers', revision: 4 })
    .returning('id')
    .executeTakeFirstOrThrow();
  ids.group = group.id;
  const other = await db
    .insertInto('config_groups')
    .values({ name: 'summary-idle', revision: 2 })
    .returning('id')
    .executeTakeFirstOrThrow();
  ids.idle = other.id;
  const make = async (name: string, v: Parameters<typeof insertAppliance>[1]) => {
    ids[name] = await insertAppliance(db, { name, ...v });
  };
  await make('s-online', {
    authorized: true,
    online: true,
    status: 'online',
    configuration_status: 'done',
    group_id: group.id,
  });
  await make('s-pending', {
    authorized: true,
    online: true,
    status: 'online',
    configuration_status: 'pending',
    group_id: group.id,
  });
  await make('s-degraded', {
    authorized: true,
    online: true,
    status: 'degraded',
    configuration_status: 'mismatch',
  });
  await make('s-offline', {
    authorized: true,
    online: false,
    status: 'offline',
    configuration_status: 'error',
    configuration_status_details: JSON.stringify({ reason: 'the appliance answered 500' }),
    last_seen_online: new Date(now.getTime() - 2 * HOUR),
    group_id: group.id,
  });
  await make('s-maint-off', { authorized: true, online: false, maintenance: true, status: 'offline' });
  await make('s-maint-on', {
    authorized: true,
    online: true,
    maintenance: true,
    status: 'online',
    group_id: other.id,
    configuration_status: 'done',
  });
  await make('s-new', { authorized: false });

  const ev = (kind: string, hoursAgo: number, severity = 'info', name = 's-offline') => ({
    at: new Date(now.getTime() - hoursAgo * HOUR),
    appliance_id: ids[name] ?? null,
    appliance_name: name,
    kind,
    severity,
    message: `${kind} ${name}`,
  });
  await db
    .insertInto('fleet_events')
    .values([
      ev('appliance.offline', 2, 'warning'),
      ev('appliance.online', 5, 'info'),
      ev('appliance.offline', 6, 'warning'),
      ev('appliance.authorized', 30, 'info', 's-online'),
      ev('config.failed', 1, 'error'),
      ev('config.failed', 26, 'error'),
      ev('config.applied', 1, 'info', 's-online'),
    ])
    .execute();

  await db
    .insertInto('fleet_upgrades')
    .values([
      { appliance_id: ids['s-online'] as number, package_id: null, version: '2.0.0', status: 'installing' },
      {
        appliance_id: ids['s-degraded'] as number,
        package_id: null,
        version: '1.9.0',
        status: 'error',
        started: new Date(now.getTime() - 3 * HOUR),
        finished: new Date(now.getTime() - 2 * HOUR),
      },
      {
        appliance_id: ids['s-offline'] as number,
        package_id: null,
        version: '1.8.0',
        status: 'idle',
        started: new Date(now.getTime() - 50 * HOUR),
        finished: new Date(now.getTime() - 49 * HOUR),
      },
    ])
    .execute();
});
afterAll(async () => {
  await database?.close();
  await database?.dropDatabase();
});

describe('summary repository', () => {
  it('counts each appliance in one state, by configuration status and group', async () => {
    const rows = await repo.stateCounts();
    const sumOf = (status: string) => {
      const out = {
        total: 0,
        online: 0,
        degraded: 0,
        offline: 0,
        maintenance: 0,
        unauthorized: 0,
        answering: 0,
      };
      for (const r of rows.filter((x) => x.configuration_status === status))
        for (const k of Object.keys(out) as (keyof typeof out)[]) out[k] += r[k];
      return out;
    };
    expect(sumOf('done')).toMatchObject({ total: 2, online: 1, maintenance: 1, answering: 2 });
    expect(sumOf('pending')).toMatchObject({ total: 1, online: 1 });
    expect(sumOf('mismatch')).toMatchObject({ total: 1, degraded: 1, online: 0, answering: 1 });
    expect(sumOf('error')).toMatchObject({ total: 1, offline: 1, answering: 0 });
    expect(sumOf('no_configuration_group')).toMatchObject({
      total: 2,
      maintenance: 1,
      unauthorized: 1,
      answering: 0,
    });
    const sum = rows.reduce(
      (a, r) => a + r.online + r.degraded + r.offline + r.maintenance + r.unauthorized,
      0,
    );
    expect(sum).toBe(7);
    // By group: the three members of summary-workers (done, pending, error), one of summary-idle.
    const workers = rows.filter((r) => r.group_id === ids.group);
    expect(workers.map((r) => [r.configuration_status, r.total]).sort()).toEqual([
      ['done', 1],
      ['error', 1],
      ['pending', 1],
    ]);
    expect(rows.filter((r) => r.group_id === ids.idle).map((r) => [r.configuration_status, r.total])).toEqual(
      [['done', 1]],
    );
  });

  it('names the groups asked for, by name', async () => {
    const rows = await repo.groups([ids.idle as number, ids.group as number, 999999]);
    expect(rows.map((r) => [r.name, r.revision])).toEqual([
      ['summary-idle', 2],
      ['summary-workers', 4],
    ]);
    expect(await repo.groups([])).toEqual([]);
  });

  it('lists what needs attention, worst first, and leaves healthy and maintenance appliances out', async () => {
    const rows = await repo.attention(20);
    expect(rows.map((r) => [r.name, r.reason])).toEqual([
      ['s-offline', 'offline'],
      ['s-degraded', 'degraded'],
      ['s-new', 'unauthorized'],
    ]);
    expect(rows[0]?.details).toEqual({ reason: 'the appliance answered 500' });
    expect(await repo.attention(1)).toHaveLength(1);
  });

  it('reads the upgrade under way first, then those finished since the cut-off', async () => {
    const rows = await repo.upgrades(new Date(now.getTime() - 24 * HOUR), 5);
    expect(rows.map((r) => [r.appliance_name, r.status, r.finished === null])).toEqual([
      ['s-online', 'installing', true],
      ['s-degraded', 'error', false],
    ]);
  });

  it('counts warnings and errors since the cut-off and returns the newest', async () => {
    const since = new Date(now.getTime() - 24 * HOUR);
    expect(await repo.alertCount(since)).toBe(3);
    const rows = await repo.recentAlerts(since, 2);
    expect(rows.map((r) => r.kind)).toEqual(['config.failed', 'appliance.offline']);
    expect(await repo.recentAlerts(new Date(now.getTime() + HOUR), 2)).toEqual([]);
    expect(await repo.alertCount(new Date(now.getTime() + HOUR))).toBe(0);
  });

  it('groups online, offline and authorization events by whole hour', async () => {
    const rows = await repo.transitionsByHour(new Date(now.getTime() - 24 * HOUR));
    const hour = (hoursAgo: number) => Math.floor((now.getTime() - hoursAgo * HOUR) / HOUR);
    const by = new Map(rows.map((r) => [r.hour, r]));
    expect(by.get(hour(2))).toMatchObject({ up: 0, down: 1, authorized: 0 });
    expect(by.get(hour(5))).toMatchObject({ up: 1, down: 0 });
    expect(by.get(hour(6))).toMatchObject({ up: 0, down: 1 });
    // 30 hours ago is outside the window; config events are not transitions.
    expect(rows.reduce((a, r) => a + r.up + r.down + r.authorized, 0)).toBe(3);
  });

  it('finds enabled tokens expiring within the window, all or one owner’s', async () => {
    const db = database.db;
    const user = async (username: string, active = true) =>
      (
        await db
          .insertInto('users')
          .values({ username, password_hash: null, role: 'viewer', is_active: active })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id;
    const alice = await user('summary-alice');
    const bob = await user('summary-bob');
    const gone = await user('summary-gone', false);
    let n = 0;
    const token = (owner: number, hours: number | null, extra: Record<string, unknown> = {}) => {
      n += 1;
      return {
        kind: 'api_token',
        name: `t${n}`,
        owner_id: owner,
        scopes: JSON.stringify([]),
        prefix: 'stw_x',
        last4: 'abcd',
        digest: `summary-digest-${n}`,
        expires_at: hours === null ? null : new Date(now.getTime() + hours * HOUR),
        ...extra,
      };
    };
    await db
      .insertInto('api_tokens')
      .values([
        token(alice, 48),
        token(alice, 24 * 30),
        token(alice, null),
        token(bob, 10),
        token(bob, 12, { enabled: false }),
        token(bob, 14, { revoked_at: now }),
        token(bob, -1),
        token(gone, 5),
      ] as never)
      .execute();
    const horizon = new Date(now.getTime() + 7 * 24 * HOUR);
    const all = await repo.expiringTokens(now, horizon, null, 5);
    expect(all.map((r) => [r.name, r.owner])).toEqual([
      ['t4', 'summary-bob'],
      ['t1', 'summary-alice'],
    ]);
    expect(all[0]?.total).toBe(2);
    const mine = await repo.expiringTokens(now, horizon, alice, 5);
    expect(mine.map((r) => r.name)).toEqual(['t1']);
    expect(await repo.expiringTokens(now, horizon, alice, 0)).toEqual([]);
  });
});
