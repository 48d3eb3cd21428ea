// The manager's client for agent APIs, with hard timeouts. Over TLS the agent's self-signed
// certificate is pinned: the first contact (authorization) records it, and later calls trust
// that one certificate only (`ca` = the pinned certificate), so a different machine answering at
// the same URL is refused.
//
// Calls to a known agent (pinned certificate, or plain HTTP) keep their connection alive, so
// health polling reuses it instead of paying a TCP (and TLS) handshake every round. Two lanes,
// each an undici Client (one connection) per agent, so a long upload never holds up a poll:
// - `poll` (the health job's short GETs), kept while the appliance is polled (5 minutes idle).
//   A GET sent on a kept-alive connection that the agent closed meanwhile (its idle timeout, a
//   restart) fails with a reset; a poll is sent once more on a new connection then, so such a
//   race never marks a live appliance offline. A failure on a fresh connection is not retried.
// - `work` (applies, upgrades, connectors, pairing), closed 10 s after its last call: rarely
//   reused, and a connection per agent kept after a fleet-wide apply or a burst of pairings is
//   memory the heap keeps long after (~6 KB each, on top of the poll lane).
// Answers are read through undici's dispatch handler into one buffer, not through a response
// stream. Measured at 1,500 polls a second over three replicas (docs/benchmarks.md, issue 17):
// this lane costs ~13 % less CPU than Node's keep-alive agent did, for ~3 KB more heap per
// appliance. Idle sockets never keep the process alive. The first contact, which must read the
// certificate the agent presents, uses node:https once.
//
// Network policy (docs/fleet.md): with `policy`, every call checks where it goes. An IP address in
// the URL is checked before the call; a host name is resolved by a lookup hook on each new
// connection, which hands the socket only the addresses the policy allows, so the address checked
// is the address connected to (no DNS rebinding between a check and the connect). A new policy
// drops every kept-alive connection made under the old one.
//
// The agent protocol (contract/agent-protocol.ts): a call is one of its endpoints, and what the
// agent answers is checked against it. A success answer that does not match fails the call as
// `not_a_steward_agent` (an AgentUnreachable, caught wherever a failed call is: that appliance's
// error, never a crash); an error answer not in the protocol's error shape reaches the caller with
// no body, so nothing the remote end wrote outside the protocol is passed on.
//
// Past ~400 lines on purpose: the two lanes, certificate pinning and the network policy share
// module-level connection state (the clients of both lanes, the policy they were checked
// under), and a new policy must drop both lanes at once; cut apart, that state would be spread
// over modules that each reach into the others.

import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { buildConnector, Client, type Dispatcher } from 'undici';
import { type AgentEndpoint, AgentError, findAgentEndpoint } from '../../../contract/agent-protocol.js';
import { protocolErrors, protocolErrorText, validatorOf } from '../../../contract/schema-check.js';
import type { AddressPolicy } from '../../shared/address-policy.js';

export interface AgentCallOptions {
  method?: 'GET' | 'POST' | 'PUT';
  token?: string | undefined;
  body?: unknown;
  /** PEM of the pinned certificate; absent on first contact (trust on first use). */
  pinnedCert?: string | null | undefined;
  timeoutMs?: number;
  /** `poll`: the health job's short calls, on a connection of their own. Default `work`. */
  lane?: 'poll' | 'work';
  /** The networks the call may go to; absent: anywhere (only the agent-client tests). */
  policy?: AddressPolicy | undefined;
  /** A conditional call (AgentEndpoint.conditional): the tag of the answer the caller holds. */
  ifNoneMatch?: string | undefined;
}

export interface AgentResponse<T = unknown> {
  status: number;
  body: T;
  /** PEM of the certificate the agent presented (TLS only). */
  peerCert?: string | undefined;
  /** The answer's `ETag`, when the agent sent one. */
  etag?: string | undefined;
  latencyMs: number;
}

/**
 * Why a call got no usable answer: `unreachable` (refused, reset, timed out, not HTTP, too large),
 * `tls` (the handshake or the pinned certificate failed), `refused_by_policy` (the address is
 * outside the appliance networks; nothing was sent), `not_a_steward_agent` (a success answer
 * that the agent protocol does not allow).
 */
export type UnreachableReason = 'unreachable' | 'tls' | 'refused_by_policy' | 'not_a_steward_agent';

export class AgentUnreachable extends Error {
  override name = 'AgentUnreachable';
  readonly reason: UnreachableReason;
  constructor(message: string, reason: UnreachableReason = 'unreachable') {
    super(message);
    this.reason = reason;
  }
}

/** Raised inside the lookup hook; carried out of node:http and undici as the connect error. */
class RefusedByPolicy extends Error {
  readonly code = 'STEWARD_REFUSED_BY_POLICY';
}

const refusedMessage = (host: string) => `${host} is outside the appliance networks the manager may call`;

/** What kind of failure a connect or request error is (its cause chain included). */
function reasonOf(err: unknown): UnreachableReason {
  for (let e = err as (Error & { code?: string; cause?: unknown }) | undefined; e; e = e.cause as typeof e) {
    if (e instanceof RefusedByPolicy || e.code === 'STEWARD_REFUSED_BY_POLICY') return 'refused_by_policy';
    const code = String(e.code ?? '');
    if (
      code.startsWith('ERR_SSL') ||
      code.startsWith('ERR_TLS') ||
      code === 'EPROTO' ||
      /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code) ||
      /\b(SSL|TLS)\b|certificate/i.test(e.message ?? '')
    )
      return 'tls';
  }
  return 'unreachable';
}

/** A lookup hook that resolves a host name and keeps only the addresses the policy allows. */
function policyLookup(policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(
      hostname,
      { family: options.family ?? 0, hints: options.hints ?? 0, all: true },
      (err, found) => {
        const cb = callback as (e: Error | null, a: string | LookupAddress[], f?: number) => void;
        if (err) return cb(err, '', 0);
        const allowed = (found as LookupAddress[]).filter((a) => policy.allows(a.address));
        if (allowed.length === 0) return cb(new RefusedByPolicy(refusedMessage(hostname)), '', 0);
        if (options.all) return cb(null, allowed);
        const first = allowed[0] as LookupAddress;
        return cb(null, first.address, first.family);
      },
    );
  };
}

const lookups = new WeakMap<AddressPolicy, LookupFunction>();
function lookupFor(policy: AddressPolicy | undefined): LookupFunction | undefined {
  if (!policy) return undefined;
  let l = lookups.get(policy);
  if (!l) {
    l = policyLookup(policy);
    lookups.set(policy, l);
  }
  return l;
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
/** How long an unused connection is kept, per lane (see the top of this file). */
const IDLE_MS = { poll: 5 * 60 * 1000, work: 10 * 1000 } as const;
const SWEEP_MS = 5 * 1000;
type Lane = keyof typeof IDLE_MS;

/** The policy the kept-alive connections were checked under. */
let connectionsPolicy: AddressPolicy | undefined;

/**
 * Lets an idle or superseded client go. Not logged: close() waits for requests still running
 * (their callers hear their own errors) and rejects only for a client already closed or
 * destroyed, which is what we want of it anyway.
 */
function closeQuietly(client: Client): void {
  void client.close().catch(() => undefined);
}

interface ClientEntry {
  client: Client;
  pinnedCert: string | null;
  lastUsed: number;
  /** Answers completed on the client's current connection (0: none yet, or no connection). */
  served: number;
}
/**
 * One undici Client (one connection, kept alive) per agent and lane. A Client, not a Pool: a Pool
 * costs ~20 KB more per agent.
 */
const clients: Record<Lane, Map<string, ClientEntry>> = { poll: new Map(), work: new Map() };

/** A new policy: connections checked under the old one are not reused. */
function adoptPolicy(policy: AddressPolicy | undefined) {
  if (policy === connectionsPolicy) return;
  connectionsPolicy = policy;
  for (const lane of Object.values(clients)) {
    for (const e of lane.values()) closeQuietly(e.client);
    lane.clear();
  }
}

/**
 * One connector for every plain-HTTP client: by default each undici Client builds its own (a
 * closure, its options and a TLS session cache with a FinalizationRegistry), ~0.5 KB per agent
 * kept for nothing over HTTP. Pinned TLS clients keep a connector of their own (the pinned
 * certificate is their `ca`), with room for the one session they resume.
 */
const CONNECT_TIMEOUT_MS = 5000;
const plainConnect = buildConnector({ timeout: CONNECT_TIMEOUT_MS, maxCachedSessions: 0 });
const plainConnects = new WeakMap<AddressPolicy, buildConnector.connector>();
function plainConnectFor(policy: AddressPolicy | undefined) {
  if (!policy) return plainConnect;
  let c = plainConnects.get(policy);
  if (!c) {
    c = buildConnector({ timeout: CONNECT_TIMEOUT_MS, maxCachedSessions: 0, lookup: lookupFor(policy) });
    plainConnects.set(policy, c);
  }
  return c;
}
let sweeper: NodeJS.Timeout | undefined;

function sweep() {
  const now = Date.now();
  for (const lane of ['poll', 'work'] as const) {
    for (const [key, e] of clients[lane]) {
      if (now - e.lastUsed > IDLE_MS[lane]) {
        clients[lane].delete(key);
        closeQuietly(e.client);
      }
    }
  }
  if (clients.poll.size === 0 && clients.work.size === 0 && sweeper) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

function clientFor(
  lane: Lane,
  origin: string,
  pinnedCert: string | null | undefined,
  policy?: AddressPolicy,
): ClientEntry {
  const pin = pinnedCert ?? null;
  const map = clients[lane];
  let e = map.get(origin);
  if (e && e.pinnedCert !== pin) {
    // A new certificate was pinned: connections made under the old one go.
    closeQuietly(e.client);
    e = undefined;
  }
  if (!e) {
    const client = new Client(origin, {
      pipelining: 1,
      // A poll connection is used every polling interval; the agent's own keep-alive hint,
      // when shorter, wins (undici honours it).
      keepAliveTimeout: lane === 'poll' ? IDLE_MS.poll : 60_000,
      keepAliveMaxTimeout: 10 * 60_000,
      maxResponseSize: MAX_ANSWER_BYTES,
      connect: origin.startsWith('https:')
        ? {
            timeout: CONNECT_TIMEOUT_MS,
            maxCachedSessions: 1,
            ...(policy ? { lookup: lookupFor(policy) } : {}),
            // Pinned: only this exact certificate is trusted; the host name is not what we check.
            ...(pin ? { ca: pin, checkServerIdentity: () => undefined, rejectUnauthorized: true } : {}),
          }
        : plainConnectFor(policy),
    });
    const entry: ClientEntry = { client, pinnedCert: pin, lastUsed: 0, served: 0 };
    // A new connection, or none: nothing answered on it yet (see `retryable`).
    const reset = () => {
      entry.served = 0;
    };
    client.on('connect', reset).on('disconnect', reset);
    e = entry;
    map.set(origin, e);
    if (!sweeper) {
      sweeper = setInterval(sweep, SWEEP_MS);
      sweeper.unref();
    }
  }
  e.lastUsed = Date.now();
  return e;
}

function parseBody(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text; // Not JSON: keep the text for the error message.
  }
}

/**
 * One request on a client, its answer read into one buffer (the client refuses answers over
 * MAX_ANSWER_BYTES). On failure, `reused` tells whether the connection it went out on had
 * answered before: such a connection may have been closed by the agent as the request went out.
 */
function dispatchBuffered(
  entry: ClientEntry,
  options: Dispatcher.DispatchOptions,
): Promise<{ status: number; text: string; etag: string | undefined }> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let etag: string | undefined;
    let chunks: Buffer[] = [];
    entry.client.dispatch(options, {
      // Present so that undici takes this for a handler of its current interface.
      onRequestStart() {},
      onResponseStart(_controller, statusCode, headers) {
        status = statusCode;
        etag = typeof headers.etag === 'string' ? headers.etag : undefined;
        chunks = [];
      },
      onResponseData(_controller, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        entry.served++;
        const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
        resolve({ status, text: body.toString('utf8'), etag });
      },
      onResponseError(_controller, err) {
        // Read now: the client reports the failed request before it forgets the connection.
        reject(Object.assign(err, { reused: entry.served > 0 }));
      },
    });
  });
}

/** A GET on a kept-alive connection that the peer closed as it went out: safe to send again. */
function retryable(err: unknown): boolean {
  const e = err as Error & { code?: string; reused?: boolean };
  return e.reused === true && (e.code === 'UND_ERR_SOCKET' || e.code === 'ECONNRESET');
}

async function callClient<T>(target: Target, opts: AgentCallOptions, lane: Lane): Promise<AgentResponse<T>> {
  const { origin } = target;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const headers: Record<string, string> = { accept: 'application/json' };
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  if (opts.token) headers.authorization = `Token ${opts.token}`;
  if (opts.ifNoneMatch) headers['if-none-match'] = opts.ifNoneMatch;
  const options: Dispatcher.DispatchOptions = {
    method: opts.method ?? 'GET',
    path: target.requestPath,
    headers,
    body,
    // undici's own timers (no AbortSignal per call: at 1,500 calls a second they add up):
    // headers within the timeout, then no gap longer than it in the body.
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  };
  const started = performance.now();
  const attempt = () => dispatchBuffered(clientFor(lane, origin, opts.pinnedCert, opts.policy), options);
  try {
    let res: { status: number; text: string; etag: string | undefined };
    try {
      res = await attempt();
    } catch (err) {
      // Polls are GETs: sending one twice is harmless. Once, and only on a reused connection.
      if (lane !== 'poll' || options.method !== 'GET' || !retryable(err)) throw err;
      res = await attempt();
    }
    return {
      status: res.status,
      body: parseBody(res.text) as T,
      etag: res.etag,
      latencyMs: performance.now() - started,
    };
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT')
      throw new AgentUnreachable(`no answer from ${origin} within ${timeoutMs} ms`);
    if (e.code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') throw new AgentUnreachable('agent answer too large');
    const reason = reasonOf(e);
    if (reason === 'refused_by_policy') throw new AgentUnreachable(refusedMessage(target.host), reason);
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    throw new AgentUnreachable(`cannot reach ${origin}: ${cause ?? e.message}`, reason);
  }
}

/** The first contact over TLS, through node:https: reads the certificate the agent presents. */
function firstContact<T>(url: URL, opts: AgentCallOptions): Promise<AgentResponse<T>> {
  const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
  const headers: Record<string, string> = { accept: 'application/json' };
  if (payload) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }
  if (opts.token) headers.authorization = `Token ${opts.token}`;
  const timeout = opts.timeoutMs ?? 5000;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const lookup = lookupFor(opts.policy);
    // Trust on first use: any certificate; the caller pins the one it gets.
    const req = https.request(url, {
      agent: false,
      rejectUnauthorized: false,
      ...(lookup ? { lookup } : {}),
      method: opts.method ?? 'GET',
      headers,
      timeout,
    });
    req.on('timeout', () =>
      req.destroy(new AgentUnreachable(`no answer from ${url.origin} within ${timeout} ms`)),
    );
    req.on('error', (err: Error & { code?: string }) => {
      if (err instanceof AgentUnreachable) reject(err);
      else if (reasonOf(err) === 'refused_by_policy')
        reject(new AgentUnreachable(refusedMessage(url.hostname), 'refused_by_policy'));
      else reject(new AgentUnreachable(`cannot reach ${url.origin}: ${err.message}`, reasonOf(err)));
    });
    req.on('response', (res: IncomingMessage) => {
      const peerCert = (res.socket as TLSSocket).getPeerCertificate?.()?.raw;
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
          peerCert: peerCert ? toPem(peerCert) : undefined,
          latencyMs: performance.now() - started,
        });
      });
      res.on('error', (err) =>
        reject(
          err instanceof AgentUnreachable
            ? err
            : new AgentUnreachable(`cannot reach ${url.origin}: ${err.message}`),
        ),
      );
    });
    if (payload) req.write(payload);
    req.end();
  });
}

/** How much of the protocol errors an answer has goes into the message (field names and rules only). */
const ANSWER_ERRORS_SHOWN = 3;

/** The answer as the protocol allows it (see the top of this file). */
function checkAnswer<T>(endpoint: AgentEndpoint, res: AgentResponse<T>): AgentResponse<T> {
  if (res.status >= 200 && res.status < 300) {
    const errors = protocolErrors(endpoint.answer, res.body, 'answer');
    if (errors.length === 0) return res;
    throw new AgentUnreachable(
      `the answer to ${endpoint.method} ${endpoint.path} does not follow the agent protocol: ` +
        protocolErrorText(errors.slice(0, ANSWER_ERRORS_SHOWN)),
      'not_a_steward_agent',
    );
  }
  return validatorOf(AgentError).Check(res.body) ? res : { ...res, body: null as T };
}

/**
 * Calls one endpoint of the agent protocol (`path` relative to the agent's base URL, query
 * allowed). Rejects with AgentUnreachable when no usable answer came; a path that is not in the
 * protocol is a programming error, refused before anything is sent.
 */
export function callAgent<T = unknown>(
  baseUrl: string,
  path: string,
  opts: AgentCallOptions = {},
): Promise<AgentResponse<T>> {
  const method = opts.method ?? 'GET';
  const endpoint = findAgentEndpoint(method, path);
  if (!endpoint) {
    return Promise.reject(
      new Error(
        `${method} ${path.split('?')[0]} is not a call of the agent protocol (contract/agent-protocol.ts)`,
      ),
    );
  }
  // A tag goes only to an endpoint that answers conditionally; a 304 (no body) reaches the caller.
  const sent = opts.ifNoneMatch && !endpoint.conditional ? { ...opts, ifNoneMatch: undefined } : opts;
  return send<T>(baseUrl, path, sent).then((res) => checkAnswer(endpoint, res));
}

/**
 * Where a call goes, parsed once per agent and path: at 1,500 polls a second, URL parsing adds up.
 * Strings only (~200 bytes an entry), and only paths without a query (the events cursor would
 * make a new entry every call).
 */
interface Target {
  href: string;
  origin: string;
  https: boolean;
  /** The host as written, brackets off an IPv6 literal; `ip`: whether it is an address. */
  host: string;
  ip: boolean;
  /** Path and query as sent. */
  requestPath: string;
}
const TARGETS_KEPT = 50_000;
const targets = new Map<string, Target>();

function parseTarget(baseUrl: string, path: string): Target {
  const url = new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return {
    href: url.href,
    origin: url.origin,
    https: url.protocol === 'https:',
    host,
    ip: isIP(host) !== 0,
    requestPath: `${url.pathname}${url.search}`,
  };
}

function targetOf(baseUrl: string, path: string): Target {
  if (path.includes('?')) return parseTarget(baseUrl, path);
  const key = `${baseUrl}\n${path}`;
  let t = targets.get(key);
  if (!t) {
    t = parseTarget(baseUrl, path);
    if (targets.size >= TARGETS_KEPT) targets.clear();
    targets.set(key, t);
  }
  return t;
}

function send<T>(baseUrl: string, path: string, opts: AgentCallOptions): Promise<AgentResponse<T>> {
  const target = targetOf(baseUrl, path);
  adoptPolicy(opts.policy);
  // An address in the URL is never looked up (the lookup hook does not run): checked here.
  if (opts.policy && target.ip && !opts.policy.allows(target.host)) {
    return Promise.reject(new AgentUnreachable(refusedMessage(target.host), 'refused_by_policy'));
  }
  // First contact over TLS must read the certificate.
  if (target.https && !opts.pinnedCert) return firstContact<T>(new URL(target.href), opts);
  return callClient<T>(target, opts, opts.lane ?? 'work');
}

/** What of an agent's `detail` is passed on: one line, control characters out, 300 characters. */
const AGENT_DETAIL_MAX = 300;

/**
 * A readable reason from an agent's error answer. The appliance's words reach API answers, events
 * and the audit log, so a broken or hostile agent gets one short line of printable text there
 * (no forged log lines, no megabyte messages).
 */
export function agentErrorText(res: AgentResponse): string {
  const b = res.body as { detail?: unknown } | string | null;
  if (b && typeof b === 'object' && typeof b.detail === 'string') {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
    const line = b.detail.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
    const cut = line.length > AGENT_DETAIL_MAX ? `${line.slice(0, AGENT_DETAIL_MAX)}…` : line;
    return `agent answered ${res.status}: ${cut}`;
  }
  return `agent answered ${res.status}`;
}
