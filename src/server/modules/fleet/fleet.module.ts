// The fleet module: appliance registry and authorization, health polling, activities,
// configuration groups (standard and hub), individual Analyze configuration, connectors.
import type { FastifyInstance } from 'fastify';
import { createTransactor } from '../../db/transactor.js';
import type { AddressPolicy } from '../../shared/address-policy.js';
import { type Logger, silentLogger } from '../../shared/logger.js';
import { createConfigRepo } from '../config/config.repo.js';
import { configRoutes } from '../config/config.routes.js';
import { type ConfigService, createConfigService } from '../config/config.service.js';
import { createDestinationsRepo } from '../destinations/destinations.repo.js';
import { destinationsRoutes } from '../destinations/destinations.routes.js';
import { createDestinationsService } from '../destinations/destinations.service.js';
import { createHealthJob, type HealthJob } from '../fleet-health/health.job.js';
import { createHealthRepo } from '../fleet-health/health.repo.js';
import { createLicensingRepo } from '../licensing/licensing.repo.js';
import { licensingRoutes } from '../licensing/licensing.routes.js';
import { createLicensingService } from '../licensing/licensing.service.js';
import type { ModuleContext, StewardModule } from '../module.js';
import { createPackageDownloads, type PackageDownloads } from '../upgrades/package-downloads.js';
import { createPackagesRepo } from '../upgrades/packages.repo.js';
import { createUpgradesRepo } from '../upgrades/upgrades.repo.js';
import { MAX_PACKAGE_BYTES, upgradesRoutes } from '../upgrades/upgrades.routes.js';
import { createUpgradeService, type UpgradeService } from '../upgrades/upgrades.service.js';
import { createConnectorsService } from './connectors.service.js';
import { fleetRoutes } from './fleet.routes.js';
import { createFleetCore, type FleetService } from './fleet.service.js';

export const DEFAULT_HEALTH_INTERVAL_MS = 10_000;

export interface FleetModule extends StewardModule {
  fleet: FleetService;
  config: ConfigService;
  health: HealthJob;
  upgrades: UpgradeService;
  downloads: PackageDownloads;
}

export interface FleetModuleOptions {
  /**
   * Called after the transaction that records an appliance going online or offline commits
   * (alerts hook in here). Never called for appliances in maintenance. Must not throw; errors
   * are ignored so that polling goes on.
   */
  onApplianceTransition?: (e: {
    online: boolean;
    appliance: { id: number; name: string; type: string };
    reason: string;
  }) => void;
  /** The networks appliances may be called in, as the settings say now (default: built in). */
  appliancePolicy?: () => AddressPolicy;
  /** Where background work (rollouts, health rounds) tells its errors; the server passes app.log. */
  log?: Logger;
}

export function createFleetModule(ctx: ModuleContext, options: FleetModuleOptions = {}): FleetModule {
  const { repo, managerKey, fleet } = createFleetCore(ctx, options.appliancePolicy);
  // Destination lists live in their own module folder; groups reference them by name, so the
  // two services are handed to each other here (lists -> snapshot; groups -> out of sync).
  const destinationsRepo = createDestinationsRepo(ctx.db);
  const tx = createTransactor(ctx.db);
  const config = createConfigService({
    repo,
    configRepo: createConfigRepo(ctx.db),
    tx,
    fleet,
    audit: ctx.audit,
    clock: ctx.clock,
    secrets: ctx.secrets,
    destinationLists: destinationsRepo,
    log: options.log ?? silentLogger,
  });
  const destinations = createDestinationsService({
    tx: createTransactor(ctx.db),
    repo: destinationsRepo,
    audit: ctx.audit,
    clock: ctx.clock,
    groups: config,
  });
  const connectors = createConnectorsService({ fleet, audit: ctx.audit, tx });
  const upgrades = createUpgradeService({
    tx: createTransactor(ctx.db),
    repo,
    upgradesRepo: createUpgradesRepo(),
    packagesRepo: createPackagesRepo(),
    fleet,
    audit: ctx.audit,
    clock: ctx.clock,
    managerKey,
    dataDir: ctx.dataDir,
    pollMs: ctx.jobIntervals?.fleetUpgradePoll,
  });
  const downloads = createPackageDownloads({
    tx: createTransactor(ctx.db),
    packagesRepo: createPackagesRepo(),
    settings: ctx.settings,
    audit: ctx.audit,
    clock: ctx.clock,
    upgrades,
    dataDir: ctx.dataDir,
    maxBytes: MAX_PACKAGE_BYTES,
  });
  const licensing = createLicensingService({
    tx: createTransactor(ctx.db),
    repo,
    licensingRepo: createLicensingRepo(),
    fleet,
    audit: ctx.audit,
    clock: ctx.clock,
    dataDir: ctx.dataDir,
  });
  const health = createHealthJob({
    repo,
    healthRepo: createHealthRepo(ctx.db),
    tx,
    fleet,
    audit: ctx.audit,
    clock: ctx.clock,
    intervalMs: ctx.jobIntervals?.fleetHealth ?? DEFAULT_HEALTH_INTERVAL_MS,
    onTransition: options.onApplianceTransition,
    asLeader: (fn) => ctx.leader.runJob('fleet_health', fn),
    log: options.log ?? silentLogger,
  });

  return {
    fleet,
    config,
    health,
    upgrades,
    downloads,
    routes: async (app: FastifyInstance) => {
      await app.register(fleetRoutes({ fleet, connectors }));
      await app.register(configRoutes(config));
      await app.register(destinationsRoutes(destinations));
      await app.register(upgradesRoutes(upgrades, downloads));
      await app.register(licensingRoutes(licensing));
    },
    start() {
      health.start();
    },
    async stop() {
      await health.stop();
      await config.settle();
      await upgrades.settle(true);
      await downloads.settle(true);
    },
  };
}
