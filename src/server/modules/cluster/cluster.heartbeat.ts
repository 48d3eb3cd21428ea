// The cluster heartbeat job: every replica on a shared PostgreSQL server writes its row in
// cluster_replicas every 5 s (and when it gains or loses the jobs lease), forgets replicas silent
// for a day, and removes its own row when it stops. The leader also trims job_runs to a day. On
// the embedded database there is no replica table to write; only the job_runs trim runs.

import type { LeaderLease } from '../../db/leases.js';
import type { Clock } from '../../shared/clock.js';
import type { Logger } from '../../shared/logger.js';
import { VERSION } from '../../version.js';
import type { ClusterRepo } from './cluster.repo.js';

export const HEARTBEAT_MS = 5000;

export interface ClusterHeartbeatDeps {
  repo: ClusterRepo;
  lease: Pick<LeaderLease, 'isLeader' | 'onChange'>;
  clock: Clock;
  /** Whether replicas share a PostgreSQL server (false on the embedded database). */
  shared: boolean;
  replicaId: string;
  startedAt: Date;
  log: Logger;
}

export function createClusterHeartbeat(deps: ClusterHeartbeatDeps) {
  const { repo } = deps;
  let address = 'unknown';
  let timer: NodeJS.Timeout | undefined;

  // A missed beat or prune is retried on the next tick; the log says why it was missed.
  const failed = (what: string) => (err: unknown) =>
    deps.log.warn({ err }, `cluster heartbeat: ${what} failed`);

  async function beat() {
    await repo
      .heartbeat({
        id: deps.replicaId,
        address,
        release: VERSION,
        started_at: deps.startedAt,
        now: deps.clock.now(),
        leader: deps.lease.isLeader(),
      })
      .catch(failed('the heartbeat'));
  }

  return {
    /** The URL this replica serves ('unknown' until started). */
    address: () => address,

    /** Starts beating as the replica serving `url`. */
    async start(url: string) {
      address = url;
      if (deps.shared) {
        await beat();
        deps.lease.onChange(() => void beat());
      }
      timer = setInterval(() => {
        const dayAgo = new Date(deps.clock.now().getTime() - 24 * 3600_000);
        if (deps.shared) {
          void beat();
          void repo.prune(dayAgo).catch(failed('forgetting silent replicas'));
        }
        // job_runs keeps a day (a row every health-poll interval: about 8,640 a day at 10 s).
        if (deps.lease.isLeader()) void repo.pruneJobRuns(dayAgo).catch(failed('trimming job_runs'));
      }, HEARTBEAT_MS);
      timer.unref();
    },

    async stop() {
      if (timer) clearInterval(timer);
      if (deps.shared) await repo.remove(deps.replicaId).catch(failed('removing this replica'));
    },
  };
}

export type ClusterHeartbeat = ReturnType<typeof createClusterHeartbeat>;
