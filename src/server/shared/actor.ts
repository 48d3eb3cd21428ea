// Who is acting, and from where: the one value a service is given to know its caller. The HTTP
// layer builds it once per request (http/actor.ts); the CLI and the background jobs build their
// own (`cliActor`, `systemActor`). Services read the principal (permissions, groups, token
// bounds) and the source address from it and hand it to the audit trail, so no service needs the
// HTTP request.

import { userInfo } from 'node:os';
import type { Principal } from './principal.js';

export interface Actor {
  /** `request`: a caller of the API (authenticated or not); `system`: a job; `cli`: a command. */
  kind: 'request' | 'system' | 'cli';
  /** The authenticated principal of a request; null for jobs, the CLI and anonymous callers. */
  principal: Principal | null;
  /** Name for the audit trail when there is no principal: `system:<job>` or `cli:<user>`. */
  name: string | null;
  /** Source address of the request. */
  ip: string | null;
  userAgent: string | null;
  method: string | null;
  /** The request's path without its query string, credentials masked. */
  path: string | null;
  requestId: string | null;
  /**
   * Set once a service wrote the audit record of what this actor did, so the HTTP layer's safety
   * net does not write a second one.
   */
  audited: boolean;
}

function bare(kind: Actor['kind'], name: string): Actor {
  return {
    kind,
    principal: null,
    name,
    ip: null,
    userAgent: null,
    method: null,
    path: null,
    requestId: null,
    audited: false,
  };
}

/** A background job or the manager itself (`system:<what>` in the audit trail reads `<what>`). */
export function systemActor(what: string): Actor {
  return bare('system', what);
}

/** A command of the `steward` CLI, as `cli:<user>` (the operating-system user running it). */
export function cliActor(user = userInfo().username): Actor {
  return bare('cli', `cli:${user}`);
}

/** The user id of the actor, if a user acts (for `updated_by` columns). */
export function actorUserId(actor: Actor): number | null {
  return actor.principal?.userId ?? null;
}
