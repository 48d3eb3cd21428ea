// The manager's own domains, wired together: settings sections that take effect (settings/),
// the network settings (network/), chunked uploads and files (files/), backup and restore
// (backup/), the manager licence (license/), mail, syslog, SNMP and alerts (notifications/),
// directory logins (directory/) and manager updates (updates/). Each domain lives in its own
// module folder; this file only builds their services and registers their routes. app.ts
// registers `routes`, calls `installGlobalHooks` on the root instance (Host allow-list, TLS
// reload) and `start` after listen (the retention job, jobs/retention.ts).

import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createTransactor } from '../../db/transactor.js';
import { withMultipart } from '../../http/multipart.js';
import { type LogFn, type Logger, silentLogger } from '../../shared/logger.js';
import { certificatePaths } from '../../tls.js';
import { VERSION } from '../../version.js';
import type { ModuleContext, StewardModule } from '../module.js';
import '../../db/tables/system.js';
import { runRetention } from '../../jobs/retention.js';
import { DEFAULT_APPLIANCE_POLICY, policyFromText } from '../../shared/address-policy.js';
import { createBackupRepo } from '../backup/backup.repo.js';
import { backupRoutes } from '../backup/backup.routes.js';
import { type BackupService, createBackupService } from '../backup/backup.service.js';
import { createDirectoryLogin, type DirectoryLogin } from '../directory/directory-login.js';
import { createFilesRepo } from '../files/files.repo.js';
import { filesRoutes } from '../files/files.routes.js';
import { createFileService } from '../files/files.service.js';
import { createUploadStore, type UploadLimits } from '../files/upload.js';
import { uploadRoutes } from '../files/upload.routes.js';
import { licenseRoutes } from '../license/license.routes.js';
import { createLicenseService } from '../license/license.service.js';
import { installHostCheck } from '../network/network.hooks.js';
import type { NetworkState, TlsFiles } from '../network/network.js';
import { type Alerts, createAlerts } from '../notifications/alerts.js';
import { createAlertsRepo } from '../notifications/alerts.repo.js';
import { createThresholdWatch, sampleHost } from '../notifications/host-thresholds.js';
import { createMailer, type Mailer, type MailerOptions, type SmtpSettings } from '../notifications/mailer.js';
import { createTrapSender, parseTrapSink } from '../notifications/snmp-traps.js';
import { createSyslogClient, type SyslogClient } from '../notifications/syslog.js';
import { createApplyHook } from '../settings/apply-hook.js';
import { createSectionHooks } from '../settings/section-hooks.js';
import { settingsRoutes } from '../settings/settings.routes.js';
import { createSystemSettings, type SystemSettings } from '../settings/settings.service.js';
import { createManagerUpdater, type PackageStoreReader } from '../updates/manager-update.js';
import { updatesRoutes } from '../updates/updates.routes.js';

export interface SystemModuleOptions {
  /** Executable run after host-level settings change (NTP, sshd, SNMP); from server config only. */
  applyHook?: string;
  uploadLimits?: Partial<UploadLimits>;
  /** The licence vendor's Ed25519 public key (PEM); without it every licence is INVALID. */
  licensePublicKey?: string;
  /** Per-user file quota in bytes (default 10 GiB). */
  fileQuotaBytes?: number;
  /** TLS options for the SMTP relay (tests). */
  mailer?: MailerOptions;
  /**
   * Called after a restore committed: credentials cached in memory (identity's token, session and
   * user caches, here and on other replicas) must be forgotten, since every row was replaced.
   */
  onRestored?: () => void;
  /** TLS options for a syslog collector over TLS (tests trust their own CA). */
  syslogTls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
  /** The manager's package store (the fleet module's), read for the manager's own updates. */
  packageStore?: () => PackageStoreReader | undefined;
  /** STEWARD_APPLIANCE_NETWORKS: the appliance networks while the setting is empty (default: built in). */
  applianceNetworks?: string | undefined;
  /** The per-token request log (identity's), trimmed by the retention job with the audit log. */
  tokenRequestLog?: { deleteOlderThan(before: Date): Promise<number> };
}

export interface SystemModule extends StewardModule {
  /** Root-level hooks: call on the root instance (hooks inside `routes` would be encapsulated). */
  installGlobalHooks(app: FastifyInstance): void;
  /** Live network settings; app.baseUrl should read `network.baseUrl`. */
  network: NetworkState;
  /** Where the served certificate lives; main.ts serves these files when they exist. */
  tlsFiles: TlsFiles;
  mailer: Mailer;
  syslog: SyslogClient;
  /** Alert mails, SNMP traps and syslog messages (appliance offline/online, token expiry, backup failed). */
  alerts: Alerts;
  /** LDAP search-then-bind for logins (app.ts hands it to identity). */
  directory: DirectoryLogin;
  settingsService: SystemSettings;
  backup: BackupService;
  /** One pass of the retention job (tests call it directly). */
  runRetention(): Promise<{ auditDeleted: number; filesDeleted: number }>;
}

/** A Logger that writes to whatever `target()` gives at the time of each call. */
function deferredLogger(target: () => Logger): Logger {
  const at =
    (level: keyof Logger): LogFn =>
    (a: string | object, msg?: string) => {
      if (typeof a === 'string') target()[level](a);
      else target()[level](a, msg);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export function createSystemModule(ctx: ModuleContext, opts: SystemModuleOptions = {}): SystemModule {
  const uploadsDir = join(ctx.dataDir, 'uploads');
  // The files main.ts serves (tls.ts), so an installed certificate also survives a restart.
  const certPaths = certificatePaths(ctx.dataDir);
  const tlsFiles: TlsFiles = { certPath: certPaths.cert, keyPath: certPaths.key };
  const defaultAppliancePolicy = opts.applianceNetworks
    ? policyFromText(opts.applianceNetworks)
    : DEFAULT_APPLIANCE_POLICY;
  const network: NetworkState = {
    baseUrl: undefined,
    allowedHosts: [],
    appliancePolicy: defaultAppliancePolicy,
    defaultAppliancePolicy,
  };
  const limits: UploadLimits = {
    maxFileBytes: opts.uploadLimits?.maxFileBytes ?? 4 * 1024 ** 3,
    maxChunkBytes: opts.uploadLimits?.maxChunkBytes ?? 64 * 1024 ** 2,
  };
  let rootApp: FastifyInstance | undefined;
  let log: (msg: string, err?: unknown) => void = () => {};
  // Services are built before the routes know the app's logger; this one writes to it once known.
  let appLog: Logger = silentLogger;
  const logger = deferredLogger(() => appLog);
  const syslog = createSyslogClient((err) => log('syslog delivery failed', err));
  const forward = { audit: false };
  const hooks = createSectionHooks({
    network,
    syslog,
    uploadsDir,
    tlsFiles,
    app: () => rootApp,
    onTlsReloaded: (subject) => log(`TLS certificate reloaded: ${subject}`),
  });
  const alertingApply = hooks.systemalerting?.apply;
  if (hooks.systemalerting) {
    hooks.systemalerting.apply = async (value) => {
      await alertingApply?.(value);
      forward.audit = value.syslog_enable === true && value.syslog_enable_audit_logs === true;
      if (opts.syslogTls && syslog.target) syslog.configure({ ...syslog.target, tls: opts.syslogTls });
    };
  }
  const tx = createTransactor(ctx.db);
  const settingsService = createSystemSettings({
    tx,
    settings: ctx.settings,
    audit: ctx.audit,
    secrets: ctx.secrets,
    hooks,
    applyHost: createApplyHook(opts.applyHook),
    log: (m, e) => log(m, e),
  });
  const mailer = createMailer(
    async () => (await settingsService.internal('smtp')) as unknown as SmtpSettings,
    opts.mailer,
  );
  const traps = createTrapSender(
    async () => {
      const s = await settingsService.internal('snmp');
      if (s.trap_sink_enable !== true || !s.trap_sink) return undefined;
      const community = String(s.trap_community || s.community || 'public');
      return { ...parseTrapSink(String(s.trap_sink)), community };
    },
    (err) => log('could not send an SNMP trap', err),
  );
  const alerts = createAlerts({
    repo: createAlertsRepo(ctx.db),
    clock: ctx.clock,
    mailer,
    smtp: () => settingsService.internal('smtp'),
    alerting: () => settingsService.internal('systemalerting'),
    syslog,
    traps,
    log: (m, e) => log(m, e),
  });
  const thresholds = createThresholdWatch({
    settings: () => settingsService.internal('snmp'),
    sample: () => sampleHost(ctx.dataDir),
    traps,
    syslog,
  });
  const managerUpdate = createManagerUpdater({
    tx,
    audit: ctx.audit,
    store: () => opts.packageStore?.(),
    // Installing a release can take a while (packages, migrations): a longer limit than settings.
    hook: createApplyHook(opts.applyHook, 30 * 60 * 1000),
    currentVersion: VERSION,
    log: (m, e) => log(m, e),
  });
  const directory = createDirectoryLogin(() => settingsService.internal('directory'));
  const store = createUploadStore(uploadsDir, limits);
  const files = createFileService({
    tx,
    repo: createFilesRepo(ctx.db),
    audit: ctx.audit,
    clock: ctx.clock,
    filesDir: join(ctx.dataDir, 'files'),
    quotaBytes: opts.fileQuotaBytes ?? 10 * 1024 ** 3,
    maxFileBytes: limits.maxFileBytes,
    storageSettings: () => settingsService.internal('central_logging'),
  });
  const backupRepo = createBackupRepo(ctx.db);
  const backup = createBackupService({
    tx,
    repo: backupRepo,
    log: logger,
    database: ctx.database,
    audit: ctx.audit,
    clock: ctx.clock,
    dataDir: ctx.dataDir,
    settings: ctx.settings,
    secrets: ctx.secrets,
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
      for (const r of rows) ctx.settings.notifyChanged(r.key, r.value);
      opts.onRestored?.();
      await settingsService.applyAll();
    },
    onFailure: (message) => alerts.backupFailed(message),
  });
  const license = createLicenseService({
    tx,
    audit: ctx.audit,
    settings: ctx.settings,
    clock: ctx.clock,
    publicKeyPem: opts.licensePublicKey,
  });

  // Changes made on another replica arrive here through the settings store's bus.
  const stopListening = ctx.settings.onChange((key) => {
    const name = key.startsWith('system.') ? key.slice('system.'.length) : undefined;
    if (name && settingsService.sections.some((d) => d.name === name))
      void settingsService.applySection(name);
  });
  const stopForwarding = ctx.audit.onRecord(
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

  const retention = () =>
    runRetention({
      audit: ctx.audit,
      clock: ctx.clock,
      settings: () => settingsService.internal('central_logging'),
      files,
      uploadsDir,
      ...(opts.tokenRequestLog ? { tokenRequestLog: opts.tokenRequestLog } : {}),
    });
  let timer: NodeJS.Timeout | undefined;
  const tokenTimers: NodeJS.Timeout[] = [];

  return {
    network,
    tlsFiles,
    mailer,
    syslog,
    alerts,
    directory,
    settingsService,
    backup,
    runRetention: retention,
    installGlobalHooks(app) {
      rootApp = app;
      installHostCheck(app, network);
    },
    routes: async (app) => {
      appLog = app.log;
      log = (msg, err) => (err ? app.log.warn({ err }, msg) : app.log.info(msg));
      // Forms are parsed by the routes that take uploads only (see http/multipart.ts).
      const forms = {
        limits: {
          fieldNameSize: 100,
          fieldSize: 64 * 1024,
          fields: 30,
          files: 1,
          parts: 40,
          fileSize: limits.maxChunkBytes,
        },
      };
      // Current settings take effect as soon as the routes exist (inject tests never call start).
      await settingsService.applyAll();
      await app.register(settingsRoutes, { service: settingsService, mailer });
      await app.register(withMultipart(uploadRoutes, forms), { store });
      await app.register(withMultipart(filesRoutes, forms), { files, maxFileBytes: limits.maxFileBytes });
      await app.register(withMultipart(backupRoutes, forms), { backup });
      await app.register(withMultipart(licenseRoutes, forms), { license });
      await app.register(updatesRoutes, { updater: managerUpdate });
    },
    start(app) {
      rootApp ??= app;
      const every = ctx.jobIntervals?.retention ?? 60 * 60 * 1000;
      timer = setInterval(() => {
        // One replica deletes (recorded in job_runs); the others would only repeat the same statements.
        ctx.leader.runJob('retention', retention).catch((err) => log('retention job failed', err));
      }, every);
      timer.unref();
      // Token expiry warnings: daily (first a minute after start), on the jobs leader only; the
      // check records what it sent, so a run repeated by a new leader warns nobody twice.
      const tokenCheck = () => {
        ctx.leader
          .runJob('token_expiry', () => alerts.checkTokenExpiry())
          .catch((err) => log('token expiry check failed', err));
      };
      const first = setTimeout(tokenCheck, ctx.jobIntervals?.tokenExpiryFirst ?? 60 * 1000);
      const daily = setInterval(tokenCheck, ctx.jobIntervals?.tokenExpiry ?? 24 * 60 * 60 * 1000);
      first.unref();
      daily.unref();
      // SNMP thresholds: every replica watches its own host.
      const hostCheck = setInterval(
        () => {
          thresholds.check().catch((err) => log('host threshold check failed', err));
        },
        ctx.jobIntervals?.hostThresholds ?? 60 * 1000,
      );
      hostCheck.unref();
      tokenTimers.push(first, daily, hostCheck);
    },
    async stop() {
      if (timer) clearInterval(timer);
      for (const t of tokenTimers) clearTimeout(t);
      stopForwarding();
      stopListening();
      syslog.close();
      // Not waiting for a running manager-update hook: it may be what stops this manager.
      await backup.idle();
    },
  };
}
