// Scale-out benchmarks, run by bench/run.mjs when PostgreSQL answers on 127.0.0.1:5432:
// revocation propagation between two replicas (p50, p99) and the throughput of two replicas
// against one, with the same client.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export async function clusterBenchmarks({ start, load, fmt, root, password, seconds }) {
  const base = process.env.STEWARD_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const admin = new pg.Client({ connectionString: base, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
  } catch {
    console.log('\n(scale-out benchmarks skipped: no PostgreSQL at 127.0.0.1:5432)');
    return;
  }
  const name = `steward_bench_${Date.now().toString(36)}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  const dirs = [];
  const managers = [];
  const env = (dir) => ({
    STEWARD_DATA_DIR: dir,
    STEWARD_DATABASE_URL: url.toString(),
    STEWARD_TLS: 'off',
    STEWARD_LOG_LEVEL: 'warn',
    STEWARD_ADMIN_PASSWORD: password,
  });
  try {
    for (let i = 0; i < 2; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'steward-bench-pg-'));
      dirs.push(dir);
      managers.push(
        await start(join(root, 'bin', 'steward'), ['serve', '--host', '127.0.0.1', '--port', '0'], env(dir)),
      );
    }
    const [a, b] = managers;
    const post = async (u, body, headers = {}) => {
      const r = await fetch(u, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
      return r.json();
    };
    const { token: session } = await post(`${a.url}/api/v1/auth/token/`, { username: 'admin', password });
    const auth = { authorization: `Token ${session}` };

    const samples = [];
    for (let i = 0; i < 40; i++) {
      const t = await post(`${a.url}/api/v1/tokens/`, { name: `rev-${i}`, scopes: ['users:read'] }, auth);
      const h = { authorization: `Token ${t.token}` };
      await fetch(`${b.url}/api/v1/auth/whoami/`, { headers: h }); // cached on B
      const t0 = performance.now();
      await fetch(`${a.url}/api/v1/tokens/${t.id}/`, { method: 'DELETE', headers: auth });
      for (;;) {
        const r = await fetch(`${b.url}/api/v1/auth/whoami/`, { headers: h });
        if (r.status === 401) break;
        if (performance.now() - t0 > 15_000) throw new Error('revocation did not propagate within 15 s');
      }
      samples.push(performance.now() - t0);
    }
    samples.sort((x, y) => x - y);
    const pct = (p) =>
      samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))].toFixed(1);
    console.log(
      '\nRevocation propagation, replica A -> replica B (40 tokens; from the DELETE on A until B refuses)',
    );
    console.log(
      `  p50 ${pct(50)} ms  p99 ${pct(99)} ms  max ${samples.at(-1).toFixed(1)} ms (target: under 1000 ms)`,
    );

    const t = await post(
      `${a.url}/api/v1/tokens/`,
      { name: 'bench-throughput', scopes: ['users:read'], rate_limit_per_minute: 1000000 },
      auth,
    );
    const h = { authorization: `Token ${t.token}` };
    const one = await load(`${a.url}/api/v1/auth/whoami/`, h, { connections: 20 });
    const [ra, rb] = await Promise.all([
      load(`${a.url}/api/v1/auth/whoami/`, h, { connections: 10 }),
      load(`${b.url}/api/v1/auth/whoami/`, h, { connections: 10 }),
    ]);
    const two = ra.rps + rb.rps;
    console.log(`\nGET /api/v1/auth/whoami/ on PostgreSQL, ${seconds} s each, 20 connections in all`);
    console.log(`  one replica:   ${fmt(one)}`);
    console.log(
      `  two replicas:  ${two.toFixed(0).padStart(7)} req/s  (A: ${ra.rps.toFixed(0)}, B: ${rb.rps.toFixed(0)})`,
    );
    console.log(
      `  ratio two/one: ${(two / one.rps).toFixed(2)} (one machine with 2 cores runs the client and both replicas)`,
    );
  } finally {
    for (const m of managers) m.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1500));
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await admin.end();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
