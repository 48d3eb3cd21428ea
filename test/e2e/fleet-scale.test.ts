// Scale: many agents in this process on 127.0.0.1, one apply to all of them, time until every
// one is `done`, then rounds of health polling with the manager's CPU time measured. Default
// 100 agents (CI); STEWARD_FLEET_SCALE=1000 for the figure. Prints its measurements.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLE_PERMISSIONS } from '../../src/contract/permissions.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { createTestContext, type TestContext } from '../helpers/app.js';

const N = Number(process.env.STEWARD_FLEET_SCALE ?? 100);
const HERE = dirname(fileURLToPath(import.meta.url));
let t: TestContext;
let admin: Record<string, string>;
const agents: TestAgent[] = [];

beforeAll(async () => {
  t = await createTestContext({ jobIntervals: { fleetHealth: 1000 } });
  // An API token with a budget for the setup burst (sessions and default tokens have a
  // per-minute request budget far below a thousand authorizations).
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/tokens/',
    headers: await t.adminHeaders(),
    payload: { name: 'fleet-scale', rate_limit_per_minute: 1_000_000, scopes: [...ROLE_PERMISSIONS.admin] },
  });
  if (res.statusCode !== 201) throw new Error(`token: ${res.body}`);
  admin = { authorization: `Token ${res.json().token}` };
  for (let i = 0; i < N; i += 50) {
    const chunk = await Promise.all(
      Array.from({ length: Math.min(50, N - i) }, (_, j) =>
        startTestAgent({ type: 'tiscale-worker', name: `s${i + j}` }),
      ),
    );
    agents.push(...chunk);
  }
  // Register and authorize straight through the API, 20 at a time.
  for (let i = 0; i < N; i += 20) {
    await Promise.all(
      agents.slice(i, i + 20).map(async (a, j) => {
        const name = `s${i + j}`;
        const c = await t.app.inject({
          method: 'POST',
          url: '/api/v1/appliances/create/',
          headers: admin,
          payload: { name, type: 'worker', url: a.url },
        });
        const id = c.json().id as number;
        const r = await t.app.inject({
          method: 'GET',
          url: `/api/v1/appliances/${id}/authorization/`,
          headers: admin,
        });
        if (r.statusCode !== 200) throw new Error(`authorize ${name}: ${r.body}`);
      }),
    );
  }
}, 600_000);

let firstClosed = false;
async function closeFirst() {
  if (firstClosed) return;
  firstClosed = true;
  await t?.close();
  await Promise.all(agents.map((a) => a.cleanup()));
}

afterAll(closeFirst);

describe(`fleet at scale (${N} agents)`, () => {
  it('applies one configuration to every agent and reports each done', async () => {
    await t.app.inject({
      method: 'POST',
      url: '/api/v1/config-group/create/',
      headers: admin,
      payload: { name: 'all' },
    });
    const names = agents.map((_, i) => `s${i}`);
    const saved = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/config-group/save/all/',
      headers: admin,
      payload: { appliances: names, content: { snmp__enable: true, ntp__servers: ['10.0.0.1'] } },
    });
    expect(saved.statusCode, saved.body).toBe(200);
    const started = performance.now();
    const res = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/config-group/update/all/',
      headers: admin,
      payload: { applyconfiguration: [] },
    });
    expect(res.statusCode).toBe(202);
    let done = 0;
    for (;;) {
      const row = await t.db
        .selectFrom('appliances')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('configuration_status', '=', 'done')
        .executeTakeFirstOrThrow();
      done = Number(row.n);
      if (done === N || performance.now() - started > 60_000) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - started) / 1000;
    if (done !== N) {
      const by = await t.db
        .selectFrom('appliances')
        .select(['configuration_status', (eb) => eb.fn.countAll<number>().as('n')])
        .groupBy('configuration_status')
        .execute();
      const sample = await t.db
        .selectFrom('appliances')
        .select(['name', 'configuration_status', 'configuration_status_details'])
        .where('configuration_status', '!=', 'done')
        .limit(3)
        .execute();
      console.log('[fleet-scale] not all done:', JSON.stringify(by), JSON.stringify(sample));
      const onAgents = sample.map((r) => agents[Number(r.name.slice(1))]?.state.config().revision);
      console.log('[fleet-scale] their agents run revision:', JSON.stringify(onAgents));
    }
    console.log(`[fleet-scale] apply to ${N} agents: all done in ${seconds.toFixed(2)} s`);
    expect(done).toBe(N);
  }, 180_000);

  it('polls every agent every second; reports the CPU share (manager and agents together: an upper bound)', async () => {
    await t.app.startJobs();
    // Let the first round settle, then measure over five seconds.
    await new Promise((r) => setTimeout(r, 1500));
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    const mem0 = process.memoryUsage().rss;
    await new Promise((r) => setTimeout(r, 5000));
    const cpu = process.cpuUsage(cpu0);
    const wall = performance.now() - wall0;
    const share = ((cpu.user + cpu.system) / 1000 / wall) * 100;
    console.log(
      `[fleet-scale] polling ${N} agents every 1 s (= ${N * 10} appliances every 10 s): ` +
        `${share.toFixed(1)}% of one core for manager + agents, rss ${(mem0 / 1e6).toFixed(0)} MB`,
    );
    const online = await t.db
      .selectFrom('appliances')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('online', '=', true)
      .executeTakeFirstOrThrow();
    expect(Number(online.n)).toBe(N);
  }, 60_000);
});

describe(`manager CPU alone (${N} agents in a child process)`, () => {
  let farm: ChildProcess | undefined;
  let m: TestContext;
  const base = mkdtempSync(join(tmpdir(), 'steward-farm-'));

  afterAll(async () => {
    await m?.close();
    if (farm && farm.exitCode === null) {
      const exited = new Promise((r) => farm?.once('exit', r));
      farm.kill('SIGTERM');
      await exited;
    }
    rmSync(base, { recursive: true, force: true });
  });

  it('polls them every second; reports the manager process CPU share and memory', async () => {
    // The in-process agents and their manager must not run while this one is measured.
    await closeFirst();
    farm = spawn(
      process.execPath,
      ['--import', 'tsx', join(HERE, '../helpers/agent-farm.ts'), String(N), base],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const lines: string[] = [];
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      farm?.stdout?.on('data', (d: Buffer) => {
        buf += d.toString();
        const parts = buf.split('\n');
        buf = parts.pop() ?? '';
        for (const p of parts) {
          if (p === 'READY') resolve();
          else if (p) lines.push(p);
        }
      });
      farm?.once('exit', (code) => reject(new Error(`agent farm exited ${code}`)));
    });
    m = await createTestContext({ jobIntervals: { fleetHealth: 1000 } });
    const res = await m.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/',
      headers: await m.adminHeaders(),
      payload: { name: 'farm', rate_limit_per_minute: 1_000_000, scopes: [...ROLE_PERMISSIONS.admin] },
    });
    const h = { authorization: `Token ${res.json().token}` };
    const farmAgents = lines.map((l) => JSON.parse(l) as { url: string; token: string });
    for (let i = 0; i < farmAgents.length; i += 20) {
      await Promise.all(
        farmAgents.slice(i, i + 20).map(async (a, j) => {
          const c = await m.app.inject({
            method: 'POST',
            url: '/api/v1/appliances/create/',
            headers: h,
            payload: { name: `f${i + j}`, type: 'worker', url: a.url },
          });
          const r = await m.app.inject({
            method: 'GET',
            url: `/api/v1/appliances/${c.json().id}/authorization/`,
            headers: h,
          });
          if (r.statusCode !== 200) throw new Error(r.body);
        }),
      );
    }
    await m.app.startJobs();
    await new Promise((r) => setTimeout(r, 2500));
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    await new Promise((r) => setTimeout(r, 5000));
    const cpu = process.cpuUsage(cpu0);
    const share = ((cpu.user + cpu.system) / 1000 / (performance.now() - wall0)) * 100;
    const rss = process.memoryUsage().rss;
    console.log(
      `[fleet-scale] manager alone polling ${N} agents every 1 s (= ${N * 10} appliances every 10 s): ` +
        `${share.toFixed(1)}% of one core, rss ${(rss / 1e6).toFixed(0)} MB (test process: PGlite and vitest included)`,
    );
    const online = await m.db
      .selectFrom('appliances')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('online', '=', true)
      .executeTakeFirstOrThrow();
    expect(Number(online.n)).toBe(N);
  }, 600_000);
});
