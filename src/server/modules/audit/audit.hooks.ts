// The safety net of the audit trail: a mutating request that no service recorded (because it
// failed validation, was refused, or hit an error) still leaves one record, written after the
// response. Refusals of credentials and permissions are recorded on reads as well.

import type { FastifyInstance } from 'fastify';
import type { DbHandle } from '../../db/transactor.js';
import { actorOf } from '../../http/actor.js';
import { routeOf } from '../../http/conventions.js';
import type { AuditService } from './audit.service.js';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function registerAuditHooks(app: FastifyInstance, audit: AuditService, db: DbHandle) {
  // Synchronous: most requests return at the first checks, and the record of the others is
  // written after the response has gone, so nothing waits for it.
  app.addHook('onResponse', (request, reply, done) => {
    done();
    if (request.actor?.audited) return;
    const status = reply.statusCode;
    const refused = status === 401 || status === 403;
    if (!MUTATING.has(request.method) && !refused) return;
    const route = routeOf(request).url;
    if (!route?.startsWith('/api/')) return;
    const action =
      status === 401
        ? 'auth.refused'
        : status === 403
          ? 'auth.permission_denied'
          : `request.${request.method.toLowerCase()}`;
    audit
      .record(db, actorOf(request), {
        action,
        outcome: status >= 400 ? (refused ? 'denied' : 'failure') : 'success',
        status,
        summary: `${request.method} ${route} answered ${status}`,
        details: refused ? { reason: request.authFailure ?? null } : {},
      })
      .catch((err: unknown) => {
        request.log.error({ err }, 'could not write the audit record of a finished request');
      });
  });
}
