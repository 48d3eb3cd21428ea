// Several managers on one PostgreSQL server (active/active replicas behind a load balancer).
// Each replica registers itself and sends a heartbeat (cluster.heartbeat.ts); one of them holds
// the jobs lease and runs the background jobs. The seed's cluster endpoints (a primary/secondary
// pair with a virtual IP) are mapped onto this design in ADR 0003: cluster.routes.ts over
// cluster.service.ts, the SQL in cluster.repo.ts.

import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { LeaderLease } from '../../db/leases.js';
import { createTransactor } from '../../db/transactor.js';
import type { ModuleContext, StewardModule } from '../module.js';
import { type ClusterHeartbeat, createClusterHeartbeat } from './cluster.heartbeat.js';
import { createClusterRepo } from './cluster.repo.js';
import { clusterRoutes } from './cluster.routes.js';
import { createClusterService } from './cluster.service.js';

export function createClusterModule(
  ctx: ModuleContext & { lease: LeaderLease; replicaId?: string },
): StewardModule {
  const repo = createClusterRepo(ctx.db);
  const replicaId = ctx.replicaId ?? randomUUID();
  const startedAt = ctx.clock.now();
  // Made when the server listens: it beats with the address the server got, logging to its log.
  let heartbeat: ClusterHeartbeat | undefined;
  const service = createClusterService({
    repo,
    tx: createTransactor(ctx.db),
    settings: ctx.settings,
    audit: ctx.audit,
    clock: ctx.clock,
    database: ctx.database,
    replicaId,
    startedAt,
    address: () => heartbeat?.address() ?? 'unknown',
  });

  return {
    async start(app: FastifyInstance) {
      const a = app.server.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      const host =
        typeof a === 'object' && a && a.address !== '0.0.0.0' && a.address !== '::' ? a.address : '127.0.0.1';
      heartbeat = createClusterHeartbeat({
        repo,
        lease: ctx.lease,
        clock: ctx.clock,
        shared: ctx.database.kind === 'postgres',
        replicaId,
        startedAt,
        log: app.log,
      });
      await heartbeat.start(
        `${app.initialConfig.https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
      );
    },
    async stop() {
      await heartbeat?.stop();
    },
    routes: async (app) => {
      await app.register(clusterRoutes, { service });
    },
  };
}
