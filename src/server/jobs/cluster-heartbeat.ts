// The cluster heartbeat job (every replica): on a shared PostgreSQL server each replica writes
// its row in cluster_replicas every 5 s (and when it gains or loses the jobs lease), with its
// last poll round (how many appliances, how long) and, in the first beat, the poll slot it
// joins in (ADR 0006); a replica whose beats stop for 15 s loses its share of the fleet. It forgets
// replicas silent for a day, and removes its own row when it stops. The leader also trims
// job_runs to a day. On the embedded database there is no replica table to write; only the
// job_runs trim runs.

import type { LeaderLease } from '../db/leases.js';
import type { ClusterService } from '../modules/cluster/cluster.service.js';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import type { Job } from './runner.js';

export interface ClusterHeartbeatDeps {
  cluster: Pick<ClusterService, 'heartbeat' | 'forgetSilentReplicas' | 'trimJobRuns' | 'leave'>;
  lease: Pick<LeaderLease, 'isLeader' | 'onChange'>;
  clock: Clock;
  /** Whether replicas share a PostgreSQL server (false on the embedded database). */
  shared: boolean;
  every: number;
  log: Logger;
}

export function clusterHeartbeatJob(deps: ClusterHeartbeatDeps): Job {
  const { cluster, lease } = deps;
  let left = false;
  // A missed beat or prune is retried on the next tick; the log says why it was missed.
  const failed = (what: string) => (err: unknown) =>
    deps.log.warn({ err }, `cluster heartbeat: ${what} failed`);
  const beat = () =>
    left ? Promise.resolve() : cluster.heartbeat(lease.isLeader()).catch(failed('the heartbeat'));

  return {
    name: 'cluster_heartbeat',
    every: deps.every,
    scope: 'replica',
    async start() {
      if (!deps.shared) return;
      await beat();
      lease.onChange(() => void beat());
    },
    async run() {
      const dayAgo = new Date(deps.clock.now().getTime() - 24 * 3600_000);
      if (deps.shared) {
        await beat();
        await cluster.forgetSilentReplicas(dayAgo).catch(failed('forgetting silent replicas'));
      }
      // job_runs keeps a day (a row every health-poll interval: about 8,640 a day at 10 s).
      if (lease.isLeader()) await cluster.trimJobRuns(dayAgo).catch(failed('trimming job_runs'));
    },
    async stop() {
      // No beat after the goodbye (losing the lease on shutdown would write the row again).
      left = true;
      if (deps.shared) await cluster.leave().catch(failed('removing this replica'));
    },
  };
}
