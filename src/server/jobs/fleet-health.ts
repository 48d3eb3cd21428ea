// The fleet health job (every replica): in each poll slot (the multiples of the poll interval on
// the wall clock) a replica reads the registry, works out its share of the fleet by rendezvous
// hashing over the live replicas (ADR 0006), polls that share, and notes the round (how many
// appliances, how long) for its next heartbeat, which GET /api/v1/cluster/ shows. On the
// embedded database the one manager polls every appliance.

import { slotStartOf } from '../modules/cluster/cluster.ownership.js';
import type { ClusterService } from '../modules/cluster/cluster.service.js';
import type { HealthService } from '../modules/fleet-health/health.service.js';
import type { Job } from './runner.js';

export interface FleetHealthJobDeps {
  health: Pick<HealthService, 'pollAll'>;
  cluster: Pick<ClusterService, 'fleetShare' | 'noteRound'>;
  every: number;
}

export function fleetHealthJob(deps: FleetHealthJobDeps): Job {
  return {
    name: 'fleet_health',
    every: deps.every,
    align: true,
    scope: 'replica',
    async run() {
      const began = performance.now();
      const slot = slotStartOf(Date.now(), deps.every);
      const share = await deps.cluster.fleetShare(slot);
      const { polled } = await deps.health.pollAll(share.owns);
      deps.cluster.noteRound({ polled, ms: Math.round(performance.now() - began), at: new Date() });
    },
  };
}
