// End to end: a manager with its health job running, a real agent process (TLS on, certificate
// pinned) and in-process agents, all on 127.0.0.1. Create, authorize, group, save, diff, apply,
// `done`; an unsupported field shows `unsupported`; a local edit shows `mismatch`; a killed
// agent goes offline and comes back with its configuration.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { createPublisher, multipartFile } from '../helpers/agent-package.js';
import { type AgentProcess, spawnAgent } from '../helpers/agent-spawn.js';
import { createTestContext, type TestContext } from '../helpers/app.js';

let t: TestContext;
let admin: Record<string, string>;
let workerProc: AgentProcess;
const workerDir = mkdtempSync(join(tmpdir(), 'steward-e2e-worker-'));
const inProcess: TestAgent[] = [];
const ids: Record<string, number> = {};

async function api(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown) {
  const res = await t.app.inject({
    method,
    url,
    headers: admin,
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const AGENT_PROCESS = join(import.meta.dirname, '../helpers/agent-process.ts');

const appliance = async (name: string) => (await api('GET', `/api/v1/appliances/${ids[name]}/`)).body;

beforeAll(async () => {
  t = await createTestContext({ jobIntervals: { fleetHealth: 150, fleetUpgradePoll: 50 } });
  admin = await t.adminHeaders();
  workerProc = await spawnAgent([
    '--type',
    'worker',
    '--listen',
    '127.0.0.1:0',
    '--data',
    workerDir,
    '--tls',
    'on',
    '--name',
    'w1',
  ]);
  inProcess.push(await startTestAgent({ type: 'tiscale-hub', name: 'h1' }));
  inProcess.push(await startTestAgent({ type: 'a1000', name: 'a1' }));
  inProcess.push(await startTestAgent({ type: 'tiscale-worker', name: 'old', release: '4.0.0' }));
});

afterAll(async () => {
  await t?.close();
  await workerProc?.kill('SIGKILL');
  for (const a of inProcess) await a.cleanup();
  rmSync(workerDir, { recursive: true, force: true });
});

describe('fleet end to end', () => {
  it('a real agent process prints its API token once and serves TLS', () => {
    expect(workerProc.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(workerProc.token).toMatch(/^stwa[A-Za-z0-9]{38}$/);
    expect(workerProc.output).toMatch(/TLS certificate: sha256:[0-9a-f]{64}/);
  });

  it('creates and authorizes a worker, a hub and an analyzer', async () => {
    const [hub, analyzer, old] = inProcess as [TestAgent, TestAgent, TestAgent];
    for (const [name, type, url] of [
      ['w1', 'tiscale-worker', workerProc.url],
      ['h1', 'tiscale-hub', hub.url],
      ['a1', 'a1000', analyzer.url],
      ['old', 'worker', old.url],
    ] as const) {
      const res = await api('POST', '/api/v1/appliances/create/', { name, type, url });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      ids[name] = res.body.id;
    }
    for (const name of ['w1', 'h1', 'old']) {
      const res = await api('GET', `/api/v1/appliances/${ids[name]}/authorization/`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    const a = await api('PUT', `/api/v1/appliances/${ids.a1}/authorization/`, { token: analyzer.token });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    const list = await api('GET', '/api/v1/appliances/?authorized=true');
    expect(list.body.count).toBe(4);
  });

  it('groups, saves, diffs and applies: done, and unsupported fields named per appliance', async () => {
    expect((await api('POST', '/api/v1/config-group/create/', { name: 'prod' })).status).toBe(201);
    expect(
      (await api('PUT', '/api/v1/config-group/save/prod/', { appliances: ['w1', 'a1', 'old'] })).status,
    ).toBe(200);
    const saved = await api('PATCH', '/api/v1/config-group/content/prod/', {
      content: {
        snmp__enable: true,
        snmp__community: 'fleet',
        analysis__strip_metadata: true,
        cloud__token: 'e2e-secret',
      },
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    expect((await appliance('w1')).configuration_status).toBe('changes_awaiting_apply');
    const diff = await api('GET', '/api/v1/config-group/diff/prod/');
    expect(diff.body.changes.map((c: { field: string }) => c.field).sort()).toEqual([
      'analysis__strip_metadata',
      'cloud__token',
      'snmp__community',
      'snmp__enable',
    ]);
    const applied = await api('PUT', '/api/v1/config-group/update/prod/', { applyconfiguration: [] });
    expect(applied.status).toBe(202);
    const settled = (name: string) =>
      eventually(`${name} to settle`, async () => {
        const a = await appliance(name);
        return a.configuration_status !== 'pending' && a;
      });
    const w1 = await settled('w1');
    expect(w1.configuration_status).toBe('done');
    const a1 = await settled('a1');
    expect(a1.configuration_status).toBe('unsupported');
    expect(Object.keys(a1.configuration_status_details.unsupported)).toEqual(['analysis__strip_metadata']);
    const old = await settled('old');
    expect(old.configuration_status).toBe('unsupported');
    expect(old.configuration_status_details.unsupported.analysis__strip_metadata).toMatch(/release 5\.0\.0/);
    const filtered = await api('GET', '/api/v1/appliances/?group_name=prod&configuration_status=unsupported');
    expect(filtered.body.results.map((r: { name: string }) => r.name).sort()).toEqual(['a1', 'old']);
    const onDisk = JSON.parse(readFileSync(join(workerDir, 'config.json'), 'utf8'));
    expect(onDisk).toMatchObject({
      revision: 1,
      content: { snmp__community: 'fleet', cloud__token: 'e2e-secret' },
    });
  });

  it('polls health: online, latency, system data, and the agent events as activities', async () => {
    await t.app.startJobs();
    const w1 = await eventually('system data', async () => {
      const a = await appliance('w1');
      return a.system_data?.disk && a;
    });
    expect(w1).toMatchObject({ online: true, status: 'online' });
    expect(typeof w1.latency).toBe('number');
    await eventually('agent events', async () => {
      const res = await api('GET', `/api/v1/activities/?appliance=${ids.w1}&kind=config.applied`);
      return res.body.results.some((e: { source: string }) => e.source === 'appliance');
    });
  });

  it('a configuration changed locally on the appliance shows mismatch, and done again when restored', async () => {
    const path = join(workerDir, 'config.json');
    const original = readFileSync(path, 'utf8');
    const edited = JSON.parse(original);
    edited.content.snmp__community = 'changed-by-hand';
    writeFileSync(path, JSON.stringify(edited));
    const m = await eventually('mismatch', async () => {
      const a = await appliance('w1');
      return a.configuration_status === 'mismatch' && a;
    });
    expect(m.configuration_status_details.running_hash).not.toBe(
      m.configuration_status_details.expected_hash,
    );
    writeFileSync(path, original);
    await eventually('done again', async () => (await appliance('w1')).configuration_status === 'done');
  });

  it('a killed agent goes offline (audited, listed) and comes back with its configuration', async () => {
    const port = new URL(workerProc.url).port;
    await workerProc.kill('SIGKILL');
    await eventually('offline', async () => (await appliance('w1')).online === false);
    const events = await api('GET', `/api/v1/activities/?appliance=${ids.w1}&kind=appliance.offline`);
    expect(events.body.count).toBeGreaterThanOrEqual(1);
    const audit = await t.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'appliance.offline')
      .execute();
    expect(audit.length).toBeGreaterThanOrEqual(1);
    workerProc = await spawnAgent([
      '--type',
      'worker',
      '--listen',
      `127.0.0.1:${port}`,
      '--data',
      workerDir,
      '--tls',
      'on',
    ]);
    expect(workerProc.token).toBeUndefined(); // printed on first start only
    const back = await eventually('online again', async () => {
      const a = await appliance('w1');
      return a.online && a;
    });
    expect(back.configuration_status).toBe('done');
    expect(back.system_data.running_config.revision).toBe(1);
  });

  it('an agent takes every setting from STEWARD_AGENT_* variables, and --help names them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'steward-e2e-env-'));
    const proc = await spawnAgent([], 20_000, {
      STEWARD_AGENT_TYPE: 'hub',
      STEWARD_AGENT_LISTEN: '127.0.0.1:0',
      STEWARD_AGENT_DATA: dir,
      STEWARD_AGENT_NAME: 'env-hub',
      STEWARD_AGENT_TLS: 'off',
      STEWARD_AGENT_RELEASE: '5.2.1',
    });
    try {
      expect(proc.output).toMatch(
        /steward agent tiscale-hub "env-hub" \(.+\) listening on http:\/\/127\.0\.0\.1:\d+/,
      );
      expect(proc.token).toMatch(/^stwa/);
      const hello = await fetch(`${proc.url}/agent/v1/hello`);
      expect(await hello.json()).toMatchObject({ type: 'tiscale-hub', release: '5.2.1' });
    } finally {
      await proc.kill();
      rmSync(dir, { recursive: true, force: true });
    }
    const help = await new Promise<string>((resolve) => {
      let out = '';
      const child = spawn(process.execPath, ['--import', 'tsx', AGENT_PROCESS, 'agent', '--help'], {
        env: { ...process.env, NODE_OPTIONS: '' },
      });
      child.stdout.on('data', (d) => {
        out += String(d);
      });
      child.on('exit', () => resolve(out));
    });
    for (const name of ['TYPE', 'LISTEN', 'DATA', 'NAME', 'TLS', 'MANAGER', 'RELOAD_HOOK', 'RELEASE'])
      expect(help).toContain(`STEWARD_AGENT_${name}`);
  });

  it('an agent told to trust another manager refuses to pair', async () => {
    const picky = await startTestAgent({ type: 'tiscale-worker', trustManager: `sha256:${'0'.repeat(64)}` });
    inProcess.push(picky);
    const created = await api('POST', '/api/v1/appliances/create/', {
      name: 'picky',
      type: 'worker',
      url: picky.url,
    });
    const res = await api('GET', `/api/v1/appliances/${created.body.id}/authorization/`);
    expect(res.status).toBe(409);
    expect((await appliance('w1')).authorized).toBe(true);
    const apply = await api('PUT', '/api/v1/config-group/save/prod/', {
      appliances: ['w1', 'a1', 'old', 'picky'],
    });
    expect(apply.status).toBe(200);
    const res2 = await api('PUT', '/api/v1/config-group/update/prod/', { applyconfiguration: ['picky'] });
    expect(res2.body.appliances[0].configuration_status).toBe('error');
  });

  it('an upgrade runs through its states, one at a time, and the agent reports the new release', async () => {
    const publisher = createPublisher(t.dataDir);
    const pkg = publisher.build(
      { type: 'tiscale-hub', version: '5.4.0', requires: '5.0.0' },
      '#!/bin/sh\necho "installing $STEWARD_UPGRADE_VERSION"\nsleep 0.5\necho done\n',
    );
    const form = multipartFile('file', 'hub-5.4.0.stwpkg', pkg);
    const up = await t.app.inject({
      method: 'POST',
      url: '/api/v1/package-management/upload/',
      headers: { ...admin, ...form.headers },
      payload: form.payload,
    });
    expect(up.statusCode, up.body).toBe(201);
    // A release of the manager itself, far newer: listed with the rest, never offered to an appliance.
    const managerForm = multipartFile(
      'file',
      'manager-99.0.0.stwpkg',
      publisher.build({ type: 'manager', version: '99.0.0', requires: '0.0.1' }, '#!/bin/sh\nexit 0\n'),
    );
    const managerUp = await t.app.inject({
      method: 'POST',
      url: '/api/v1/package-management/upload/',
      headers: { ...admin, ...managerForm.headers },
      payload: managerForm.payload,
    });
    expect(managerUp.statusCode, managerUp.body).toBe(201);
    const bins = await api('GET', '/api/v1/package-management/');
    expect(bins.body.bins).toEqual([
      expect.objectContaining({ type: 'manager', version: '99.0.0' }),
      expect.objectContaining({ type: 'tiscale-hub', version: '5.4.0' }),
    ]);
    expect((await api('POST', '/api/v1/package-management/manager/99.0.0/', {})).status).toBe(400);
    expect((await api('POST', '/api/v1/package-management/tiscale-hub/5.4.0/', {})).status).toBe(200);
    // Not in the store and no package repository set: 409 saying what to set.
    expect((await api('POST', '/api/v1/package-management/tiscale-hub/9.9.9/', {})).status).toBe(409);
    expect((await appliance('h1')).available_update_version).toBe('5.4.0');
    const idle = await api('POST', '/api/upgrade/status/', { appliance_name: 'h1' });
    expect(idle.body).toMatchObject({ status: 'idle', log: 'Update log not available.' });
    const start = await api('POST', '/api/upgrade/start/', { appliance_name: 'h1' });
    expect(start.status, JSON.stringify(start.body)).toBe(202);
    expect(start.body.status).toBe('pending');
    const second = await api('POST', '/api/upgrade/start/', { appliance_name: 'a1' });
    expect(second.status).toBe(409);
    const seen = new Set<string>();
    const final = await eventually('upgrade to finish', async () => {
      const st = await api('POST', '/api/upgrade/status/', { appliance_name: 'h1' });
      seen.add(st.body.status);
      return (st.body.status === 'idle' || st.body.status === 'error') && st.body;
    });
    expect(final.status, final.log).toBe('idle');
    expect(final.log).toContain('installing 5.4.0');
    expect(seen.has('installing') || seen.has('downloading')).toBe(true);
    expect((await appliance('h1')).release).toBe('5.4.0');
    expect((await appliance('h1')).available_update_version).toBeNull();
    const hub = inProcess[0] as TestAgent;
    expect(hub.state.identity.release).toBe('5.4.0');
  });

  it('a package with a bad signature or a payload that does not match is refused', async () => {
    const publisher = createPublisher(join(t.dataDir, 'elsewhere'));
    const untrusted = publisher.build(
      { type: 'tiscale-worker', version: '6.0.0', requires: '5.0.0' },
      '#!/bin/sh\n',
    );
    const form = multipartFile('file', 'x.stwpkg', untrusted);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/package-management/upload/',
      headers: { ...admin, ...form.headers },
      payload: form.payload,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].field).toBe('file.signature');
  });
});
