// The identity module's HTTP side: its routes (users, sessions, API tokens), the per-token
// request log hook, and the timer that writes token use in batches. Its services are built in
// services.ts (the composition root).

import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { isPermission } from '../../../contract/permissions.js';
import { redactUrlForLog, routeOf } from '../../http/conventions.js';
import type { Identity } from '../../services.js';
import type { Clock } from '../../shared/clock.js';
import { tokensRoutes } from '../tokens/tokens.routes.js';
import { authRoutes } from './auth.routes.js';
import { usersRoutes } from './users.routes.js';

const FLUSH_MS = 1000;

export function identityModule(identity: Identity, clock: Clock) {
  let timer: NodeJS.Timeout | undefined;
  const routes: FastifyPluginAsync = async (app) => {
    await identity.loadSettings();
    await app.register(authRoutes, identity.services);
    await app.register(usersRoutes, identity.services);
    await app.register(tokensRoutes, identity.services);
    timer = setInterval(() => {
      identity.flush().catch((err) => app.log.warn({ err }, 'could not record token use'));
    }, FLUSH_MS);
    timer.unref();
  };

  /**
   * The per-token request log (GET /api/v1/tokens/{id}/activity/) and the per-permission counts
   * (GET /api/v1/tokens/{id}/usage/). Installed on the root instance by app.ts, so it sees every
   * request of every module, reads included; inside this module's plugin it saw only identity
   * routes (issue 13 §6). Cheap on the hot path: an object pushed to an array and one map
   * update, written in batches by the flush timer.
   */
  function installRequestLog(app: FastifyInstance) {
    app.addHook('onResponse', (request, reply, done) => {
      done();
      const p = request.principal;
      const tokenId = p?.tokenId;
      if (tokenId === undefined || p === null) return;
      const at = clock.now();
      identity.recordActivity(tokenId, () => ({
        token_id: tokenId,
        at,
        method: request.method,
        // The path can carry a secret (`;token=`, a pasted token): stored as the logs show it.
        path: redactUrlForLog(request.url.split('?')[0] ?? '').slice(0, 500),
        status: reply.statusCode,
        ip: request.ip,
        request_id: String(request.id),
      }));
      // The permission the route requires (the route table's), counted when the token had it.
      const permission = routeOf(request).config?.permission;
      if (permission !== undefined && isPermission(permission) && p.permissions.has(permission)) {
        identity.recordScopeUse(tokenId, permission, at);
      }
    });
  }

  return {
    routes,
    installRequestLog,
    /** Stops the flush timer; the last flush is the services' close(). */
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}
