// Prometheus metrics at /metrics: request counts and latency per route, and the database pool.
// Each app gets its own registry, so several apps in one process (tests) do not collide.

import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { DatabaseHandle } from '../db/client.js';
import { routeOf } from './conventions.js';

export function registerMetrics(app: FastifyInstance, db: DatabaseHandle, opts: { defaultMetrics: boolean }) {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'steward_http_requests_total',
    help: 'HTTP requests by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'steward_http_request_duration_seconds',
    help: 'HTTP request latency by method and route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'steward_db_pool_connections',
    help: 'Database pool connections by state (PostgreSQL server only; the embedded database has one)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const pool = db.pool;
      if (pool) {
        this.set({ state: 'total' }, pool.totalCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
      } else {
        this.set({ state: 'total' }, 1);
      }
    },
  });

  // The labelled children, looked up once per (method, route, status) instead of per request.
  const children = new Map<string, { count: () => void; time: (seconds: number) => void }>();
  app.addHook('onResponse', (request, reply, done) => {
    // Route patterns, not raw URLs, so label sets stay bounded; unmatched paths share one label.
    const route = routeOf(request).url ?? 'unmatched';
    const key = `${request.method} ${reply.statusCode} ${route}`;
    let child = children.get(key);
    if (!child) {
      const counter = requests.labels(request.method, route, String(reply.statusCode));
      const histogram = duration.labels(request.method, route);
      child = { count: () => counter.inc(), time: (s) => histogram.observe(s) };
      children.set(key, child);
    }
    child.count();
    child.time(reply.elapsedTime / 1000);
    done();
  });

  app.get('/metrics', { schema: { hide: true }, logLevel: 'warn' }, async (_req, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
  return registry;
}
