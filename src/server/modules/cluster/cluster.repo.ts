// SQL of the cluster: the replicas' heartbeat rows, the job runs the view lists, and the rate
// limiter's counts shared between replicas.
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { SharedCounterStore } from '../../http/rate-limit.js';

export function createClusterRepo(db: Kysely<Database>) {
  return {
    /**
     * Writes this replica's row: alive now, leading or not, and its last poll round. `polls_from`
     * is written when the row is created only: a replica keeps the slot it joined in.
     */
    heartbeat(r: {
      id: string;
      address: string;
      release: string;
      started_at: Date;
      now: Date;
      leader: boolean;
      polls_from: Date;
      round: { polled: number; ms: number; at: Date } | undefined;
    }) {
      const round = {
        polled_appliances: r.round?.polled ?? null,
        last_round_ms: r.round?.ms ?? null,
        last_round_at: r.round?.at ?? null,
      };
      return db
        .insertInto('cluster_replicas')
        .values({
          id: r.id,
          address: r.address,
          release: r.release,
          started_at: r.started_at,
          last_heartbeat: r.now,
          leader: r.leader,
          polls_from: r.polls_from,
          ...round,
        })
        .onConflict((oc) =>
          oc
            .column('id')
            .doUpdateSet({ address: r.address, last_heartbeat: r.now, leader: r.leader, ...round }),
        )
        .execute();
    },
    remove: (id: string) => db.deleteFrom('cluster_replicas').where('id', '=', id).execute(),
    list: () => db.selectFrom('cluster_replicas').selectAll().orderBy('started_at').execute(),
    /** Forgets replicas silent for longer than `before` (they stopped or died long ago). */
    prune: (before: Date) => db.deleteFrom('cluster_replicas').where('last_heartbeat', '<', before).execute(),
    /** The last run of every job, with the number of runs since `since` (from job_runs). */
    async jobs(since: Date) {
      const last = await db
        .selectFrom('job_runs')
        .distinctOn('job')
        .select(['job', 'replica_id', 'started_at', 'finished_at', 'ok'])
        .orderBy('job')
        .orderBy('started_at', 'desc')
        .orderBy('id', 'desc')
        .execute();
      const counts = await db
        .selectFrom('job_runs')
        .select(['job', db.fn.countAll<number>().as('runs')])
        .where('started_at', '>=', since)
        .groupBy('job')
        .execute();
      const byJob = new Map(counts.map((c) => [c.job, Number(c.runs)]));
      return last.map((r) => ({ ...r, runs: byJob.get(r.job) ?? 0 }));
    },
    pruneJobRuns: (before: Date) => db.deleteFrom('job_runs').where('started_at', '<', before).execute(),
  };
}

export type ClusterRepo = ReturnType<typeof createClusterRepo>;

/** The rate limiter's shared counts, in PostgreSQL (see ADR 0003). */
export function createCounterStore(db: Kysely<Database>): SharedCounterStore {
  return {
    async add(windowStart, deltas) {
      const rows = [...deltas].map(([key, count]) => ({ key, window_start: windowStart, count }));
      const out = await db
        .insertInto('rate_limit_counters')
        .values(rows)
        .onConflict((oc) =>
          oc
            .columns(['key', 'window_start'])
            .doUpdateSet({ count: sql`rate_limit_counters.count + excluded.count` }),
        )
        .returning(['key', 'count'])
        .execute();
      return new Map(out.map((r) => [r.key, r.count]));
    },
    async prune(before) {
      await db.deleteFrom('rate_limit_counters').where('window_start', '<', before).execute();
    },
  };
}
