// The fleet-state series, walked back from now through the hourly transitions (pure), and the
// sharing of one count between requests that arrive while it runs (a fake repository).
import { describe, expect, it } from 'vitest';
import { type Actor, systemActor } from '../../shared/actor.js';
import { createManualClock } from '../../shared/clock.js';
import { CONFIG_STATUSES } from '../fleet/fleet.schemas.js';
import type { SummaryRepo } from './summary.repo.js';
import { createSummaryService, fleetStateSeries, SERIES_HOURS } from './summary.service.js';

const HOUR = 3_600_000;
const now = new Date('2026-12-06T18:30:00.000Z');
const hourOf = (iso: string) => Math.floor(new Date(iso).getTime() / HOUR);

describe('fleetStateSeries', () => {
  it('is flat at the current counts without transitions, hourly, oldest first, ending now', () => {
    const s = fleetStateSeries(now, { authorized: 10, answering: 8 }, []);
    expect(s).toHaveLength(SERIES_HOURS + 2);
    expect(s.at(-1)).toEqual({ at: now.toISOString(), online: 8, offline: 2 });
    expect(s.at(-2)?.at).toBe('2026-12-06T18:00:00.000Z');
    expect(s[0]?.at).toBe('2026-12-05T18:00:00.000Z');
    expect(new Set(s.map((p) => `${p.online}/${p.offline}`))).toEqual(new Set(['8/2']));
  });

  it('undoes each hour’s transitions to find the state at the start of that hour', () => {
    // 16:xx: two appliances went offline; 12:xx: one came back online; 09:xx: one was authorized.
    const s = fleetStateSeries(now, { authorized: 10, answering: 8 }, [
      { hour: hourOf('2026-12-06T16:10:00Z'), up: 0, down: 2, authorized: 0 },
      { hour: hourOf('2026-12-06T12:40:00Z'), up: 1, down: 0, authorized: 0 },
      { hour: hourOf('2026-12-06T09:05:00Z'), up: 1, down: 0, authorized: 1 },
    ]);
    const at = (iso: string) => s.find((p) => p.at === iso);
    expect(at('2026-12-06T17:00:00.000Z')).toEqual({ at: '2026-12-06T17:00:00.000Z', online: 8, offline: 2 });
    expect(at('2026-12-06T16:00:00.000Z')?.online).toBe(10);
    expect(at('2026-12-06T13:00:00.000Z')).toMatchObject({ online: 10, offline: 0 });
    expect(at('2026-12-06T12:00:00.000Z')).toMatchObject({ online: 9, offline: 1 });
    // Before its authorization the appliance was not in the fleet at all.
    expect(at('2026-12-06T09:00:00.000Z')).toMatchObject({ online: 8, offline: 1 });
    expect(s[0]).toMatchObject({ online: 8, offline: 1 });
  });

  it('never reports negative counts when events and counts disagree (appliances removed)', () => {
    const s = fleetStateSeries(now, { authorized: 1, answering: 1 }, [
      { hour: hourOf('2026-12-06T17:00:00Z'), up: 5, down: 0, authorized: 3 },
    ]);
    for (const p of s) {
      expect(p.online).toBeGreaterThanOrEqual(0);
      expect(p.offline).toBeGreaterThanOrEqual(0);
    }
  });
});

describe('the summary service', () => {
  it('counts once for requests that arrive while a count runs, and again for later ones', async () => {
    let counts = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const repo = {
      async stateCounts() {
        counts += 1;
        await gate;
        return [
          {
            configuration_status: 'done',
            group_id: null,
            total: 3,
            online: 2,
            degraded: 0,
            offline: 1,
            maintenance: 0,
            unauthorized: 0,
            answering: 2,
          },
        ];
      },
      groups: async () => [],
      attention: async () => [],
      transitionsByHour: async () => [],
      alertCount: async () => 0,
      recentAlerts: async () => [],
      upgrades: async () => [],
      expiringTokens: async () => [],
    } as unknown as SummaryRepo;
    const service = createSummaryService({
      repo,
      clock: createManualClock(now),
      tokenWarningDays: async () => 7,
      configurationStatuses: CONFIG_STATUSES,
      freshMs: 0,
    });
    const viewer: Actor = {
      ...systemActor('test'),
      kind: 'request',
      principal: {
        userId: 2,
        username: 'v',
        role: 'viewer',
        permissions: new Set(['appliances:read']),
        method: 'api_token',
        credentialSource: 'authorization_token',
      },
    };
    const first = service.get(viewer);
    const second = service.get(viewer);
    release();
    const [a, b] = await Promise.all([first, second]);
    expect(counts).toBe(1);
    expect(a.appliances).toEqual(b.appliances);
    expect(a.appliances.by_state).toEqual({
      online: 2,
      degraded: 0,
      offline: 1,
      maintenance: 0,
      unauthorized: 0,
    });
    // Sections the credential may not read are null.
    expect([a.rollouts, a.upgrades, a.tokens]).toEqual([null, null, null]);
    await service.get(viewer);
    expect(counts).toBe(2);
  });

  it('keeps the last count while it is fresh, serves it once more while recounting, and recounts while watched', async () => {
    let counts = 0;
    const repo = {
      async stateCounts() {
        counts += 1;
        // Each count sees one more appliance, so a test can tell which count it was given.
        return [
          {
            configuration_status: 'done',
            group_id: null,
            total: counts,
            online: counts,
            degraded: 0,
            offline: 0,
            maintenance: 0,
            unauthorized: 0,
            answering: counts,
          },
        ];
      },
      groups: async () => [],
      attention: async () => [],
      transitionsByHour: async () => [],
      alertCount: async () => 0,
      recentAlerts: async () => [],
      upgrades: async () => [],
      expiringTokens: async () => [],
    } as unknown as SummaryRepo;
    const FRESH = 200;
    const service = createSummaryService({
      repo,
      clock: createManualClock(now),
      tokenWarningDays: async () => 7,
      configurationStatuses: CONFIG_STATUSES,
      freshMs: FRESH,
    });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const admin = systemActor('test');
    try {
      // Nothing kept yet: the first request waits for a count.
      expect((await service.get(admin)).appliances.total).toBe(1);
      // Fresh: served as it is, no new count.
      expect((await service.get(admin)).appliances.total).toBe(1);
      expect(counts).toBe(1);
      // Older than FRESH (the background refresh has recounted meanwhile): never older than
      // FRESH plus a count, and no request waited for it.
      await sleep(FRESH * 2.5);
      expect(counts).toBeGreaterThanOrEqual(2);
      const seen = (await service.get(admin)).appliances.total;
      expect(seen).toBeGreaterThanOrEqual(counts - 1);
      // Closed: no more counts in the background.
      service.close();
      const after = counts;
      await sleep(FRESH * 2.5);
      expect(counts).toBe(after);
    } finally {
      service.close();
    }
  });
});
