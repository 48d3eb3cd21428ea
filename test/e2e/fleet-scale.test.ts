// Scale: many agents in this process on 127.0.0.1, one apply to all of them, time until every
// one is `done`, then rounds of health polling with the manager's CPU time measured. Default
// 100 agents (CI); STEWARD_FLEET_SCALE=1000 for the figure. Prints its measurements.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLE_PERMISSIONS } from '../../src/contract/permissions.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { PG_URL } from '../helpers/database.js';

const N = Number(process.env.STEWARD_FLEET_SCALE ?? 100);
/** Every agent polled this often: N agents every second is the load of 10 N appliances every 10 s. */
const POLL_MS = Number(process.env.STEWARD_FLEET_POLL_MS ?? 1000);
const MEASURE_MS = Number(process.env.STEWARD_FLEET_MEASURE_MS ?? 10_000);
const AGENTS_PER_FARM = 4000;
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

/** Reads a child's stdout line by line; `next()` resolves with the next line. */
function lineReader(child: ChildProcess) {
  const queue: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let buf = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const p of parts) {
      const w = waiting.shift();
      if (w) w(p);
      else queue.push(p);
    }
  });
  return {
    next(timeoutMs = 600_000): Promise<string> {
      const q = queue.shift();
      if (q !== undefined) return Promise.resolve(q);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no line from the child in time')), timeoutMs);
        const onExit = (code: number | null) => reject(new Error(`child exited with ${code}`));
        child.once('exit', onExit);
        waiting.push((line) => {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve(line);
        });
      });
    },
  };
}

/** CPU seconds (user + system) and resident memory of a process, from /proc (Linux). */
function procUsage(pid: number): { cpuSeconds: number; rssMb: number; peakRssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which is in parentheses and may contain spaces).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { cpuSeconds: ticks / CLOCK_TICKS, rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

async function stopChild(child: ChildProcess | undefined) {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

describe(`manager in a process of its own (${N} agents in another)`, () => {
  const farms: ChildProcess[] = [];
  let manager: ChildProcess | undefined;
  const base = mkdtempSync(join(tmpdir(), 'steward-farm-'));

  afterAll(async () => {
    await stopChild(manager);
    for (const farm of farms) await stopChild(farm);
    rmSync(base, { recursive: true, force: true });
  });

  it('polls them every second; reports the manager process CPU share and memory', async () => {
    // The in-process agents and their manager must not run while this one is measured.
    await closeFirst();
    const tsx = ['--import', 'tsx'];
    // A farm process holds two descriptors per agent (its listener and the manager's
    // connection): at most AGENTS_PER_FARM agents each keeps it under the open-files limit.
    const farmCount = Math.ceil(N / AGENTS_PER_FARM);
    const farmOuts: ReturnType<typeof lineReader>[] = [];
    const farmAgents: { url: string }[] = [];
    for (let f = 0; f < farmCount; f++) {
      const count = Math.floor(N / farmCount) + (f < N % farmCount ? 1 : 0);
      const farm = spawn(
        process.execPath,
        [...tsx, join(HERE, '../helpers/agent-farm.ts'), String(count), join(base, `farm${f}`)],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      farms.push(farm);
      const out = lineReader(farm);
      farmOuts.push(out);
      for (;;) {
        const line = await out.next();
        if (line === 'READY') break;
        farmAgents.push(JSON.parse(line) as { url: string });
      }
    }
    const list = join(base, 'agents.json');
    writeFileSync(list, JSON.stringify(farmAgents));
    manager = spawn(
      process.execPath,
      [
        // STEWARD_FLEET_MANAGER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the manager.
        ...(process.env.STEWARD_FLEET_MANAGER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
        '--expose-gc',
        ...tsx,
        join(HERE, '../helpers/agent-scale-manager.ts'),
        list,
        String(POLL_MS),
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const managerOut = lineReader(manager);
    expect(await managerOut.next()).toBe('POLLING');
    const pid = manager.pid as number;
    const farmRequests = async () => {
      let total = 0;
      for (const [f, farm] of farms.entries()) {
        farm.stdin?.write('report\n');
        total += (
          JSON.parse(await (farmOuts[f] as ReturnType<typeof lineReader>).next(10_000)) as {
            requests: number;
          }
        ).requests;
      }
      return total;
    };
    // Let the first rounds settle (connections opened, the agents' start-up events pulled, code
    // warmed): two and a half intervals, at least 5 s. Then measure the steady state.
    await new Promise((r) => setTimeout(r, Math.max(5000, 2.5 * POLL_MS)));
    // STEWARD_FLEET_PROFILE=/tmp/manager.cpuprofile: a CPU profile of the measured window (the
    // profiler costs CPU too: read the share of that run as an upper bound).
    const profile = process.env.STEWARD_FLEET_PROFILE;
    if (profile) {
      manager.stdin?.write(`profile ${profile}\n`);
      expect(await managerOut.next(10_000)).toBe('PROFILING');
    }
    const u0 = procUsage(pid);
    const r0 = await farmRequests();
    const wall0 = performance.now();
    let maxRss = u0.rssMb;
    const end = wall0 + MEASURE_MS;
    while (performance.now() < end) {
      await new Promise((r) => setTimeout(r, 500));
      maxRss = Math.max(maxRss, procUsage(pid).rssMb);
    }
    const u1 = procUsage(pid);
    const r1 = await farmRequests();
    const seconds = (performance.now() - wall0) / 1000;
    const share = ((u1.cpuSeconds - u0.cpuSeconds) / seconds) * 100;
    const pollsPerSecond = (r1 - r0) / seconds;
    if (profile) {
      manager.stdin?.write('profile-stop\n');
      expect(await managerOut.next(30_000)).toBe('PROFILED');
    }
    manager.stdin?.write('report\n');
    const report = JSON.parse(await managerOut.next(10_000)) as {
      online: number;
      memory: NodeJS.MemoryUsage;
      afterGc: NodeJS.MemoryUsage | null;
      heap: { total_physical_size: number; malloced_memory: number; peak_malloced_memory: number };
      spaces: {
        space_name: string;
        space_size: number;
        physical_space_size: number;
        space_used_size: number;
      }[];
    };
    const mb = (n: number) => `${(n / 1048576).toFixed(0)} MB`;
    console.log(
      `[fleet-scale] manager process alone (pid ${pid}, ${PG_URL ? 'PostgreSQL server outside it' : 'embedded PGlite inside it'}, no vitest, no agents), ` +
        `${N} agents${process.env.STEWARD_FLEET_TLS === '1' ? ' over TLS (pinned certificates)' : ' over plain HTTP'} polled every ${POLL_MS} ms over ${seconds.toFixed(1)} s: ` +
        `${pollsPerSecond.toFixed(0)} status calls/s (= ${(pollsPerSecond * 10).toFixed(0)} appliances every 10 s), ` +
        `${share.toFixed(1)}% of one core, ` +
        `RSS ${u1.rssMb.toFixed(0)} MB (max sampled ${maxRss.toFixed(0)} MB, peak since start ${u1.peakRssMb.toFixed(0)} MB including the setup); ` +
        `heap used ${mb(report.memory.heapUsed)} of ${mb(report.memory.heapTotal)}, external ${mb(report.memory.external)} ` +
        `(array buffers, PGlite's WebAssembly memory among them: ${mb(report.memory.arrayBuffers)}); ` +
        `after a full GC: heap used ${mb(report.afterGc?.heapUsed ?? 0)}, RSS ${mb(report.afterGc?.rss ?? 0)}`,
    );
    console.log(
      `[fleet-scale] V8 after the GC: physical ${mb(report.heap.total_physical_size)}, malloced ${mb(report.heap.malloced_memory)} (peak ${mb(report.heap.peak_malloced_memory)}); ` +
        report.spaces
          .map((s) => `${s.space_name} ${mb(s.physical_space_size)} (used ${mb(s.space_used_size)})`)
          .join(', '),
    );
    expect(report.online).toBe(N);
    // The rate really reached: a round slower than the interval would understate the cost.
    expect(pollsPerSecond).toBeGreaterThan((N * 1000) / POLL_MS / 2);
  }, 900_000);
});
