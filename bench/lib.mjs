// What the benchmark scripts share: starting a process and waiting until it listens, loading a
// URL with autocannon, a JSON request, a process's CPU time, and an API token for the admin.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

/**
 * Runs `node cmd ...args` and resolves with the process and its URL once it prints "listening on".
 * BENCH_NODE_ARGS adds flags to node for every process started, e.g.
 * `BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` for a CPU profile of each (written at exit).
 */
export function start(cmd, args, env = {}) {
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...nodeArgs, cmd, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d) => {
      out += String(d);
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) resolve({ proc, url: m[1] });
    });
    proc.stderr.on('data', (d) => {
      out += String(d);
    });
    proc.on('exit', (code) => reject(new Error(`${cmd} exited with ${code}:\n${out}`)));
  });
}

/** Stops a process started by `start` and waits for it to exit. */
export function stop(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
  });
}

/** Loads `url` with autocannon: requests/s, latency percentiles (ms), errors and total requests. */
export function load(url, headers = {}, opts = {}) {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        headers,
        connections: opts.connections ?? 20,
        duration: opts.duration ?? 8,
        method: opts.method ?? 'GET',
        body: opts.body,
      },
      (err, r) =>
        err
          ? reject(err)
          : resolve({
              rps: r.requests.average,
              p50: r.latency.p50,
              p99: r.latency.p99,
              max: r.latency.max,
              errors: r.errors + r.non2xx,
              total: r.requests.total,
            }),
    );
  });
}

export async function json(url, init) {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** CPU time (user + system, ms) a process has used so far; undefined where /proc is missing. */
export function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** Logs in as `admin` and makes an API token with `scopes` and no practical rate limit. */
export async function adminToken(url, password, name, scopes) {
  const login = await json(`${url}/api/v1/auth/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password }),
  });
  const made = await json(`${url}/api/v1/tokens/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Token ${login.token}` },
    body: JSON.stringify({ name, scopes, rate_limit_per_minute: 1000000 }),
  });
  return made.token;
}
