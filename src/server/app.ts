// buildApp: the HTTP server. It asks the composition root (services.ts) for every service, then
// does only HTTP: the conventions, authentication, hooks, and each module's routes with the
// services they need. Tests build the app through it (test/helpers), and main.ts builds the real
// one. Nothing here touches process.env or the process.

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
import { withMultipart } from './http/multipart.js';
import { registerOpenApi } from './http/openapi.js';
import { createRateLimiter } from './http/rate-limit.js';
import { aliasApiUrl, createRouteTable, type RouteTable, registerNotFound } from './http/route-table.js';
import { serverJobs } from './jobs/jobs.js';
import { createJobRunner } from './jobs/runner.js';
import { registerAuditHooks } from './modules/audit/audit.hooks.js';
import { auditRoutes } from './modules/audit/audit.routes.js';
import { backupRoutes } from './modules/backup/backup.routes.js';
import { clusterRoutes } from './modules/cluster/cluster.routes.js';
import { configRoutes } from './modules/config/config.routes.js';
import { destinationsRoutes } from './modules/destinations/destinations.routes.js';
import { filesRoutes } from './modules/files/files.routes.js';
import { uploadRoutes } from './modules/files/upload.routes.js';
import { fleetRoutes } from './modules/fleet/fleet.routes.js';
import { fleetExportRoutes } from './modules/fleet/fleet-export.routes.js';
import { fleetHealthRoutes } from './modules/fleet-health/fleet-health.routes.js';
import { healthRoutes } from './modules/health/health.routes.js';
import { identityModule } from './modules/identity/identity.module.js';
import { licenseRoutes } from './modules/license/license.routes.js';
import { licensingRoutes } from './modules/licensing/licensing.routes.js';
import { installHostCheck } from './modules/network/network.hooks.js';
import type { MailerOptions } from './modules/notifications/mailer.js';
import { settingsRoutes } from './modules/settings/settings.routes.js';
import { summaryRoutes } from './modules/summary/summary.routes.js';
import { updatesRoutes } from './modules/updates/updates.routes.js';
import { upgradesRoutes } from './modules/upgrades/upgrades.routes.js';
import { createServices, type ServicesConfig } from './services.js';
import { type Clock, systemClock } from './shared/clock.js';
import { VERSION } from './version.js';

/** dist/console at the repository root, whether this file runs from src/ or dist/. */
const CONSOLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'console');

export interface AppDeps {
  /** What the server reads of the Config: the HTTP settings and those of the services. */
  config: ServicesConfig & Pick<Config, 'logLevel' | 'bodyLimitBytes' | 'ipRateLimitPerMinute'>;
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
  /** The licence vendor's Ed25519 public key (PEM, read by main.ts); without it every licence is INVALID. */
  licensePublicKey?: string | undefined;
  /** TLS options for the SMTP relay (tests). */
  mailer?: MailerOptions;
  /** TLS options for a syslog collector over TLS (tests trust their own CA). */
  syslogTls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
  /** Shorter background-job intervals for tests, in ms, by job name. */
  jobIntervals?: Partial<Record<string, number>>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The configured absolute base URL for links, when the admin set one. */
    baseUrl: () => string | undefined;
    routeTable: RouteTable;
    /** Starts the background jobs (after listen). */
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
      // verbose: a validation error carries the schema that refused it, so the error can say the
      // field's range and a pattern's rule in words (http/errors.ts).
      customOptions: {
        removeAdditional: false,
        coerceTypes: 'array',
        useDefaults: true,
        allErrors: true,
        verbose: true,
      },
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

  // Replicas on one PostgreSQL server tell each other what changed (NOTIFY), share request
  // counts, and elect one of them to run the background jobs. On PGlite all three are local.
  const replicaId = randomUUID();
  const bus = createClusterBus(deps.database, replicaId, app.log);
  const lease = createLeaderLease(deps.database, 'jobs', { replicaId, log: app.log });
  const services = createServices({
    config: deps.config,
    database: deps.database,
    clock,
    secretKey: deps.secretKey,
    log: app.log,
    bus,
    replicaId,
    licensePublicKey: deps.licensePublicKey,
    jobIntervals: deps.jobIntervals,
    ...(deps.mailer ? { mailer: deps.mailer } : {}),
    ...(deps.syslogTls ? { syslogTls: deps.syslogTls } : {}),
    // A new certificate in the network settings is served at once.
    tlsTarget: () => app,
  });
  const limiter = createRateLimiter(
    clock,
    deps.database.kind === 'postgres' ? services.counterStore() : undefined,
    250,
    app.log,
  );
  const identity = identityModule(services.identity, clock);
  app.decorate('baseUrl', () => services.network.baseUrl);
  // Before authentication: a request for a Host outside allowed_hosts is refused first.
  installHostCheck(app, services.network);

  registerAuth(app, {
    authenticator: services.identity.authenticator,
    limiter,
    ipLimitPerMinute: deps.config.ipRateLimitPerMinute,
  });
  registerAuditHooks(app, services.audit, deps.database.db);
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
  await app.register(auditRoutes, { audit: services.audit });
  await app.register(async (scope) => {
    await scope.register(clusterRoutes, { service: services.cluster });
  });
  await app.register(async (scope) => {
    await scope.register(fleetRoutes({ fleet: services.fleet, connectors: services.connectors }));
    await scope.register(fleetHealthRoutes(services.healthHistory));
    await scope.register(fleetExportRoutes(services.fleetExport));
    await scope.register(configRoutes(services.config));
    await scope.register(destinationsRoutes(services.destinations));
    await scope.register(upgradesRoutes(services.upgrades, services.downloads));
    await scope.register(licensingRoutes(services.licensing));
    await scope.register(summaryRoutes, { service: services.summary });
  });
  await app.register(async (scope) => {
    // Current settings take effect as soon as the routes exist (inject tests never start jobs).
    await services.settingsService.applyAll();
    // Forms are parsed by the routes that take uploads only (see http/multipart.ts).
    const forms = {
      limits: {
        fieldNameSize: 100,
        fieldSize: 64 * 1024,
        fields: 30,
        files: 1,
        parts: 40,
        fileSize: services.uploadLimits.maxChunkBytes,
      },
    };
    await scope.register(settingsRoutes, { service: services.settingsService, mailer: services.mailer });
    await scope.register(withMultipart(uploadRoutes, forms), { store: services.uploads });
    await scope.register(withMultipart(filesRoutes, forms), {
      files: services.files,
      maxFileBytes: services.uploadLimits.maxFileBytes,
    });
    await scope.register(withMultipart(backupRoutes, forms), { backup: services.backup });
    await scope.register(withMultipart(licenseRoutes, forms), { license: services.license });
    await scope.register(updatesRoutes, { updater: services.managerUpdate });
  });

  // Background jobs start when main.ts says so (after listen), not on ready: route tests that
  // use app.inject() stay free of timers unless they start the jobs themselves.
  const runner = createJobRunner({ leader: lease, log: app.log });
  app.decorate('startJobs', async () => {
    // The heartbeat tells the others the URL this replica serves, known now that it listens.
    services.replica.address = listeningUrl(app);
    await runner.start(
      serverJobs(services, { config: deps.config, lease, log: app.log, jobIntervals: deps.jobIntervals }),
    );
  });
  app.addHook('onClose', async () => {
    await runner.stop();
    identity.stop();
    await services.close();
    limiter.stop();
    await lease.stop();
    await bus.close();
  });
  return app;
}

/** The URL the server listens at, as other replicas reach it ('http://127.0.0.1:port' for a wildcard). */
function listeningUrl(app: FastifyInstance): string {
  const a = app.server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  const host =
    typeof a === 'object' && a && a.address !== '0.0.0.0' && a.address !== '::' ? a.address : '127.0.0.1';
  return `${app.initialConfig.https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
