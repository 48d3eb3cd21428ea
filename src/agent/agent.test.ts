// Unit tests of the agent: identity and token on first start, rotation, pairing trust, apply
// (per-field results, all or nothing, reload hook), and state that survives a restart.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT_PROTOCOL, type AgentStatus } from '../contract/agent-protocol.js';
import { pairingMessage } from '../contract/fleet-fields.js';
import { buildAgentServer, statusTag } from './server.js';
import { openAgentState, rotateAgentToken } from './state.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'steward-agent-unit-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function manager() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  return {
    pairBody(uuid: string, url: string | null = null) {
      const timestamp = new Date().toISOString();
      const nonce = randomBytes(8).toString('hex');
      const signature = sign(null, Buffer.from(pairingMessage(uuid, timestamp, nonce)), privateKey).toString(
        'base64',
      );
      return { public_key: pub, manager_url: url, timestamp, nonce, signature };
    },
  };
}

async function agentIn(dataDir: string, extra: Partial<Parameters<typeof buildAgentServer>[0]> = {}) {
  const { state, newToken } = openAgentState({ dataDir, type: 'tiscale-worker', defaultRelease: '5.3.0' });
  const app = await buildAgentServer({ state, ...extra });
  return { app, state, newToken };
}

const auth = (token: string) => ({ authorization: `Token ${token}` });

describe('agent identity and token', () => {
  it('makes an identity and a token on first start only; rotation replaces the token', async () => {
    const dir = tempDir();
    const first = await agentIn(dir);
    expect(first.newToken).toMatch(/^stwa[A-Za-z0-9]{38}$/);
    expect(readFileSync(join(dir, 'secrets.json'), 'utf8')).not.toContain(first.newToken as string);
    const again = await agentIn(dir);
    expect(again.newToken).toBeUndefined();
    expect(again.state.identity.uuid).toBe(first.state.identity.uuid);
    const ok = await again.app.inject({ url: '/agent/v1/identity', headers: auth(first.newToken as string) });
    expect(ok.statusCode).toBe(200);
    const rotated = rotateAgentToken(dir);
    const old = await again.app.inject({
      url: '/agent/v1/identity',
      headers: auth(first.newToken as string),
    });
    expect(old.statusCode).toBe(401);
    const fresh = await again.app.inject({ url: '/agent/v1/identity', headers: auth(rotated) });
    expect(fresh.statusCode).toBe(200);
    const none = await again.app.inject({ url: '/agent/v1/status' });
    expect(none.statusCode).toBe(401);
  });
});

describe('pairing', () => {
  it('trusts the first manager, then refuses another; a bad signature is refused', async () => {
    const { app, state } = await agentIn(tempDir());
    const m1 = manager();
    const m2 = manager();
    const forged = { ...m1.pairBody(state.identity.uuid), signature: Buffer.alloc(64).toString('base64') };
    expect((await app.inject({ method: 'POST', url: '/agent/v1/pair', payload: forged })).statusCode).toBe(
      401,
    );
    const wrongUuid = await app.inject({
      method: 'POST',
      url: '/agent/v1/pair',
      payload: m1.pairBody('someone-else'),
    });
    expect(wrongUuid.statusCode).toBe(401);
    const p1 = await app.inject({
      method: 'POST',
      url: '/agent/v1/pair',
      payload: m1.pairBody(state.identity.uuid),
    });
    expect(p1.statusCode).toBe(200);
    const managerToken = p1.json().token as string;
    expect((await app.inject({ url: '/agent/v1/status', headers: auth(managerToken) })).statusCode).toBe(200);
    const p2 = await app.inject({
      method: 'POST',
      url: '/agent/v1/pair',
      payload: m2.pairBody(state.identity.uuid),
    });
    expect(p2.statusCode).toBe(403);
    const repair = await app.inject({
      method: 'POST',
      url: '/agent/v1/pair',
      payload: m1.pairBody(state.identity.uuid),
    });
    expect(repair.statusCode).toBe(200);
  });

  it('with --manager set to a fingerprint or URL, pairs only with that manager', async () => {
    const m = manager();
    const byUrl = await agentIn(tempDir(), { trustManager: 'https://manager.example.com' });
    const wrongUrl = await byUrl.app.inject({
      method: 'POST',
      url: '/agent/v1/pair',
      payload: m.pairBody(byUrl.state.identity.uuid, 'https://evil.example.com'),
    });
    expect(wrongUrl.statusCode).toBe(403);
    const rightUrl = await byUrl.app.inject({
      method: 'POST',
      url: '/agent/v1/pair',
      payload: m.pairBody(byUrl.state.identity.uuid, 'https://manager.example.com/'),
    });
    expect(rightUrl.statusCode).toBe(200);
    const fp = rightUrl.json().fingerprint as string;
    const byFp = await agentIn(tempDir(), { trustManager: fp });
    const ok = await byFp.app.inject({
      method: 'POST',
      url: '/agent/v1/pair',
      payload: m.pairBody(byFp.state.identity.uuid),
    });
    expect(ok.statusCode).toBe(200);
    const other = await agentIn(tempDir(), { trustManager: fp });
    const refused = await other.app.inject({
      method: 'POST',
      url: '/agent/v1/pair',
      payload: manager().pairBody(other.state.identity.uuid),
    });
    expect(refused.statusCode).toBe(403);
  });
});

describe('apply configuration', () => {
  let app: FastifyInstance;
  let token: string;
  const dir = tempDir();

  it('reports a result per field, skips unsupported ones, and keeps the config across restarts', async () => {
    const a = await agentIn(dir);
    app = a.app;
    token = a.newToken as string;
    const res = await app.inject({
      method: 'PUT',
      url: '/agent/v1/config',
      headers: auth(token),
      payload: { revision: 3, content: { snmp__enable: true, hub__max_connections: 5, no__such: 1 } },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().results).toEqual({
      snmp__enable: { status: 'applied' },
      hub__max_connections: { status: 'unsupported', message: 'not supported on tiscale-worker' },
      no__such: { status: 'unsupported', message: 'unknown field on this agent' },
    });
    const restarted = await agentIn(dir);
    const status = await restarted.app.inject({ url: '/agent/v1/status', headers: auth(token) });
    expect(status.json().config).toMatchObject({ revision: 3, hash: res.json().hash });
  });

  it('applies all or nothing: one bad value leaves the previous configuration', async () => {
    const res = await app.inject({
      method: 'PUT',
      url: '/agent/v1/config',
      headers: auth(token),
      payload: { revision: 4, content: { snmp__enable: false, snmp__trap_disk_threshold: 500 } },
    });
    expect(res.json().results.snmp__trap_disk_threshold.status).toBe('error');
    expect(res.json().results.snmp__enable.status).toBe('error');
    const cfg = await app.inject({ url: '/agent/v1/config', headers: auth(token) });
    expect(cfg.json()).toMatchObject({ revision: 3, content: { snmp__enable: true } });
  });

  it('runs the reload hook and reports its failure', async () => {
    const hookDir = tempDir();
    const hook = join(hookDir, 'reload.sh');
    writeFileSync(hook, '#!/bin/sh\necho "cannot reload $1" >&2\nexit 3\n');
    chmodSync(hook, 0o755);
    const a = await agentIn(tempDir(), { reloadHook: hook });
    const res = await a.app.inject({
      method: 'PUT',
      url: '/agent/v1/config',
      headers: auth(a.newToken as string),
      payload: { revision: 1, content: { ntp__servers: ['pool.ntp.org', '10.0.0.1'] } },
    });
    expect(res.json().reload_error).toMatch(/exit 3.*cannot reload/);
  });
});

describe('conditional status (If-None-Match)', () => {
  it('answers 304 without a body while nothing the manager acts on changed, 200 when it did', async () => {
    const { app, state, newToken } = await agentIn(tempDir());
    const token = newToken as string;
    const status = (headers: Record<string, string> = {}) =>
      app.inject({ url: '/agent/v1/status', headers: { ...auth(token), ...headers } });
    const first = await status();
    expect(first.statusCode).toBe(200);
    const tag = first.headers.etag as string;
    expect(tag).toMatch(/^W\/"[A-Za-z0-9_-]{22}"$/);

    const same = await status({ 'if-none-match': tag });
    expect(same.statusCode).toBe(304);
    expect(same.body).toBe('');
    expect(same.headers.etag).toBe(tag);
    // Weak comparison, a list, and `*` match; another tag does not.
    expect((await status({ 'if-none-match': `"x", ${tag.slice(2)}` })).statusCode).toBe(304);
    expect((await status({ 'if-none-match': '*' })).statusCode).toBe(304);
    const other = await status({ 'if-none-match': 'W/"AAAAAAAAAAAAAAAAAAAAAA"' });
    expect(other.statusCode).toBe(200);
    expect(other.json().uuid).toBe(state.identity.uuid);

    // A new event: the manager must pull it, so the tag moves.
    state.addEvent({ kind: 'test.event', severity: 'info', message: 'something happened' });
    const afterEvent = await status({ 'if-none-match': tag });
    expect(afterEvent.statusCode).toBe(200);
    expect(afterEvent.json().last_event_id).toBeGreaterThan(first.json().last_event_id);
    const tag2 = afterEvent.headers.etag as string;
    expect(tag2).not.toBe(tag);

    // A new running configuration moves it too.
    const applied = await app.inject({
      method: 'PUT',
      url: '/agent/v1/config',
      headers: auth(token),
      payload: { revision: 7, content: { snmp__enable: true } },
    });
    expect(applied.statusCode).toBe(200);
    const afterApply = await status({ 'if-none-match': tag2 });
    expect(afterApply.statusCode).toBe(200);
    expect(afterApply.json().config.revision).toBe(7);

    // Without a token, a tag gets nothing.
    const anonymous = await app.inject({ url: '/agent/v1/status', headers: { 'if-none-match': '*' } });
    expect(anonymous.statusCode).toBe(401);
  });
});

describe('the status tag', () => {
  const base: AgentStatus = {
    uuid: '0b6c1a52-58a4-4f5e-9f0e-0d3c2f6b7a11',
    name: 'worker-1',
    hostname: 'worker-1.lab',
    type: 'tiscale-worker',
    release: '5.3.0',
    health: 'ok',
    uptime_seconds: 10,
    load: [0.1, 0.2, 0.3],
    memory: { total: 8, free: 4 },
    disk: { total: 100, free: 50, used_percent: 50 },
    config: { revision: 3, hash: 'a'.repeat(64), applied_at: '2026-12-07T00:00:00.000Z' },
    last_event_id: 5,
  };
  it('holds while only the load figures move', () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.array(fc.double({ noNaN: true }), { maxLength: 3 }),
        fc.nat(),
        fc.nat(),
        (uptime, load, free, diskFree) => {
          const moved = {
            ...base,
            uptime_seconds: uptime,
            load,
            memory: { total: 8, free },
            disk: { total: 100, free: diskFree, used_percent: 1 },
          };
          expect(statusTag(moved)).toBe(statusTag(base));
        },
      ),
    );
  });
  it('moves with anything the manager acts on', () => {
    const changes: Partial<AgentStatus>[] = [
      { uuid: '1b6c1a52-58a4-4f5e-9f0e-0d3c2f6b7a11' },
      { name: 'worker-2' },
      { hostname: 'other.lab' },
      { type: 'tiscale-hub' },
      { release: '5.4.0' },
      { health: 'degraded' },
      { config: { ...base.config, hash: 'b'.repeat(64) } },
      { config: { ...base.config, revision: 4 } },
      { config: { ...base.config, applied_at: '2026-12-07T00:00:01.000Z' } },
      { last_event_id: 6 },
    ];
    for (const change of changes) expect(statusTag({ ...base, ...change })).not.toBe(statusTag(base));
  });
});

describe('requests checked against the agent protocol', () => {
  it('refuses a wrong-typed or missing field with a 400 naming it, and changes nothing', async () => {
    const { app, newToken } = await agentIn(tempDir());
    const headers = auth(newToken as string);
    const applied = await app.inject({
      method: 'PUT',
      url: '/agent/v1/config',
      headers,
      payload: { revision: 1, content: { snmp__enable: true } },
    });
    expect(applied.statusCode).toBe(200);

    const wrongType = await app.inject({
      method: 'PUT',
      url: '/agent/v1/config',
      headers,
      payload: { revision: '2', content: { snmp__enable: false } },
    });
    expect(wrongType.statusCode).toBe(400);
    expect(wrongType.json()).toMatchObject({
      code: 'validation_failed',
      errors: [{ field: 'body.revision', message: expect.stringContaining('integer') }],
    });
    expect(wrongType.json().detail).toContain('body.revision');
    const notAnObject = await app.inject({
      method: 'PUT',
      url: '/agent/v1/config',
      headers,
      payload: { revision: 2, content: ['snmp__enable'] },
    });
    expect(notAnObject.statusCode).toBe(400);
    expect(notAnObject.json().errors.map((e: { field: string }) => e.field)).toEqual(['body.content']);
    const cfg = await app.inject({ url: '/agent/v1/config', headers });
    expect(cfg.json()).toMatchObject({ revision: 1, content: { snmp__enable: true } });

    const { nonce: _left, ...noNonce } = manager().pairBody('any');
    const pair = await app.inject({ method: 'POST', url: '/agent/v1/pair', payload: noNonce });
    expect(pair.statusCode).toBe(400);
    expect(pair.json().errors).toEqual([{ field: 'body.nonce', message: 'is required' }]);

    const events = await app.inject({ url: '/agent/v1/events?after=abc', headers });
    expect(events.statusCode).toBe(400);
    expect(events.json().errors[0].field).toBe('query.after');

    const csr = await app.inject({
      method: 'POST',
      url: '/agent/v1/certificate/request',
      headers,
      payload: { common_name: 'host.example.com', alt_names: 'not-a-list' },
    });
    expect(csr.statusCode).toBe(400);
    expect(csr.json().errors[0].field).toBe('body.alt_names');
  });

  it('answers unknown routes and unreadable bodies in the protocol error shape', async () => {
    const { app, newToken } = await agentIn(tempDir());
    const headers = auth(newToken as string);
    const missing = await app.inject({ url: '/agent/v1/nothing-here', headers });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ code: 'not_found', detail: 'no GET /agent/v1/nothing-here' });
    const garbled = await app.inject({
      method: 'PUT',
      url: '/agent/v1/config',
      headers: { ...headers, 'content-type': 'application/json' },
      payload: '{"revision": 1,',
    });
    expect(garbled.statusCode).toBe(400);
    expect(garbled.json()).toMatchObject({ code: 'validation_failed', detail: expect.any(String) });
  });
});

describe('the agent protocol table', () => {
  it('lists only calls the agent serves', async () => {
    const { app } = await agentIn(tempDir());
    for (const [name, e] of Object.entries(AGENT_PROTOCOL)) {
      expect(app.hasRoute({ method: e.method, url: `/${e.path}` }), name).toBe(true);
    }
  });
});
