// The agent client against small HTTP servers on 127.0.0.1: JSON answers over a kept-alive
// connection, an agent that never answers, one that answers too much, one that is not there.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentUnreachable, callAgent } from './agent-client.js';

let server: Server;
let base: string;
const sockets = new Set<unknown>();

beforeAll(async () => {
  server = createServer((req, res) => {
    sockets.add(req.socket);
    if (req.url === '/agent/v1/status') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ uuid: 'u', auth: req.headers.authorization ?? null }));
    } else if (req.url === '/agent/v1/big') {
      res.end(Buffer.alloc(5 * 1024 * 1024, 'a'));
    } else if (req.url === '/agent/v1/echo') {
      let body = '';
      req.on('data', (d) => {
        body += String(d);
      });
      req.on('end', () => res.end(body));
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
    const a = await callAgent<{ auth: string }>(base, 'agent/v1/status', { token: 'stwaX' });
    expect(a.status).toBe(200);
    expect(a.body.auth).toBe('Token stwaX');
    expect(a.latencyMs).toBeGreaterThan(0);
    const echoed = await callAgent<{ n: number }>(base, 'agent/v1/echo', { method: 'PUT', body: { n: 1 } });
    expect(echoed.body).toEqual({ n: 1 });
    for (let i = 0; i < 20; i++) await callAgent(base, 'agent/v1/status');
    // Kept alive: at most the pool's two connections for 22 calls.
    expect(sockets.size).toBeLessThanOrEqual(2);
  });

  it('gives up on an agent that does not answer, and on one that answers too much', async () => {
    const hung = callAgent(base, 'agent/v1/hang', { timeoutMs: 200 });
    await expect(hung).rejects.toBeInstanceOf(AgentUnreachable);
    await expect(hung).rejects.toThrow(/no answer from http:\/\/127\.0\.0\.1:\d+ within 200 ms/);
    await expect(callAgent(base, 'agent/v1/big')).rejects.toThrow('agent answer too large');
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
