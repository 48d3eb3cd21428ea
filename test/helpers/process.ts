// End-to-end helpers: run the built `steward` as a real process on a free loopback port.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const STEWARD = join(ROOT, 'bin', 'steward');

export function assertBuilt() {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm ci runs it) before the end-to-end tests');
  }
}

export interface RunningManager {
  proc: ChildProcess;
  baseUrl: string;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `steward serve` and resolves once it prints the URL it serves. Its settings are `env`
 * only: a STEWARD_* variable or NODE_OPTIONS of the caller's shell (or of the test runner) does
 * not reach it. `nodeArgs` go to node before the script (say, `--cpu-prof`).
 */
export async function startManager(
  env: Record<string, string>,
  args: string[] = [],
  opts: { nodeArgs?: string[] } = {},
): Promise<RunningManager> {
  assertBuilt();
  let out = '';
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('STEWARD_') && k !== 'NODE_OPTIONS'),
  );
  const proc = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), STEWARD, 'serve', '--host', '127.0.0.1', '--port', '0', ...args],
    { env: { ...inherited, STEWARD_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout?.on('data', (d) => {
    out += String(d);
  });
  proc.stderr?.on('data', (d) => {
    out += String(d);
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`manager did not start in 60 s:\n${out}`)), 60_000);
    const check = () => {
      const m = /listening on (https?:\/\/[^\s]+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    proc.stdout?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`manager exited with ${code} before listening:\n${out}`));
    });
  });
  return {
    proc,
    baseUrl,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill(signal);
      return exited;
    },
  };
}

/** Runs `steward <args>` to completion. */
export function runSteward(args: string[], env: Record<string, string> = {}, input?: string) {
  assertBuilt();
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const proc = spawn(process.execPath, [STEWARD, ...args], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => {
      stdout += String(d);
    });
    proc.stderr.on('data', (d) => {
      stderr += String(d);
    });
    proc.stdin.end(input ?? '');
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies
  json: () => any;
}

/** A request that accepts the manager's self-signed certificate (like `curl -k`). */
export function call(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<HttpResult> {
  const u = new URL(url);
  const req = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = req(
      u,
      { method: opts.method ?? 'GET', headers: opts.headers, rejectUnauthorized: false },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += String(d);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) }),
        );
      },
    );
    r.on('error', reject);
    // A request that hangs is a failure to report, not a test to wait out.
    r.setTimeout(opts.timeoutMs ?? 15_000, () =>
      r.destroy(new Error(`no answer from ${url} within ${opts.timeoutMs ?? 15_000} ms`)),
    );
    if (opts.body) r.write(opts.body);
    r.end();
  });
}
