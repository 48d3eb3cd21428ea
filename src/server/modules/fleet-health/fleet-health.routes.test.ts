// GET /api/v1/appliances/{id}/health/: the samples of the last hours, oldest first; the period's
// bounds refused in words; permissions; and the retention job deleting samples past 24 hours.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';
import { insertAppliance } from '../../../../test/helpers/rows.js';
import { sampleSlot } from './health-history.service.js';
import { createHealthSamplesRepo } from './health-samples.repo.js';

let t: TestContext;
let admin: Record<string, string>;
let id: number;
const HOUR = 3_600_000;

beforeAll(async () => {
  t = await createTestContext({ jobIntervals: { retention: 100 } });
  admin = await t.adminHeaders();
  id = await insertAppliance(t.db, { name: 'charted', authorized: true });
  const repo = createHealthSamplesRepo(t.db);
  const now = t.clock.now().getTime();
  // Samples 30 h, 5 h and 1 h ago: the first is past retention.
  await repo.insertSamples(
    [30, 5, 1].map((h) => {
      const at = new Date(now - h * HOUR);
      return {
        applianceId: id,
        slot: sampleSlot(id, at.getTime()),
        at,
        load1: h / 10,
        memoryUsedPercent: 50 + h,
        diskUsedPercent: 40,
        uptimeSeconds: 100_000 - h * 3600,
      };
    }),
  );
});
afterAll(async () => {
  await t?.close();
});

const get = (url: string, headers: Record<string, string> = admin) =>
  t.app.inject({ method: 'GET', url, headers });

describe('appliance health history', () => {
  it('answers the samples of the last hours, oldest first (6 by default)', async () => {
    const res = await get(`/api/v1/appliances/${id}/health/`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ appliance_id: id, hours: 6, interval_seconds: 300, retention_hours: 24 });
    expect(body.samples.map((s: { load1: number }) => s.load1)).toEqual([0.5, 0.1]);
    expect(body.samples[0]).toEqual({
      at: new Date(t.clock.now().getTime() - 5 * HOUR).toISOString(),
      load1: 0.5,
      memory_used_percent: 55,
      disk_used_percent: 40,
      uptime_seconds: 100_000 - 5 * 3600,
    });
    const two = await get(`/api/v1/appliances/${id}/health/?hours=2`);
    expect(two.json().samples).toHaveLength(1);
  });

  it('refuses a period outside 1 to 24 hours, naming the field and its range', async () => {
    for (const hours of ['0', '25', '999999']) {
      const res = await get(`/api/v1/appliances/${id}/health/?hours=${hours}`);
      expect(res.statusCode).toBe(400);
      expect(res.json().errors).toEqual([{ field: 'query.hours', message: 'must be between 1 and 24' }]);
    }
    const words = await get(`/api/v1/appliances/${id}/health/?hours=six`);
    expect(words.statusCode).toBe(400);
    expect(words.json().errors).toEqual([{ field: 'query.hours', message: 'must be a whole number' }]);
  });

  it('is a 404 for an appliance that does not exist', async () => {
    const res = await get('/api/v1/appliances/987654/health/');
    expect(res.statusCode).toBe(404);
  });

  it('needs appliances:read', async () => {
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/appliances/${id}/health/` })).statusCode).toBe(
      401,
    );
    const narrowed = await t.headersFor('admin', { scopes: ['tokens:read'] });
    const res = await get(`/api/v1/appliances/${id}/health/`, narrowed);
    expect(res.statusCode).toBe(403);
    expect(res.json().required_permission).toBe('appliances:read');
    const viewer = await t.headersFor('viewer');
    expect((await get(`/api/v1/appliances/${id}/health/`, viewer)).statusCode).toBe(200);
  });

  it('the retention job deletes samples older than 24 hours', async () => {
    const count = async () =>
      Number(
        (
          await t.db
            .selectFrom('appliance_health_samples')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('appliance_id', '=', id)
            .executeTakeFirstOrThrow()
        ).n,
      );
    expect(await count()).toBe(3);
    await t.app.startJobs();
    await expect.poll(count, { timeout: 10_000 }).toBe(2);
  });
});
