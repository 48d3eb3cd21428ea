// The request metrics: what /metrics shows after a few requests, in the Prometheus text format.
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../db/client.js';
import { registerMetrics } from './metrics.js';

/** `name{labels} value` lines of an exposition, as [name, labels, value]. */
function samples(text: string): [string, string, number][] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(l);
      if (!m) throw new Error(`not a sample line: ${l}`);
      return [m[1] as string, m[2] ?? '', Number(m[3])];
    });
}

describe('request metrics', () => {
  it('counts requests by method, route and status, and makes a cumulative latency histogram', async () => {
    const app = Fastify();
    registerMetrics(app, { kind: 'pglite', pool: undefined } as unknown as DatabaseHandle, {
      defaultMetrics: false,
    });
    app.get('/things/:id', async (request, reply) => {
      if ((request.params as { id: string }).id === 'missing') return reply.code(404).send({ detail: 'no' });
      return { ok: true };
    });
    for (const id of ['1', '2', '3', 'missing']) await app.inject({ url: `/things/${id}` });
    const res = await app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    const lines = samples(res.body);
    const value = (name: string, labels: string) => lines.find(([n, l]) => n === name && l === labels)?.[2];

    expect(value('steward_http_requests_total', '{method="GET",route="/things/:id",status="200"}')).toBe(3);
    expect(value('steward_http_requests_total', '{method="GET",route="/things/:id",status="404"}')).toBe(1);
    // The histogram adds the statuses of a route together.
    const buckets = lines.filter(
      ([n, l]) => n === 'steward_http_request_duration_seconds_bucket' && l.includes('route="/things/:id"'),
    );
    expect(buckets.map(([, l]) => /le="([^"]+)"/.exec(l)?.[1])).toEqual([
      '0.001',
      '0.0025',
      '0.005',
      '0.01',
      '0.025',
      '0.05',
      '0.1',
      '0.25',
      '0.5',
      '1',
      '2.5',
      '5',
      '+Inf',
    ]);
    const counts = buckets.map(([, , v]) => v);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1] as number);
    expect(counts.at(-1)).toBe(4);
    expect(value('steward_http_request_duration_seconds_count', '{method="GET",route="/things/:id"}')).toBe(
      4,
    );
    const sum = value('steward_http_request_duration_seconds_sum', '{method="GET",route="/things/:id"}');
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(5);
    expect(res.body).toContain('# TYPE steward_http_request_duration_seconds histogram');
    expect(res.body).toContain('# TYPE steward_http_requests_total counter');
    expect(value('steward_db_pool_connections', '{state="total"}')).toBe(1);
    await app.close();
  });
});
