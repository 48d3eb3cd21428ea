// Appliance health over time: what the detail page charts (CPU load, memory, disk, uptime).
//
// The sampler runs inside the health round (health.service.ts): each appliance that answers gives
// at most one sample per 5-minute slot, and the round writes its samples in one INSERT (1,000
// rows a statement). The slots are offset per appliance, so a fleet's samples spread over the
// ~30 rounds of a slot instead of all landing in its first round: at 10,000 appliances polled
// every 10 s that is ~333 rows in one statement per round, 0.1 statements a second. Samples are
// kept SAMPLE_RETENTION_HOURS (24 h: the charts show the last hours; a week would be ~20 million
// rows at 10,000 appliances, more than the embedded database should carry for a chart), and the
// retention job deletes older ones hourly.

import type { AgentStatus } from '../../../contract/agent-protocol.js';
import { AppError } from '../../shared/app-error.js';
import type { Clock } from '../../shared/clock.js';
import type { HealthSample, HealthSamplesRepo } from './health-samples.repo.js';
import { SAMPLE_ROWS_PER_INSERT } from './health-samples.repo.js';

export const SAMPLE_SLOT_MS = 5 * 60_000;
export const SAMPLE_RETENTION_HOURS = 24;

/** Where in the 5-minute slot an appliance's sample falls: spread evenly by id (Knuth's hash). */
function phaseOf(applianceId: number): number {
  return ((Math.imul(applianceId, 2654435761) >>> 0) / 2 ** 32) * SAMPLE_SLOT_MS;
}

export function sampleSlot(applianceId: number, nowMs: number): number {
  return Math.floor((nowMs + phaseOf(applianceId)) / SAMPLE_SLOT_MS);
}

const percent = (used: number, total: number) => (total > 0 ? Math.round((used / total) * 1000) / 10 : 0);

/** The chart's view of a status answer; undefined when the answer lacks the figures. */
export function sampleOf(
  applianceId: number,
  status: Pick<AgentStatus, 'load' | 'memory' | 'disk' | 'uptime_seconds'>,
  now: Date,
): HealthSample | undefined {
  const load1 = status.load?.[0];
  const mem = status.memory;
  const disk = status.disk;
  if (typeof load1 !== 'number' || !Number.isFinite(load1) || !mem || !disk) return undefined;
  if (![mem.total, mem.free, disk.used_percent, status.uptime_seconds].every(Number.isFinite))
    return undefined;
  return {
    applianceId,
    slot: sampleSlot(applianceId, now.getTime()),
    at: now,
    load1: Math.round(load1 * 100) / 100,
    memoryUsedPercent: percent(mem.total - mem.free, mem.total),
    diskUsedPercent: Math.min(100, Math.max(0, disk.used_percent)),
    uptimeSeconds: Math.max(0, status.uptime_seconds),
  };
}

/** The health round's sampler: remembers each appliance's last slot, batches a round's samples. */
export function createHealthSampler(repo: HealthSamplesRepo) {
  const lastSlot = new Map<number, number>();
  let pending: HealthSample[] = [];
  return {
    /** An answer from an appliance: kept when it is the first of the appliance's current slot. */
    offer(applianceId: number, status: AgentStatus, now: Date): void {
      const s = sampleOf(applianceId, status, now);
      if (!s || lastSlot.get(applianceId) === s.slot) return;
      lastSlot.set(applianceId, s.slot);
      pending.push(s);
    },
    /** Writes the round's samples (one statement per 1,000); a failed write is offered again next round. */
    async flush(): Promise<number> {
      const batch = pending;
      pending = [];
      try {
        for (let i = 0; i < batch.length; i += SAMPLE_ROWS_PER_INSERT) {
          await repo.insertSamples(batch.slice(i, i + SAMPLE_ROWS_PER_INSERT));
        }
      } catch (err) {
        for (const s of batch) lastSlot.delete(s.applianceId);
        throw err;
      }
      return batch.length;
    },
    /** Forgets appliances this replica no longer polls. */
    forgetExcept(ids: Set<number>): void {
      if (lastSlot.size <= ids.size) return;
      for (const id of lastSlot.keys()) if (!ids.has(id)) lastSlot.delete(id);
    },
  };
}

export type HealthSampler = ReturnType<typeof createHealthSampler>;

export interface HealthHistoryDeps {
  repo: HealthSamplesRepo;
  /** Whether the appliance exists (the fleet service's get throws not_found). */
  applianceExists: (id: number) => Promise<boolean>;
  clock: Clock;
}

export function createHealthHistoryService(deps: HealthHistoryDeps) {
  const { repo, clock } = deps;
  return {
    /** The appliance's samples of the last `hours` (1 to 24), oldest first. */
    async history(applianceId: number, hours: number) {
      if (!(await deps.applianceExists(applianceId))) {
        throw new AppError({ code: 'not_found', message: `appliance ${applianceId} not found` });
      }
      const since = new Date(clock.now().getTime() - hours * 3_600_000);
      const rows = await repo.listSamples(applianceId, since);
      return {
        appliance_id: applianceId,
        hours,
        interval_seconds: SAMPLE_SLOT_MS / 1000,
        retention_hours: SAMPLE_RETENTION_HOURS,
        samples: rows.map((r) => ({
          at: new Date(r.at).toISOString(),
          load1: Number(r.load1),
          memory_used_percent: Number(r.memory_used_percent),
          disk_used_percent: Number(r.disk_used_percent),
          uptime_seconds: Number(r.uptime_seconds),
        })),
      };
    },
    /** Retention: deletes samples older than SAMPLE_RETENTION_HOURS; how many. */
    async prune(): Promise<number> {
      return repo.deleteOlderThan(new Date(clock.now().getTime() - SAMPLE_RETENTION_HOURS * 3_600_000));
    },
  };
}

export type HealthHistoryService = ReturnType<typeof createHealthHistoryService>;
