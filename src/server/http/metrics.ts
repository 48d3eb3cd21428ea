// Prometheus metrics at /metrics: request counts and latency per route, and the database pool.
// Each app gets its own registry, so several apps in one process (tests) do not collide.

import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Gauge, type Metric, Registry } from 'prom-client';
import type { DatabaseHandle } from '../db/client.js';
import { routeOf } from './conventions.js';

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** What the requests of one (method, route, status) added up to since the process started. */
interface RouteStats {
  method: string;
  route: string;
  status: string;
  count: number;
  sum: number;
  /** Requests per bucket (not cumulative), the last one for +Inf. */
  buckets: Float64Array;
}

/**
 * The request counter and latency histogram in the Prometheus text format. Every request adds to
 * plain numbers (a map lookup, a bucket search over 12 bounds); the metric lines are made only
 * when /metrics is scraped. prom-client's own Histogram validates and hashes the label set of
 * every observation, about a microsecond per request on the API's hot path. Registered in the
 * prom-client registry like its own metrics (it asks for `name` and `get()`).
 */
class RequestMetrics {
  readonly stats = new Map<string, RouteStats>();

  record(method: string, route: string, status: number, seconds: number) {
    const key = `${method} ${status} ${route}`;
    let s = this.stats.get(key);
    if (s === undefined) {
      s = {
        method,
        route,
        status: String(status),
        count: 0,
        sum: 0,
        buckets: new Float64Array(DURATION_BUCKETS.length + 1),
      };
      this.stats.set(key, s);
    }
    s.count++;
    s.sum += seconds;
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[i] as number)) i++;
    (s.buckets[i] as number)++;
  }

  /** The counter of requests by method, route and status. */
  counter() {
    return this.exposed(
      'steward_http_requests_total',
      'HTTP requests by method, route pattern and status code',
      'counter',
      () =>
        [...this.stats.values()].map((s) => ({
          labels: { method: s.method, route: s.route, status: s.status },
          value: s.count,
        })),
    );
  }

  /** The latency histogram by method and route (the statuses of a route added together). */
  histogram() {
    const name = 'steward_http_request_duration_seconds';
    return this.exposed(name, 'HTTP request latency by method and route pattern', 'histogram', () => {
      const byRoute = new Map<string, { method: string; route: string; sum: number; buckets: number[] }>();
      for (const s of this.stats.values()) {
        const key = `${s.method} ${s.route}`;
        let h = byRoute.get(key);
        if (!h) {
          h = {
            method: s.method,
            route: s.route,
            sum: 0,
            buckets: new Array(DURATION_BUCKETS.length + 1).fill(0),
          };
          byRoute.set(key, h);
        }
        h.sum += s.sum;
        s.buckets.forEach((n, i) => {
          h.buckets[i] = (h.buckets[i] ?? 0) + n;
        });
      }
      const values: Sample[] = [];
      for (const h of byRoute.values()) {
        const labels = { method: h.method, route: h.route };
        let cumulative = 0;
        DURATION_BUCKETS.forEach((le, i) => {
          cumulative += h.buckets[i] as number;
          values.push({ metricName: `${name}_bucket`, labels: { le, ...labels }, value: cumulative });
        });
        cumulative += h.buckets[DURATION_BUCKETS.length] as number;
        values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', ...labels }, value: cumulative });
        values.push({ metricName: `${name}_sum`, labels, value: h.sum });
        values.push({ metricName: `${name}_count`, labels, value: cumulative });
      }
      return values;
    });
  }

  /** A metric as prom-client's registry reads it: `name`, `get()` and `reset()`. */
  private exposed(name: string, help: string, type: 'counter' | 'histogram', values: () => Sample[]): Metric {
    const head = { name, help, type, aggregator: 'sum' };
    return {
      ...head,
      get: async () => ({ ...head, values: values() }),
      reset: () => this.stats.clear(),
    } as unknown as Metric;
  }
}

interface Sample {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

export function registerMetrics(app: FastifyInstance, db: DatabaseHandle, opts: { defaultMetrics: boolean }) {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  const requests = new RequestMetrics();
  registry.registerMetric(requests.counter());
  registry.registerMetric(requests.histogram());
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

  app.addHook('onResponse', (request, reply, done) => {
    // Route patterns, not raw URLs, so label sets stay bounded; unmatched paths share one label.
    requests.record(
      request.method,
      routeOf(request).url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });

  app.get('/metrics', { schema: { hide: true }, logLevel: 'warn' }, async (_req, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
  return registry;
}
