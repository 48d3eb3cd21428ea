// The agent's HTTP API, called by the manager. Everything but /hello and /pair needs a token:
// either the agent's own API token (printed once; what `PUT .../authorization/` takes for
// Spectra Analyze) or the token it handed to the manager it paired with.

import { spawn } from 'node:child_process';
import { createHash, createPublicKey, timingSafeEqual, verify } from 'node:crypto';
import { statfsSync } from 'node:fs';
import { freemem, loadavg, totalmem } from 'node:os';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  type AgentStatus,
  ApplyRequest,
  type ApplyResult,
  type ConfigAnswer,
  ConnectorConfigRequest,
  type ConnectorState,
  type EventsAnswer,
  EventsQuery,
  type FieldResult,
  type Hello,
  type IdentityAnswer,
  type PairAnswer,
  PairRequest,
} from '../contract/agent-protocol.js';
import { keepStoredSecrets, maskLeftovers, redirectedSecrets } from '../contract/connector-secrets.js';
import {
  CONNECTOR_NAMES,
  type ConnectorName,
  canonicalJson,
  checkValue,
  fieldDef,
  pairingMessage,
  unsupportedReason,
} from '../contract/fleet-fields.js';
import { issueSecret } from '../contract/token-codec.js';
import { registerLicenceAndCertificateRoutes } from './licence.js';
import { type AgentState, digestSecret } from './state.js';
import { registerUpgradeRoutes } from './upgrade.js';
import { accepts, protocolErrorAnswers, sendError } from './validate.js';

export interface AgentServerOptions {
  state: AgentState;
  /** `sha256:<hex>` fingerprint of the manager's key, or its URL; absent: trust on first use. */
  trustManager?: string | undefined;
  /** Executable run after a configuration is written (argument: the config file path). */
  reloadHook?: string | undefined;
  https?: { key: string; cert: string } | undefined;
  logger?: boolean;
}

const PAIR_WINDOW_MS = 5 * 60 * 1000;

export function hashContent(content: unknown): string {
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

/**
 * The status's validator: it changes when anything the manager acts on changes (identity, release,
 * health, the running configuration, the newest event), not with the load figures, so it is weak
 * (`W/`): two answers with one tag may differ in those figures. The manager polls with
 * `If-None-Match` between its telemetry refreshes and gets a 304 without a body while the tag
 * holds (contract/agent-protocol.ts, AGENT_PROTOCOL.status).
 */
export function statusTag(s: AgentStatus): string {
  const significant = [s.uuid, s.name, s.hostname, s.type, s.release, s.health, s.config, s.last_event_id];
  return `W/"${createHash('sha256').update(JSON.stringify(significant)).digest('base64url').slice(0, 22)}"`;
}

/** Whether an If-None-Match header names `tag` (weak comparison, RFC 9110 13.1.2; `*` matches). */
export function noneMatchHits(header: string | undefined, tag: string): boolean {
  if (!header) return false;
  const opaque = (t: string) => t.trim().replace(/^W\//, '');
  const wanted = opaque(tag);
  return header.split(',').some((t) => t.trim() === '*' || opaque(t) === wanted);
}

export function managerFingerprint(publicKeyDerBase64: string): string {
  return `sha256:${createHash('sha256').update(Buffer.from(publicKeyDerBase64, 'base64')).digest('hex')}`;
}

function sameDigest(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

function tokenOf(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  if (!h) return undefined;
  const m = /^(?:Token|Bearer)\s+(\S+)$/i.exec(h);
  return m?.[1];
}

function fail(reply: FastifyReply, status: number, code: string, detail: string) {
  return sendError(reply, status, { code, detail });
}

function isFingerprint(v: string): boolean {
  return /^sha256:[0-9a-f]{64}$/i.test(v) || /^([0-9a-f]{2}:){31}[0-9a-f]{2}$/i.test(v);
}

function normalizeFingerprint(v: string): string {
  return v.startsWith('sha256:') ? v.toLowerCase() : `sha256:${v.replace(/:/g, '').toLowerCase()}`;
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

function runHook(hook: string, configPath: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn(hook, [configPath], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-500);
    });
    child.on('error', (err) => resolve(`reload hook could not run: ${err.message}`));
    child.on('close', (code, signal) => {
      if (code === 0) resolve(undefined);
      else resolve(`reload hook failed (${signal ?? `exit ${code}`})${stderr ? `: ${stderr.trim()}` : ''}`);
    });
  });
}

export async function buildAgentServer(opts: AgentServerOptions): Promise<FastifyInstance> {
  const { state } = opts;
  const started = Date.now();
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: 1024 * 1024,
    ...(opts.https ? { https: opts.https } : {}),
    routerOptions: { ignoreTrailingSlash: true },
  });

  protocolErrorAnswers(app);
  state.logTo(app.log);

  // Apply is serialised: two overlapping applies must not interleave their writes.
  let applyChain: Promise<unknown> = Promise.resolve();

  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    if (path === '/agent/v1/hello' || path === '/agent/v1/pair') return;
    const token = tokenOf(request);
    if (!token) return fail(reply, 401, 'unauthenticated', 'send "Authorization: Token <agent token>"');
    const digest = digestSecret(token);
    const s = state.secrets();
    const ok =
      sameDigest(digest, s.api_token_digest) ||
      (s.manager !== null && sameDigest(digest, s.manager.token_digest));
    if (!ok) return fail(reply, 401, 'invalid_token', 'token is not valid for this agent');
  });

  app.get('/agent/v1/hello', async (): Promise<Hello> => {
    const id = state.identity;
    return { uuid: id.uuid, type: id.type, release: id.release, paired: state.secrets().manager !== null };
  });

  app.post('/agent/v1/pair', async (request, reply) => {
    const body = request.body;
    if (!accepts(reply, PairRequest, body, 'body')) return reply;
    const { public_key, manager_url, timestamp, nonce, signature } = body;
    const at = Date.parse(timestamp);
    if (!Number.isFinite(at) || Math.abs(Date.now() - at) > PAIR_WINDOW_MS) {
      return fail(reply, 400, 'validation_failed', 'timestamp is missing or more than 5 minutes off');
    }
    let valid = false;
    try {
      const key = createPublicKey({ key: Buffer.from(public_key, 'base64'), format: 'der', type: 'spki' });
      valid = verify(
        null,
        Buffer.from(pairingMessage(state.identity.uuid, timestamp, nonce)),
        key,
        Buffer.from(signature, 'base64'),
      );
    } catch {
      valid = false;
    }
    if (!valid) return fail(reply, 401, 'invalid_signature', 'pairing signature does not verify');
    const fingerprint = managerFingerprint(public_key);
    const secrets = state.secrets();
    // The holder of the agent's own API token (Spectra Analyze authorization) is trusted by
    // definition: it may pair, and re-pair, whatever --manager says.
    const bearer = tokenOf(request);
    const byToken = bearer !== undefined && sameDigest(digestSecret(bearer), secrets.api_token_digest);
    // The trust decision: a pinned fingerprint, a pinned URL, or the manager already paired;
    // with none of these, the first manager that asks is trusted (TOFU, see docs/fleet.md).
    const trust = opts.trustManager;
    if (!byToken && secrets.manager && secrets.manager.fingerprint !== fingerprint) {
      return fail(reply, 403, 'not_trusted', 'this agent is paired with another manager');
    }
    if (!byToken && trust && isFingerprint(trust) && normalizeFingerprint(trust) !== fingerprint) {
      return fail(reply, 403, 'not_trusted', 'this manager is not the one this agent was told to trust');
    }
    if (!byToken && trust && !isFingerprint(trust)) {
      const want = originOf(trust);
      const got = typeof manager_url === 'string' ? originOf(manager_url) : undefined;
      if (!want || want !== got) {
        return fail(reply, 403, 'not_trusted', 'this manager is not the one this agent was told to trust');
      }
    }
    const issued = issueSecret('appliance');
    state.saveSecrets({
      ...secrets,
      manager: {
        fingerprint,
        public_key,
        url: typeof manager_url === 'string' ? manager_url : null,
        token_digest: issued.digest,
        paired_at: new Date().toISOString(),
      },
    });
    state.addEvent({
      kind: 'agent.paired',
      severity: 'info',
      message: `paired with manager ${fingerprint.slice(0, 23)}…`,
    });
    const answer: PairAnswer = { token: issued.token, identity: state.identity, fingerprint };
    return answer;
  });

  app.get(
    '/agent/v1/identity',
    async (): Promise<IdentityAnswer> => ({
      ...state.identity,
      manager: state.secrets().manager?.fingerprint ?? null,
    }),
  );

  app.get('/agent/v1/status', async (request, reply): Promise<AgentStatus | FastifyReply> => {
    const id = state.identity;
    const cfg = state.config();
    let disk = { total: 0, free: 0, used_percent: 0 };
    try {
      const fs = statfsSync(state.dataDir);
      const total = fs.blocks * fs.bsize;
      const free = fs.bavail * fs.bsize;
      disk = { total, free, used_percent: total > 0 ? Math.round(((total - free) / total) * 1000) / 10 : 0 };
    } catch {
      // statfs is not available everywhere; report zeros rather than fail the status call.
    }
    const status: AgentStatus = {
      uuid: id.uuid,
      name: id.name,
      hostname: id.hostname,
      type: id.type,
      release: id.release,
      health: disk.used_percent > 95 ? 'degraded' : 'ok',
      uptime_seconds: Math.round((Date.now() - started) / 1000),
      load: loadavg(),
      memory: { total: totalmem(), free: freemem() },
      disk,
      config: { revision: cfg.revision, hash: hashContent(cfg.content), applied_at: cfg.applied_at },
      last_event_id: state.lastEventId(),
    };
    const tag = statusTag(status);
    reply.header('etag', tag);
    if (noneMatchHits(request.headers['if-none-match'], tag)) return reply.code(304).send();
    return status;
  });

  app.get('/agent/v1/config', async (): Promise<ConfigAnswer> => {
    const cfg = state.config();
    return {
      revision: cfg.revision,
      applied_at: cfg.applied_at,
      hash: hashContent(cfg.content),
      content: cfg.content,
    };
  });

  app.put('/agent/v1/config', async (request, reply) => {
    const body = request.body;
    if (!accepts(reply, ApplyRequest, body, 'body')) return reply;
    const { revision, content } = body;
    const run = async (): Promise<ApplyResult> => {
      const id = state.identity;
      const results: Record<string, FieldResult> = {};
      const accepted: Record<string, unknown> = {};
      let errors = 0;
      for (const [name, value] of Object.entries(content)) {
        const def = fieldDef(name);
        if (!def) {
          results[name] = { status: 'unsupported', message: 'unknown field on this agent' };
          continue;
        }
        const reason = unsupportedReason(def, id.type, id.release);
        if (reason) {
          results[name] = { status: 'unsupported', message: reason };
          continue;
        }
        const bad = checkValue(def, value);
        if (bad) {
          results[name] = { status: 'error', message: bad };
          errors++;
          continue;
        }
        if (value !== null) accepted[name] = value;
        results[name] = { status: 'applied' };
      }
      const before = state.config();
      if (errors > 0) {
        // All or nothing: a half-applied configuration is worse than the last good one.
        for (const [name, r] of Object.entries(results)) {
          if (r.status === 'applied')
            results[name] = { status: 'error', message: 'not applied: other fields have errors' };
        }
        state.addEvent({
          kind: 'config.rejected',
          severity: 'error',
          message: `configuration revision ${revision} rejected: ${errors} invalid field(s)`,
        });
        return { revision: before.revision ?? 0, hash: hashContent(before.content), results };
      }
      const applied = { revision, applied_at: new Date().toISOString(), content: accepted };
      await state.saveConfig(applied);
      const out: ApplyResult = { revision, hash: hashContent(accepted), results };
      if (opts.reloadHook) {
        const hookError = await runHook(opts.reloadHook, state.configPath);
        if (hookError) out.reload_error = hookError;
      }
      const unsupported = Object.values(results).filter((r) => r.status === 'unsupported').length;
      state.addEvent({
        kind: out.reload_error ? 'config.reload_failed' : 'config.applied',
        severity: out.reload_error ? 'error' : unsupported > 0 ? 'warning' : 'info',
        message: out.reload_error
          ? `configuration revision ${revision} written, ${out.reload_error}`
          : `configuration revision ${revision} applied${unsupported > 0 ? ` (${unsupported} unsupported field(s) skipped)` : ''}`,
      });
      return out;
    };
    const p = applyChain.then(run, run);
    applyChain = p.catch(() => undefined); // not dropped: `p` carries the failure to this request
    return p;
  });

  const connectorGuard = (name: string, reply: FastifyReply): name is ConnectorName => {
    if (!(CONNECTOR_NAMES as readonly string[]).includes(name)) {
      void fail(reply, 404, 'not_found', `unknown connector ${name}`);
      return false;
    }
    if (state.identity.type !== 'tiscale-hub') {
      void fail(reply, 409, 'conflict', 'connectors run on hubs only');
      return false;
    }
    return true;
  };

  const connectorState = (name: ConnectorName): ConnectorState =>
    state.connectors()[name] ?? { enabled: false, config: {}, updated: null };

  app.get<{ Params: { name: string } }>('/agent/v1/connectors/:name', async (request, reply) => {
    const name = request.params.name;
    if (!connectorGuard(name, reply)) return reply;
    return connectorState(name);
  });

  app.post<{ Params: { name: string } }>('/agent/v1/connectors/:name/enable', async (request, reply) => {
    const name = request.params.name;
    if (!connectorGuard(name, reply)) return reply;
    const all = state.connectors();
    const cur = connectorState(name);
    all[name] = { ...cur, enabled: true, updated: new Date().toISOString() };
    state.saveConnectors(all);
    state.addEvent({ kind: 'connector.enabled', severity: 'info', message: `connector ${name} enabled` });
    return all[name];
  });

  app.put<{ Params: { name: string } }>('/agent/v1/connectors/:name/config', async (request, reply) => {
    const name = request.params.name;
    if (!connectorGuard(name, reply)) return reply;
    const body = request.body;
    if (!accepts(reply, ConnectorConfigRequest, body, 'body')) return reply;
    const all = state.connectors();
    const cur = connectorState(name);
    // Secrets are write-only: those the body leaves out (or marks `<name>_set: true`) are kept.
    // A masked value that is not exactly what a read showed would store the placeholder.
    const leftovers = maskLeftovers(body, cur.config);
    if (leftovers.length > 0) {
      return fail(reply, 400, 'validation_failed', `masked value changed: ${leftovers.join(', ')}`);
    }
    // A kept secret never follows a destination (host, URL, account) the body changed.
    const redirected = redirectedSecrets(body, cur.config);
    if (redirected.length > 0) {
      return fail(
        reply,
        400,
        'validation_failed',
        `secret kept for a changed destination: ${redirected.join(', ')}`,
      );
    }
    const config = keepStoredSecrets(body, cur.config);
    all[name] = { ...cur, config, updated: new Date().toISOString() };
    state.saveConnectors(all);
    state.addEvent({
      kind: 'connector.configured',
      severity: 'info',
      message: `connector ${name} configured`,
    });
    return all[name];
  });

  app.get('/agent/v1/events', async (request, reply) => {
    const query = request.query;
    if (!accepts(reply, EventsQuery, query, 'query')) return reply;
    const after = Number.parseInt(query.after ?? '0', 10) || 0;
    const limit = Math.min(500, Number.parseInt(query.limit ?? '100', 10) || 100);
    const answer: EventsAnswer = { events: state.events(after, limit), last_event_id: state.lastEventId() };
    return answer;
  });

  registerUpgradeRoutes(app, state, (release) => state.setRelease(release));
  registerLicenceAndCertificateRoutes(app, state, opts.https !== undefined);
  return app;
}
