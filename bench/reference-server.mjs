// The reference for every benchmark: a bare Fastify server with no plugins, answering the same
// shapes of JSON the manager answers. Started as a child process by bench/run.mjs.
import Fastify from 'fastify';
import { whoamiBody } from './whoami-body.mjs';

const app = Fastify({ logger: false });
app.get('/healthz', async () => ({ status: 'ok' }));
// The same fields as the manager's whoami (the benchmark's token has one scope).
app.get('/api/v1/auth/whoami/', async () => whoamiBody());
await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`listening on http://127.0.0.1:${app.server.address().port}\n`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
