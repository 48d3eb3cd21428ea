// Liveness and readiness for load balancers and orchestrators. Outside /api: no credential,
// and they say nothing about the manager beyond "alive" and "database reachable".

import type { FastifyPluginAsync } from 'fastify';
import type { DatabaseHandle } from '../../db/client.js';

export const healthRoutes: FastifyPluginAsync<{ database: DatabaseHandle }> = async (app, { database }) => {
  app.get('/healthz', { logLevel: 'warn', schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { logLevel: 'warn', schema: { hide: true } }, async (_request, reply) => {
    const ok = await database.ping(2000);
    reply.code(ok ? 200 : 503);
    return { status: ok ? 'ready' : 'unavailable', database: ok ? 'ok' : 'unreachable' };
  });
};
