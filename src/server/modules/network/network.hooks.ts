// The network settings' root-level hooks on the HTTP server: the Host allow-list, checked on
// every request, and the origin links are built from (network.ts decides both).

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../shared/app-error.js';
import { isHostAllowed, listedOrigin, type NetworkState } from './network.js';

/** Installs the Host check on the root instance (hooks in a plugin would only cover its routes). */
export function installHostCheck(app: FastifyInstance, state: NetworkState) {
  app.decorate('linkOrigin', (request: FastifyRequest) => listedOrigin(state, request));
  app.addHook('onRequest', (request, _reply, done) => {
    if (isHostAllowed(state, request.headers.host)) return done();
    done(
      new AppError({
        code: 'bad_request',
        message: `host "${String(request.headers.host ?? '').slice(0, 100)}" is not in allowed_hosts`,
      }),
    );
  });
}
