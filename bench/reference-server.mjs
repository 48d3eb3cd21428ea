// The reference for every benchmark: a bare Fastify server with no plugins, answering the same
// shapes of JSON the manager answers. Started as a child process by bench/run.mjs.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/healthz', async () => ({ status: 'ok' }));
// The same fields as the manager's whoami (the benchmark's token has one scope).
app.get('/api/v1/auth/whoami/', async () => ({
  user: {
    id: 1,
    username: 'admin',
    email: '',
    first_name: '',
    last_name: '',
    directory_name: '',
    directory_type: 0,
    last_login: new Date().toISOString(),
    date_joined: new Date().toISOString(),
    is_superuser: true,
    is_active: true,
    role: 'admin',
    api_only: false,
    group_id: null,
  },
  auth_method: 'api_token',
  credential_source: 'authorization_token',
  token_id: 1,
  session_id: null,
  permissions: ['users:read'],
}));
await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`listening on http://127.0.0.1:${app.server.address().port}\n`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
