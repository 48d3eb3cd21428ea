// buildTestApp for route tests: one app per test file on a fresh database, a manual clock, a
// data directory of its own, captured logs (scanned for secrets), and helpers that make users
// and credentials of any role.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { RoleName } from '../../src/contract/permissions.js';
import { type AppDeps, buildApp } from '../../src/server/app.js';
import { loadConfig } from '../../src/server/config/config.js';
import type { Database } from '../../src/server/db/schema.js';
import { createServices } from '../../src/server/services.js';
import { createManualClock } from '../../src/server/shared/clock.js';
import { silentLogger } from '../../src/server/shared/logger.js';
import { createTestDatabase } from './database.js';

export const TEST_PASSWORD = 'Test-Password-For-Steward-0';

export interface TestContext {
  app: FastifyInstance;
  db: Kysely<Database>;
  clock: ReturnType<typeof createManualClock>;
  dataDir: string;
  /** Every log line the app wrote, for secret scans. */
  logs: string[];
  /** Every secret handed out by the helpers below, for secret scans. */
  secrets: Set<string>;
  /** The built-in admin's password. */
  adminPassword: string;
  /** Logs in and returns `Authorization: Token <session>` headers. */
  login(username: string, password: string): Promise<Record<string, string>>;
  /** Creates a user of the role (unique name) and returns its id. */
  createUser(
    role: RoleName,
    opts?: { api_only?: boolean; username?: string },
  ): Promise<{ id: number; username: string }>;
  /** Headers carrying an API token of a fresh user with the role (optionally narrowed scopes). */
  headersFor(role: RoleName, opts?: { scopes?: string[] }): Promise<Record<string, string>>;
  /** Admin session headers (cached). */
  adminHeaders(): Promise<Record<string, string>>;
  /** Drops the cached admin session (after something ended it, such as a restore). */
  forgetAdminSession(): void;
  close(): Promise<void>;
}

export interface TestContextOptions {
  ipLimitPerMinute?: number;
  jobIntervals?: Partial<Record<string, number>>;
  /** Settings of the Config other than their defaults (the apply hook, appliance networks). */
  config?: Partial<AppDeps['config']>;
}

let counter = 0;

export async function createTestContext(opts: TestContextOptions = {}): Promise<TestContext> {
  const database = await createTestDatabase();
  const clock = createManualClock(new Date());
  const dataDir = mkdtempSync(join(tmpdir(), 'steward-test-'));
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  // The defaults of every setting, as `steward serve` without flags or variables would have them.
  const config = {
    ...loadConfig({}),
    logLevel: 'info' as const,
    bodyLimitBytes: 1024 * 1024,
    dataDir,
    ipRateLimitPerMinute: opts.ipLimitPerMinute ?? 100_000,
    ...opts.config,
  };
  const secretKey = randomBytes(32);
  const app = await buildApp({
    config,
    database,
    clock,
    logStream,
    secretKey,
    // Route tests read the summary right after changing the fleet: counted for every request.
    jobIntervals: { summaryFresh: 0, ...opts.jobIntervals },
  });
  await app.ready();
  const secrets = new Set<string>();
  // The built-in admin, made the way `steward serve` makes it (through the composition root).
  const { identity } = createServices({ config, database, clock, secretKey, log: silentLogger });
  await identity.users.ensureAdmin(TEST_PASSWORD);
  secrets.add(TEST_PASSWORD);

  let adminHeaders: Record<string, string> | undefined;
  const ctx: TestContext = {
    app,
    db: database.db,
    clock,
    dataDir,
    logs,
    secrets,
    adminPassword: TEST_PASSWORD,
    async login(username, password) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/token/',
        payload: { username, password },
      });
      if (res.statusCode !== 200)
        throw new Error(`login of ${username} failed: ${res.statusCode} ${res.body}`);
      const token = res.json().token as string;
      secrets.add(token);
      return { authorization: `Token ${token}` };
    },
    async adminHeaders() {
      adminHeaders ??= await ctx.login('admin', TEST_PASSWORD);
      return adminHeaders;
    },
    forgetAdminSession() {
      adminHeaders = undefined;
    },
    async createUser(role, o = {}) {
      counter += 1;
      const username = o.username ?? `${role}${counter}${randomBytes(2).toString('hex')}`;
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/authentication/users/add/',
        headers: await ctx.adminHeaders(),
        payload: { username, role, ...(o.api_only ? { api_only: true } : { password: TEST_PASSWORD }) },
      });
      if (res.statusCode !== 201) throw new Error(`could not create user: ${res.statusCode} ${res.body}`);
      return { id: res.json().id as number, username };
    },
    async headersFor(role, o = {}) {
      const user = await ctx.createUser(role);
      const { ROLE_PERMISSIONS } = await import('../../src/contract/permissions.js');
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/tokens/',
        headers: await ctx.adminHeaders(),
        payload: {
          name: `test-${user.username}`,
          owner_id: user.id,
          scopes: o.scopes ?? [...ROLE_PERMISSIONS[role]],
        },
      });
      if (res.statusCode !== 201) throw new Error(`could not create token: ${res.statusCode} ${res.body}`);
      const token = res.json().token as string;
      secrets.add(token);
      return { authorization: `Token ${token}` };
    },
    async close() {
      await app.close();
      await database.close();
      await database.dropDatabase();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return ctx;
}
