// The manager of the fleet scale measurement (test/scale/fleet-scale.test.ts), in a process of its
// own so that its CPU time and RSS can be read from /proc, in one of two forms:
//
// - `serve` (the default, the issue's figure): the built manager as an admin runs it (or
//   several replicas of it on one PostgreSQL database, sharing the fleet: `replicas`),
//   `bin/steward serve` (dist/), plain HTTP on loopback, polling every STEWARD_HEALTH_POLL_SECONDS,
//   on a fresh throwaway database of the PostgreSQL server in STEWARD_TEST_DATABASE_URL (embedded
//   PGlite in a temporary data directory without it). The agents are registered and authorized
//   through its HTTP API with an API token, as an admin script would; its heap figures come from
//   its own /metrics (prom-client's default metrics: what is allocated, not what is live).
// - `harness` (STEWARD_FLEET_MANAGER=harness): test/helpers/agent-scale-manager.ts through tsx,
//   the app built by the test helper, started with --expose-gc: it reports the live heap after a
//   full GC and V8's spaces, and can take a CPU profile of the window. Its RSS is higher than
//   serve's (tsx and the TypeScript sources are in it), so it is for diagnostics only.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROLE_PERMISSIONS } from '../../src/contract/permissions.js';
import { createThrowawayDatabase, PG_URL } from './database.js';
import { call, type HttpResult, type RunningManager, startManager } from './process.js';
import { lineReader, stopChild } from './scale-proc.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/** One replica of a `serve` manager: its process and API. */
export interface ScaleReplica {
  pid: number;
  baseUrl: string;
  proc: RunningManager['proc'];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface ScaleManager {
  /** The first replica's process (the only one, unless `replicas` > 1). */
  pid: number;
  /** Every replica started (serve only); `addReplica` appends to it. */
  replicas?: ScaleReplica[];
  /** Starts one more replica on the same database (serve with PostgreSQL only). */
  addReplica?(): Promise<ScaleReplica>;
  /** GET /api/v1/cluster/ through `replica` (serve only). */
  cluster?(
    replica: ScaleReplica,
  ): Promise<
    { id: string; alive: boolean; self: boolean; polled_appliances: number; last_round_ms: number | null }[]
  >;
  /** The database's URL (serve on PostgreSQL only), for pg_stat_database. */
  databaseUrl?: string;
  /** What runs, for the report line. */
  describe: string;
  /** Appliances online and offline, as the manager's database has them. */
  counts(): Promise<{ online: number; offline: number }>;
  /** Lines on where the memory is (after the measured window: may run a GC). */
  diagnostics(): Promise<string[]>;
  /** A CPU profile of the window (harness only; serve: STEWARD_FLEET_MANAGER_NODE_ARGS=--cpu-prof). */
  startProfile?(file: string): Promise<void>;
  stopProfile?(): Promise<void>;
  stop(): Promise<void>;
}

export interface ScaleManagerOptions {
  agents: { url: string }[];
  pollMs: number;
  /** Node flags before the script (STEWARD_FLEET_MANAGER_NODE_ARGS). */
  nodeArgs: string[];
  /** Extra environment of the manager process only (STEWARD_FLEET_MANAGER_ENV="K=V K2=V2"). */
  env: Record<string, string>;
  /** A temporary directory of the test's own. */
  base: string;
  /** Replicas of `steward serve` on one PostgreSQL database (default 1). */
  replicas?: number;
}

const mb = (n: number) => `${(n / 1048576).toFixed(0)} MB`;

/**
 * Registers and authorizes every agent through the API, 20 at a time, spread over the replicas'
 * APIs. A 503 (the database busy past its statement timeout on a loaded machine) is tried again
 * after a second, as an admin script honouring Retry-After would; the failed statement was
 * rolled back.
 */
async function registerAll(baseUrls: string[], headers: Record<string, string>, agents: { url: string }[]) {
  const json = { ...headers, 'content-type': 'application/json' };
  const retried = async (what: string, ok: number, fn: () => Promise<HttpResult>) => {
    for (let attempt = 1; ; attempt++) {
      const r = await fn();
      if (r.status === ok) return r;
      if (r.status !== 503 || attempt === 5) throw new Error(`${what}: ${r.status} ${r.body}`);
      await new Promise((done) => setTimeout(done, 1000));
    }
  };
  for (let i = 0; i < agents.length; i += 20) {
    const baseUrl = baseUrls[(i / 20) % baseUrls.length] as string;
    await Promise.all(
      agents.slice(i, i + 20).map(async (a, j) => {
        const name = `f${i + j}`;
        const c = await retried(`create ${name}`, 201, () =>
          call(`${baseUrl}/api/v1/appliances/create/`, {
            method: 'POST',
            headers: json,
            body: JSON.stringify({ name, type: 'worker', url: a.url }),
          }),
        );
        await retried(`authorize ${name}`, 200, () =>
          call(`${baseUrl}/api/v1/appliances/${c.json().id}/authorization/`, { headers }),
        );
      }),
    );
  }
}

export async function startServeManager(o: ScaleManagerOptions): Promise<ScaleManager> {
  if (o.pollMs % 1000 !== 0)
    throw new Error('steward serve polls in whole seconds: STEWARD_FLEET_POLL_MS must be a multiple of 1000');
  // A fresh database on the PostgreSQL server of STEWARD_TEST_DATABASE_URL, dropped at the end.
  const database = PG_URL ? await createThrowawayDatabase('steward_scale') : undefined;
  const replicaCount = o.replicas ?? 1;
  if (replicaCount > 1 && !database)
    throw new Error('several replicas need STEWARD_TEST_DATABASE_URL (PostgreSQL)');
  const password = `Scale ${randomBytes(12).toString('hex')}`;
  // Every replica reads the appliance tokens another one sealed: one key for all.
  const secretKey = randomBytes(32).toString('hex');
  const replicas: ScaleReplica[] = [];
  const stop = async () => {
    for (const r of replicas) await stopChild(r.proc);
    await database?.drop();
  };
  const startReplica = async () => {
    const m = await startManager(
      {
        STEWARD_DATA_DIR: join(o.base, `manager${replicas.length}`),
        STEWARD_ADMIN_PASSWORD: password,
        STEWARD_SECRET_KEY: secretKey,
        STEWARD_HEALTH_POLL_SECONDS: String(o.pollMs / 1000),
        STEWARD_LOG_LEVEL: 'warn',
        ...(database ? { STEWARD_DATABASE_URL: database.url } : {}),
        ...o.env,
      },
      ['--tls', 'off'],
      { nodeArgs: o.nodeArgs },
    );
    const r: ScaleReplica = { pid: m.proc.pid as number, baseUrl: m.baseUrl, proc: m.proc, stop: m.stop };
    replicas.push(r);
    return r;
  };
  try {
    for (let i = 0; i < replicaCount; i++) await startReplica();
    const manager = replicas[0] as ScaleReplica;
    const url = manager.baseUrl;
    // As an admin script does: log in, make an API token with a budget for the setup burst.
    const login = await call(`${url}/api/v1/auth/token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    if (login.status !== 200) throw new Error(`login: ${login.status} ${login.body}`);
    const created = await call(`${url}/api/v1/tokens/`, {
      method: 'POST',
      headers: { authorization: `Token ${login.json().token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'fleet-scale',
        rate_limit_per_minute: 1_000_000,
        scopes: [...ROLE_PERMISSIONS.admin],
      }),
    });
    if (created.status !== 201) throw new Error(`token: ${created.status} ${created.body}`);
    const headers = { authorization: `Token ${created.json().token}` };
    await registerAll(
      replicas.map((r) => r.baseUrl),
      headers,
      o.agents,
    );
    const count = async (online: boolean) => {
      const r = await call(`${url}/api/v1/appliances/?online=${online}&page_size=1`, { headers });
      if (r.status !== 200) throw new Error(`list: ${r.status} ${r.body}`);
      return r.json().count as number;
    };
    return {
      pid: manager.pid,
      replicas,
      addReplica: startReplica,
      databaseUrl: database?.url,
      async cluster(replica) {
        const r = await call(`${replica.baseUrl}/api/v1/cluster/`, { headers });
        if (r.status !== 200) throw new Error(`cluster: ${r.status} ${r.body}`);
        return r.json().replicas;
      },
      describe: `steward serve (built)${replicaCount > 1 ? `, ${replicaCount} replicas` : ''}, ${database ? 'PostgreSQL server outside it' : 'embedded PGlite inside it'}`,
      counts: async () => ({ online: await count(true), offline: await count(false) }),
      async diagnostics() {
        const r = await call(`${url}/metrics`, { headers });
        const metric = (name: string, label = '') =>
          Number(new RegExp(`^${name}${label.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(r.body)?.[1] ?? 0);
        const spaces = ['new', 'old', 'code', 'large_object'].map(
          (s) =>
            `${s} ${mb(metric('nodejs_heap_space_size_total_bytes', `{space="${s}"}`))} (used ${mb(metric('nodejs_heap_space_size_used_bytes', `{space="${s}"}`))})`,
        );
        return [
          `its /metrics (no GC forced): heap used ${mb(metric('nodejs_heap_size_used_bytes'))} of ${mb(metric('nodejs_heap_size_total_bytes'))}, external ${mb(metric('nodejs_external_memory_bytes'))}; ${spaces.join(', ')}`,
        ];
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export async function startHarnessManager(o: ScaleManagerOptions): Promise<ScaleManager> {
  const list = join(o.base, 'agents.json');
  writeFileSync(list, JSON.stringify(o.agents));
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...o.nodeArgs,
      '--expose-gc',
      '--import',
      'tsx',
      join(HERE, 'agent-scale-manager.ts'),
      list,
      String(o.pollMs),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...o.env } },
  );
  const out = lineReader(child);
  if ((await out.next()) !== 'POLLING') throw new Error('the harness manager did not start polling');
  const report = async () => {
    child.stdin?.write('report\n');
    return JSON.parse(await out.next(10_000)) as {
      online: number;
      offline: number;
      memory: NodeJS.MemoryUsage;
      afterGc: NodeJS.MemoryUsage | null;
      heap: { total_physical_size: number; malloced_memory: number; peak_malloced_memory: number };
      spaces: { space_name: string; physical_space_size: number; space_used_size: number }[];
    };
  };
  const expectLine = async (line: string, timeoutMs: number) => {
    const got = await out.next(timeoutMs);
    if (got !== line) throw new Error(`harness manager: expected ${line}, got ${got}`);
  };
  return {
    pid: child.pid as number,
    describe: 'test harness through tsx (createTestContext)',
    counts: async () => {
      const r = await report();
      return { online: r.online, offline: r.offline };
    },
    async diagnostics() {
      const r = await report();
      return [
        `heap used ${mb(r.memory.heapUsed)} of ${mb(r.memory.heapTotal)}, external ${mb(r.memory.external)} ` +
          `(array buffers, PGlite's WebAssembly memory among them: ${mb(r.memory.arrayBuffers)}); ` +
          `after a full GC: heap used ${mb(r.afterGc?.heapUsed ?? 0)}, RSS ${mb(r.afterGc?.rss ?? 0)}`,
        `V8 after the GC: physical ${mb(r.heap.total_physical_size)}, malloced ${mb(r.heap.malloced_memory)} (peak ${mb(r.heap.peak_malloced_memory)}); ` +
          r.spaces
            .map((s) => `${s.space_name} ${mb(s.physical_space_size)} (used ${mb(s.space_used_size)})`)
            .join(', '),
      ];
    },
    async startProfile(file) {
      child.stdin?.write(`profile ${file}\n`);
      await expectLine('PROFILING', 10_000);
    },
    async stopProfile() {
      child.stdin?.write('profile-stop\n');
      await expectLine('PROFILED', 30_000);
    },
    stop: () => stopChild(child),
  };
}
