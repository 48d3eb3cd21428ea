// Scale: many agents in this process on 127.0.0.1, one apply to all of them, time until every
// one is `done`, then rounds of health polling with the manager's CPU time measured; and the
// issue's figure, the manager in a process of its own (the built `steward serve` by default,
// test/helpers/scale-managers.ts) polling agents in farm processes, its CPU and RSS from /proc.
// Default 100 agents every 1 s (CI); the issue's figure: STEWARD_FLEET_SCALE=10000
// STEWARD_FLEET_POLL_MS=10000 on PostgreSQL (docs/benchmarks.md). STEWARD_FLEET_REPLICAS=3 (on
// PostgreSQL) starts that many replicas sharing the fleet, measures each one, the database's
// transactions per second and its backends' CPU, then kills one with SIGKILL (time until its
// appliances are polled again) and starts another (time until it polls its share). After the
// manager's window, a second one measures the reference (test/helpers/reference-poller.ts: the
// transport alone polling one replica's share at the same rate) next to the first replica, so
// its CPU share can be read as a ratio that does not move with this VM's speed. Prints its
// measurements.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLE_PERMISSIONS } from '../../src/contract/permissions.js';
import { DEFAULT_TELEMETRY_MS } from '../../src/server/modules/fleet-health/health.service.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import {
  type ScaleManager,
  type ScaleReplica,
  startHarnessManager,
  startServeManager,
} from '../helpers/scale-managers.js';
import { type LineReader, lineReader, procUsage, stopChild } from '../helpers/scale-proc.js';

const N = Number(process.env.STEWARD_FLEET_SCALE ?? 100);
/** Every agent polled this often: N agents every second is the load of 10 N appliances every 10 s. */
const POLL_MS = Number(process.env.STEWARD_FLEET_POLL_MS ?? 1000);
const MEASURE_MS = Number(process.env.STEWARD_FLEET_MEASURE_MS ?? 10_000);
const AGENTS_PER_FARM = 4000;
/** `serve` (default): the built `steward serve`; `harness`: the tsx test harness (heap diagnostics). */
const MANAGER = process.env.STEWARD_FLEET_MANAGER ?? 'serve';
/** Replicas of `steward serve` sharing the fleet on one PostgreSQL database. */
const REPLICAS = Number(process.env.STEWARD_FLEET_REPLICAS ?? 1);
const HERE = dirname(fileURLToPath(import.meta.url));
let t: TestContext;
let admin: Record<string, string>;
const agents: TestAgent[] = [];

let firstClosed = false;
async function closeFirst() {
  if (firstClosed) return;
  firstClosed = true;
  await t?.close();
  await Promise.all(agents.map((a) => a.cleanup()));
}

afterAll(closeFirst);

describe(`fleet at scale (${N} agents)`, () => {
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

describe(`manager in a process of its own (${N} agents in another)`, () => {
  const farms: ChildProcess[] = [];
  let manager: ScaleManager | undefined;
  const base = mkdtempSync(join(tmpdir(), 'steward-farm-'));

  afterAll(async () => {
    await manager?.stop();
    for (const farm of farms) await stopChild(farm);
    rmSync(base, { recursive: true, force: true });
  });

  it('polls them at the asked rate, all online; reports the manager process CPU share and memory', async () => {
    // The in-process agents and their manager must not run while this one is measured.
    await closeFirst();
    // A farm process holds two descriptors per agent (its listener and the manager's
    // connection): at most AGENTS_PER_FARM agents each keeps it under the open-files limit.
    const farmCount = Math.ceil(N / AGENTS_PER_FARM);
    const farmOuts: LineReader[] = [];
    const farmAgents: { url: string; token: string }[] = [];
    for (let f = 0; f < farmCount; f++) {
      const count = Math.floor(N / farmCount) + (f < N % farmCount ? 1 : 0);
      const farm = spawn(
        process.execPath,
        ['--import', 'tsx', join(HERE, '../helpers/agent-farm.ts'), String(count), join(base, `farm${f}`)],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      farms.push(farm);
      const out = lineReader(farm);
      farmOuts.push(out);
      for (;;) {
        const line = await out.next();
        if (line === 'READY') break;
        farmAgents.push(JSON.parse(line) as { url: string; token: string });
      }
    }
    const options = {
      agents: farmAgents,
      pollMs: POLL_MS,
      // STEWARD_FLEET_MANAGER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the manager.
      nodeArgs: process.env.STEWARD_FLEET_MANAGER_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
      // STEWARD_FLEET_MANAGER_ENV="MALLOC_ARENA_MAX=2": the manager's environment only.
      env: Object.fromEntries(
        (process.env.STEWARD_FLEET_MANAGER_ENV?.split(' ').filter(Boolean) ?? []).map((kv) => [
          kv.slice(0, kv.indexOf('=')),
          kv.slice(kv.indexOf('=') + 1),
        ]),
      ),
      base,
      replicas: REPLICAS,
    };
    manager = MANAGER === 'harness' ? await startHarnessManager(options) : await startServeManager(options);
    const pid = manager.pid;
    const pids = manager.replicas?.map((r) => r.pid) ?? [pid];
    /** Sums one figure over the farms' answers to `command`. */
    const askFarms = async (command: string, field: string) => {
      let total = 0;
      for (const [f, farm] of farms.entries()) {
        farm.stdin?.write(`${command}\n`);
        total += (JSON.parse(await (farmOuts[f] as LineReader).next(10_000)) as Record<string, number>)[
          field
        ] as number;
      }
      return total;
    };
    const farmRequests = () => askFarms('report', 'requests');
    farmsAsk = askFarms;
    // Let the first rounds settle (connections opened, the agents' start-up events pulled, code
    // warmed): two and a half intervals, at least 5 s. Then measure the steady state.
    await new Promise((r) => setTimeout(r, Math.max(5000, 2.5 * POLL_MS)));
    // STEWARD_FLEET_PROFILE=/tmp/manager.cpuprofile: a CPU profile of the measured window, harness
    // only (the profiler costs CPU too: read the share of that run as an upper bound).
    const profile = process.env.STEWARD_FLEET_PROFILE;
    if (profile) await manager.startProfile?.(profile);
    const db = manager.databaseUrl ? await databaseUsage(manager.databaseUrl) : undefined;
    const d0 = await db?.sample();
    const all0 = pids.map((p) => procUsage(p));
    const u0 = all0[0] as ReturnType<typeof procUsage>;
    const r0 = await farmRequests();
    const wall0 = performance.now();
    const maxRssAll = all0.map((u) => u.rssMb);
    const end = wall0 + MEASURE_MS;
    while (performance.now() < end) {
      await new Promise((r) => setTimeout(r, 500));
      for (const [i, p] of pids.entries())
        maxRssAll[i] = Math.max(maxRssAll[i] as number, procUsage(p).rssMb);
    }
    const all1 = pids.map((p) => procUsage(p));
    const u1 = all1[0] as ReturnType<typeof procUsage>;
    const maxRss = maxRssAll[0] as number;
    const r1 = await farmRequests();
    const d1 = await db?.sample();
    const seconds = (performance.now() - wall0) / 1000;
    const share = ((u1.cpuSeconds - u0.cpuSeconds) / seconds) * 100;
    if (pids.length > 1) {
      const views = await manager.cluster?.(manager.replicas?.[0] as ScaleReplica);
      for (const [i, p] of pids.entries()) {
        const a = all0[i] as ReturnType<typeof procUsage>;
        const b = all1[i] as ReturnType<typeof procUsage>;
        console.log(
          `[fleet-scale] replica ${i + 1}/${pids.length} (pid ${p}): ${(((b.cpuSeconds - a.cpuSeconds) / seconds) * 100).toFixed(1)}% of one core, ` +
            `RSS ${b.rssMb.toFixed(0)} MB (max sampled ${(maxRssAll[i] as number).toFixed(0)} MB)`,
        );
      }
      console.log(
        `[fleet-scale] shares: ${(views ?? [])
          .filter((v) => v.alive)
          .map((v) => `${v.polled_appliances} (round ${v.last_round_ms} ms)`)
          .join(', ')}`,
      );
    }
    if (db && d0 && d1) {
      const xacts = (d1.xacts - d0.xacts) / seconds;
      // Backends present in both samples (a pool may open and close connections meanwhile).
      let used = 0;
      for (const [p, t1] of d1.cpu) used += t1 - (d0.cpu.get(p) ?? t1);
      const dbCpu = (used / seconds) * 100;
      console.log(
        `[fleet-scale] PostgreSQL, this database: ${xacts.toFixed(1)} transactions/s (each statement outside a transaction is one; ` +
          `pg_stat_database xact_commit + xact_rollback), its backends ${dbCpu.toFixed(1)}% of one core ` +
          `(${d1.backends} connections; the server's shared processes not counted)`,
      );
      await db.close();
    }
    const pollsPerSecond = (r1 - r0) / seconds;
    if (profile) await manager.stopProfile?.();
    const counts = await manager.counts();
    console.log(
      `[fleet-scale] manager process alone (pid ${pid}, ${manager.describe}, no vitest, no agents), ` +
        `${N} agents${process.env.STEWARD_FLEET_TLS === '1' ? ' over TLS (pinned certificates)' : ' over plain HTTP'} polled every ${POLL_MS} ms over ${seconds.toFixed(1)} s: ` +
        `${pollsPerSecond.toFixed(0)} status calls/s (= ${(pollsPerSecond * 10).toFixed(0)} appliances every 10 s), ` +
        `${share.toFixed(1)}% of one core, ` +
        `RSS ${u1.rssMb.toFixed(0)} MB (max sampled ${maxRss.toFixed(0)} MB, peak since start ${u1.peakRssMb.toFixed(0)} MB including the setup); ` +
        `${counts.online} online, ${counts.offline} offline`,
    );
    for (const line of await manager.diagnostics()) console.log(`[fleet-scale] ${line}`);
    // The reference, in a second window next to the replicas: the transport alone polling one
    // replica's share at the same rate, and that replica measured again in the same window.
    const shareSize = Math.round(N / pids.length);
    const ref = await referenceWindow(farmAgents.slice(0, shareSize), pid);
    console.log(
      `[fleet-scale] reference poller (test/helpers/reference-poller.ts: undici, conditional GETs, nothing else) ` +
        `polling ${shareSize} of the agents every ${POLL_MS} ms, measured over ${ref.seconds.toFixed(1)} s while the manager polls: ` +
        `${ref.pollsPerSecond.toFixed(0)} polls/s, ${ref.share.toFixed(1)}% of one core; replica 1 in the same window ` +
        `${ref.managerShare.toFixed(1)}%: ${(ref.managerShare / ref.share).toFixed(2)} x the reference`,
    );
    expect(ref.errors).toBe(0);
    expect(ref.pollsPerSecond).toBeGreaterThan((shareSize * 1000) / POLL_MS / 2);
    expect(counts).toEqual({ online: N, offline: 0 });
    // The rate really reached: a round slower than the interval would understate the cost.
    expect(pollsPerSecond).toBeGreaterThan((N * 1000) / POLL_MS / 2);
  }, 900_000);

  it.skipIf(REPLICAS < 2)(
    'kill -9 of a replica: its appliances polled again; a new replica polls its share',
    async () => {
      if (!manager?.replicas) throw new Error('the measurement above did not start the replicas');
      const m = manager;
      const replicas = manager.replicas;
      const ask = farmsAsk as NonNullable<typeof farmsAsk>;
      const victim = replicas[replicas.length - 1] as ScaleReplica;
      await victim.stop('SIGKILL');
      const killedAt = Date.now();
      // Every appliance polled since the kill: the victim's ones too, by another replica.
      let unpolled = N;
      while (Date.now() - killedAt < 120_000) {
        unpolled = await ask(`unpolled ${killedAt}`, 'unpolled');
        if (unpolled === 0) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const handoverMs = Date.now() - killedAt;
      const survivor = replicas[0] as ScaleReplica;
      const startAsked = Date.now();
      const joiner = await (m.addReplica as NonNullable<ScaleManager['addReplica']>)();
      const started = Date.now();
      let share = 0;
      while (Date.now() - started < 120_000) {
        const views = await (m.cluster as NonNullable<ScaleManager['cluster']>)(joiner);
        share = views.find((v) => v.self)?.polled_appliances ?? 0;
        if (share > 0) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const joinMs = Date.now() - started;
      // Two intervals after the join: every appliance still polled about once per interval.
      const r0 = await ask('report', 'requests');
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 2 * POLL_MS));
      const rate = ((await ask('report', 'requests')) - r0) / ((performance.now() - t0) / 1000);
      const views = await (m.cluster as NonNullable<ScaleManager['cluster']>)(survivor);
      console.log(
        `[fleet-scale] kill -9 of one of ${replicas.length - 1} replicas: every appliance polled again ${handoverMs} ms after the kill (${unpolled} left); ` +
          `a new replica (started in ${started - startAsked} ms) reported polling its share of ${share} ${joinMs} ms after it listened (its heartbeat carries the round); ` +
          `then ${rate.toFixed(0)} requests/s to the agents (${((rate * POLL_MS) / 1000 / N).toFixed(2)} per appliance per interval); ` +
          `live shares ${views
            .filter((v) => v.alive)
            .map((v) => v.polled_appliances)
            .join(' + ')}`,
      );
      expect(unpolled).toBe(0);
      expect(share).toBeGreaterThan(0);
    },
    600_000,
  );
});

/**
 * Runs the reference poller over `agents` for one interval (tags learnt), then measures it and
 * the manager process `managerPid`: their CPU shares and the reference's polls/s. The window is
 * MEASURE_MS rounded up to whole telemetry periods, so that each side reads every appliance's
 * whole answer exactly once a period inside it: in a shorter window the reference, which learnt
 * its tags just before, would read none while the manager might read a whole round of them.
 */
async function referenceWindow(agents: { url: string; token: string }[], managerPid: number) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(HERE, '../helpers/reference-poller.ts'),
      String(POLL_MS),
      String(DEFAULT_TELEMETRY_MS),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  try {
    const out = lineReader(child);
    for (const a of agents) child.stdin?.write(`${JSON.stringify({ url: a.url, token: a.token })}\n`);
    child.stdin?.write('START\n');
    if ((await out.next(POLL_MS + 30_000)) !== 'POLLING')
      throw new Error('the reference poller did not start');
    await new Promise((r) => setTimeout(r, 2000));
    const report = async () => {
      child.stdin?.write('report\n');
      return JSON.parse(await out.next(10_000)) as { polls: number; errors: number };
    };
    const pid = child.pid as number;
    const [c0, m0, p0] = [procUsage(pid), procUsage(managerPid), await report()];
    const wall0 = performance.now();
    const windowMs = Math.ceil(MEASURE_MS / DEFAULT_TELEMETRY_MS) * DEFAULT_TELEMETRY_MS;
    await new Promise((r) => setTimeout(r, windowMs));
    const [c1, m1, p1] = [procUsage(pid), procUsage(managerPid), await report()];
    const seconds = (performance.now() - wall0) / 1000;
    return {
      seconds,
      share: ((c1.cpuSeconds - c0.cpuSeconds) / seconds) * 100,
      managerShare: ((m1.cpuSeconds - m0.cpuSeconds) / seconds) * 100,
      pollsPerSecond: (p1.polls - p0.polls) / seconds,
      errors: p1.errors,
    };
  } finally {
    await stopChild(child);
  }
}

/** The farms' sum of one figure (set by the measurement above for the replica test after it). */
let farmsAsk: ((command: string, field: string) => Promise<number>) | undefined;

/**
 * What the database costs: its transactions (pg_stat_database; every statement outside an
 * explicit transaction is one) and the CPU of its server processes connected to it (/proc).
 */
async function databaseUsage(url: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return {
    async sample() {
      const x = await c.query<{ x: string }>(
        'SELECT (xact_commit + xact_rollback)::text AS x FROM pg_stat_database WHERE datname = current_database()',
      );
      const backends = await c.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      );
      const cpu = new Map<number, number>();
      for (const b of backends.rows) {
        try {
          cpu.set(b.pid, procUsage(b.pid).cpuSeconds);
        } catch {
          // A backend that ended between the two reads: not counted in this sample.
        }
      }
      return { xacts: Number(x.rows[0]?.x ?? 0), cpu, backends: backends.rows.length };
    },
    close: () => c.end(),
  };
}
