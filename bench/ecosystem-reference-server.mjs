// The second reference for the authenticated request (issue 18): what a team would assemble from
// Fastify's own ecosystem for the features the manager's whoami carries. Security headers
// (@fastify/helmet), a per-token rate limit with its headers (@fastify/rate-limit, keyed by the
// token), compression (@fastify/compress), a request id echoed in X-Request-Id, a prom-client
// latency histogram per route, the token looked up by its SHA-256 digest in a Map, and last-use
// bookkeeping (time and count) on every use. It answers the same whoami fields as the manager.
// Started by bench/run.mjs with BENCH_TOKEN set to the manager's benchmark token, so one
// Authorization header works on both.
import { createHash, randomUUID } from 'node:crypto';
import fastifyCompress from '@fastify/compress';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import Fastify from 'fastify';
import { Histogram, Registry } from 'prom-client';
import { whoamiBody } from './whoami-body.mjs';

const digest = (token) => createHash('sha256').update(token).digest('hex');
const tokens = new Map();
if (process.env.BENCH_TOKEN) {
  tokens.set(digest(process.env.BENCH_TOKEN), {
    id: 1,
    scopes: ['users:read'],
    lastUsedAt: null,
    useCount: 0,
  });
}

function credentialOf(request) {
  const header = request.headers.authorization ?? '';
  return header.startsWith('Token ') ? tokens.get(digest(header.slice(6))) : undefined;
}

const registry = new Registry();
const latency = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'Request latency by method, route and status',
  labelNames: ['method', 'route', 'status'],
  registers: [registry],
});

const app = Fastify({
  logger: false,
  genReqId: (req) => {
    const given = req.headers['x-request-id'];
    return typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
  },
});
await app.register(fastifyHelmet);
await app.register(fastifyCompress);
await app.register(fastifyRateLimit, {
  max: 1_000_000,
  timeWindow: 60_000,
  keyGenerator: (request) => request.headers.authorization ?? request.ip,
});
app.addHook('onRequest', async (request, reply) => {
  request.startedAt = process.hrtime.bigint();
  reply.header('x-request-id', request.id);
});
app.addHook('onResponse', async (request, reply) => {
  const seconds = Number(process.hrtime.bigint() - request.startedAt) / 1e9;
  latency.observe(
    { method: request.method, route: request.routeOptions.url ?? 'unknown', status: reply.statusCode },
    seconds,
  );
});

app.get('/api/v1/auth/whoami/', async (request, reply) => {
  const token = credentialOf(request);
  if (!token) return reply.code(401).send({ detail: 'Authentication credentials were not provided.' });
  token.lastUsedAt = new Date();
  token.useCount += 1;
  return whoamiBody(token.id, token.scopes);
});
app.get('/metrics', async (_request, reply) =>
  reply.type(registry.contentType).send(await registry.metrics()),
);

await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`listening on http://127.0.0.1:${app.server.address().port}\n`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
