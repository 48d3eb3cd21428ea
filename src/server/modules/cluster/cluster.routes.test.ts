// Route tests for the cluster endpoints, on the embedded database (one manager, always the
// leader; the seed's cluster writes answer 409) and on PostgreSQL (`npm run test:pg`). The
// background jobs run here too, so the `jobs` part of the view shows real runs of the leader
// jobs, and each replica its health rounds (polled_appliances, last_round_ms).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';
import { PG_URL } from '../../../../test/helpers/database.js';
import { insertAppliance } from '../../../../test/helpers/rows.js';

let t: TestContext;
let admin: Record<string, string>;

beforeAll(async () => {
  t = await createTestContext({ jobIntervals: { fleetHealth: 50, clusterHeartbeat: 50, retention: 50 } });
  admin = await t.adminHeaders();
});

afterAll(async () => {
  await t?.close();
});

const view = async (headers = admin) => t.app.inject({ method: 'GET', url: '/api/v1/cluster/', headers });

describe('GET /api/v1/cluster/', () => {
  it('lists this manager as the leader; no jobs have run before the jobs start', async () => {
    const res = await view();
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.mode).toBe(PG_URL ? 'shared_database' : 'embedded');
    expect(body.jobs).toEqual([]);
    if (!PG_URL) {
      expect(body.replicas).toHaveLength(1);
      expect(body.replicas[0]).toMatchObject({ leader: true, alive: true, self: true });
    }
  });

  it('shows the last run of each leader job, and the appliances this replica polls', async () => {
    // Authorized appliances whose agents refuse the connection at once (polled, found offline),
    // and one not authorized (not polled).
    for (let i = 0; i < 3; i++)
      await insertAppliance(t.db, { authorized: true, url: `http://127.0.0.1:1/appliance-${i}` });
    await insertAppliance(t.db, { authorized: false, url: 'http://127.0.0.1:1/not-authorized' });
    await t.app.startJobs();
    type View = {
      replicas: {
        id: string;
        self: boolean;
        leader: boolean;
        alive: boolean;
        polled_appliances: number;
        last_round_ms: number | null;
        last_round_at: string | null;
      }[];
      jobs: { job: string; replica_id: string; last_ok: boolean | null; runs_last_hour: number }[];
    };
    let body: View = { replicas: [], jobs: [] };
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      body = (await view()).json();
      const retention = body.jobs.find((j) => j.job === 'retention');
      const self = body.replicas.find((r) => r.self);
      if (retention && retention.runs_last_hour >= 2 && retention.last_ok && self?.polled_appliances === 3)
        break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const self = body.replicas.find((r) => r.self);
    expect(self?.leader).toBe(true);
    expect(body.jobs.find((j) => j.job === 'retention')).toMatchObject({
      replica_id: self?.id,
      last_ok: true,
    });
    // Health polling is not a leader job any more: every replica polls its share.
    expect(body.jobs.find((j) => j.job === 'fleet_health')).toBeUndefined();
    const authorized = await t.db
      .selectFrom('appliances')
      .select(t.db.fn.countAll<number>().as('n'))
      .where('authorized', '=', true)
      .executeTakeFirstOrThrow();
    const live = body.replicas.filter((r) => r.alive);
    expect(live.reduce((sum, r) => sum + r.polled_appliances, 0)).toBe(Number(authorized.n));
    expect(self).toMatchObject({ polled_appliances: 3 });
    expect(self?.last_round_ms).toBeGreaterThanOrEqual(0);
    expect(Date.parse(self?.last_round_at ?? '')).toBeGreaterThan(0);
  });

  it('needs cluster:read', async () => {
    expect((await view(await t.headersFor('viewer'))).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/cluster/' })).statusCode).toBe(401);
  });
});

describe('POST /api/v1/cluster/create/', () => {
  const body = {
    local_ip: '192.0.2.11',
    remote_ip: '192.0.2.12',
    vpn_network: '10.99.0.0/29',
    virtual_ip: '192.0.2.10',
    failover_timeout: 3,
  };
  const create = (payload: object) =>
    t.app.inject({ method: 'POST', url: '/api/v1/cluster/create/', headers: admin, payload });

  it.skipIf(Boolean(PG_URL))(
    'answers 409 on the embedded database, naming STEWARD_DATABASE_URL',
    async () => {
      const res = await create(body);
      expect(res.statusCode).toBe(409);
      expect(res.json().detail).toMatch(/STEWARD_DATABASE_URL/);
      // The exact steps to move: a backup here, a restore on a manager backed by PostgreSQL.
      expect(res.json().detail).toContain('steward backup create');
      expect(res.json().detail).toContain('steward backup restore');
      expect(res.json().detail).toContain('STEWARD_SECRET_KEY');
      expect(res.json().docs).toBe('docs/operations.md#moving-from-the-embedded-database-to-postgresql');
    },
  );

  it.skipIf(!PG_URL)('stores the settings, gives the cluster an id, and audits it', async () => {
    const res = await create(body);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().cluster_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.json().settings).toMatchObject({ virtual_ip: '192.0.2.10', failover_timeout: 3 });
    const audit = await t.db
      .selectFrom('audit_log')
      .select(['action', 'target_id'])
      .where('action', '=', 'cluster.created')
      .execute();
    expect(audit).toEqual([{ action: 'cluster.created', target_id: res.json().cluster_id }]);
  });

  it.skipIf(!PG_URL)('names the field of a bad address or range', async () => {
    const bad = await create({ ...body, vpn_network: '10.99.0.0/30' });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toMatch(/body\.vpn_network/);
    const ip = await create({ ...body, virtual_ip: 'not-an-ip' });
    expect(ip.statusCode).toBe(400);
    expect(ip.body).toMatch(/body\.virtual_ip/);
  });
});
