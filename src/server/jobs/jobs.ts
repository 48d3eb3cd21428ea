// Every background job of the manager, in one list: what runs, how often, and where (on the
// jobs leader only, or on every replica; health polling on every replica, each its own share). Each job calls services, never repositories; the
// runner (runner.ts) schedules them. A new job goes here, in a file of its own if it is more
// than a call to one service method.

import type { Config } from '../config/config.js';
import type { LeaderLease } from '../db/leases.js';
import type { Services } from '../services.js';
import type { Logger } from '../shared/logger.js';
import { clusterHeartbeatJob } from './cluster-heartbeat.js';
import { fleetHealthJob } from './fleet-health.js';
import { hostThresholdsJob } from './host-thresholds.js';
import { intervalOf, type JobIntervals } from './intervals.js';
import { runRetention } from './retention.js';
import type { Job } from './runner.js';

export interface JobsDeps {
  config: Pick<Config, 'healthPollSeconds' | 'dataDir'>;
  lease: Pick<LeaderLease, 'isLeader' | 'onChange'>;
  log: Logger;
  jobIntervals?: JobIntervals | undefined;
}

export function serverJobs(services: Services, deps: JobsDeps): Job[] {
  const every = (name: Parameters<typeof intervalOf>[0]) => intervalOf(name, deps.config, deps.jobIntervals);
  return [
    // Every replica keeps its row in the registry (first, so the others see it at once).
    clusterHeartbeatJob({
      cluster: services.cluster,
      lease: deps.lease,
      clock: services.clock,
      shared: services.replica.shared,
      every: every('clusterHeartbeat'),
      log: deps.log,
    }),
    // Appliance health: every replica polls its share of the fleet (ADR 0006), acting as
    // systemActor('fleet-health'); not in job_runs (GET /api/v1/cluster/ shows each replica's round).
    fleetHealthJob({ health: services.health, cluster: services.cluster, every: every('fleetHealth') }),
    // One replica deletes (recorded in job_runs); the others would only repeat the same statements.
    {
      name: 'retention',
      every: every('retention'),
      scope: 'leader',
      run: () =>
        runRetention({
          audit: services.audit,
          clock: services.clock,
          settings: () => services.settingsService.internal('central_logging'),
          files: services.files,
          uploadsDir: services.uploadsDir,
          tokenRequestLog: { deleteOlderThan: (before) => services.identity.deleteRequestLogBefore(before) },
          healthSamples: services.healthHistory,
        }),
    },
    // Token expiry warnings: daily (first a minute after start), on the leader only; the check
    // records what it sent, so a run repeated by a new leader warns nobody twice.
    {
      name: 'token_expiry',
      first: every('tokenExpiryFirst'),
      every: every('tokenExpiry'),
      scope: 'leader',
      run: () => services.alerts.checkTokenExpiry(),
    },
    // Work a replica left when it stopped or died (ADR 0006): the leader claims the rollouts it
    // left pending and the upgrade it was following, and finishes them without sending anything
    // an agent already has. On the embedded database: what this manager left before a restart.
    {
      name: 'resume_left_work',
      first: every('resumeLeftWorkFirst'),
      every: every('resumeLeftWork'),
      scope: 'leader',
      run: async () => {
        const live = await services.cluster.liveReplicaIds();
        await services.config.resumeLeftRollouts(live);
        await services.upgrades.resumeLeft(live);
      },
    },
    // The embedded database has no autovacuum (PGlite runs no background workers): vacuum and
    // analyze it here, table by table, or it keeps every dead row and plans without statistics.
    ...(services.replica.shared
      ? []
      : [
          {
            name: 'embedded_maintenance',
            first: every('embeddedMaintenanceFirst'),
            every: every('embeddedMaintenance'),
            scope: 'leader' as const,
            run: async () => {
              const r = await services.databaseMaintenance.run();
              deps.log.info(r, 'embedded database vacuumed and analyzed');
            },
          },
        ]),
    // SNMP thresholds: every replica watches its own host.
    hostThresholdsJob({
      settings: () => services.settingsService.internal('snmp'),
      traps: services.traps,
      syslog: services.syslog,
      dataDir: deps.config.dataDir,
      every: every('hostThresholds'),
    }),
  ];
}
