// The appliance network policy through the API: addresses refused when an appliance is added,
// the allow-list setting (admin only) applied to every call, authorization failures answered by
// class without the remote answer, and the manager URL an agent is told never taken from an
// unlisted Host header. Agents and stand-in servers run on 127.0.0.1.
import { createServer, type Server } from 'node:http';
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../../../../test/helpers/agent.js';
import { createTestContext, type TestContext } from '../../../../test/helpers/app.js';

let t: TestContext;
let admin: Record<string, string>;
const agents: TestAgent[] = [];
const cleanups: (() => Promise<void>)[] = [];

async function listen(server: Server | NetServer): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

async function create(name: string, url: string, type = 'worker') {
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/appliances/create/',
    headers: admin,
    payload: { name, type, url },
  });
}

async function authorize(id: number, headers: Record<string, string> = admin) {
  return t.app.inject({ method: 'GET', url: `/api/v1/appliances/${id}/authorization/`, headers });
}

async function setNetwork(payload: Record<string, unknown>, headers = admin) {
  return t.app.inject({ method: 'POST', url: '/api/v1/config/network/', headers, payload });
}

beforeAll(async () => {
  t = await createTestContext();
  admin = await t.adminHeaders();
});

afterAll(async () => {
  await t?.close();
  for (const a of agents) await a.cleanup();
  for (const c of cleanups) await c();
});

describe('adding an appliance', () => {
  it.each([
    'http://169.254.169.254/',
    'http://169.254.169.254:80/latest/meta-data',
    'http://2852039166/',
    'http://0xa9.0xfe.0xa9.0xfe/',
    'http://[::ffff:169.254.169.254]/',
    'http://[fe80::1]:8443/',
    'http://[fd00:ec2::254]/',
    'http://0.0.0.0:8443/',
    'https://8.8.8.8:8443/',
  ])('refuses %s by default, naming body.url', async (url) => {
    const res = await create(`bad-${Math.random().toString(36).slice(2, 8)}`, url);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().errors[0].field).toBe('body.url');
    expect(res.json().detail).toContain('appliance networks');
  });

  it('accepts loopback and private addresses by default', async () => {
    for (const [name, url] of [
      ['ok-loop', 'http://127.0.0.1:9/'],
      ['ok-ten', 'https://10.1.2.3:8443/'],
      ['ok-ula', 'https://[fd12::1]:8443/'],
      ['ok-name', 'http://localhost:9/'],
    ]) {
      expect((await create(name as string, url as string)).statusCode).toBe(201);
    }
  });
});

describe('authorization failures answer by class, never with the remote answer', () => {
  const detailOf = async (url: string, name: string) => {
    const made = await create(name, url);
    expect(made.statusCode, made.body).toBe(201);
    const res = await authorize(made.json().id);
    return { status: res.statusCode, detail: String(res.json().detail), body: res.body };
  };

  it('a web server that is not an agent: not_a_steward_agent, without its body', async () => {
    const web = createServer((_req, res) => {
      res.statusCode = 404;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ detail: 'internal-banner-x1 admin console v3' }));
    });
    const port = await listen(web);
    cleanups.push(() => new Promise((r) => web.close(() => r())));
    const got = await detailOf(`http://127.0.0.1:${port}`, 'web-404');
    expect(got.status).toBe(503);
    expect(got.detail).toMatch(/^not_a_steward_agent: /);
    expect(got.body).not.toContain('internal-banner-x1');
  });

  it('a closed port and a port that does not speak HTTP answer alike: unreachable', async () => {
    const sockets: Socket[] = [];
    const banner = createNetServer((s) => {
      sockets.push(s);
      s.end('SSH-2.0-OpenSSH_9.6 internal-banner-x2\r\n');
    });
    const bannerPort = await listen(banner);
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => banner.close(r));
    });
    // The closed port is taken after the banner's: a port freed first could be handed to the
    // banner server next (it was, once in CI), and both appliances would have one URL.
    const closed = createServer();
    const closedPort = await listen(closed);
    await new Promise((r) => closed.close(r));
    const a = await detailOf(`http://127.0.0.1:${closedPort}`, 'closed-port');
    const b = await detailOf(`http://127.0.0.1:${bannerPort}`, 'ssh-port');
    expect(a.status).toBe(503);
    expect(b.status).toBe(503);
    expect(a.detail).toMatch(/^unreachable: /);
    expect(b.detail).toBe(a.detail);
    expect(b.body).not.toContain('internal-banner-x2');
    expect(a.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
  });

  it('https to a server without TLS: tls', async () => {
    const plain = createServer((_req, res) => res.end('internal-banner-x3'));
    const port = await listen(plain);
    cleanups.push(async () => {
      plain.closeAllConnections();
      await new Promise((r) => plain.close(r));
    });
    const got = await detailOf(`https://127.0.0.1:${port}`, 'no-tls');
    expect(got.status).toBe(503);
    expect(got.detail).toMatch(/^tls: /);
    expect(got.body).not.toMatch(/internal-banner-x3|SSL routines|EPROTO/);
  });
});

describe('the appliance_networks setting', () => {
  it('is admin-only to change and names a bad entry', async () => {
    const operator = await t.headersFor('operator');
    expect((await setNetwork({ appliance_networks: '0.0.0.0/0' }, operator)).statusCode).toBe(403);
    const bad = await setNetwork({ appliance_networks: '10.0.0.0/8\nintranet.example' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe('body.appliance_networks');
    expect(bad.json().detail).toContain('intranet.example');
  });

  it('applies to every call at once: a narrowed list refuses an agent already added, sending it nothing', async () => {
    const agent = await startTestAgent({ type: 'tiscale-worker' });
    agents.push(agent);
    let hits = 0;
    agent.app.server.prependListener('request', () => hits++);
    const made = await create('policy-w', agent.url);
    expect(made.statusCode).toBe(201);
    const id = made.json().id;
    expect((await setNetwork({ appliance_networks: '10.0.0.0/8, fd00::/8' })).statusCode).toBe(200);
    try {
      const refused = await authorize(id);
      expect(refused.statusCode).toBe(409);
      expect(refused.json().detail).toMatch(/^refused_by_policy: /);
      expect(hits).toBe(0);
      // New appliances are checked against the new list.
      expect((await create('policy-w2', 'http://127.0.0.1:9/')).statusCode).toBe(400);
      expect((await create('policy-w3', 'http://10.9.9.9:9/')).statusCode).toBe(201);
    } finally {
      expect((await setNetwork({ appliance_networks: '' })).statusCode).toBe(200);
    }
    // Empty again: the default (loopback included) applies.
    const ok = await authorize(id);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(hits).toBeGreaterThan(0);
  });

  it('opens link-local only for an entry inside it; metadata only when listed itself', async () => {
    expect((await setNetwork({ appliance_networks: '169.254.0.0/16\n127.0.0.0/8' })).statusCode).toBe(200);
    try {
      expect((await create('ll-1', 'http://169.254.10.10:8443/')).statusCode).toBe(201);
      expect((await create('ll-meta', 'http://169.254.169.254/')).statusCode).toBe(400);
    } finally {
      await setNetwork({ appliance_networks: '' });
    }
  });
});

describe('the manager URL an agent is told', () => {
  it('is never an unlisted Host header: without base_url none is sent', async () => {
    const agent = await startTestAgent({ type: 'tiscale-worker' });
    agents.push(agent);
    const made = await create('tofu-w', agent.url);
    const res = await authorize(made.json().id, { ...admin, host: 'evil.example:666' });
    expect(res.statusCode, res.body).toBe(200);
    expect(agent.state.secrets().manager?.url).toBeNull();
  });

  it('an agent that trusts a manager URL pairs once base_url says it; the 409 before says what to set', async () => {
    const agent = await startTestAgent({
      type: 'tiscale-worker',
      trustManager: 'https://manager.example:8443',
    });
    agents.push(agent);
    const made = await create('url-trust-w', agent.url);
    const spoofed = await authorize(made.json().id, { ...admin, host: 'manager.example:8443' });
    expect(spoofed.statusCode).toBe(409);
    expect(spoofed.json().detail).toContain('base_url');
    expect((await setNetwork({ base_url: 'https://manager.example:8443' })).statusCode).toBe(200);
    try {
      const ok = await authorize(made.json().id);
      expect(ok.statusCode, ok.body).toBe(200);
      expect(agent.state.secrets().manager?.url).toBe('https://manager.example:8443');
    } finally {
      await setNetwork({ base_url: '' });
    }
  });
});

describe('STEWARD_APPLIANCE_NETWORKS', () => {
  it('is the list while the setting is empty; the setting overrides it', async () => {
    const other = await createTestContext({ config: { applianceNetworks: '10.0.0.0/8' } });
    try {
      const h = await other.adminHeaders();
      const add = (name: string, url: string) =>
        other.app.inject({
          method: 'POST',
          url: '/api/v1/appliances/create/',
          headers: h,
          payload: { name, type: 'worker', url },
        });
      expect((await add('env-loop', 'http://127.0.0.1:9/')).statusCode).toBe(400);
      expect((await add('env-ten', 'http://10.0.0.9:9/')).statusCode).toBe(201);
      const set = await other.app.inject({
        method: 'POST',
        url: '/api/v1/config/network/',
        headers: h,
        payload: { appliance_networks: '127.0.0.0/8' },
      });
      expect(set.statusCode).toBe(200);
      expect((await add('set-loop', 'http://127.0.0.1:9/')).statusCode).toBe(201);
      expect((await add('set-ten', 'http://10.0.0.10:9/')).statusCode).toBe(400);
    } finally {
      await other.close();
    }
  });
});
