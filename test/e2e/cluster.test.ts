// Several real manager processes on one PostgreSQL database: revocation reaches every replica
// within a second, rate limits are shared, the replicas share the fleet's polling (each
// appliance polled once per interval; a replica killed hands its appliances over within 30 s, a
// new one takes its share); and, on a PostgreSQL server of the test's
// own, stopping (fast and immediate), restarting and freezing the server under load gives 503s,
// not hangs or crashes, and recovery without a restart of the managers.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { createThrowawayDatabase, PG_URL } from '../helpers/database.js';
import { call, type RunningManager, startManager } from '../helpers/process.js';
import {
  postgresUnavailable,
  startThrowawayPostgres,
  type ThrowawayPostgres,
} from '../helpers/throwaway-postgres.js';

const PASSWORD = 'Cluster Admin Passphrase 2026';
/** Health polling interval of every replica here (STEWARD_HEALTH_POLL_SECONDS), in ms. */
const POLL_MS = 1000;
/** Every replica needs the same key to read secrets another stored (appliance tokens). */
const SECRET_KEY = randomBytes(32).toString('hex');
const dirs: string[] = [];
const managers: RunningManager[] = [];

async function start(url: string) {
  const dir = mkdtempSync(join(tmpdir(), 'steward-cluster-'));
  dirs.push(dir);
  const m = await startManager({
    STEWARD_DATA_DIR: dir,
    STEWARD_DATABASE_URL: url,
    STEWARD_TLS: 'off',
    STEWARD_ADMIN_PASSWORD: PASSWORD,
    STEWARD_SECRET_KEY: SECRET_KEY,
    STEWARD_HEALTH_POLL_SECONDS: String(POLL_MS / 1000),
  });
  managers.push(m);
  return m;
}

async function login(m: RunningManager) {
  const r = await call(`${m.baseUrl}/api/v1/auth/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: PASSWORD }),
  });
  expect(r.status).toBe(200);
  return { authorization: `Token ${r.json().token}` };
}

const json = { 'content-type': 'application/json' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs: number,
  stepMs = 50,
): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return { value: v, ms: Date.now() - t0 };
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}

interface ReplicaView {
  id: string;
  leader: boolean;
  alive: boolean;
  self: boolean;
}

async function clusterView(m: RunningManager, headers: Record<string, string>) {
  const r = await call(`${m.baseUrl}/api/v1/cluster/`, { headers });
  return r.status === 200 ? r.json() : undefined;
}

/** The id this replica has in the registry (the id job_runs records). */
async function replicaId(m: RunningManager, headers: Record<string, string>): Promise<string> {
  const v = await clusterView(m, headers);
  return v.replicas.find((r: ReplicaView) => r.self).id;
}

/** A manager that exited by itself (not killed by a test) is a crash: show why, once. */
const reported = new Set<RunningManager>();
function reportCrashes() {
  for (const m of managers) {
    if (m.proc.exitCode !== null && m.proc.signalCode !== 'SIGKILL' && !reported.has(m)) {
      reported.add(m);
      console.error(`a manager exited with ${m.proc.exitCode}:\n${m.output().slice(-4000)}`);
    }
  }
}

async function shutdownManagers() {
  reportCrashes();
  for (const m of managers.splice(0)) await m.stop('SIGKILL');
}

afterEach(() => reportCrashes());

describe.skipIf(!PG_URL)('several managers on one PostgreSQL', () => {
  let dbUrl: string;
  let dropDatabase: (() => Promise<void>) | undefined;
  let a: RunningManager;
  let b: RunningManager;
  let adminA: Record<string, string>;
  const agents: TestAgent[] = [];

  beforeAll(async () => {
    const database = await createThrowawayDatabase('steward_cluster');
    dbUrl = database.url;
    dropDatabase = database.drop;
    [a, b] = await Promise.all([start(dbUrl), start(dbUrl)]);
    adminA = await login(a);
  });

  afterAll(async () => {
    await shutdownManagers();
    for (const agent of agents) await agent.cleanup();
    await dropDatabase?.();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('a token revoked or disabled on one replica is refused by the other within a second', async () => {
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const created = await call(`${a.baseUrl}/api/v1/tokens/`, {
        method: 'POST',
        headers: { ...adminA, ...json },
        body: JSON.stringify({ name: `prop-${i}`, scopes: ['users:read'] }),
      });
      const { id, token } = created.json();
      const onB = () =>
        call(`${b.baseUrl}/api/v1/auth/whoami/`, { headers: { authorization: `Token ${token}` } });
      expect((await onB()).status).toBe(200); // now cached on B
      const t0 = Date.now();
      if (i % 2) await call(`${a.baseUrl}/api/v1/tokens/${id}/`, { method: 'DELETE', headers: adminA });
      else
        await call(`${a.baseUrl}/api/v1/tokens/${id}/`, {
          method: 'PATCH',
          headers: { ...adminA, ...json },
          body: JSON.stringify({ enabled: false }),
        });
      await waitFor('refused on B', async () => ((await onB()).status === 401 ? true : undefined), 1000, 10);
      samples.push(Date.now() - t0);
    }
    expect(Math.max(...samples)).toBeLessThan(1000);
  });

  it('ending a session on one replica ends it on the other', async () => {
    const s = await login(b);
    expect((await call(`${a.baseUrl}/api/v1/auth/whoami/`, { headers: s })).status).toBe(200);
    await call(`${b.baseUrl}/api/v1/auth/logout/`, { method: 'POST', headers: s });
    await waitFor(
      'session refused on A',
      async () =>
        (await call(`${a.baseUrl}/api/v1/auth/whoami/`, { headers: s })).status === 401 ? true : undefined,
      1000,
      10,
    );
  });

  it("shares a token's rate limit between replicas", async () => {
    const created = await call(`${a.baseUrl}/api/v1/tokens/`, {
      method: 'POST',
      headers: { ...adminA, ...json },
      body: JSON.stringify({ name: 'shared-limit', scopes: ['users:read'], rate_limit_per_minute: 20 }),
    });
    const h = { authorization: `Token ${created.json().token}` };
    // Budgets are per clock minute: start early in a minute so the run (about 3 s) fits in one.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 50_000) await sleep(60_000 - intoMinute + 250);
    let ok = 0;
    let limited = 0;
    for (let i = 0; i < 40; i++) {
      const m = i % 2 ? a : b;
      const r = await call(`${m.baseUrl}/api/v1/auth/whoami/`, { headers: h });
      if (r.status === 200) ok++;
      if (r.status === 429) limited++;
      await sleep(60); // slower than the sync interval, so each replica sees the other's count
    }
    // One replica alone would admit 20 of its 20 requests; together they admit 20, plus at most
    // what the other replica admitted during one sync interval (250 ms: about 2 here).
    expect(ok).toBeGreaterThanOrEqual(20);
    expect(ok).toBeLessThanOrEqual(24);
    expect(limited).toBe(40 - ok);
  });

  it('three replicas share the fleet: each appliance polled once per interval; kill -9 of one hands its appliances over within 30 s; a fourth takes its share', async () => {
    const c = await start(dbUrl);
    const replicas = [a, b, c];
    const headers = new Map<RunningManager, Record<string, string>>();
    for (const m of replicas) headers.set(m, await login(m));
    const ids = new Map<string, RunningManager>();
    for (const m of replicas) ids.set(await replicaId(m, headers.get(m) as Record<string, string>), m);

    // Real agents that note every status request they get: each is one poll of that appliance.
    const AGENTS = 12;
    const polls = new Map<number, number[]>();
    for (let i = 0; i < AGENTS; i++) {
      const agent = await startTestAgent({ type: 'a1000', name: `share-${i}` });
      agents.push(agent);
      const seen: number[] = [];
      polls.set(i, seen);
      agent.app.server.on('request', (req: { url?: string }) => {
        if (req.url?.startsWith('/agent/v1/status')) seen.push(Date.now());
      });
      const created = await call(`${a.baseUrl}/api/v1/appliances/create/`, {
        method: 'POST',
        headers: { ...adminA, ...json },
        body: JSON.stringify({ name: `share-${i}`, type: 'a1000', url: agent.url }),
      });
      expect(created.status, created.body).toBe(201);
      const authorized = await call(`${a.baseUrl}/api/v1/appliances/${created.json().id}/authorization/`, {
        method: 'PUT',
        headers: { ...adminA, ...json },
        body: JSON.stringify({ token: agent.token }),
      });
      expect(authorized.status, authorized.body).toBe(200);
    }

    interface Polling extends ReplicaView {
      polled_appliances: number;
      last_round_ms: number | null;
      last_round_at: string | null;
    }
    /**
     * The live replicas of a view, when their shares add up to the fleet and each one's last
     * round ended after `since` (a joiner counts from its first slot, a second or two after it
     * registered; until then it reports 0 and the others the whole fleet).
     */
    const settled = async (m: RunningManager, count: number, since = 0) => {
      const v = await clusterView(m, headers.get(m) ?? adminA);
      const live: Polling[] = (v?.replicas ?? []).filter((r: Polling) => r.alive);
      const sum = live.reduce((n, r) => n + r.polled_appliances, 0);
      const recent = live.every((r) => r.last_round_at !== null && Date.parse(r.last_round_at) > since);
      return live.length === count && sum === AGENTS && recent && live.filter((r) => r.leader).length === 1
        ? live
        : undefined;
    };
    const { value: first } = await waitFor(
      'three replicas sharing the fleet',
      () => settled(a, 3),
      30_000,
      250,
    );
    expect(first.every((r) => ids.has(r.id))).toBe(true);

    /** Checks that in the next `ms` every appliance was polled once per interval, by one replica. */
    const window = async (ms: number) => {
      const from = Date.now();
      await sleep(ms);
      const to = Date.now();
      let fewest = Number.POSITIVE_INFINITY;
      let most = 0;
      let minGap = Number.POSITIVE_INFINITY;
      for (const [i, all] of polls) {
        const seen = all.filter((t) => t >= from && t <= to);
        const gaps = seen.slice(1).map((t, k) => t - (seen[k] as number));
        // Two replicas polling one appliance would show two polls per interval, some at most
        // half an interval apart; rounds start on the interval's multiples, so one poller's polls
        // are an interval apart (the agent's clock reading may lag when this machine is busy).
        expect(seen.length, `agent ${i}`).toBeGreaterThanOrEqual(Math.floor((ms / POLL_MS) * 0.6));
        expect(seen.length, `agent ${i}`).toBeLessThanOrEqual(Math.ceil(ms / POLL_MS) + 1);
        expect(Math.min(...gaps), `agent ${i}`).toBeGreaterThan(POLL_MS * 0.5);
        fewest = Math.min(fewest, seen.length);
        most = Math.max(most, seen.length);
        minGap = Math.min(minGap, ...gaps);
      }
      return { fewest, most, minGap };
    };

    const before = await window(6000);

    // kill -9 of the replica with the largest share: its appliances are polled again within 30 s.
    const victimView = [...first].sort((x, y) => y.polled_appliances - x.polled_appliances)[0] as Polling;
    expect(victimView.polled_appliances).toBeGreaterThan(0);
    const victim = ids.get(victimView.id) as RunningManager;
    const survivors = replicas.filter((m) => m !== victim);
    await victim.stop('SIGKILL');
    const killedAt = Date.now();
    const { value: handover } = await waitFor(
      'every appliance polled again after the kill',
      async () => {
        const firsts = [...polls.values()].map((all) => all.find((t) => t > killedAt + 2 * POLL_MS));
        return firsts.every((t) => t !== undefined) ? (firsts as number[]) : undefined;
      },
      40_000,
      100,
    );
    // The appliances the victim polled are those silent longest after the kill.
    const silent = [...polls.values()].map((all) => (all.find((t) => t > killedAt) ?? Number.NaN) - killedAt);
    const handoverMs = Math.max(...silent);
    expect(handoverMs).toBeLessThan(30_000);
    expect(silent.filter((ms) => ms > 3 * POLL_MS).length).toBeGreaterThan(0);
    expect(handover.length).toBe(AGENTS);
    const s0 = survivors[0] as RunningManager;
    await waitFor('two replicas sharing the fleet, one leader', () => settled(s0, 2), 30_000, 250);
    const afterKill = await window(6000);

    // A fourth replica: from its first slot it polls its share, and nothing is polled twice.
    const startedAt = Date.now();
    const d = await start(dbUrl);
    headers.set(d, await login(d));
    const dId = await replicaId(d, headers.get(d) as Record<string, string>);
    // Its first slot is at most an interval and half an interval after it registered.
    const counted = Date.now() + 2 * POLL_MS;
    const { value: withD } = await waitFor(
      'three replicas again',
      () => settled(s0, 3, counted),
      30_000,
      100,
    );
    const joinMs = Date.now() - startedAt;
    const dShare = withD.find((r) => r.id === dId)?.polled_appliances ?? 0;
    const afterJoin = await window(6000);
    console.log(
      `fleet sharing (${AGENTS} appliances, ${POLL_MS} ms interval): polls per appliance in 6 s ${before.fewest}-${before.most} (smallest gap ${before.minGap} ms); ` +
        `kill -9: every appliance polled again ${handoverMs} ms after the kill; after ${afterKill.fewest}-${afterKill.most} (smallest gap ${afterKill.minGap} ms); ` +
        `a fourth replica: shares settled ${joinMs} ms after its start (its share ${dShare}); after ${afterJoin.fewest}-${afterJoin.most} (smallest gap ${afterJoin.minGap} ms)`,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// A real PostgreSQL server, stopped and started again while two replicas serve requests.

interface Sample {
  replica: number;
  start: number;
  end: number;
  status: number; // 0: no HTTP answer (refused, reset, timed out)
  error?: string;
}

/** Keeps `workers` request loops busy against the replicas until stop(). */
function startLoad(targets: { baseUrl: string; headers: Record<string, string> }[], workers = 4) {
  const samples: Sample[] = [];
  let stopped = false;
  const loops = Array.from({ length: workers }, async (_, w) => {
    let i = w;
    while (!stopped) {
      const replica = i++ % targets.length;
      const t = targets[replica] as { baseUrl: string; headers: Record<string, string> };
      const startedAt = Date.now();
      try {
        const r = await call(`${t.baseUrl}/api/v1/authentication/users/`, {
          headers: t.headers,
          timeoutMs: 10_000,
        });
        samples.push({ replica, start: startedAt, end: Date.now(), status: r.status });
      } catch (err) {
        samples.push({
          replica,
          start: startedAt,
          end: Date.now(),
          status: 0,
          error: (err as Error).message,
        });
      }
      await sleep(25);
    }
  });
  return {
    samples,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

const unavailable = PG_URL
  ? postgresUnavailable()
  : 'STEWARD_TEST_DATABASE_URL is unset (the PostgreSQL tests run in the PostgreSQL step of CI)';

describe.skipIf(Boolean(unavailable))(
  `a PostgreSQL server of the test's own, stopped and restarted under load${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    let server: ThrowawayPostgres | undefined;
    let replicas: RunningManager[] = [];
    let targets: { baseUrl: string; headers: Record<string, string> }[] = [];
    let dbUrl = '';

    beforeAll(async () => {
      server = await startThrowawayPostgres();
      const c = new pg.Client({ connectionString: server.url });
      await c.connect();
      await c.query('CREATE DATABASE steward');
      await c.end();
      dbUrl = server.urlFor('steward');
      replicas = [await start(dbUrl), await start(dbUrl)];
      // The load runs at about 100 requests a second: an API token with a budget for that
      // (sessions get the default 600 a minute).
      const admin = await login(replicas[0] as RunningManager);
      const created = await call(`${replicas[0]?.baseUrl}/api/v1/tokens/`, {
        method: 'POST',
        headers: { ...admin, ...json },
        body: JSON.stringify({
          name: 'load',
          scopes: ['users:read', 'cluster:read'],
          rate_limit_per_minute: 1_000_000,
        }),
      });
      expect(created.status, created.body).toBe(201);
      const headers = { authorization: `Token ${created.json().token}` };
      targets = replicas.map((m) => ({ baseUrl: m.baseUrl, headers }));
    });

    afterAll(async () => {
      // Runs even when a test or beforeAll failed: no server or manager outlives the file.
      await shutdownManagers();
      await server?.destroy();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    const alive = () => {
      for (const m of replicas) expect(m.proc.exitCode, m.output().slice(-3000)).toBeNull();
    };

    /**
     * The jobs run again once the server is back: every replica ends a health round of its share
     * again (its heartbeat carries it to the registry), and exactly one replica holds the jobs
     * lease. Returns how long after `since` that took.
     */
    const jobsResume = async (since: number) => {
      const { ms } = await waitFor(
        'health rounds on every replica, and one leader, after the server came back',
        async () => {
          const t = targets[0] as { baseUrl: string; headers: Record<string, string> };
          const r = await call(`${t.baseUrl}/api/v1/cluster/`, { headers: t.headers });
          if (r.status !== 200) return undefined;
          const live: { leader: boolean; last_round_at: string | null }[] = r
            .json()
            .replicas.filter((x: { alive: boolean }) => x.alive);
          const resumed =
            live.length === replicas.length &&
            live.every((x) => x.last_round_at !== null && Date.parse(x.last_round_at) > since) &&
            live.filter((x) => x.leader).length === 1;
          return resumed ? true : undefined;
        },
        20_000,
        100,
      );
      return ms;
    };

    it.each(['fast', 'immediate'] as const)(
      'pg_ctl stop -m %s: 503s within 2 s, no crash; after pg_ctl start, recovery within 10 s',
      async (mode) => {
        const pgServer = server as ThrowawayPostgres;
        const load = startLoad(targets);
        try {
          await sleep(1500);
          const stopAsked = Date.now();
          await pgServer.stop(mode);
          const stopped = Date.now();
          await sleep(3000);
          const readyz = await call(`${replicas[0]?.baseUrl}/readyz`, { timeoutMs: 5000 });
          expect(readyz.status).toBe(503);
          const startAsked = Date.now();
          await pgServer.start();
          const started = Date.now();
          // Recovery: each replica answers 200 again.
          const recovered = await waitFor(
            'both replicas answer 200',
            async () => {
              const firsts = targets.map(
                (_, i) =>
                  load.samples.find((s) => s.replica === i && s.start >= started && s.status === 200)?.end,
              );
              return firsts.every((t) => t !== undefined) ? (firsts as number[]) : undefined;
            },
            10_000,
            50,
          ).catch((err) => {
            const last = load.samples.slice(-6).map((s) => ({ ...s, start: s.start - started }));
            const managersOut = replicas
              .map((m, i) => `replica ${i} (exit ${m.proc.exitCode}):\n${m.output().slice(-1500)}`)
              .join('\n');
            throw new Error(
              `${(err as Error).message}; last requests: ${JSON.stringify(last)}\nserver log:\n${pgServer.log().slice(-2000)}\n${managersOut}`,
            );
          });
          await sleep(1000);
          await load.stop();
          const samples = load.samples;
          alive();

          const baseline = samples.filter((s) => s.end < stopAsked);
          const down = samples.filter((s) => s.start >= stopped && s.end <= startAsked);
          const around = samples.filter((s) => s.end >= stopAsked && s.start < stopped);
          const recoveryMs = recovered.value.map((t) => t - started);
          const settled = samples.filter(
            (s) => s.start > Math.max(...recovered.value) + 200 && s.end <= Date.now(),
          );
          const problems = samples.filter((s) => s.status !== 200 && s.status !== 503);
          expect(problems, JSON.stringify(problems.slice(0, 5))).toEqual([]);
          expect(baseline.length).toBeGreaterThan(10);
          expect(baseline.every((s) => s.status === 200)).toBe(true);
          // While the server is down: every request, on both replicas, a 503 within 2 s.
          for (const i of targets.keys())
            expect(down.filter((s) => s.replica === i).length).toBeGreaterThan(5);
          expect(down.every((s) => s.status === 503)).toBe(true);
          const downTimes = down.map((s) => s.end - s.start).sort((x, y) => x - y);
          const downLatency = downTimes[downTimes.length - 1] as number;
          const downMedian = downTimes[Math.floor(downTimes.length / 2)] as number;
          expect(downLatency).toBeLessThan(2000);
          // Requests in flight while the server went down end in 200 or 503, nothing else.
          expect(around.every((s) => s.status === 200 || s.status === 503)).toBe(true);
          // Time from `pg_ctl stop` to the first 503 of each replica (the server goes away during it).
          const first503 = targets.map(
            (_, i) =>
              (samples.find((s) => s.replica === i && s.status === 503)?.end ?? Number.NaN) - stopAsked,
          );
          expect(Math.max(...recoveryMs)).toBeLessThan(10_000);
          expect(settled.length).toBeGreaterThan(5);
          expect(settled.every((s) => s.status === 200)).toBe(true);
          const resumedMs = await jobsResume(started);
          console.log(
            `pg_ctl stop -m ${mode}: stop took ${stopped - stopAsked} ms; first 503 per replica ${first503.join(' / ')} ms after it was asked; ` +
              `503s while down: median ${downMedian} ms, slowest ${downLatency} ms (${down.length} requests); pg_ctl start took ${started - startAsked} ms; ` +
              `recovery per replica ${recoveryMs.join(' / ')} ms after start; health rounds on every replica and one leader ${resumedMs} ms after start`,
          );
        } finally {
          await load.stop();
        }
      },
    );

    it('a frozen server (SIGSTOP): 503 within the statement timeout; recovery after SIGCONT', async () => {
      const pgServer = server as ThrowawayPostgres;
      const users = (i: number) =>
        call(`${targets[i]?.baseUrl}/api/v1/authentication/users/`, {
          headers: targets[i]?.headers ?? {},
          timeoutMs: 15_000,
        });
      expect((await users(0)).status).toBe(200);
      pgServer.freeze();
      let frozenMs: number[];
      try {
        const t0 = Date.now();
        const answers = await Promise.all(
          targets.map(async (_, i) => {
            const r = await users(i);
            return { status: r.status, ms: Date.now() - t0 };
          }),
        );
        // The 5 s statement timeout, plus the 2 s connect timeout if a new connection was needed.
        expect(answers.map((x) => x.status)).toEqual([503, 503]);
        frozenMs = answers.map((x) => x.ms);
        expect(Math.max(...frozenMs)).toBeLessThan(7500);
      } finally {
        pgServer.thaw();
      }
      const t1 = Date.now();
      await waitFor(
        'recovery after thaw',
        async () => ((await users(0)).status === 200 && (await users(1)).status === 200 ? true : undefined),
        10_000,
        200,
      );
      const recovery = Date.now() - t1;
      alive();
      const resumedMs = await jobsResume(t1);
      console.log(
        `frozen server: 503 after ${frozenMs.join(' / ')} ms; recovery ${recovery} ms after SIGCONT; health rounds on every replica and one leader ${resumedMs} ms after SIGCONT`,
      );
    });
  },
);
