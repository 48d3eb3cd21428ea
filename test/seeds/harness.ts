// The seed tests' harness: the built `steward serve` as a real process (HTTPS, self-signed, as the
// README starts it), real agents, and the seed's curl commands run with the real curl binary.
//
// A seed command is pasted into a test as the seed prints it (the seed's commands are broken over
// lines without backslashes; the line breaks are word breaks here as they would be in a shell
// after joining). Only the host, the token and the placeholders in angle brackets are replaced,
// and `-k` is added for the self-signed certificate, as the seed's own tip says. `-sS -w` only make
// curl print the status code after the body; they change nothing in the request.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { call, type HttpResult, type RunningManager, startManager } from '../helpers/process.js';

export const SEED_ADMIN_PASSWORD = 'Seed Tests Admin Passphrase 2026';

/** The seed's host names, replaced by the manager under test. */
const SEED_HOSTS = ['https://{server}', 'https://c1000.example.com', 'https://example.c1000.com'];
/** The seed's token placeholders, replaced by a real token. */
const SEED_TOKENS = ['<token>', 'exampletoken'];

export interface SeedManager {
  manager: RunningManager;
  baseUrl: string;
  /** A session token of the built-in admin (what the seed's login step answers). */
  token: string;
  dataDir: string;
  stop(): Promise<void>;
}

/** Starts `steward serve` on HTTPS (the default) with a throwaway data directory, and logs in. */
export async function startSeedManager(
  env: Record<string, string> = {},
  /** Runs on the data directory before the manager starts (trusted package keys, say). */
  prepare?: (dataDir: string) => void,
): Promise<SeedManager> {
  const dataDir = mkdtempSync(join(tmpdir(), 'steward-seed-'));
  prepare?.(dataDir);
  const manager = await startManager({
    STEWARD_DATA_DIR: dataDir,
    STEWARD_ADMIN_PASSWORD: SEED_ADMIN_PASSWORD,
    ...env,
  });
  try {
    const res = await call(`${manager.baseUrl}/api/v1/auth/token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: SEED_ADMIN_PASSWORD }),
    });
    if (res.status !== 200) throw new Error(`admin login failed: ${res.status} ${res.body}`);
    const token = res.json().token as string;
    return {
      manager,
      baseUrl: manager.baseUrl,
      token,
      dataDir,
      async stop() {
        await manager.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await manager.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

/** Splits a command line into words as a POSIX shell would (quotes; no expansions). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && /["\\$`]/.test(line[i + 1] ?? ''))
        word = `${word ?? ''}${line[++i]}`;
      else word = `${word ?? ''}${c}`;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= '';
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === '\\') {
      const next = line[++i];
      // A backslash before a line break joins the lines.
      if (next !== undefined && next !== '\n') word = (word ?? '') + next;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} in: ${line}`);
  if (word !== undefined) words.push(word);
  return words;
}

export interface CurlOptions {
  /** Working directory (where `-F file=@name` finds its files). */
  cwd?: string;
  /** The token to send instead of the manager's admin session. */
  token?: string;
  /** Further placeholders of the seed, such as `<appliance_name>`, and what replaces them. */
  replace?: Record<string, string>;
}

export interface CurlResult extends Omit<HttpResult, 'headers'> {
  /** The arguments curl ran with (for failure messages). */
  args: string[];
}

/** Runs a seed curl command (text as the seed prints it) against the manager with the real curl. */
export function seedCurl(
  command: string,
  m: Pick<SeedManager, 'baseUrl' | 'token'>,
  opts: CurlOptions = {},
): Promise<CurlResult> {
  const words = shellWords(command.trim());
  if (words[0] !== 'curl') throw new Error(`not a curl command: ${command}`);
  const replacements: [string, string][] = [
    ...SEED_HOSTS.map((h) => [h, m.baseUrl] as [string, string]),
    ...SEED_TOKENS.map((t) => [t, opts.token ?? m.token] as [string, string]),
    ...Object.entries(opts.replace ?? {}),
  ];
  const args = words
    .slice(1)
    .map((w) => replacements.reduce((acc, [from, to]) => acc.split(from).join(to), w));
  const full = ['-k', '-sS', '-w', '\n%{http_code}', ...args];
  return new Promise((resolve, reject) => {
    execFile(
      'curl',
      full,
      { cwd: opts.cwd, timeout: 30_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && !stdout) return reject(new Error(`curl failed: ${err.message}\n${stderr}`));
        const cut = stdout.lastIndexOf('\n');
        const body = stdout.slice(0, cut);
        const status = Number(stdout.slice(cut + 1));
        // Failure messages show the arguments, never the token itself.
        const shown = full.map((a) => a.split(opts.token ?? m.token).join('<token>'));
        resolve({ args: shown, status, body, json: () => JSON.parse(body) });
      },
    );
  });
}

/** A JSON call with the admin token, for the set-up a seed step assumes (not a seed command). */
export async function api(
  m: Pick<SeedManager, 'baseUrl' | 'token'>,
  method: string,
  path: string,
  body?: unknown,
): Promise<HttpResult> {
  return call(`${m.baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Token ${m.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Fails with the status and body when the answer is not the expected status. */
export function expectStatus<R extends { status: number; body: string }>(res: R, status: number): R {
  if (res.status !== status) {
    const args = 'args' in res ? ` (curl ${(res as unknown as CurlResult).args.join(' ')})` : '';
    throw new Error(`expected ${status}, got ${res.status}${args}: ${res.body}`);
  }
  return res;
}

export interface SeedAppliance {
  id: number;
  name: string;
  agent: TestAgent;
}

/**
 * A real agent (in this process, on loopback) added to the manager and authorized: pairing for
 * hubs and workers (GET), the agent's API token for Spectra Analyze (PUT), as the seed does it.
 */
export async function addAppliance(
  m: Pick<SeedManager, 'baseUrl' | 'token'>,
  name: string,
  type: 'a1000' | 'tiscale-worker' | 'tiscale-hub',
  agentOpts: { tls?: boolean } = {},
): Promise<SeedAppliance> {
  const agent = await startTestAgent({ type, name, ...(agentOpts.tls ? { tls: true } : {}) });
  try {
    const created = expectStatus(
      await api(m, 'POST', '/api/v1/appliances/create/', { name, type, url: agent.url }),
      201,
    );
    const id = created.json().id as number;
    const auth =
      type === 'a1000'
        ? await api(m, 'PUT', `/api/v1/appliances/${id}/authorization/`, { token: agent.token })
        : await api(m, 'GET', `/api/v1/appliances/${id}/authorization/`);
    expectStatus(auth, 200);
    return { id, name, agent };
  } catch (err) {
    await agent.cleanup();
    throw err;
  }
}

/** Polls until fn answers something truthy. */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  ms = 20_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/**
 * A request example of the seed (method, path and body as the guide lists them, for steps that
 * show no curl command), sent with curl as the guide's other commands are: `--json` when there
 * is a body.
 */
export function seedRequest(
  m: Pick<SeedManager, 'baseUrl' | 'token'>,
  line: string,
  body?: unknown,
  opts: CurlOptions = {},
): Promise<CurlResult> {
  const [method, path] = line.split(' ');
  let command = `curl -X ${method} https://{server}${path} -H 'Authorization: Token <token>'`;
  if (body !== undefined) command += ` --json '${JSON.stringify(body).replaceAll("'", "'\\''")}'`;
  return seedCurl(command, m, opts);
}
