// createServices: the composition root. Every repository and service of every module is built
// here, from the configuration and a few process-level handles, and nowhere else: buildApp
// (app.ts) calls it and adds only HTTP (conventions, authentication, hooks, routes); the CLI
// commands call it through cli/context.ts; background jobs (jobs/) are handed what it returns.
// Nothing here knows Fastify or touches the process (no timers, no sockets at construction).
//
// Longer than the ~400-line guide on purpose: the whole graph in one file is what makes it one
// composition root. Each domain has its own block, in the order they depend on each other.

import { join } from 'node:path';
import type { Config } from './config/config.js';
import type { DatabaseHandle } from './db/client.js';
import { createEmbeddedMaintenance } from './db/maintenance.js';
import type { ClusterBus } from './db/notify.js';
import { createTransactor } from './db/transactor.js';
import './db/tables/system.js';
import { intervalOf } from './jobs/intervals.js';
import { createAuditRepo } from './modules/audit/audit.repo.js';
import { type AuditService, createAuditService } from './modules/audit/audit.service.js';
import { createBackupRepo } from './modules/backup/backup.repo.js';
import { createBackupService } from './modules/backup/backup.service.js';
import { createClusterRepo, createCounterStore } from './modules/cluster/cluster.repo.js';
import { createClusterService } from './modules/cluster/cluster.service.js';
import { createConfigRepo } from './modules/config/config.repo.js';
import { createConfigService } from './modules/config/config.service.js';
import { createDestinationsRepo } from './modules/destinations/destinations.repo.js';
import { createDestinationsService } from './modules/destinations/destinations.service.js';
import { createDirectoryLogin } from './modules/directory/directory-login.js';
import { createFilesRepo } from './modules/files/files.repo.js';
import { createFileService } from './modules/files/files.service.js';
import { createUploadStore, type UploadLimits } from './modules/files/upload.js';
import { createConnectorsService } from './modules/fleet/connectors.service.js';
import { createFleetRepo } from './modules/fleet/fleet.repo.js';
import { CONFIG_STATUSES } from './modules/fleet/fleet.schemas.js';
import { createFleetService } from './modules/fleet/fleet.service.js';
import { createFleetExportService } from './modules/fleet/fleet-export.service.js';
import { createManagerKeyStore } from './modules/fleet/manager-key.js';
import { createHealthRepo } from './modules/fleet-health/health.repo.js';
import { createHealthService } from './modules/fleet-health/health.service.js';
import {
  createHealthHistoryService,
  createHealthSampler,
} from './modules/fleet-health/health-history.service.js';
import { createHealthSamplesRepo } from './modules/fleet-health/health-samples.repo.js';
import {
  type AuthSettings,
  createAuthenticator,
  type Invalidation,
} from './modules/identity/authenticator.js';
import { createIdentityRepo } from './modules/identity/identity.repo.js';
import type { IdentityServices } from './modules/identity/identity.services.js';
import { createSessionsService, type DirectoryAuthenticator } from './modules/identity/sessions.service.js';
import { createUsersService } from './modules/identity/users.service.js';
import { createLicenseService } from './modules/license/license.service.js';
import { createLicensingRepo } from './modules/licensing/licensing.repo.js';
import { createLicensingService } from './modules/licensing/licensing.service.js';
import type { NetworkState, TlsFiles } from './modules/network/network.js';
import { createAlerts } from './modules/notifications/alerts.js';
import { createAlertsRepo } from './modules/notifications/alerts.repo.js';
import { createMailer, type MailerOptions, type SmtpSettings } from './modules/notifications/mailer.js';
import { createTrapSender, parseTrapSink } from './modules/notifications/snmp-traps.js';
import { createSyslogClient } from './modules/notifications/syslog.js';
import { createApplyHook } from './modules/settings/apply-hook.js';
import { createSectionHooks } from './modules/settings/section-hooks.js';
import { createSettingsStore } from './modules/settings/settings.repo.js';
import { createSystemSettings } from './modules/settings/settings.service.js';
import { createSummaryRepo } from './modules/summary/summary.repo.js';
import { createSummaryService } from './modules/summary/summary.service.js';
import { createTokenExportService } from './modules/tokens/token-export.service.js';
import { createTokenUsageService } from './modules/tokens/token-usage.service.js';
import {
  createTokensService,
  DEFAULT_TOKEN_SETTINGS,
  TOKEN_SETTINGS_KEY,
  type TokenSettings,
} from './modules/tokens/tokens.service.js';
import { createManagerUpdater } from './modules/updates/manager-update.js';
import { createPackageDownloads } from './modules/upgrades/package-downloads.js';
import { createPackagesRepo } from './modules/upgrades/packages.repo.js';
import { createUpgradesRepo } from './modules/upgrades/upgrades.repo.js';
import { createUpgradeService, MAX_PACKAGE_BYTES } from './modules/upgrades/upgrades.service.js';
import { DEFAULT_APPLIANCE_POLICY, policyFromText } from './shared/address-policy.js';
import { type Clock, systemClock } from './shared/clock.js';
import type { Logger } from './shared/logger.js';
import { createSecretBox, type SecretBox } from './shared/secret-box.js';
import { certificatePaths } from './tls.js';
import { VERSION } from './version.js';

/** The settings of Config the services read (lifetimes, limits, paths, the apply hook). */
export type ServicesConfig = Pick<
  Config,
  | 'dataDir'
  | 'sessionIdleSeconds'
  | 'sessionMaxSeconds'
  | 'sessionRateLimitPerMinute'
  | 'applyHook'
  | 'applianceNetworks'
  | 'uploadMaxFileBytes'
  | 'uploadMaxChunkBytes'
  | 'fileQuotaBytes'
  | 'healthPollSeconds'
>;

export interface ServicesDeps {
  config: ServicesConfig;
  database: DatabaseHandle;
  clock?: Clock;
  /**
   * 32-byte key for secrets encrypted at rest. Absent: nothing may seal or open a secret, and
   * trying is an error (`steward admin` commands never needed the key, and never create it).
   */
  secretKey?: Buffer | undefined;
  /** Where services tell what went wrong in the background (the server passes app.log). */
  log: Logger;
  /** The bus to other replicas (settings and credentials changed elsewhere); absent in the CLI. */
  bus?: ClusterBus | undefined;
  /** This replica's id in the cluster registry and job_runs. */
  replicaId?: string;
  /** The licence vendor's Ed25519 public key (PEM); without it every licence is INVALID. */
  licensePublicKey?: string | undefined;
  /** Shorter background-job intervals for tests, in ms, by job name. */
  jobIntervals?: Partial<Record<string, number>> | undefined;
  /** TLS options for the SMTP relay (tests). */
  mailer?: MailerOptions;
  /** TLS options for a syslog collector over TLS (tests trust their own CA). */
  syslogTls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
  /** The HTTP server whose certificate a new TLS setting replaces (the server passes its app). */
  tlsTarget?: () => { server: unknown } | undefined;
  /**
   * 'server' (default) or 'cli'. A command is not the manager: a restore made by it does not
   * re-apply the settings to this host (no apply hook runs), and a backup that fails in it is told
   * on standard error, not sent as an alert.
   */
  role?: 'server' | 'cli';
}

const noSecretKey: SecretBox = {
  seal: () => {
    throw new Error('no secret key loaded: this command cannot seal secrets');
  },
  open: () => {
    throw new Error('no secret key loaded: this command cannot open secrets');
  },
} as unknown as SecretBox;

/** The replica this process is: its id, start time and the URL it serves (known once it listens). */
export interface ReplicaInfo {
  readonly id: string;
  readonly startedAt: Date;
  /** Whether replicas share a PostgreSQL server (false on the embedded database). */
  readonly shared: boolean;
  address: string;
}

export function createServices(deps: ServicesDeps) {
  const clock = deps.clock ?? systemClock;
  const { config, database, log } = deps;
  const db = database.db;
  const tx = createTransactor(db);
  const secrets = deps.secretKey ? createSecretBox(deps.secretKey) : noSecretKey;
  const role = deps.role ?? 'server';
  const warn = (msg: string, err?: unknown) => (err ? log.warn({ err }, msg) : log.info(msg));

  // --- audit and the settings store: every module records and keeps settings through them.
  const audit = createAuditService({ repo: createAuditRepo(db), clock, log, tx });
  const settings = createSettingsStore(db, deps.bus, log);

  // --- settings sections, network, notifications (the manager's own domains).
  const uploadsDir = join(config.dataDir, 'uploads');
  // The files main.ts serves (tls.ts), so an installed certificate also survives a restart.
  const certPaths = certificatePaths(config.dataDir);
  const tlsFiles: TlsFiles = { certPath: certPaths.cert, keyPath: certPaths.key };
  const defaultAppliancePolicy = config.applianceNetworks
    ? policyFromText(config.applianceNetworks)
    : DEFAULT_APPLIANCE_POLICY;
  const network: NetworkState = {
    baseUrl: undefined,
    allowedHosts: [],
    appliancePolicy: defaultAppliancePolicy,
    defaultAppliancePolicy,
  };
  const limits: UploadLimits = {
    maxFileBytes: config.uploadMaxFileBytes,
    maxChunkBytes: config.uploadMaxChunkBytes,
  };
  const syslog = createSyslogClient((err) => warn('syslog delivery failed', err));
  const forward = { audit: false };
  const hooks = createSectionHooks({
    network,
    syslog,
    uploadsDir,
    tlsFiles,
    app: deps.tlsTarget ?? (() => undefined),
    onTlsReloaded: (subject) => warn(`TLS certificate reloaded: ${subject}`),
  });
  const alertingApply = hooks.systemalerting?.apply;
  if (hooks.systemalerting) {
    hooks.systemalerting.apply = async (value) => {
      await alertingApply?.(value);
      forward.audit = value.syslog_enable === true && value.syslog_enable_audit_logs === true;
      if (deps.syslogTls && syslog.target) syslog.configure({ ...syslog.target, tls: deps.syslogTls });
    };
  }
  const settingsService = createSystemSettings({
    tx,
    settings,
    audit,
    secrets,
    hooks,
    applyHost: createApplyHook(config.applyHook),
    log: warn,
  });
  const mailer = createMailer(
    async () => (await settingsService.internal('smtp')) as unknown as SmtpSettings,
    deps.mailer,
  );
  const traps = createTrapSender(
    async () => {
      const s = await settingsService.internal('snmp');
      if (s.trap_sink_enable !== true || !s.trap_sink) return undefined;
      const community = String(s.trap_community || s.community || 'public');
      return { ...parseTrapSink(String(s.trap_sink)), community };
    },
    (err) => warn('could not send an SNMP trap', err),
  );
  const alerts = createAlerts({
    repo: createAlertsRepo(db),
    clock,
    mailer,
    smtp: () => settingsService.internal('smtp'),
    alerting: () => settingsService.internal('systemalerting'),
    syslog,
    traps,
    log: warn,
  });
  const directory = createDirectoryLogin(() => settingsService.internal('directory'));

  // --- identity: users, sessions, API tokens and the authenticator every request uses.
  const identity = createIdentityServices({
    tx,
    audit,
    settings,
    clock,
    bus: deps.bus,
    log,
    sessionIdleSeconds: config.sessionIdleSeconds,
    sessionMaxSeconds: config.sessionMaxSeconds,
    sessionRateLimitPerMinute: config.sessionRateLimitPerMinute,
    // Directory (LDAP) logins: the directory settings are a settings section.
    directory: { authenticate: (username, password) => directory.authenticate(username, password) },
  });

  // --- fleet: registry and pairing, configuration groups, destination lists, connectors,
  // upgrades and the package store, appliance licensing, health polling.
  // This process in the cluster registry, job_runs and the claims on work it started (ADR 0006).
  const replicaId = deps.replicaId ?? 'local';
  const fleetRepo = createFleetRepo(db);
  const configRepo = createConfigRepo(db);
  const managerKey = createManagerKeyStore(fleetRepo, secrets);
  const fleet = createFleetService({
    repo: fleetRepo,
    groups: configRepo,
    tx,
    audit,
    clock,
    secrets,
    managerKey,
    // The network settings say where appliances may be called.
    appliancePolicy: () => network.appliancePolicy,
  });
  // Destination lists live in their own module; groups reference them by name, so the two
  // services are handed to each other here (lists -> snapshot; groups -> out of sync).
  const destinationsRepo = createDestinationsRepo(db);
  const configService = createConfigService({
    replicaId,
    repo: fleetRepo,
    configRepo,
    tx,
    fleet,
    audit,
    clock,
    secrets,
    destinationLists: destinationsRepo,
    log,
  });
  const destinations = createDestinationsService({
    tx,
    repo: destinationsRepo,
    audit,
    clock,
    groups: configService,
  });
  const connectors = createConnectorsService({ fleet, audit, tx });
  const fleetExport = createFleetExportService({ repo: fleetRepo, fleet, audit });
  const upgrades = createUpgradeService({
    replicaId,
    tx,
    repo: fleetRepo,
    upgradesRepo: createUpgradesRepo(),
    packagesRepo: createPackagesRepo(),
    fleet,
    audit,
    clock,
    managerKey,
    dataDir: config.dataDir,
    pollMs: deps.jobIntervals?.fleetUpgradePoll,
    log,
  });
  const downloads = createPackageDownloads({
    tx,
    packagesRepo: createPackagesRepo(),
    settings,
    audit,
    clock,
    upgrades,
    dataDir: config.dataDir,
    maxBytes: MAX_PACKAGE_BYTES,
    log,
  });
  const licensing = createLicensingService({
    tx,
    repo: fleetRepo,
    licensingRepo: createLicensingRepo(),
    fleet,
    audit,
    clock,
    dataDir: config.dataDir,
  });
  // Health over time: the round samples each appliance every 5 minutes; the detail page reads them.
  const healthSamples = createHealthSamplesRepo(db);
  const healthHistory = createHealthHistoryService({
    repo: healthSamples,
    applianceExists: async (id) => (await fleetRepo.getAppliance(id)) !== undefined,
    clock,
  });
  const health = createHealthService({
    sampler: createHealthSampler(healthSamples),
    repo: fleetRepo,
    healthRepo: createHealthRepo(db),
    tx,
    fleet,
    audit,
    clock,
    intervalMs: intervalOf('fleetHealth', config, deps.jobIntervals),
    // Appliance offline/online alerts: mail, SNMP trap, syslog.
    onTransition: (e) => {
      alerts.applianceTransition(e).catch((err) => log.warn({ err }, 'appliance alert failed'));
    },
    log,
  });

  // The fleet at a glance (the console's dashboard): aggregates of the fleet, configuration,
  // upgrade and token tables, and the token warning window of the system alerting settings.
  const summary = createSummaryService({
    repo: createSummaryRepo(db),
    clock,
    configurationStatuses: CONFIG_STATUSES,
    freshMs: intervalOf('summaryFresh', config, deps.jobIntervals),
    tokenWarningDays: async () =>
      Number((await settingsService.internal('systemalerting')).token_expiry_warning_days ?? 7),
  });

  // --- the manager's own updates, files and uploads, backup, licence.
  const managerUpdate = createManagerUpdater({
    tx,
    audit,
    store: () => upgrades,
    // Installing a release can take a while (packages, migrations): a longer limit than settings.
    hook: createApplyHook(config.applyHook, 30 * 60 * 1000),
    currentVersion: VERSION,
    log: warn,
  });
  const uploads = createUploadStore(uploadsDir, limits);
  const files = createFileService({
    tx,
    repo: createFilesRepo(db),
    audit,
    clock,
    filesDir: join(config.dataDir, 'files'),
    quotaBytes: config.fileQuotaBytes,
    maxFileBytes: limits.maxFileBytes,
    storageSettings: () => settingsService.internal('central_logging'),
  });
  const backupRepo = createBackupRepo(db);
  const backup = createBackupService({
    tx,
    repo: backupRepo,
    log,
    database,
    audit,
    clock,
    dataDir: config.dataDir,
    settings,
    secrets,
    ...(role === 'server'
      ? {
          secretsReadable: async () => {
            try {
              for (const def of settingsService.sections)
                if (def.secrets.length) await settingsService.internal(def.name);
              return true;
            } catch {
              return false;
            }
          },
          afterRestore: async () => {
            // Every module's cached settings (not only ours) must see the restored values.
            const rows = await backupRepo.settings();
            for (const r of rows) settings.notifyChanged(r.key, r.value);
            // Credentials cached here and on other replicas must go: every row was replaced.
            identity.forgetAll();
            await settingsService.applyAll();
          },
          onFailure: (message: string) => alerts.backupFailed(message),
        }
      : {}),
  });
  const license = createLicenseService({
    tx,
    audit,
    settings,
    clock,
    publicKeyPem: deps.licensePublicKey,
  });

  // --- cluster: replicas on one PostgreSQL server.
  const replica: ReplicaInfo = {
    id: replicaId,
    startedAt: clock.now(),
    shared: database.kind === 'postgres',
    address: 'unknown',
  };
  const clusterRepo = createClusterRepo(db);
  const cluster = createClusterService({
    repo: clusterRepo,
    tx,
    settings,
    audit,
    clock,
    database,
    replicaId: replica.id,
    startedAt: replica.startedAt,
    log,
    address: () => replica.address,
    pollIntervalMs: intervalOf('fleetHealth', config, deps.jobIntervals),
  });

  // Reactions across modules, wired once: settings changed on another replica take effect here,
  // and audit records go to syslog when the admin asked for it.
  const stopListening = settings.onChange((key) => {
    const name = key.startsWith('system.') ? key.slice('system.'.length) : undefined;
    if (name && settingsService.sections.some((d) => d.name === name))
      void settingsService.applySection(name);
  });
  const stopForwarding = audit.onRecord(
    (rec) => {
      void syslog.send({
        severity: rec.outcome === 'success' ? 6 : 4,
        msgId: rec.action,
        message: rec.summary || rec.action,
        at: new Date(rec.at),
        data: {
          id: rec.id,
          outcome: rec.outcome,
          user: rec.username,
          token_id: rec.token_id,
          ip: rec.ip,
          method: rec.method,
          path: rec.path,
          status: rec.status,
          target: rec.target_type ? `${rec.target_type}:${rec.target_id ?? ''}` : undefined,
          request_id: rec.request_id,
        },
      });
    },
    // Off unless syslog_enable_audit_logs: then the audit service asks nothing extra per record.
    () => forward.audit,
  );

  return {
    clock,
    audit,
    settings,
    settingsService,
    network,
    tlsFiles,
    mailer,
    syslog,
    alerts,
    traps,
    directory,
    identity,
    fleet,
    fleetExport,
    config: configService,
    destinations,
    connectors,
    upgrades,
    downloads,
    licensing,
    health,
    healthHistory,
    summary,
    managerUpdate,
    uploads,
    uploadsDir,
    uploadLimits: limits,
    files,
    backup,
    license,
    cluster,
    replica,
    /** VACUUM (ANALYZE) of the embedded database, which has no autovacuum (a no-op on PostgreSQL). */
    databaseMaintenance: createEmbeddedMaintenance(database),
    /** Request counts shared by replicas (the rate limiter's), on a PostgreSQL server only. */
    counterStore: () => createCounterStore(db),
    /** Waits for background work started by requests, and lets go of listeners and sockets. */
    async close() {
      summary.close();
      await configService.settle();
      await upgrades.settle(true);
      await downloads.settle(true);
      stopForwarding();
      stopListening();
      syslog.close();
      // Not waiting for a running manager-update hook: it may be what stops this manager.
      await backup.idle();
      await identity.flush().catch((err) => log.warn({ err }, 'could not record token use'));
    },
  };
}

export type Services = ReturnType<typeof createServices>;

interface IdentityDeps {
  tx: ReturnType<typeof createTransactor>;
  audit: AuditService;
  settings: ReturnType<typeof createSettingsStore>;
  clock: Clock;
  bus: ClusterBus | undefined;
  log: Logger;
  sessionIdleSeconds: number;
  sessionMaxSeconds: number;
  sessionRateLimitPerMinute: number;
  directory: DirectoryAuthenticator;
}

/** Identity's services and its authenticator, with the token settings they share. */
function createIdentityServices(deps: IdentityDeps) {
  const repo = createIdentityRepo(deps.tx.direct);
  let settings: TokenSettings = { ...DEFAULT_TOKEN_SETTINGS };
  // What authentication needs of the settings, made once per change (not once per request):
  // the authenticator reuses a token's principal while this object stays the same.
  let authSettings: AuthSettings;
  const setSettings = (next: TokenSettings) => {
    settings = next;
    authSettings = {
      allowTokensInUrl: settings.allow_tokens_in_url,
      defaultRateLimitPerMinute: settings.default_rate_limit_per_minute,
      sessionRateLimitPerMinute: deps.sessionRateLimitPerMinute,
    };
  };
  setSettings(settings);
  const tokenSettings = () => settings;
  const loadSettings = async () => {
    setSettings(await deps.settings.get(TOKEN_SETTINGS_KEY, DEFAULT_TOKEN_SETTINGS));
  };
  deps.settings.onChange((key, value) => {
    if (key === TOKEN_SETTINGS_KEY)
      setSettings({ ...DEFAULT_TOKEN_SETTINGS, ...(value as Partial<TokenSettings>) });
  });
  const auth = createAuthenticator({
    repo,
    log: deps.log,
    clock: deps.clock,
    sessionIdleSeconds: deps.sessionIdleSeconds,
    broadcast: deps.bus
      ? (what) => {
          deps.bus
            ?.publish('identity.invalidate', { ...what })
            .catch((err) => deps.log.warn({ err }, 'could not tell other replicas of a credential change'));
        }
      : undefined,
    authSettings: () => authSettings,
  });
  deps.bus?.subscribe('identity.invalidate', (data) => auth.applyRemote(data as Invalidation));
  deps.bus?.onResync(() => {
    auth.clearAll();
    // The bus reconnects when the server is back but the pool may still fail (a busy or
    // restarting server): keep the settings held until the next resync or change. Unhandled,
    // this rejection ended the process (found by the cluster test).
    loadSettings().catch((err) => deps.log.warn({ err }, 'token settings not reloaded after a resync'));
  });
  const common = { tx: deps.tx, repo, audit: deps.audit, clock: deps.clock, auth };
  const tokens = createTokensService({ ...common, settings: deps.settings, tokenSettings });
  const services: IdentityServices = {
    repo,
    users: createUsersService(common),
    sessions: createSessionsService({
      ...common,
      directory: deps.directory,
      sessionIdleSeconds: deps.sessionIdleSeconds,
      sessionMaxSeconds: deps.sessionMaxSeconds,
    }),
    tokens,
    tokenUsage: createTokenUsageService({ repo, clock: deps.clock, auth, tokens }),
    tokenExport: createTokenExportService({ repo, audit: deps.audit, clock: deps.clock, tokenSettings }),
    tokenSettings,
    cachedUser: (id) => auth.userOf(id),
  };
  return {
    ...services,
    services,
    authenticator: auth.authenticator,
    loadSettings,
    /** Writes the token use and request log gathered in memory. */
    flush: () => auth.flush(),
    recordActivity: auth.recordActivity,
    recordScopeUse: auth.recordScopeUse,
    /** Retention: deletes token request-log rows and scope counts older than `before`. */
    deleteRequestLogBefore: (before: Date) => repo.deleteRequestLogBefore(before),
    /** Drops every cached credential on every replica (after a restore). */
    forgetAll: () => auth.forgetEverywhere(),
  };
}

export type Identity = ReturnType<typeof createIdentityServices>;
