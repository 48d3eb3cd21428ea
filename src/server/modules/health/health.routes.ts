// Liveness and readiness for load balancers and orchestrators. Outside /api: no credential,
// and they say nothing about the manager beyond "alive" and "database reachable".

import type { FastifyPluginAsync } from 'fastify';
import type { DatabaseHandle } from '../../db/client.js';

// Probes are polled every few seconds by load balancers: they skip the security headers (no
// browser reads them) and compression (a dozen bytes), and log only warnings.
const PROBE = {
  logLevel: 'warn',
  schema: { hide: true },
  config: { securityHeaders: false },
  compress: false,
} as const;

export const healthRoutes: FastifyPluginAsync<{ database: DatabaseHandle }> = async (app, { database }) => {
  app.get('/healthz', PROBE, async () => ({ status: 'ok' }));
  app.get('/readyz', PROBE, async (_request, reply) => {
    const ok = await database.ping(2000);
    reply.code(ok ? 200 : 503);
    return { status: ok ? 'ready' : 'unavailable', database: ok ? 'ok' : 'unreachable' };
  });
};
