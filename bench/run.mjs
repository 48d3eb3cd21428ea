// `npm run bench`: runs the real manager (built, as a child process, embedded database, plain
// HTTP) and a bare Fastify reference in the same run, loads both with the same autocannon
// client, and prints requests/s, p50/p99 latency, the server's CPU time per request and the
// ratio manager/reference. The token-authenticated whoami is also measured against a second
// reference, Fastify with the ecosystem's plugins for the same features
// (bench/ecosystem-reference-server.mjs).
//   BENCH_SECONDS (default 8) sets the duration of each measurement, BENCH_ROUNDS (default 3)
//   how many alternating measurements of each side are averaged, BENCH_ONLY (comma-separated:
//   healthz, whoami, login, footprint, cluster, summary, upkeep, fleet) runs only those parts, and BENCH_BASELINE=<dir>
//   also starts the manager of another built checkout (say, a `git worktree` of the commit
//   before a change) and measures it in the same alternation, so a change's effect is read
//   from one run.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterBenchmarks } from './cluster.mjs';
import { footprintBenchmarks } from './footprint.mjs';
import { adminToken, cpuMs, load as loadFor, start } from './lib.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PASSWORD = 'Bench Admin Passphrase 2026';
const root = join(import.meta.dirname, '..');
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : null;
const wanted = (part) => ONLY === null || ONLY.has(part);

/** Loads `url` for BENCH_SECONDS (bench/lib.mjs's load with this run's duration by default). */
const load = (url, headers = {}, opts = {}) => loadFor(url, headers, { duration: SECONDS, ...opts });

const fmt = (r) =>
  `${r.rps.toFixed(0).padStart(7)} req/s  p50 ${String(r.p50).padStart(3)} ms  p99 ${String(r.p99).padStart(3)} ms${r.errors ? `  (${r.errors} errors)` : ''}`;

/** Loads `url` and also reports the server's CPU time per request (robust to a busy client). */
async function loadMeasured(pid, url, headers) {
  const before = cpuMs(pid);
  const r = await load(url, headers);
  const after = cpuMs(pid);
  const requests = r.rps * SECONDS;
  return { ...r, cpuUs: before === undefined ? undefined : ((after - before) * 1000) / requests };
}

const cpu = (r) => (r.cpuUs === undefined ? '' : `  server CPU ${r.cpuUs.toFixed(1)} us/request`);

async function compare(name, path, manager, reference, headers, target, baseline, ecosystem) {
  // Warm both up, then measure the reference and the manager alternately, ROUNDS times each,
  // so that a burst of other load on the machine does not land on one side only.
  await load(`${reference.url}${path}`, {}, { duration: 2 });
  await load(`${manager.url}${path}`, headers, { duration: 2 });
  if (baseline) await load(`${baseline.server.url}${path}`, baseline.headers, { duration: 2 });
  if (ecosystem) await load(`${ecosystem.url}${path}`, headers, { duration: 2 });
  const refs = [];
  const ecos = [];
  const reals = [];
  const bases = [];
  // The manager and the baseline swap places every round: measured in a fixed order, the same
  // build ran about 12% faster in the later slot (docs/benchmarks.md, 2026-12-06).
  const measureManager = async () =>
    reals.push(await loadMeasured(manager.proc.pid, `${manager.url}${path}`, headers));
  const measureBaseline = async () => {
    if (baseline)
      bases.push(
        await loadMeasured(baseline.server.proc.pid, `${baseline.server.url}${path}`, baseline.headers),
      );
  };
  for (let i = 0; i < ROUNDS; i++) {
    refs.push(await loadMeasured(reference.proc.pid, `${reference.url}${path}`, {}));
    if (ecosystem) ecos.push(await loadMeasured(ecosystem.proc.pid, `${ecosystem.url}${path}`, headers));
    if (i % 2 === 0) {
      await measureManager();
      await measureBaseline();
    } else {
      await measureBaseline();
      await measureManager();
    }
  }
  const ref = mean(refs);
  const real = mean(reals);
  const ratio = real.rps / ref.rps;
  console.log(`\n${name}`);
  console.log(`  reference (bare Fastify): ${fmt(ref)}${cpu(ref)}`);
  console.log(`  manager:                  ${fmt(real)}${cpu(real)}`);
  if (baseline) {
    const base = mean(bases);
    console.log(`  baseline manager:         ${fmt(base)}${cpu(base)}`);
    console.log(`  ratio baseline/reference: ${(base.rps / ref.rps).toFixed(2)}`);
  }
  // What missed its target, named in the summary at the end.
  const misses = [];
  if (target === undefined) {
    // whoami: issue 3's target against the bare route (0.85) was withdrawn by issue 18, which
    // states the two targets below instead; the ratio is still printed, for the record.
    console.log(`  ratio manager/reference:  ${ratio.toFixed(2)} (no target: see the two below)`);
  } else {
    console.log(
      `  ratio manager/reference:  ${ratio.toFixed(2)} (target >= ${target}) ${ratio >= target ? 'OK' : 'BELOW TARGET'}`,
    );
    if (ratio < target) misses.push(`${name}: throughput against the bare route`);
  }
  if (ecosystem) {
    // Issue 18's targets: throughput against what a team would assemble from plugins, and the
    // server CPU per request against the bare route.
    const eco = mean(ecos);
    const overEco = real.rps / eco.rps;
    console.log(`  ecosystem reference (plugins): ${fmt(eco)}${cpu(eco)}`);
    console.log(
      `  ratio manager/ecosystem:  ${overEco.toFixed(2)} (target >= 1.5) ${overEco >= 1.5 ? 'OK' : 'BELOW TARGET'}`,
    );
    if (overEco < 1.5) misses.push(`${name}: throughput against the ecosystem reference`);
    if (real.cpuUs !== undefined && ref.cpuUs !== undefined) {
      const cpuRatio = real.cpuUs / ref.cpuUs;
      console.log(
        `  CPU per request manager/reference: ${cpuRatio.toFixed(2)} (target <= 1.8) ${cpuRatio <= 1.8 ? 'OK' : 'ABOVE TARGET'}`,
      );
      if (cpuRatio > 1.8) misses.push(`${name}: server CPU per request against the bare route`);
    }
  }
  return { name, ref, real, ratio, misses };
}

/** The mean of several runs (latency percentiles: the worst run's). */
function mean(runs) {
  const avg = (f) => runs.reduce((sum, r) => sum + f(r), 0) / runs.length;
  return {
    rps: avg((r) => r.rps),
    p50: Math.max(...runs.map((r) => r.p50)),
    p99: Math.max(...runs.map((r) => r.p99)),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    cpuUs: runs.some((r) => r.cpuUs === undefined) ? undefined : avg((r) => r.cpuUs),
  };
}

/** A built manager of checkout `dir`, on the embedded database in a data directory of its own. */
function startManager(dir, dataDir) {
  return start(join(dir, 'bin', 'steward'), ['serve', '--host', '127.0.0.1', '--port', '0'], {
    STEWARD_DATA_DIR: dataDir,
    STEWARD_TLS: 'off',
    STEWARD_LOG_LEVEL: 'warn',
    STEWARD_ADMIN_PASSWORD: PASSWORD,
    // Logins come from one IP here; lift the per-IP budget so they measure Argon2, not the limiter.
    STEWARD_IP_RATE_LIMIT: '1000000',
  });
}

/** The benchmark's API token (one scope, no practical rate limit). */
const benchToken = (server) => adminToken(server.url, PASSWORD, 'bench', ['users:read']);

const dataDir = mkdtempSync(join(tmpdir(), 'steward-bench-'));
const manager = await startManager(root, dataDir);
const reference = await start(join(root, 'bench', 'reference-server.mjs'), []);
const baselineDir = process.env.BENCH_BASELINE;
const baselineData = baselineDir ? mkdtempSync(join(tmpdir(), 'steward-bench-baseline-')) : undefined;
const baselineServer = baselineDir ? await startManager(baselineDir, baselineData) : undefined;
const results = [];
const stopAtEnd = [];
try {
  console.log(`Steward benchmarks: ${SECONDS} s per measurement, 20 connections, node ${process.version}`);
  if (baselineDir) console.log(`Baseline manager: ${baselineDir}`);
  const baseline = (headers) => (baselineServer ? { server: baselineServer, headers } : undefined);
  if (wanted('healthz'))
    results.push(await compare('GET /healthz', '/healthz', manager, reference, {}, 0.9, baseline({})));

  const token = { token: await benchToken(manager) };
  const baselineToken = baselineServer ? await benchToken(baselineServer) : undefined;
  // The ecosystem reference knows the manager's token, so one header works on both.
  const ecosystem = wanted('whoami')
    ? await start(join(root, 'bench', 'ecosystem-reference-server.mjs'), [], { BENCH_TOKEN: token.token })
    : undefined;
  stopAtEnd.push(ecosystem);
  if (wanted('whoami'))
    results.push(
      await compare(
        'GET /api/v1/auth/whoami/ with an API token',
        '/api/v1/auth/whoami/',
        manager,
        reference,
        { authorization: `Token ${token.token}` },
        undefined,
        baseline({ authorization: `Token ${baselineToken}` }),
        ecosystem,
      ),
    );

  // Logins are deliberately slow (Argon2id, 19 MiB, t=2): this is the price of each guess.
  if (wanted('login')) {
    const logins = await load(
      `${manager.url}/api/v1/auth/token/`,
      { 'content-type': 'application/json' },
      {
        method: 'POST',
        body: JSON.stringify({ username: 'admin', password: PASSWORD }),
        connections: 4,
        duration: Math.min(SECONDS, 5),
      },
    );
    console.log(`\nPOST /api/v1/auth/token/ (password login, Argon2id)\n  manager: ${fmt(logins)}`);
  }
} finally {
  manager.proc.kill('SIGTERM');
  reference.proc.kill('SIGTERM');
  baselineServer?.proc.kill('SIGTERM');
  for (const server of stopAtEnd) server?.proc.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
  if (baselineData) rmSync(baselineData, { recursive: true, force: true });
}
if (wanted('footprint')) await footprintBenchmarks({ start, root, password: PASSWORD, baselineDir });
if (wanted('cluster'))
  await clusterBenchmarks({ start, load, fmt, root, password: PASSWORD, seconds: SECONDS });

// The dashboard's summary with 10,000 appliances (bench/summary.mjs prints its measurements).
if (wanted('summary')) {
  spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench', 'summary.mjs')], {
    cwd: root,
    stdio: 'inherit',
  });
}

// What the embedded database's upkeep does for the summary's count (bench/embedded-upkeep.mjs).
if (wanted('upkeep')) {
  spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench', 'embedded-upkeep.mjs')], {
    cwd: root,
    stdio: 'inherit',
  });
}

// The fleet benchmark: 1,000 agents on loopback, one apply to all, polling CPU and memory
// (test/scale/fleet-scale.test.ts prints its measurements). BENCH_FLEET_SCALE=0 skips it.
const fleetScale = process.env.BENCH_FLEET_SCALE ?? '1000';
if (fleetScale !== '0' && wanted('fleet')) {
  console.log(`\nFleet at scale (${fleetScale} agents), from test/scale/fleet-scale.test.ts:`);
  const out = spawnSync(join(root, 'node_modules', '.bin', 'vitest'), ['run', '--project', 'scale'], {
    cwd: root,
    env: { ...process.env, STEWARD_FLEET_SCALE: fleetScale },
    encoding: 'utf8',
  });
  const lines = `${out.stdout}${out.stderr}`.split('\n').filter((l) => l.includes('[fleet-scale]'));
  console.log(
    lines.length
      ? lines.map((l) => `  ${l.replace(/^.*\[fleet-scale\]\s*/, '')}`).join('\n')
      : `  (no measurements; exit ${out.status})`,
  );
}
const misses = results.flatMap((r) => r.misses);
if (misses.length) console.log(`\n${misses.length} target(s) missed:\n  ${misses.join('\n  ')}`);
