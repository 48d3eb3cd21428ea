// The manager's client for agent APIs, with hard timeouts. Over TLS the agent's self-signed
// certificate is pinned: the first contact (authorization) records it, and later calls trust
// that one certificate only (`ca` = the pinned certificate), so a different machine answering at
// the same URL is refused.
//
// Calls to a known agent (pinned certificate, or plain HTTP) go through undici: a keep-alive
// connection per agent (and one more while an apply or upgrade runs), so health polling reuses
// its connection instead of paying a TCP (and TLS) handshake every round. Clients idle for five
// minutes (`work` clients: 30 s) are closed; idle sockets never keep the process alive. The
// first contact, which must read the certificate the agent presents, uses node:https once.

import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { buildConnector, Client } from 'undici';

export interface AgentCallOptions {
  method?: 'GET' | 'POST' | 'PUT';
  token?: string | undefined;
  body?: unknown;
  /** PEM of the pinned certificate; absent on first contact (trust on first use). */
  pinnedCert?: string | null | undefined;
  timeoutMs?: number;
  /** `poll`: the health job's short calls, on a connection of their own. Default `work`. */
  lane?: 'poll' | 'work';
}

export interface AgentResponse<T = unknown> {
  status: number;
  body: T;
  /** PEM of the certificate the agent presented (TLS only). */
  peerCert?: string | undefined;
  latencyMs: number;
}

export class AgentUnreachable extends Error {
  override name = 'AgentUnreachable';
}

function toPem(raw: Buffer): string {
  const b64 =
    raw
      .toString('base64')
      .match(/.{1,64}/g)
      ?.join('\n') ?? '';
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

const MAX_ANSWER_BYTES = 4 * 1024 * 1024;
/**
 * How long an unused client is kept: a `poll` connection is used every polling interval, so it
 * stays; a `work` connection (an apply, an upgrade) is rarely reused, and at 10,000 appliances
 * keeping one per agent for minutes after an apply costs ~100 MB.
 */
const CLIENT_IDLE_MS = { poll: 5 * 60 * 1000, work: 30 * 1000 } as const;
const SWEEP_MS = 15 * 1000;

interface ClientEntry {
  client: Client;
  lane: 'poll' | 'work';
  pinnedCert: string | null;
  lastUsed: number;
}
/**
 * One undici Client (one connection, kept alive) per agent and lane: `poll` for the health
 * job's short calls, `work` for everything else (applies, upgrades, connectors), so a long
 * upload never holds up a poll. A Client, not a Pool: a Pool costs ~20 KB more per agent,
 * 200 MB at 10,000 appliances.
 */
const clients = new Map<string, ClientEntry>();
/**
 * One connector for every plain-HTTP client: by default each undici Client builds its own (a
 * closure, its options and a TLS session cache with a FinalizationRegistry), ~0.5 KB per agent
 * kept for nothing over HTTP. Pinned TLS clients keep a connector of their own (the pinned
 * certificate is their `ca`), with room for the one session they resume.
 */
const CONNECT_TIMEOUT_MS = 5000;
const plainConnect = buildConnector({ timeout: CONNECT_TIMEOUT_MS, maxCachedSessions: 0 });
let sweeper: NodeJS.Timeout | undefined;

function sweep() {
  const now = Date.now();
  for (const [key, e] of clients) {
    if (now - e.lastUsed > CLIENT_IDLE_MS[e.lane]) {
      clients.delete(key);
      void e.client.close().catch(() => undefined);
    }
  }
  if (clients.size === 0 && sweeper) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

function clientFor(origin: string, pinnedCert: string | null | undefined, lane: 'poll' | 'work'): Client {
  const key = `${lane} ${origin}`;
  const pin = pinnedCert ?? null;
  let e = clients.get(key);
  if (e && e.pinnedCert !== pin) {
    // A new certificate was pinned: connections made under the old one go.
    void e.client.close().catch(() => undefined);
    e = undefined;
  }
  if (!e) {
    e = {
      client: new Client(origin, {
        pipelining: 1,
        keepAliveTimeout: 60_000,
        keepAliveMaxTimeout: 10 * 60_000,
        maxResponseSize: MAX_ANSWER_BYTES,
        connect: origin.startsWith('https:')
          ? {
              timeout: CONNECT_TIMEOUT_MS,
              maxCachedSessions: 1,
              // Pinned: only this exact certificate is trusted; the host name is not what we check.
              ...(pin ? { ca: pin, checkServerIdentity: () => undefined, rejectUnauthorized: true } : {}),
            }
          : plainConnect,
      }),
      lane,
      pinnedCert: pin,
      lastUsed: 0,
    };
    clients.set(key, e);
    if (!sweeper) {
      sweeper = setInterval(sweep, SWEEP_MS);
      sweeper.unref();
    }
  }
  e.lastUsed = Date.now();
  return e.client;
}

function parseBody(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text; // Not JSON: keep the text for the error message.
  }
}

async function callPooled<T>(url: URL, opts: AgentCallOptions): Promise<AgentResponse<T>> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const headers: Record<string, string> = { accept: 'application/json' };
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  if (opts.token) headers.authorization = `Token ${opts.token}`;
  const started = performance.now();
  try {
    // undici's own timers (no AbortSignal per call: at 1,000 calls a second they add up):
    // headers within the timeout, then no gap longer than it in the body.
    const res = await clientFor(url.origin, opts.pinnedCert, opts.lane ?? 'work').request({
      method: opts.method ?? 'GET',
      path: `${url.pathname}${url.search}`,
      headers,
      body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    // The client refuses answers over MAX_ANSWER_BYTES (maxResponseSize).
    const text = await res.body.text();
    return {
      status: res.statusCode,
      body: parseBody(text) as T,
      latencyMs: performance.now() - started,
    };
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT')
      throw new AgentUnreachable(`no answer from ${url.origin} within ${timeoutMs} ms`);
    if (e.code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') throw new AgentUnreachable('agent answer too large');
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    throw new AgentUnreachable(`cannot reach ${url.origin}: ${cause ?? e.message}`);
  }
}

export function callAgent<T = unknown>(
  baseUrl: string,
  path: string,
  opts: AgentCallOptions = {},
): Promise<AgentResponse<T>> {
  const url = new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  const isHttps = url.protocol === 'https:';
  // A known agent: pooled. First contact over TLS must read the certificate: node:https below.
  if (!isHttps || opts.pinnedCert) return callPooled<T>(url, opts);
  const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
  const headers: Record<string, string> = { accept: 'application/json' };
  if (payload) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }
  if (opts.token) headers.authorization = `Token ${opts.token}`;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const common = { method: opts.method ?? 'GET', headers, timeout: opts.timeoutMs ?? 5000 };
    // Trust on first use: any certificate; the caller pins the one it gets.
    const req = https.request(url, { ...common, rejectUnauthorized: false, agent: false });
    req.on('timeout', () =>
      req.destroy(new AgentUnreachable(`no answer from ${url.origin} within ${common.timeout} ms`)),
    );
    req.on('error', (err) =>
      reject(
        err instanceof AgentUnreachable
          ? err
          : new AgentUnreachable(`cannot reach ${url.origin}: ${err.message}`),
      ),
    );
    req.on('response', (res) => {
      let peerCert: string | undefined;
      if (isHttps) {
        const cert = (res.socket as TLSSocket).getPeerCertificate?.();
        if (cert?.raw) peerCert = toPem(cert.raw);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) req.destroy(new AgentUnreachable('agent answer too large'));
        else chunks.push(c);
      });
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          body: parseBody(Buffer.concat(chunks).toString('utf8')) as T,
          peerCert,
          latencyMs: performance.now() - started,
        });
      });
      res.on('error', (err) => reject(new AgentUnreachable(err.message)));
    });
    if (payload) req.write(payload);
    req.end();
  });
}

/** A readable reason from an agent's error answer. */
export function agentErrorText(res: AgentResponse): string {
  const b = res.body as { detail?: unknown } | string | null;
  if (b && typeof b === 'object' && typeof b.detail === 'string')
    return `agent answered ${res.status}: ${b.detail}`;
  return `agent answered ${res.status}`;
}
