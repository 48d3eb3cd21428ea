// The Actor of a request: built once, the first time a route asks, from what the
// authentication hook found. Routes pass it to services; the audit hook reads whether a service
// recorded the request already.

import type { FastifyRequest } from 'fastify';
import type { Actor } from '../shared/actor.js';
import { redactUrlForLog } from './conventions.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Built on first use by `actorOf`; null until then (most requests never need one). */
    actor: Actor | null;
  }
}

export function actorOf(request: FastifyRequest): Actor {
  if (request.actor) {
    // The principal is set by the authentication hook before any handler runs; keep it current
    // should an actor have been made earlier (by a hook on a refused request).
    request.actor.principal = request.principal;
    return request.actor;
  }
  const ua = request.headers['user-agent'];
  request.actor = {
    kind: 'request',
    principal: request.principal,
    name: null,
    ip: request.ip,
    userAgent: typeof ua === 'string' ? ua.slice(0, 300) : null,
    method: request.method,
    // Query strings can carry a token (?token=); the audit keeps the path only.
    path: redactUrlForLog(request.url.split('?')[0] ?? request.url),
    requestId: String(request.id),
    audited: false,
  };
  return request.actor;
}
