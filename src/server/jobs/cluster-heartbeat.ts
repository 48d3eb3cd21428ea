// The cluster heartbeat job (every replica): on a shared PostgreSQL server each replica writes
// its row in cluster_replicas every 5 s (and when it gains or loses the jobs lease), with its
// last poll round (how many appliances, how long) and, in the first beat, the poll slot it
// joins in (ADR 0006); a replica whose beats stop for 15 s loses its share of the fleet. Once a
// minute it forgets replicas silent for a day, and the leader trims job_runs to a day. It removes
// its own row when it stops. On the embedded database there is no replica table to write; only
// the job_runs trim runs.

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

/**
 * Forgetting replicas silent for a day and trimming job_runs to a day need not run with every
 * beat: once a minute keeps them as exact, at a statement each a minute instead of every 5 s.
 */
const HOUSEKEEPING_MS = 60_000;

export function clusterHeartbeatJob(deps: ClusterHeartbeatDeps): Job {
  const { cluster, lease } = deps;
  let left = false;
  let housekept = Number.NEGATIVE_INFINITY;
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
      if (deps.shared) await beat();
      if (performance.now() - housekept < HOUSEKEEPING_MS) return;
      housekept = performance.now();
      const dayAgo = new Date(deps.clock.now().getTime() - 24 * 3600_000);
      if (deps.shared) await cluster.forgetSilentReplicas(dayAgo).catch(failed('forgetting silent replicas'));
      // job_runs keeps a day of the leader jobs' runs.
      if (lease.isLeader()) await cluster.trimJobRuns(dayAgo).catch(failed('trimming job_runs'));
    },
    async stop() {
      // No beat after the goodbye (losing the lease on shutdown would write the row again).
      left = true;
      if (deps.shared) await cluster.leave().catch(failed('removing this replica'));
    },
  };
}
