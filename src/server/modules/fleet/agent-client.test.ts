// The agent client against small HTTP servers on 127.0.0.1: JSON answers over a kept-alive
// connection, an agent that never answers, one that answers too much, one that is not there,
// answers outside the agent protocol; and the poll lane against a real agent that closes its
// kept-alive connections.
import http, { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../../../../test/helpers/agent.js';
import type { AgentStatus } from '../../../contract/agent-protocol.js';
import { policyFromText } from '../../shared/address-policy.js';
import { AgentUnreachable, agentErrorText, callAgent } from './agent-client.js';

/** A status document as the agent protocol has it. */
const statusDoc = (): AgentStatus => ({
  uuid: 'u',
  name: 'stand-in',
  hostname: 'stand-in',
  type: 'tiscale-worker',
  release: '5.3.0',
  health: 'ok',
  uptime_seconds: 1,
  load: [0, 0, 0],
  memory: { total: 1, free: 1 },
  disk: { total: 1, free: 1, used_percent: 0 },
  config: { revision: null, hash: 'h', applied_at: null },
  last_event_id: 0,
});

let server: Server;
let base: string;
const sockets = new Set<unknown>();
let lastAuth: string | undefined;
/** What the stand-in answers to GET /agent/v1/hello: [status, body]. */
let hello: [number, unknown] = [200, {}];

beforeAll(async () => {
  server = createServer((req, res) => {
    sockets.add(req.socket);
    const json = (status: number, body: unknown) => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    };
    if (req.url === '/agent/v1/status') {
      lastAuth = req.headers.authorization;
      json(200, statusDoc());
    } else if (req.url === '/agent/v1/hello') {
      json(...hello);
    } else if (req.url === '/agent/v1/config') {
      res.end(Buffer.alloc(5 * 1024 * 1024, 'a'));
    } else if (req.url === '/agent/v1/connectors/smtp/config') {
      let body = '';
      req.on('data', (d) => {
        body += String(d);
      });
      req.on('end', () => json(200, { enabled: false, config: JSON.parse(body), updated: null }));
    }
    // Anything else: never answers.
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('callAgent', () => {
  it('sends the token and body, parses JSON, and reuses its connection', async () => {
    const a = await callAgent<AgentStatus>(base, 'agent/v1/status', { token: 'stwaX' });
    expect(a.status).toBe(200);
    expect(a.body.uuid).toBe('u');
    expect(lastAuth).toBe('Token stwaX');
    expect(a.latencyMs).toBeGreaterThan(0);
    const echoed = await callAgent<{ config: unknown }>(base, 'agent/v1/connectors/smtp/config', {
      method: 'PUT',
      body: { n: 1 },
    });
    expect(echoed.body.config).toEqual({ n: 1 });
    for (let i = 0; i < 20; i++) await callAgent(base, 'agent/v1/status');
    // Kept alive: at most the pool's two connections for 22 calls.
    expect(sockets.size).toBeLessThanOrEqual(2);
  });

  it('gives up on an agent that does not answer, and on one that answers too much', async () => {
    const hung = callAgent(base, 'agent/v1/identity', { timeoutMs: 200 });
    await expect(hung).rejects.toBeInstanceOf(AgentUnreachable);
    await expect(hung).rejects.toThrow(/no answer from http:\/\/127\.0\.0\.1:\d+ within 200 ms/);
    await expect(callAgent(base, 'agent/v1/config')).rejects.toThrow('agent answer too large');
  });

  it('says so when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await expect(callAgent(`http://127.0.0.1:${port}`, 'agent/v1/status')).rejects.toThrow(
      /cannot reach http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/,
    );
  });
});

// The poll lane keeps one connection per agent alive (an undici Client). A real agent (its own
// HTTP server) that closes a kept-alive connection as a poll goes out on it must not make the
// poll fail: a live appliance would be marked offline for a round.
describe('callAgent, poll lane, against a real agent', () => {
  let agent: TestAgent;
  const connections: Socket[] = [];
  let requests = 0;
  let dropNextReused = false;
  const served = new WeakSet<Socket>();

  beforeAll(async () => {
    agent = await startTestAgent({ type: 'tiscale-worker' });
    agent.app.server.on('connection', (s: Socket) => connections.push(s));
    // Ahead of the agent's own handler: counts every request that reaches the agent, and can drop
    // the connection of one that arrives on a kept-alive socket, before any answer.
    agent.app.server.prependListener('request', (req: IncomingMessage) => {
      requests++;
      if (dropNextReused && served.has(req.socket)) {
        dropNextReused = false;
        req.socket.destroy();
        return;
      }
      served.add(req.socket);
    });
  });
  afterAll(() => agent.cleanup());

  const poll = () =>
    callAgent<{ uuid: string }>(agent.url, 'agent/v1/status', { token: agent.token, lane: 'poll' });

  it('keeps one connection for many polls', async () => {
    const before = connections.length;
    for (let i = 0; i < 10; i++) expect((await poll()).status).toBe(200);
    expect(connections.length - before).toBeLessThanOrEqual(1);
  });

  it('sends a poll again on a new connection when the agent closed its idle connection as the poll went out', async () => {
    await poll();
    const before = connections.length;
    // The agent closes its idle connections (as on its idle timeout or a restart); the poll is
    // written in the same tick, before this process has read the agent's FIN: the old socket
    // answers with a reset, the poll goes out again on a new connection.
    agent.app.server.closeIdleConnections();
    const res = await poll();
    expect(res.status).toBe(200);
    expect(res.body.uuid).toBe(agent.state.identity.uuid);
    expect(connections.length - before).toBe(1);
  });

  it('sends a poll again when the agent drops the kept-alive connection it arrived on', async () => {
    await poll();
    const [requestsBefore, connectionsBefore] = [requests, connections.length];
    dropNextReused = true;
    const res = await poll();
    expect(res.status).toBe(200);
    // The dropped request and the one sent again, on one new connection.
    expect(requests - requestsBefore).toBe(2);
    expect(connections.length - connectionsBefore).toBe(1);
  });

  it('asks conditionally where the protocol allows it: a 304 comes back without a body', async () => {
    const full = await poll();
    expect(full.status).toBe(200);
    expect(full.etag).toMatch(/^W\/"/);
    const same = await callAgent(agent.url, 'agent/v1/status', {
      token: agent.token,
      lane: 'poll',
      ifNoneMatch: full.etag,
    });
    expect(same).toMatchObject({ status: 304, body: null, etag: full.etag });
    // Not a conditional endpoint: the tag is not sent, the answer is whole.
    const tags: (string | undefined)[] = [];
    const record = (req: IncomingMessage) => tags.push(req.headers['if-none-match']);
    agent.app.server.prependListener('request', record);
    try {
      const identity = await callAgent(agent.url, 'agent/v1/identity', {
        token: agent.token,
        ifNoneMatch: full.etag,
      });
      expect(identity.status).toBe(200);
      expect(tags).toEqual([undefined]);
    } finally {
      agent.app.server.off('request', record);
    }
  });

  it('does not send again what failed on a fresh connection: the agent is reported unreachable', async () => {
    // A fresh socket that is reset is the agent failing, not a stale socket.
    const fresh = http.createServer((req) => req.socket.destroy());
    await new Promise<void>((r) => fresh.listen(0, '127.0.0.1', r));
    let hits = 0;
    fresh.on('request', () => hits++);
    try {
      const url = `http://127.0.0.1:${(fresh.address() as AddressInfo).port}`;
      await expect(callAgent(url, 'agent/v1/status', { lane: 'poll' })).rejects.toBeInstanceOf(
        AgentUnreachable,
      );
      expect(hits).toBe(1);
    } finally {
      fresh.closeAllConnections();
      await new Promise((r) => fresh.close(r));
    }
  });
});

// The appliance network policy: an address outside it gets nothing, whether written in the URL
// or behind a host name (checked by the lookup hook as the socket connects), on every lane; a
// new policy is not bypassed by a connection kept alive under the old one.
describe('callAgent under a network policy', () => {
  let counting: Server;
  let port: number;
  let hits = 0;
  const loopback = policyFromText('127.0.0.0/8');
  const elsewhere = policyFromText('10.0.0.0/8');

  beforeAll(async () => {
    counting = createServer((_req, res) => {
      hits++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(statusDoc()));
    });
    await new Promise<void>((r) => counting.listen(0, '127.0.0.1', r));
    port = (counting.address() as AddressInfo).port;
  });
  afterAll(async () => {
    counting.closeAllConnections();
    await new Promise((r) => counting.close(r));
  });

  const reasonOf = (p: Promise<unknown>) =>
    p.then(
      () => 'answered',
      (err) => (err instanceof AgentUnreachable ? err.reason : String(err)),
    );

  it('refuses an address outside it, in the URL or behind a name, on every lane, sending nothing', async () => {
    const before = hits;
    for (const host of ['127.0.0.1', 'localhost']) {
      for (const proto of ['http', 'https']) {
        for (const lane of ['work', 'poll'] as const) {
          const url = `${proto}://${host}:${port}`;
          expect(await reasonOf(callAgent(url, 'agent/v1/status', { lane, policy: elsewhere })), url).toBe(
            'refused_by_policy',
          );
        }
      }
    }
    expect(hits).toBe(before);
  });

  it('calls an allowed address, by name too', async () => {
    for (const lane of ['work', 'poll'] as const) {
      const res = await callAgent(`http://localhost:${port}`, 'agent/v1/status', { lane, policy: loopback });
      expect(res.status).toBe(200);
    }
  });

  it('does not reuse a connection kept alive under a policy that no longer allows it', async () => {
    for (const lane of ['work', 'poll'] as const) {
      const url = `http://localhost:${port}`;
      expect((await callAgent(url, 'agent/v1/status', { lane, policy: loopback })).status).toBe(200);
      const before = hits;
      expect(await reasonOf(callAgent(url, 'agent/v1/status', { lane, policy: elsewhere }))).toBe(
        'refused_by_policy',
      );
      expect(hits).toBe(before);
    }
  });

  it('classes failures: a closed port and a port that does not speak HTTP are both unreachable; TLS is tls', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const bannerSockets: Socket[] = [];
    const banner = createNetServer((s) => {
      bannerSockets.push(s);
      s.end('SSH-2.0-OpenSSH_9.6\r\n');
    });
    await new Promise<void>((r) => banner.listen(0, '127.0.0.1', r));
    const bannerPort = (banner.address() as AddressInfo).port;
    try {
      const opts = { policy: loopback, timeoutMs: 2000 };
      expect(await reasonOf(callAgent(`http://127.0.0.1:${closedPort}`, 'agent/v1/hello', opts))).toBe(
        'unreachable',
      );
      expect(await reasonOf(callAgent(`http://127.0.0.1:${bannerPort}`, 'agent/v1/hello', opts))).toBe(
        'unreachable',
      );
      expect(await reasonOf(callAgent(`https://127.0.0.1:${port}`, 'agent/v1/hello', opts))).toBe('tls');
    } finally {
      for (const s of bannerSockets) s.destroy();
      await new Promise((r) => banner.close(r));
    }
  });
});

// The agent protocol (contract/agent-protocol.ts) on the manager's side: what an agent answers is
// checked; an answer outside it is that appliance's failure, classified, and not passed on.
describe('callAgent, answers checked against the agent protocol', () => {
  const failureOf = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (err: unknown) => err,
    );

  it('an answer missing a required field, or with a wrong-typed one, is a classified failure without the body', async () => {
    const { uuid: _gone, ...noUuid } = {
      uuid: 'u',
      type: 'tiscale-worker',
      release: 'secret-banner-x9',
      paired: false,
    };
    for (const [body, named] of [
      [noUuid, 'answer.uuid is required'],
      [
        { uuid: 'u', type: 'tiscale-worker', release: 'secret-banner-x9', paired: 'no' },
        'answer.paired must be boolean',
      ],
      ['secret-banner-x9', 'answer must be object'],
    ] as const) {
      hello = [200, body];
      for (const lane of ['work', 'poll'] as const) {
        const err = await failureOf(callAgent(base, 'agent/v1/hello', { lane }));
        expect(err, lane).toBeInstanceOf(AgentUnreachable);
        expect((err as AgentUnreachable).reason).toBe('not_a_steward_agent');
        expect((err as Error).message).toContain(named);
        expect((err as Error).message).toMatch(
          /^the answer to GET agent\/v1\/hello does not follow the agent protocol: /,
        );
        expect((err as Error).message).not.toContain('secret-banner-x9');
      }
    }
    hello = [200, { uuid: 'u', type: 'tiscale-worker', release: '5.3.0', paired: false, newer_field: 1 }];
    expect((await callAgent(base, 'agent/v1/hello')).body).toMatchObject({ uuid: 'u', paired: false });
  });

  it("passes on an error answer only in the protocol's error shape", async () => {
    hello = [409, { code: 'conflict', detail: 'paired with another manager' }];
    const shaped = await callAgent(base, 'agent/v1/hello');
    expect(shaped.status).toBe(409);
    expect(agentErrorText(shaped)).toBe('agent answered 409: paired with another manager');
    hello = [404, { detail: 'internal-banner-x7 admin console' }];
    const other = await callAgent(base, 'agent/v1/hello');
    expect(other.status).toBe(404);
    expect(other.body).toBeNull();
    expect(agentErrorText(other)).toBe('agent answered 404');
  });

  it('refuses a call that is not in the protocol before sending anything', async () => {
    const before = sockets.size;
    const err = await failureOf(callAgent(base, 'agent/v1/echo?x=1', { method: 'PUT', body: {} }));
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(AgentUnreachable);
    expect((err as Error).message).toBe(
      'PUT agent/v1/echo is not a call of the agent protocol (contract/agent-protocol.ts)',
    );
    expect(sockets.size).toBe(before);
  });
});

describe('agentErrorText', () => {
  it("passes on one short printable line of the agent's detail", () => {
    expect(agentErrorText({ status: 409, body: { detail: 'connectors run on hubs only' } } as never)).toBe(
      'agent answered 409: connectors run on hubs only',
    );
    const forged = agentErrorText({
      status: 400,
      body: { detail: 'bad\n{"level":50,"msg":"admin logged in"}\r\u2028\u0007x' },
    } as never);
    expect(forged).toBe('agent answered 400: bad {"level":50,"msg":"admin logged in"} x');
    const long = agentErrorText({ status: 500, body: { detail: 'a'.repeat(5000) } } as never);
    expect(long.length).toBeLessThan(330);
    expect(long.endsWith('…')).toBe(true);
    expect(agentErrorText({ status: 502, body: 'html error page' } as never)).toBe('agent answered 502');
  });
});
