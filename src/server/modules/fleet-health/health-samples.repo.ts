// Appliance health over time (migration 0106): one sample per appliance per 5-minute slot, written
// by the health round in one INSERT, read by the appliance detail page, pruned by the retention
// job. Rows or numbers; never HTTP errors.
import { type Kysely, sql } from 'kysely';
import { queryable } from '../../db/queryable.js';
import type { Database } from '../../db/schema.js';
import type { DbHandle } from '../../db/transactor.js';
import '../../db/tables/fleet.js';

/** What one poll reported of an appliance, reduced to what the charts draw. */
export interface HealthSample {
  applianceId: number;
  /** The 5-minute slot (offset per appliance): one sample per appliance per slot. */
  slot: number;
  at: Date;
  load1: number;
  memoryUsedPercent: number;
  diskUsedPercent: number;
  uptimeSeconds: number;
}

/** PostgreSQL takes at most 65,535 parameters in one statement; 7 a row. */
export const SAMPLE_ROWS_PER_INSERT = 1000;

export function createHealthSamplesRepo(db: Kysely<Database>) {
  return {
    /**
     * One INSERT for up to SAMPLE_ROWS_PER_INSERT samples. A sample of a slot already written
     * (another replica polled the appliance in the same slot) or of an appliance removed
     * meanwhile is skipped, not an error.
     */
    async insertSamples(samples: HealthSample[], d: DbHandle = db): Promise<void> {
      if (samples.length === 0) return;
      if (samples.length > SAMPLE_ROWS_PER_INSERT) throw new Error('too many samples for one statement');
      const values = sql.join(
        samples.map(
          (s) =>
            sql`(${s.applianceId}::int, ${s.slot}::bigint, ${s.at}::timestamptz, ${s.load1}::real, ${s.memoryUsedPercent}::real, ${s.diskUsedPercent}::real, ${Math.round(s.uptimeSeconds)}::bigint)`,
        ),
      );
      await sql`INSERT INTO appliance_health_samples
          (appliance_id, slot, at, load1, memory_used_percent, disk_used_percent, uptime_seconds)
        SELECT v.* FROM (VALUES ${values}) AS v(appliance_id, slot, at, load1, memory_used_percent, disk_used_percent, uptime_seconds)
        WHERE EXISTS (SELECT 1 FROM appliances a WHERE a.id = v.appliance_id)
        ON CONFLICT (appliance_id, slot) DO NOTHING`.execute(queryable(d));
    },
    /** An appliance's samples taken at or after `since`, oldest first. */
    async listSamples(applianceId: number, since: Date, d: DbHandle = db) {
      return queryable(d)
        .selectFrom('appliance_health_samples')
        .select(['at', 'load1', 'memory_used_percent', 'disk_used_percent', 'uptime_seconds'])
        .where('appliance_id', '=', applianceId)
        .where('at', '>=', since)
        .orderBy('at')
        .execute();
    },
    /** Deletes the samples taken before `before`; how many. */
    async deleteOlderThan(before: Date, d: DbHandle = db): Promise<number> {
      const res = await queryable(d)
        .deleteFrom('appliance_health_samples')
        .where('at', '<', before)
        .executeTakeFirst();
      return Number(res.numDeletedRows);
    },
  };
}

export type HealthSamplesRepo = ReturnType<typeof createHealthSamplesRepo>;
