// buildApp: the composition root. It wires repositories, services and routes together and
// installs the shared HTTP conventions. Tests build the app through it (test/helpers), and
// main.ts builds the real one. Nothing here touches process.env or the process.

import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import Fastify from 'fastify';
import type { Config } from './config/config.js';
import type { DatabaseHandle } from './db/client.js';
import { createLeaderLease } from './db/leases.js';
import { createClusterBus } from './db/notify.js';
import { createTransactor } from './db/transactor.js';
import { registerAuth } from './http/auth.js';
import {
  generateRequestId,
  LOG_REDACTION,
  LOG_SERIALIZERS,
  registerConventions,
  requestLoggerFactory,
} from './http/conventions.js';
import { frameworkErrors, registerErrorHandling } from './http/errors.js';
import { registerMetrics } from './http/metrics.js';
import { registerOpenApi } from './http/openapi.js';
import { createRateLimiter } from './http/rate-limit.js';
import { aliasApiUrl, createRouteTable, type RouteTable, registerNotFound } from './http/route-table.js';
import { registerAuditHooks } from './modules/audit/audit.hooks.js';
import { createAuditRepo } from './modules/audit/audit.repo.js';
import { auditRoutes } from './modules/audit/audit.routes.js';
import { createAuditService } from './modules/audit/audit.service.js';
import { createClusterModule } from './modules/cluster/cluster.module.js';
import { createCounterStore } from './modules/cluster/cluster.repo.js';
import { createFleetModule } from './modules/fleet/fleet.module.js';
import { healthRoutes } from './modules/health/health.routes.js';
import { createIdentity } from './modules/identity/identity.module.js';
import type { ModuleContext, StewardModule } from './modules/module.js';
import { createSettingsStore } from './modules/settings/settings.repo.js';
import { createSystemModule, type SystemModuleOptions } from './modules/system/system.module.js';
import { type Clock, systemClock } from './shared/clock.js';
import { createSecretBox } from './shared/secret-box.js';
import { VERSION } from './version.js';

/** dist/console at the repository root, whether this file runs from src/ or dist/. */
const CONSOLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'console');

export interface AppDeps {
  config: Pick<
    Config,
    'logLevel' | 'bodyLimitBytes' | 'sessionIdleSeconds' | 'sessionMaxSeconds' | 'dataDir'
  >;
  database: DatabaseHandle;
  clock?: Clock;
  /** HTTPS options for the server; absent means plain HTTP. */
  https?: { key: Buffer | string; cert: Buffer | string };
  /** A pino destination stream for logs (tests capture logs to scan them for secrets). */
  logStream?: NodeJS.WritableStream;
  /** Collect process-level metrics (off in tests: the default collectors are global). */
  defaultMetrics?: boolean;
  /** 32-byte key for secrets encrypted at rest. */
  secretKey: Buffer;
  /** Where the built console is (default dist/console); the console is served when it exists. */
  consoleDir?: string;
  /** Options of the system module (apply hook, licence vendor key, upload limits). */
  system?: Omit<SystemModuleOptions, 'onRestored' | 'packageStore'>;
  /** Requests per minute from one IP without a valid credential (login included). */
  ipLimitPerMinute?: number;
  /** Shorter background-job intervals for tests, in ms, by job name. */
  jobIntervals?: Partial<Record<string, number>>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The configured absolute base URL for links, when the admin set one. */
    baseUrl: () => string | undefined;
    routeTable: RouteTable;
    /** Starts every module's background jobs. */
    startJobs: () => Promise<void>;
  }
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const clock = deps.clock ?? systemClock;
  const logger: FastifyServerOptions['logger'] =
    deps.config.logLevel === 'silent' && !deps.logStream
      ? false
      : {
          level: deps.config.logLevel,
          redact: LOG_REDACTION,
          serializers: LOG_SERIALIZERS,
          ...(deps.logStream ? { stream: deps.logStream } : {}),
        };
  // Filled in below, once the app exists; the router's rewrite reads it per request.
  let table: RouteTable | undefined;
  const app = Fastify({
    logger,
    ...(deps.https ? { https: deps.https } : {}),
    bodyLimit: deps.config.bodyLimitBytes,
    genReqId: generateRequestId,
    childLoggerFactory: requestLoggerFactory,
    requestIdHeader: false,
    trustProxy: false,
    return503OnClosing: true,
    frameworkErrors,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 200 },
    // The seed's paths without /v1 (/api/configuration/appliances): see aliasApiUrl.
    rewriteUrl: (req) => aliasApiUrl(req.url ?? '/', table),
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true },
    },
  });

  const routeTable = createRouteTable(app);
  table = routeTable;
  app.decorate('routeTable', routeTable);
  registerErrorHandling(app);
  const consoleDir = deps.consoleDir ?? CONSOLE_DIR;
  const hasConsole = existsSync(join(consoleDir, 'index.html'));
  registerNotFound(app, routeTable, hasConsole ? { spaIndex: (reply) => reply.sendFile('index.html') } : {});
  await registerConventions(app);
  registerMetrics(app, deps.database, { defaultMetrics: deps.defaultMetrics ?? false });
  await registerOpenApi(app, routeTable, VERSION);

  const db = deps.database.db;
  // Replicas on one PostgreSQL server tell each other what changed (NOTIFY), share request
  // counts, and elect one of them to run the background jobs. On PGlite all three are local.
  const replicaId = randomUUID();
  const bus = createClusterBus(deps.database, replicaId);
  const lease = createLeaderLease(deps.database, 'jobs', { replicaId });
  const limiter = createRateLimiter(
    clock,
    deps.database.kind === 'postgres' ? createCounterStore(db) : undefined,
  );
  const audit = createAuditService({ repo: createAuditRepo(db), clock });
  const settings = createSettingsStore(db, bus);
  const identity = createIdentity({
    tx: createTransactor(db),
    audit,
    settings,
    clock,
    bus,
    sessionIdleSeconds: deps.config.sessionIdleSeconds,
    sessionMaxSeconds: deps.config.sessionMaxSeconds,
    // Directory logins go through the system module, which keeps the directory settings.
    directory: { authenticate: (username, password) => system.directory.authenticate(username, password) },
  });
  const ctx: ModuleContext = {
    db,
    database: deps.database,
    audit,
    settings,
    clock,
    dataDir: deps.config.dataDir,
    secrets: createSecretBox(deps.secretKey),
    jobIntervals: deps.jobIntervals,
    leader: lease,
  };
  const fleet = createFleetModule(ctx, {
    // Appliance offline/online alerts (mail, SNMP trap, syslog) are the system module's.
    onApplianceTransition: (e) => {
      system.alerts.applianceTransition(e).catch((err) => app.log.warn({ err }, 'appliance alert failed'));
    },
    // The network settings (system module) say where appliances may be called.
    appliancePolicy: () => system.network.appliancePolicy,
    log: app.log,
  });
  const system = createSystemModule(ctx, {
    ...(deps.system ?? {}),
    // A restore replaced every row: credentials cached here and on other replicas must go.
    onRestored: () => identity.forgetAll(),
    packageStore: () => fleet.upgrades,
    tokenRequestLog: { deleteOlderThan: (before) => identity.deleteRequestLogBefore(before) },
  });
  const modules: StewardModule[] = [createClusterModule({ ...ctx, lease, replicaId }), fleet, system];
  app.decorate('baseUrl', () => system.network.baseUrl);
  // Before authentication: a request for a Host outside allowed_hosts is refused first.
  system.installGlobalHooks(app);

  registerAuth(app, {
    authenticator: identity.authenticator,
    limiter,
    ipLimitPerMinute: deps.ipLimitPerMinute ?? 120,
  });
  registerAuditHooks(app, audit, db);
  // Every request made with a token, of every module, in the token's request log.
  identity.installRequestLog(app);

  await app.register(healthRoutes, { database: deps.database });
  if (hasConsole) {
    // The web console: static files built by `npm run build` into dist/console.
    await app.register(fastifyStatic, {
      root: consoleDir,
      prefix: '/',
      wildcard: false,
      index: ['index.html'],
      // Bundles have content hashes in their names: cache them for good; index.html never.
      setHeaders: (reply, path) => {
        reply.header(
          'cache-control',
          path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
        );
      },
    });
  }
  await app.register(identity.routes);
  await app.register(auditRoutes, { audit });
  for (const m of modules) await app.register(m.routes);

  // Background jobs start when main.ts says so (after listen), not on ready: route tests that
  // use app.inject() stay free of timers unless they start the jobs themselves.
  app.decorate('startJobs', async () => {
    for (const m of modules) await m.start?.(app);
  });
  app.addHook('onClose', async () => {
    for (const m of modules) await m.stop?.();
    await identity.stop();
    limiter.stop();
    await lease.stop();
    await bus.close();
  });
  return app;
}
