// The reference for every benchmark: a bare Fastify server with no plugins, answering the same
// shapes of JSON the manager answers. Started as a child process by bench/run.mjs.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/healthz', async () => ({ status: 'ok' }));
app.get('/api/v1/auth/whoami/', async () => ({
  user: { id: 1, username: 'admin', role: 'admin', is_active: true },
  auth_method: 'api_token',
  credential_source: 'authorization_token',
  token_id: 1,
  session_id: null,
  permissions: ['users:read'],
}));
await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`listening on http://127.0.0.1:${app.server.address().port}\n`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
