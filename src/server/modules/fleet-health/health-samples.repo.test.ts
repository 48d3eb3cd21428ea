// The health samples' repository and the round's sampler on a real database (PGlite here,
// PostgreSQL when the route tier runs with STEWARD_TEST_DATABASE_URL): one sample per appliance
// per slot whoever writes it, a round's samples in one statement, retention by age.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/database.js';
import { insertAppliance } from '../../../../test/helpers/rows.js';
import type { AgentStatus } from '../../../contract/agent-protocol.js';
import { createHealthSampler, SAMPLE_SLOT_MS, sampleOf, sampleSlot } from './health-history.service.js';
import { createHealthSamplesRepo, type HealthSample } from './health-samples.repo.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.close();
  await database?.dropDatabase();
});

const status = (over: Partial<AgentStatus> = {}) =>
  ({
    load: [0.5, 0.4, 0.3],
    memory: { total: 1000, free: 250 },
    disk: { total: 100, free: 60, used_percent: 40 },
    uptime_seconds: 3600,
    ...over,
  }) as AgentStatus;

const sample = (
  applianceId: number,
  at: Date,
  slot = sampleSlot(applianceId, at.getTime()),
): HealthSample => ({
  applianceId,
  slot,
  at,
  load1: 1,
  memoryUsedPercent: 50,
  diskUsedPercent: 20,
  uptimeSeconds: 60,
});

describe('health samples', () => {
  it('reduces a status answer to what the charts draw', () => {
    const now = new Date('2026-12-06T10:00:00Z');
    expect(sampleOf(7, status(), now)).toEqual({
      applianceId: 7,
      slot: sampleSlot(7, now.getTime()),
      at: now,
      load1: 0.5,
      memoryUsedPercent: 75,
      diskUsedPercent: 40,
      uptimeSeconds: 3600,
    });
    expect(sampleOf(7, status({ load: [] }), now)).toBeUndefined();
  });

  it('spreads appliances over the slot, and gives each one slot per 5 minutes', () => {
    const t = Date.UTC(2026, 11, 6, 10);
    // Half-way through a slot, about half of a fleet has crossed into its next slot already.
    const ids = Array.from({ length: 1000 }, (_, i) => i + 1);
    const at = (ms: number) => ids.map((id) => sampleSlot(id, ms));
    const crossed = at(t + SAMPLE_SLOT_MS / 2).filter((s, i) => s !== at(t)[i]).length;
    expect(crossed).toBeGreaterThan(400);
    expect(crossed).toBeLessThan(600);
    for (let id = 1; id <= 50; id++) {
      expect(sampleSlot(id, t + SAMPLE_SLOT_MS)).toBe(sampleSlot(id, t) + 1);
    }
  });

  it('keeps one sample per appliance and slot, skips removed appliances, and lists by time', async () => {
    const repo = createHealthSamplesRepo(database.db);
    const a = await insertAppliance(database.db);
    const at = new Date('2026-12-06T10:00:00Z');
    await repo.insertSamples([sample(a, at), sample(999_999, at)]);
    // Another replica polling the same appliance in the same slot: not a second row.
    await repo.insertSamples([{ ...sample(a, new Date(at.getTime() + 10_000)), slot: sample(a, at).slot }]);
    const later = new Date(at.getTime() + SAMPLE_SLOT_MS);
    await repo.insertSamples([sample(a, later)]);
    const rows = await repo.listSamples(a, new Date(at.getTime() - 1));
    expect(rows.map((r) => new Date(r.at).toISOString())).toEqual([at.toISOString(), later.toISOString()]);
    expect(await repo.listSamples(a, new Date(at.getTime() + 1))).toHaveLength(1);
    expect(await repo.deleteOlderThan(new Date(at.getTime() + 1))).toBe(1);
    expect(await repo.listSamples(a, new Date(0))).toHaveLength(1);
  });

  it("writes a round's samples in one statement per 1,000 and offers a failed write again", async () => {
    const repo = createHealthSamplesRepo(database.db);
    const ids = await Promise.all(Array.from({ length: 3 }, () => insertAppliance(database.db)));
    const calls: number[] = [];
    let fail = true;
    const sampler = createHealthSampler({
      ...repo,
      insertSamples: async (s) => {
        calls.push(s.length);
        if (fail) throw new Error('database away');
        return repo.insertSamples(s);
      },
    });
    const now = new Date();
    for (const id of ids) sampler.offer(id, status(), now);
    await expect(sampler.flush()).rejects.toThrow('database away');
    fail = false;
    for (const id of ids) sampler.offer(id, status(), now);
    expect(await sampler.flush()).toBe(3);
    for (const id of ids) sampler.offer(id, status(), now); // same slot: nothing new
    expect(await sampler.flush()).toBe(0);
    expect(calls).toEqual([3, 3]);
    for (const id of ids) expect(await repo.listSamples(id, new Date(now.getTime() - 1))).toHaveLength(1);
  });
});
