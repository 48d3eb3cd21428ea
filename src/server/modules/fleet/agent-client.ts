// The manager's client for agent APIs. Plain node:http(s) with hard timeouts. Over TLS the
// agent's self-signed certificate is pinned: the first contact (authorization) records it, and
// later calls trust that one certificate only (`ca` = the pinned certificate), so a different
// machine answering at the same URL is refused.

import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface AgentCallOptions {
  method?: 'GET' | 'POST' | 'PUT';
  token?: string | undefined;
  body?: unknown;
  /** PEM of the pinned certificate; absent on first contact (trust on first use). */
  pinnedCert?: string | null | undefined;
  timeoutMs?: number;
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

const keepAliveHttp = new http.Agent({ keepAlive: true, maxSockets: 4 });

function toPem(raw: Buffer): string {
  const b64 =
    raw
      .toString('base64')
      .match(/.{1,64}/g)
      ?.join('\n') ?? '';
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

export function callAgent<T = unknown>(
  baseUrl: string,
  path: string,
  opts: AgentCallOptions = {},
): Promise<AgentResponse<T>> {
  const url = new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  const isHttps = url.protocol === 'https:';
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
    const req = isHttps
      ? https.request(url, {
          ...common,
          ...(opts.pinnedCert
            ? // Pinned: only this exact certificate is trusted; the host name is not what we check.
              { ca: opts.pinnedCert, checkServerIdentity: () => undefined, rejectUnauthorized: true }
            : { rejectUnauthorized: false }),
          agent: false,
        })
      : http.request(url, { ...common, agent: keepAliveHttp });
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
        if (size > 4 * 1024 * 1024) req.destroy(new AgentUnreachable('agent answer too large'));
        else chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : null;
        } catch {
          // Not JSON: keep the text for the error message.
        }
        resolve({
          status: res.statusCode ?? 0,
          body: body as T,
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
