// Keeps a table of every route the app registers. It answers two questions Fastify does not:
// which methods a path supports (for 405 + Allow instead of 404), and which operations exist
// with which permission (for the OpenAPI checks and the generated authorization matrix tests).

import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import FindMyWay from 'find-my-way';
import { AppError } from '../shared/app-error.js';
import { redactUrlForLog } from './conventions.js';

export interface RouteEntry {
  method: string;
  url: string;
  permission: string | undefined;
  /** What the route does to credentials (config.credential; see credential-policy.ts). */
  credential?: string;
}

export interface RouteTable {
  readonly routes: RouteEntry[];
  allowedMethods(path: string): string[];
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export function createRouteTable(app: FastifyInstance): RouteTable {
  const router = FindMyWay({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true });
  const routes: RouteEntry[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      const m = String(method).toUpperCase();
      if (route.url === '*' || route.url.endsWith('/*')) continue;
      const config = route.config as { permission?: string; credential?: string } | undefined;
      routes.push({
        method: m,
        url: route.url,
        permission: config?.permission,
        credential: config?.credential,
      });
      try {
        router.on(m as (typeof METHODS)[number], route.url, () => {});
      } catch {
        // The same route registered twice with and without a slash: already known.
      }
    }
  });
  return {
    routes,
    allowedMethods(path: string) {
      return METHODS.filter((m) => router.find(m, path) !== null);
    },
  };
}

/**
 * The seed's guide also writes API paths without `/v1` (`curl ... /api/configuration/appliances`).
 * Fastify's `rewriteUrl` calls this before routing: a path under `/api/` that no route serves
 * becomes `/api/v1/...` when that one exists. It is one rewrite in front of the router, not a
 * second set of routes: authentication, permissions, audit and OpenAPI only ever see the
 * canonical route, and the OpenAPI document lists each operation once. Paths that exist as they
 * are (`/api/upgrade/start/`, `/api/docs`) are never rewritten, nor is a path with a query only.
 */
export function aliasApiUrl(url: string, table: RouteTable | undefined): string {
  if (table === undefined || !url.startsWith('/api/') || url.startsWith('/api/v1/')) return url;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (table.allowedMethods(path).length > 0) return url;
  const canonical = `/api/v1/${path.slice('/api/'.length)}`;
  if (table.allowedMethods(canonical).length === 0) return url;
  return q === -1 ? canonical : canonical + url.slice(q);
}

export interface NotFoundOptions {
  /** Single-page app: unknown GET paths outside /api are answered with this file (the console). */
  spaIndex?: (reply: FastifyReply) => FastifyReply;
}

export function registerNotFound(app: FastifyInstance, table: RouteTable, opts: NotFoundOptions = {}) {
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0] ?? '/';
    // The answer (and its log line) names the path; a secret pasted into it stays out of both.
    const shown = redactUrlForLog(path);
    if (
      opts.spaIndex &&
      request.method === 'GET' &&
      !path.startsWith('/api/') &&
      !/\.[a-z0-9]+$/i.test(path)
    ) {
      return opts.spaIndex(reply);
    }
    const allowed = table.allowedMethods(path);
    if (allowed.length > 0) {
      throw new AppError({
        code: 'method_not_allowed',
        message: `${request.method} is not allowed on ${shown}; allowed: ${allowed.join(', ')}`,
        headers: { allow: allowed.join(', ') },
      });
    }
    throw new AppError({ code: 'not_found', message: `no route for ${request.method} ${shown}` });
  });
}
