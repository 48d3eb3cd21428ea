// What every browser test file needs: a real manager process on the embedded database, real
// agents, Debian's Chromium through playwright-core, and the console served on one origin with
// the manager's API. A file calls startConsoleHarness() in beforeAll and close() in afterAll; the
// harness records script errors, CSP violations and console writes sent without the CSRF header
// so a file can assert there were none.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Locator,
  type Page,
  type Request,
} from 'playwright-core';
import { type AgentProcess, spawnAgent } from '../helpers/agent-spawn.js';
import { call, type RunningManager, startManager } from '../helpers/process.js';
import { CONSOLE_DIR, startConsoleServer } from './console-server.js';

export const CHROMIUM = process.env.STEWARD_CHROMIUM ?? '/usr/bin/chromium';
export const SHOTS = join(import.meta.dirname, 'screenshots');
export const PASSWORD = 'Browser Test Passphrase 2026';
/** Locally a missing browser or console build skips the browser tests; in CI (CI=1) they must run. */
export const ready = existsSync(CHROMIUM) && existsSync(join(CONSOLE_DIR, 'index.html'));

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/**
 * Runs in the page: the visible controls without an accessible name (inputs without a <label> or
 * aria-label/-labelledby, buttons and links without text or a label). A string, so test files
 * need no DOM types.
 */
export const UNLABELLED_CONTROLS = `(() => {
  const out = [];
  const visible = (el) =>
    el.offsetParent !== null && !el.closest('[aria-hidden="true"]') && el.tabIndex !== -1;
  const labelled = (el) =>
    Boolean(
      el.getAttribute('aria-label')?.trim() ||
        (el.getAttribute('aria-labelledby') ?? '')
          .split(' ')
          .some((id) => document.getElementById(id)?.textContent?.trim()) ||
        [...(el.labels ?? [])].some((l) => l.textContent?.trim()),
    );
  for (const el of document.querySelectorAll('input, textarea, select')) {
    const type = el.getAttribute('type');
    if (type === 'hidden' || type === 'file' || !visible(el)) continue;
    if (!labelled(el)) out.push(el.tagName.toLowerCase() + '#' + el.id);
  }
  for (const el of document.querySelectorAll('button, a[href], [role="switch"], [role="checkbox"]')) {
    if (!visible(el)) continue;
    if (!labelled(el) && !el.textContent?.trim()) out.push(el.tagName.toLowerCase() + '.' + el.className);
  }
  return out;
})()`;

/**
 * Runs in the page: true once no finite animation or CSS transition is still running. A function,
 * not a string: Playwright compiles a string predicate with `new Function` in the page, which the
 * console's CSP (no 'unsafe-eval') refuses with an EvalError.
 */
function finiteAnimationsDone(): boolean {
  type Timing = { iterations: number };
  type Animation = { playState: string; effect: { getComputedTiming(): Timing } | null };
  const doc = (globalThis as unknown as { document: { getAnimations(): Animation[] } }).document;
  return doc
    .getAnimations()
    .every(
      (a) =>
        a.playState !== 'running' || a.effect?.getComputedTiming().iterations === Number.POSITIVE_INFINITY,
    );
}

export interface HarnessOptions {
  /** Agents to start before the manager is ready: `{ name, type }` (worker, hub, analyze). */
  agents?: { name: string; type: string }[];
}

export interface ConsoleHarness {
  manager: RunningManager;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Where the console is served (the manager, or a local static server in front of it). */
  base: string;
  agents: AgentProcess[];
  /** The manager's data directory (STEWARD_DATA_DIR). */
  dataDir: string;
  /** Script errors and CSP violations seen in any page of this harness. */
  browserErrors: string[];
  /** Console writes (non-GET /api/ requests) sent without the CSRF header. */
  writesWithoutCsrfHeader: string[];
  /** A scratch directory for files the test picks in file inputs. */
  filesDir: string;
  /** Saves a full-page screenshot under test/browser/screenshots/<name>.png once the page settled. */
  shot(name: string, on?: Page): Promise<void>;
  /** Opens a console path and waits for its level-1 heading. */
  go(path: string, heading: string | RegExp, on?: Page): Promise<void>;
  signInAs(username: string, password: string, on?: Page): Promise<void>;
  /** Calls the manager's API as the admin with a fresh token (outside the browser). */
  apiAsAdmin(path: string, init?: RequestInit): Promise<Response>;
  /** Picks a file for a file input (Mantine's FileInput opens the browser's file chooser). */
  chooseFile(trigger: Locator, name: string, content: string | Buffer, on?: Page): Promise<void>;
  /** axe-core's serious and critical violations on the page as it is now, as readable lines. */
  axeViolations(on?: Page): Promise<string[]>;
  /** A second page in its own browser context (its own cookies), e.g. at phone size. */
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  /** On a failing test, keeps a picture of what the browser showed. */
  shotIfFailed(task: { name: string; result?: { state?: string } }): Promise<void>;
  close(): Promise<void>;
}

const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function startConsoleHarness(options: HarnessOptions = {}): Promise<ConsoleHarness> {
  mkdirSync(SHOTS, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'steward-browser-'));
  const filesDir = mkdtempSync(join(tmpdir(), 'steward-browser-files-'));
  const agentDirs = (options.agents ?? []).map(() => mkdtempSync(join(tmpdir(), 'steward-browser-agent-')));
  const [manager, ...agents] = await Promise.all([
    startManager({ STEWARD_DATA_DIR: dataDir, STEWARD_ADMIN_PASSWORD: PASSWORD }, ['--tls', 'off']),
    ...(options.agents ?? []).map((a, i) =>
      spawnAgent(
        [
          '--type',
          a.type,
          '--listen',
          '127.0.0.1:0',
          '--data',
          agentDirs[i] as string,
          '--tls',
          'on',
          '--name',
          a.name,
        ],
        // Agents start next to the manager and other test files on a shared machine: a cold
        // start of an agent alone took 10 s there, so 20 s for several was not enough.
        60_000,
      ),
    ),
  ]);
  // Once the manager serves the console at `/`, test it there; else serve dist/console on a local
  // origin that passes /api through to the manager.
  let base = manager.baseUrl;
  let closeServer: (() => Promise<void>) | undefined;
  const root = await fetch(`${manager.baseUrl}/sign-in`).catch(() => undefined);
  const servesConsole = root?.ok && (await root.text()).includes('<div id="root">');
  if (!servesConsole) {
    const server = await startConsoleServer(manager.baseUrl);
    base = server.url;
    closeServer = server.close;
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
  const browserErrors: string[] = [];
  const writesWithoutCsrfHeader: string[] = [];

  const contexts: BrowserContext[] = [];
  const openPage = async (viewport = DESKTOP) => {
    const ctx = await browser.newContext({ viewport, locale: 'en-GB', timezoneId: 'UTC' });
    contexts.push(ctx);
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    const p = await ctx.newPage();
    p.setDefaultTimeout(10_000);
    p.on('pageerror', (e) => browserErrors.push(String(e)));
    p.on('console', (m) => {
      // 401s while signed out and 4xx the tests provoke are expected; script errors and CSP
      // violations are not.
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) browserErrors.push(m.text());
    });
    p.on('request', (r: Request) => {
      const url = new URL(r.url());
      if (
        url.pathname.startsWith('/api/') &&
        r.method() !== 'GET' &&
        r.headers()['x-requested-with'] !== 'steward-console'
      ) {
        writesWithoutCsrfHeader.push(`${r.method()} ${url.pathname}`);
      }
    });
    return { ctx, p };
  };
  const first = await openPage();
  const page = first.p;

  const shot = async (name: string, on: Page = page) => {
    // Let fonts, transitions and pending queries settle so the picture shows the page, not a spinner.
    await on.waitForLoadState('networkidle').catch(() => undefined);
    await on.waitForTimeout(250);
    await on.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };

  return {
    manager,
    browser,
    context: first.ctx,
    page,
    base,
    agents,
    dataDir,
    browserErrors,
    writesWithoutCsrfHeader,
    filesDir,
    shot,
    async go(path, heading, on = page) {
      await on.goto(`${base}${path}`);
      await on.getByRole('heading', { level: 1, name: heading }).waitFor();
    },
    async signInAs(username, password, on = page) {
      await on.getByLabel('Username').fill(username);
      await on.getByRole('textbox', { name: 'Password', exact: true }).fill(password);
      await on.getByRole('button', { name: 'Sign in' }).click();
    },
    async apiAsAdmin(path, init = {}) {
      const login = await call(`${manager.baseUrl}/api/v1/auth/token/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: PASSWORD }),
      });
      const token = login.json().token as string;
      return fetch(`${manager.baseUrl}${path}`, {
        ...init,
        headers: {
          authorization: `Token ${token}`,
          ...(init.body ? { 'content-type': 'application/json' } : {}),
          ...(init.headers ?? {}),
        },
      });
    },
    async chooseFile(trigger, name, content, on = page) {
      const path = join(filesDir, name);
      writeFileSync(path, content);
      const [chooser] = await Promise.all([on.waitForEvent('filechooser'), trigger.click()]);
      await chooser.setFiles(path);
    },
    async axeViolations(on = page) {
      await on.waitForLoadState('networkidle').catch(() => undefined);
      // Let finite transitions end (a toast fading in measures as faint text); spinners loop forever.
      await on.waitForFunction(finiteAnimationsDone, undefined, { timeout: 5_000 }).catch(() => undefined);
      const result = await new AxeBuilder({ page: on }).analyze();
      return result.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map(
          (v) =>
            `${v.id}: ${v.nodes.map((n) => `${n.target.join(' ')} (${n.failureSummary ?? ''})`).join('; ')}`,
        );
    },
    async newPage(viewport = DESKTOP) {
      return (await openPage(viewport)).p;
    },
    async shotIfFailed(task) {
      if (task.result?.state !== 'fail') return;
      const name = task.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
      await page
        .screenshot({ path: join(SHOTS, `failed-${name}.png`), fullPage: true })
        .catch(() => undefined);
    },
    async close() {
      for (const ctx of contexts) await ctx.close().catch(() => undefined);
      await browser.close();
      await closeServer?.();
      await manager.stop();
      for (const a of agents) await a.kill('SIGKILL');
      for (const dir of [dataDir, filesDir, ...agentDirs]) rmSync(dir, { recursive: true, force: true });
    },
  };
}
