// The safety net of the audit trail: a mutating request that no service recorded (because it
// failed validation, was refused, or hit an error) still leaves one record, written after the
// response. Refusals of credentials and permissions are recorded on reads as well. A request
// that carried no credential at all was refused no credential: a read of it leaves no record
// (the console's sign-in page asks whoami on every visit), a mutation its `request.<method>`.

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
    // No header, cookie or parameter held a credential (one that did, however malformed, is
    // request.credential or left request.authFailure).
    const anonymous = status === 401 && request.credential === null && request.authFailure === undefined;
    const mutating = MUTATING.has(request.method);
    if (!mutating && (!refused || anonymous)) return;
    const route = routeOf(request).url;
    if (!route?.startsWith('/api/')) return;
    const action =
      status === 401 && !anonymous
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
        details: anonymous
          ? { reason: 'no credential' }
          : refused
            ? { reason: request.authFailure ?? null }
            : {},
      })
      .catch((err: unknown) => {
        request.log.error({ err }, 'could not write the audit record of a finished request');
      });
  });
}
